"""schemathesis over kesu's own OpenAPI (issue 10): every operation ``/openapi.json`` lists -- the
admin API, ``/healthz``, ``/metrics`` and the webhook -- against a live uvicorn server, on SQLite
and PostgreSQL; inputs that fit the schema and inputs that break it, with a read-write, a
read-only, a wrong or no admin token. Zammad webhooks are signed over the body as sent.

Checked: no 5xx (``not_a_server_error``), every 4xx carries its reason, and a success answers
the status the schema documents. A small budget here (``KESU_OPENAPI_EXAMPLES`` per operation
and mode, default 6); ``bench/fuzz.py`` runs the large one against ``kesu serve``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.fuzz.conftest import ZAMMAD_SECRET
from tests.fuzz.strategies import send_case
from tests.test_admin_api import ALICE, BOB

EXAMPLES = int(os.environ.get("KESU_OPENAPI_EXAMPLES", "6"))
TOKENS = {"read-write": ALICE, "read-only": BOB, "wrong": "not-a-token-0123456789", "none": None}


def openapi_operations(base_url: str) -> list[Any]:
    schema = schemathesis.openapi.from_dict(requests.get(f"{base_url}/openapi.json", timeout=30).json())
    return [result.ok() for result in schema.get_all_operations()]


def test_every_openapi_operation_never_answers_5xx(live_admin):
    base_url, _ = live_admin
    operations = openapi_operations(base_url)
    labels = {op.label for op in operations}
    assert {"POST /webhooks/{hook_kind}", "GET /healthz", "GET /metrics", "POST /admin/api/reports",
            "GET /admin/api/reports/{run_id}/{fmt}", "POST /admin/api/ledger/{entry_id}/confirm"} <= labels
    answered: Counter[tuple[str, int]] = Counter()
    spent: Counter[str] = Counter()
    with requests.Session() as session:
        for op in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                           suppress_health_check=list(HealthCheck))
                @given(case=op.as_strategy(generation_mode=mode), token=st.sampled_from(list(TOKENS)))
                def run(case: Any, token: str) -> None:
                    t0 = time.perf_counter()
                    response = send_case(case, base_url, session, TOKENS[token],
                                         sign_secret=ZAMMAD_SECRET if mode is GenerationMode.POSITIVE else None)
                    spent[op.label] += time.perf_counter() - t0
                    answered[(op.label, response.status_code)] += 1
                    case.validate_response(response, checks=[not_a_server_error])
                    if response.status_code >= 400 and response.status_code != 405:
                        data = response.json()
                        assert data.get("detail") or data.get("error"), (op.label, response.text[:300])
                    elif response.status_code < 300 and token != "wrong" and op.label.startswith(
                            ("GET /admin", "POST /admin")):
                        documented = case.operation.definition.raw["responses"]
                        assert str(response.status_code) in documented, (op.label, response.status_code)

                try:
                    run()
                except Unsatisfiable:
                    # nothing to break in an operation without parameters or body (GET /healthz)
                    assert mode is GenerationMode.NEGATIVE and not op.path_parameters and not op.query \
                        and not op.body, op.label
    every = {label for label, _ in answered}
    assert every == labels, labels - every
    print("\nschemathesis answers:", dict(sorted(answered.items())))
    print("seconds in calls:", {k: round(v, 2) for k, v in spent.most_common()})
