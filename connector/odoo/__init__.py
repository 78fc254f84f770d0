"""Odoo connector: helpdesk.ticket (Enterprise ``helpdesk`` or OCA ``helpdesk_mgmt``), 16-19.

Automation-rule webhooks in (17+, shared secret in the URL), a continuous reconciliation poll
(Odoo never retries a webhook; 16 has none), legacy JSON-RPC (16-18) or JSON-2 (19+) out.
The connector is :class:`connector.odoo.connector.OdooConnector`; this package imports nothing
so that ``connector.odoo.sandbox`` stays importable on its own.
"""
