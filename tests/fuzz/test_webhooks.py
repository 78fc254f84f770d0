"""Property-based fuzzing of both webhook intakes (issue 10), on SQLite and PostgreSQL.

Every generated delivery is signed over its final body bytes (Zammad's ``X-Hub-Signature``
HMAC-SHA1) or carries Odoo's shared secret, so what is exercised is the validation *behind* the
signature: ids of every type and size, Unicode digits, nested values, odd timestamps, bodies in
UTF-16, with a BOM, Latin-1 or broken UTF-8, odd content types and header values, bodies around
the size cap. The properties:

* never a 5xx;
* a 2xx means the event is in the inbox, well-formed: a plain ASCII ticket id that fits its column,
  this helpdesk's name, a known kind, a printable delivery id of at most 128 characters;
* a 4xx carries a reason, and the delivery is kept in ``rejected_webhooks`` with that reason and
  status and its raw body within the budget (``[server] rejected_body_bytes``); nothing is queued.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings as hsettings
from sqlalchemy import func, select

from kesu.intake import DELIVERY_ID_MAX, TICKET_ID_MAX
from kesu.models import EventKind
from kesu.store.tables import inbox, rejected_webhooks
from tests.fuzz.conftest import KEPT_BODY, MAX_BODY, ODOO_SECRET, ZAMMAD_SECRET
from tests.fuzz.strategies import FuzzRequest, answer_problem, odoo_requests, zammad_requests

#: Examples per test and store; ``KESU_FUZZ_EXAMPLES=5000`` for a deeper run by hand.
EXAMPLES = int(os.environ.get("KESU_FUZZ_EXAMPLES", "150"))
STATUSES: Counter[tuple[str, int]] = Counter()  # what the runs answered, for a deeper run's log
FUZZ = hsettings(max_examples=EXAMPLES, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                        HealthCheck.data_too_large])


def send(client: Any, req: FuzzRequest) -> tuple[int, Any]:
    r = client.post(req.path, content=req.body, headers=req.headers)
    STATUSES[(req.intake, r.status_code)] += 1
    try:
        data = r.json()
    except ValueError:
        data = r.text
    return r.status_code, data


def inbox_count(client: Any) -> int:
    with client.services.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(inbox)).scalar_one()


def check_stored(client: Any, req: FuzzRequest, status: int, data: Any, queued_before: int) -> None:
    problem = answer_problem(req, status, data)
    assert problem is None, (problem, req)
    services = client.services
    helpdesk = services.settings.helpdesk.name
    with services.engine.connect() as conn:
        if status == 202:
            row = conn.execute(select(inbox).where(inbox.c.id == data["id"])).mappings().one()
            tid = row["ticket_id"]
            assert tid.isascii() and tid.isdigit() and tid[0] != "0" and len(tid) <= TICKET_ID_MAX, row
            assert row["helpdesk"] == helpdesk and row["ticket_key"] == f"{helpdesk}:{tid}"
            assert row["kind"] in {k.value for k in EventKind} and row["source"] == "webhook"
            assert row["status"] == ("skipped" if "kesu" in data["status"] else "pending")
            assert isinstance(row["payload"], dict)
            d = row["delivery_id"]
            assert d is None or (len(d) <= DELIVERY_ID_MAX and d.isascii() and d.isprintable() and " " not in d)
        elif status == 200:  # a delivery seen before: stored once, under that delivery id
            assert conn.execute(select(func.count()).select_from(inbox).where(
                inbox.c.delivery_id == data["delivery"])).scalar_one() == 1
        else:
            assert inbox_count(client) == queued_before, "a refused delivery was queued"
            kept = conn.execute(select(rejected_webhooks).where(
                rejected_webhooks.c.id == data["rejected_id"])).mappings().one()
            assert kept["reason"] == data["error"] and kept["status_code"] == status
            assert kept["helpdesk"] == helpdesk
            body = bytes(kept["body"])
            if status == 413:  # refused by size: read no further than the cap, kept within budget
                assert len(body) <= KEPT_BODY and req.body.startswith(body) and len(req.body) > MAX_BODY
            else:
                assert body == req.body[:KEPT_BODY], "the raw body is not what was sent"
            for secret in (ZAMMAD_SECRET, ODOO_SECRET):
                assert secret not in str(kept["headers"]), "a secret was kept with a rejected delivery"


@FUZZ
@given(req=zammad_requests(ZAMMAD_SECRET, max_size=MAX_BODY))
def test_zammad_webhooks_never_5xx_and_answer_what_they_did(zammad_client, req):
    before = inbox_count(zammad_client)
    status, data = send(zammad_client, req)
    check_stored(zammad_client, req, status, data, before)


@FUZZ
@given(req=odoo_requests(ODOO_SECRET, max_size=MAX_BODY))
def test_odoo_webhooks_never_5xx_and_answer_what_they_did(odoo_client, req):
    before = inbox_count(odoo_client)
    status, data = send(odoo_client, req)
    check_stored(odoo_client, req, status, data, before)


def teardown_module() -> None:
    print("\nfuzzed webhook answers:", dict(sorted(STATUSES.items())))
