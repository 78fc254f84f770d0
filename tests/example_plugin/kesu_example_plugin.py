"""A third-party kesu plugin: tags every complaint with a configurable tag."""

from __future__ import annotations

from pydantic import BaseModel

from kesu.effects import AddTags
from plugins import hookimpl


class ExampleConfig(BaseModel):
    tag: str = "example"


@hookimpl
def kesu_policy_config():
    return ExampleConfig


@hookimpl
def kesu_evaluate(ticket, config):
    return [AddTags(rule_id="R-REC-6.15", tags=(config.tag,))]
