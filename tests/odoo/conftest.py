"""Sandbox Odoo fixtures (``make_sandbox``, ``odoo17``, ``odoo19``, ``receiver``) for every test in
this directory; the helpers live in ``connector.odoo.sandbox.testing``."""

from __future__ import annotations

from connector.odoo.sandbox.testing import make_sandbox, odoo17, odoo19, receiver  # noqa: F401
