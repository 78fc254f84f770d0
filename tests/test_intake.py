"""Webhook intake: signature, malformed bodies, duplicates, self-caused deliveries; on both stores."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from fastapi.testclient import TestClient

from kesu.app import Services, create_app
from kesu.settings import Settings

SECRET = "s3cr3t-t0k3n"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def payload(ticket_id=81, updated_by_login="emily@example.com", updated_by_id=8) -> bytes:
    return json.dumps({
        "ticket": {"id": ticket_id, "number": "10081", "title": "豆腐发霉", "state": "open",
                   "created_at": "2026-03-02T02:00:00.000Z", "updated_at": "2026-03-02T02:00:00.051Z",
                   "updated_by_id": updated_by_id,
                   "updated_by": {"id": updated_by_id, "login": updated_by_login}},
        "article": {},
    }, ensure_ascii=False).encode()


@pytest.fixture
def services(db_url):
    settings = Settings()
    settings.store.url = db_url
    settings.helpdesk.url = "http://127.0.0.1:9"  # never called: no workers in these tests
    settings.helpdesk.retries = 0
    settings.helpdesk.timeout = 0.2
    settings.helpdesk.webhook_secret = SECRET  # type: ignore[assignment]
    svc = Services.build(settings, load_entrypoints=False)
    yield svc
    svc.close()


@pytest.fixture
def client(services):
    with TestClient(create_app(services, workers=False)) as c:
        yield c


def post(client, body: bytes, *, signature: str | None = "auto", delivery: str | None = "d-1", path="/webhooks/zammad"):
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Zammad-Trigger": "kesu"}
    if signature == "auto":
        signature = sign(body)
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    if delivery is not None:
        headers["X-Zammad-Delivery"] = delivery
    return client.post(path, content=body, headers=headers)


def test_signed_webhook_is_stored_and_acknowledged_202(client, services):
    r = post(client, payload())
    assert r.status_code == 202 and r.json()["status"] == "accepted"
    rows = services.inbox.list()
    assert len(rows) == 1 and rows[0]["ticket_key"] == "zammad:81" and rows[0]["status"] == "pending"
    assert rows[0]["delivery_id"] == "d-1"


@pytest.mark.parametrize("signature", [None, "sha1=" + "0" * 40, "md5=abc", sign(b"other body")])
def test_missing_or_bad_signature_is_401_and_the_body_is_kept(client, services, signature):
    body = payload()
    r = post(client, body, signature=signature)
    assert r.status_code == 401 and r.json()["error"]
    assert services.inbox.list() == []
    kept = services.inbox.rejected()[0]
    assert kept["status_code"] == 401 and bytes(kept["body"]) == body


def test_malformed_json_is_422_with_reason_and_body_kept(client, services):
    body = b'{"ticket": {"id": 81,'
    r = post(client, body)
    assert r.status_code == 422
    reason = r.json()["error"]
    assert "JSON" in reason or "json" in reason
    kept = services.inbox.rejected()[0]
    assert bytes(kept["body"]) == body and kept["reason"] == reason
    assert r.json()["rejected_id"] == kept["id"]


def test_json_without_ticket_id_is_422(client):
    body = b'{"ticket": {}, "article": {}}'
    r = post(client, body)
    assert r.status_code == 422 and "id" in r.json()["error"]


def test_duplicate_delivery_is_200_and_stored_once(client, services):
    assert post(client, payload()).status_code == 202
    r = post(client, payload())
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert len(services.inbox.list()) == 1


def test_delivery_caused_by_kesu_itself_is_skipped(client, services):
    r = post(client, payload(updated_by_login="kesu-bot@localhost", updated_by_id=5))
    assert r.status_code == 202 and "kesu" in r.json()["status"]
    assert services.inbox.list()[0]["status"] == "skipped"


def test_unknown_helpdesk_path_is_404(client):
    assert post(client, payload(), path="/webhooks/odoo").status_code == 404


def test_oversized_body_is_413(client, services):
    services.settings.server.max_body_bytes  # default 1 MiB
    body = b"{" + b" " * (1_048_577) + b"}"
    r = post(client, body)
    assert r.status_code == 413
    assert services.inbox.rejected()[0]["status_code"] == 413


def test_secrets_are_redacted_in_kept_headers(client, services):
    body = b"not json"
    client.post("/webhooks/zammad", content=body,
                headers={"Authorization": "Bearer hunter2", "X-Hub-Signature": sign(body)})
    kept = services.inbox.rejected()[0]
    assert kept["headers"]["authorization"] == "[redacted]"
    assert "hunter2" not in json.dumps(kept["headers"])


def test_healthz_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    post(client, payload(), delivery="m-1")
    text = client.get("/metrics").text
    assert 'kesu_events_received_total{source="webhook"}' in text
    assert "kesu_inbox_depth" in text


def test_shared_secret_headers_are_redacted_too(client, services):
    body = b"not json"
    client.post("/webhooks/zammad", content=body,
                headers={"X-Kesu-Token": "wrong-secret", "X-Hub-Signature": sign(body)})
    kept = services.inbox.rejected()[0]
    assert kept["headers"]["x-kesu-token"] == "[redacted]"
    assert kept["headers"]["x-hub-signature"] == "[redacted]" or "wrong-secret" not in json.dumps(kept["headers"])
