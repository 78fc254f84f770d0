"""The built-in ``notifiers`` plugin: ``[policies.notifiers]`` is validated like every policy
section (``kesu plugins disable notifiers`` turns the group bots off). The delivery itself needs
the store, so ``Services`` registers it per process (``kesu.notifiers.delivery.attach``)."""

from __future__ import annotations

from pydantic import BaseModel

from kesu.notifiers.config import NotifiersConfig
from plugins import hookimpl

SOURCE = "notifiers"  # its registered name (BUILTIN_PLUGINS)


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return NotifiersConfig
