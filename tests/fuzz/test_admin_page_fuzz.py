"""Fuzzing the admin page's forms and links (issue 10): they are HTML, outside the OpenAPI schema.

Logged in with the read-write token (most requests) or not at all; every action form gets the
right form token (``csrf``) plus fuzzed fields -- missing, empty, Unicode digits, huge numbers,
``nan`` -- so that the actions behind the token check are reached. Never a 5xx; an action always
answers with a redirect carrying its outcome (or 401 without a session).
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlencode

from hypothesis import HealthCheck, given, settings as hsettings

from tests.fuzz.strategies import PageRequest, admin_page_requests
from tests.fuzz.test_webhooks import EXAMPLES
from tests.test_admin_page import login


@hsettings(max_examples=max(EXAMPLES // 2, 20), deadline=None, database=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(req=admin_page_requests())
def test_admin_page_requests_never_5xx(admin_client, req: PageRequest):
    client = admin_client
    client.cookies.clear()
    csrf = login(client) if req.session else None
    form = list(req.form or [])
    if csrf is not None and req.path.startswith("/admin/do/"):
        form = [(k, v) for k, v in form if k != "csrf"] + [("csrf", csrf)]
    headers = dict(req.headers)
    body = None
    if req.form is not None:
        body = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    r = client.request(req.method, req.path, content=body, headers=headers)
    assert r.status_code < 500, (req, r.status_code, r.text[:500])
    if req.path.startswith("/admin/do/") and "/" not in req.path[len("/admin/do/"):]:
        # (an action with a slash in it is no action route: 404)
        if not req.session:
            assert r.status_code == 401
        else:
            assert r.status_code == 303, (req, r.status_code, r.text[:300])
            # A value with "/" in it is sent as a quoted cookie (the browser and Starlette unquote it)
            flash = json.loads(unquote((r.cookies.get("kesu_flash") or "").strip('"')))
            assert flash["msg"] and isinstance(flash["ok"], bool)
