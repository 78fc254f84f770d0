"""A sandbox Odoo: an in-process HTTP server implementing the part of Odoo 16–19 kesu uses.

    from connector.odoo.sandbox import SandboxOdoo

    with SandboxOdoo(version=17, flavour="enterprise") as odoo:
        key = odoo.api_key_for("kesu-bot")
        ...  # talk to odoo.url like to a real Odoo (/jsonrpc; 19: /json/2/<model>/<method>)

Modules: ``fields`` (field/model definitions, value conversion), ``domain`` (domains, ``order``),
``model`` (the ORM: records, access rights, transactions, automation rules), ``seeds`` (models per
version/flavour and seed data), ``rpc`` (model methods with Odoo's signatures, legacy vs JSON-2
calling), ``webhooks`` (the 1-second, never-retried webhook sender), ``app`` (ASGI routes, error
envelopes, fault injection), ``server`` (``SandboxOdoo``: uvicorn thread, helpers, test hooks).
Run standalone with ``python -m connector.odoo.sandbox --port 8069 --version 17 --flavour enterprise``.
"""

from .errors import RpcError
from .model import Delivery
from .server import DEFAULT_WEBHOOK_FIELDS, CallRecord, Fault, SandboxOdoo
from .webhooks import DeliveryRecord

__all__ = ["SandboxOdoo", "Fault", "CallRecord", "DeliveryRecord", "Delivery", "RpcError", "DEFAULT_WEBHOOK_FIELDS"]
