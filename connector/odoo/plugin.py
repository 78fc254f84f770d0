"""The Odoo connector as a built-in plugin (registered like any third-party connector)."""

from __future__ import annotations

from collections.abc import Iterable

from connector.base import Connector
from plugins import hookimpl


@hookimpl
def kesu_register_connectors() -> Iterable[type[Connector]]:
    from connector.odoo.connector import OdooConnector

    return [OdooConnector]
