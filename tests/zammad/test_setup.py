"""``provision``: one signed webhook and one bot-excluding trigger, idempotent by name."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import responses

from connector.zammad.client import ZammadClient
from connector.zammad.setup import provision, trigger_spec, webhook_spec

BASE = "https://zammad.test"
API = f"{BASE}/api/v1"
HOOK_URL = "https://kesu.test/webhooks/zammad"
SECRET = "s3cr3t-t0k3n"
BOT_ID = 9


class FakeAdmin:
    """The webhook and trigger endpoints of Zammad, with state, for ``responses`` callbacks."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rows: dict[str, dict[int, dict[str, Any]]] = {"webhooks": {}, "triggers": {}}
        self.next_id = 7
        self.writes: list[tuple[str, str]] = []
        for kind in self.rows:
            rsps.add_callback(responses.GET, f"{API}/{kind}", callback=self._list(kind))
            rsps.add_callback(responses.POST, f"{API}/{kind}", callback=self._create(kind))
            rsps.add_callback(responses.PUT, re.compile(re.escape(f"{API}/{kind}/") + r"\d+$"),
                              callback=self._update(kind))

    def _list(self, kind: str):
        def callback(request):
            return 200, {}, json.dumps(list(self.rows[kind].values()))
        return callback

    def _create(self, kind: str):
        def callback(request):
            row = {**json.loads(request.body), "id": self.next_id}
            self.rows[kind][self.next_id] = row
            self.next_id += 1
            self.writes.append(("POST", kind))
            return 201, {}, json.dumps(row)
        return callback

    def _update(self, kind: str):
        def callback(request):
            row_id = int(request.url.rsplit("/", 1)[1])
            self.rows[kind][row_id].update(json.loads(request.body))
            self.writes.append(("PUT", kind))
            return 200, {}, json.dumps(self.rows[kind][row_id])
        return callback


@pytest.fixture
def client():
    c = ZammadClient(BASE, "tok", retries=0, sleep=lambda s: None)
    yield c
    c.close()


@pytest.fixture
def zammad():
    # A stateful simulator, not a list of expected calls: which endpoints a run uses is the thing
    # under test (asserted through ``zammad.writes``), so unfired routes are fine here.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeAdmin(rsps)


def test_first_run_creates_second_run_changes_nothing(client, zammad):
    first = provision(client, HOOK_URL, SECRET, BOT_ID)
    assert first.created == ["webhook", "trigger"] and first.changed
    hook = zammad.rows["webhooks"][first.webhook_id]
    assert hook["endpoint"] == HOOK_URL and hook["signature_token"] == SECRET
    assert hook["ssl_verify"] is True and hook["active"] is True
    trigger = zammad.rows["triggers"][first.trigger_id]
    assert trigger["activator"] == "action"
    assert trigger["perform"] == {"notification.webhook": {"webhook_id": first.webhook_id}}
    assert trigger["condition"]["ticket.updated_by_id"] == {
        "operator": "is not", "pre_condition": "specific", "value": [str(BOT_ID)]}
    assert trigger["condition"]["ticket.action"] == {"operator": "is not",
                                                     "value": "update.merged_into"}

    writes = len(zammad.writes)
    second = provision(client, HOOK_URL, SECRET, BOT_ID)
    assert second.unchanged == ["webhook", "trigger"] and not second.changed
    assert (second.webhook_id, second.trigger_id) == (first.webhook_id, first.trigger_id)
    assert len(zammad.writes) == writes  # no POST or PUT on the second run


def test_changed_endpoint_updates_only_the_webhook(client, zammad):
    provision(client, HOOK_URL, SECRET, BOT_ID)
    result = provision(client, "https://kesu2.test/webhooks/zammad", SECRET, BOT_ID)
    assert result.updated == ["webhook"] and result.unchanged == ["trigger"]
    assert zammad.writes[-1] == ("PUT", "webhooks")


def test_bot_change_updates_the_trigger(client, zammad):
    provision(client, HOOK_URL, SECRET, BOT_ID)
    result = provision(client, HOOK_URL, SECRET, 12)
    assert result.updated == ["trigger"]


@responses.activate(assert_all_requests_are_fired=True)
def test_zammad_storage_quirks_count_as_unchanged(client):
    """Zammad may store ids as strings, 7.x ``webhook_id`` as a list, and may hide the token."""
    hook = webhook_spec("kesu", HOOK_URL, SECRET)
    del hook["signature_token"]
    trigger = trigger_spec("kesu", 7, BOT_ID)
    trigger["perform"] = {"notification.webhook": {"webhook_id": ["7"]}}
    responses.get(f"{API}/webhooks", json=[{"id": 3, "name": "other"}, {**hook, "id": 7}])
    responses.get(f"{API}/triggers", json=[{**trigger, "id": 11}])
    result = provision(client, HOOK_URL, SECRET, BOT_ID)
    assert result.unchanged == ["webhook", "trigger"]
    assert (result.webhook_id, result.trigger_id) == (7, 11)


@responses.activate(assert_all_requests_are_fired=True)
def test_names_match_regardless_of_case(client):
    hook = {**webhook_spec("KESU", HOOK_URL, SECRET), "id": 4}
    responses.get(f"{API}/webhooks", json=[hook])
    responses.put(f"{API}/webhooks/4", json={**hook, "name": "kesu"})
    responses.get(f"{API}/triggers", json=[{**trigger_spec("kesu", 4, BOT_ID), "id": 5}])
    result = provision(client, HOOK_URL, SECRET, BOT_ID)
    assert result.updated == ["webhook"] and result.unchanged == ["trigger"]


def test_selective_mode_can_be_chosen(client, zammad):
    result = provision(client, HOOK_URL, SECRET, BOT_ID, execution_mode="selective")
    assert zammad.rows["triggers"][result.trigger_id]["execution_condition_mode"] == "selective"
    assert provision(client, HOOK_URL, SECRET, BOT_ID).updated == ["trigger"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": ""}, "secret is required"),
        ({"webhook_url": "kesu.test/hook"}, "http:// or https://"),
        ({"execution_mode": "sometimes"}, "selective, always"),
        ({"bot_user_id": "bot"}, "bot_user_id"),
    ],
)
def test_bad_options_are_refused_before_any_call(client, kwargs, message):
    args: dict[str, Any] = {"webhook_url": HOOK_URL, "secret": SECRET, "bot_user_id": BOT_ID}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        provision(client, **args)
