"""The admin surface: an HTTP API under ``/admin/api`` and a page at ``/admin``, over the same
operations (``kesu.admin.ops``): plugins, ledger decisions, deadline extensions, follow-ups, the
inbox and reports. Access needs a token from ``[admin.tokens.<name>]`` (see ``kesu.admin.auth``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kesu.app import Services


def mount_admin(app: FastAPI, services: Services) -> None:
    from kesu.admin.api import admin_api
    from kesu.admin.complaints_page import complaints_page
    from kesu.admin.ops import AdminOps
    from kesu.admin.page import admin_page

    ops = AdminOps(services)
    app.include_router(admin_api(ops))
    app.include_router(admin_page(ops))
    app.include_router(complaints_page(ops))
