"""Hypothesis strategies for fuzzed webhook deliveries (issue 10), shared by ``tests/fuzz`` and
``bench/fuzz.py``.

A strategy draws a whole HTTP request -- path and query, headers as raw bytes, body as raw bytes --
for one intake. The body is a JSON-ish payload (near-valid shapes most of the time, so that the
checks *behind* the signature are reached), encoded in one of several ways (UTF-8, with a BOM,
UTF-16, Latin-1, broken UTF-8), and is then signed as the helpdesk would sign it: the Zammad
``X-Hub-Signature`` HMAC-SHA1 is computed over the final body bytes, and Odoo's shared secret
rides in the query string or its header. A small share of requests is signed wrongly or not at
all, so the refusals are exercised too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

#: Ids that have broken intakes before: Unicode digits ``int()`` accepts or refuses, signs,
#: leading zeros, huge numbers, floats written as text, and values around the 64-bit limits.
ODD_IDS: list[Any] = [
    "²", "٣", "１２", "-1", "-5", "0", "007", "1.5", "1e3", " 5", "5 ", "+5", "0x10", "9" * 19, "9" * 80,
    "9" * 4300, 0, -1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 1.0, 1.5, -0.0, 1e308,
    True, False, None, [], {}, [1], {"id": 1}, "zammad:5", "5:6", "a b", "ticket-7", "x" * 65,
]

json_scalars = (
    st.none() | st.booleans()
    | st.integers() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from(ODD_IDS)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)
plain_ids = st.integers(min_value=1, max_value=10**6)
#: Half plain ids (so that deliveries get past the id checks to storage), half anything.
ids = st.one_of(plain_ids, plain_ids, plain_ids, st.sampled_from(ODD_IDS), json_values, plain_ids.map(str))
timestamps = st.sampled_from([
    "2026-03-02T02:00:00.000Z", "2026-03-02T02:00:00Z", "2026-03-02 02:00:00", "2026-03-02 02:00:00.123456",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-13-45 99:99:99", "", "now", "²⁰²⁶",
]) | json_values
users = st.fixed_dictionaries({}, optional={"id": ids, "login": st.sampled_from(
    ["emily@example.com", "kesu-bot@localhost", "KESU-BOT@LOCALHOST", ""]) | json_values})

zammad_tickets = st.fixed_dictionaries({"id": ids}, optional={
    "number": json_values, "title": st.text(max_size=30) | json_values,
    "state": st.sampled_from(["new", "open", "closed", "pending reminder"]) | json_values
    | st.fixed_dictionaries({"name": json_values}),
    "article_ids": st.lists(ids, max_size=4) | json_values,
    "article_count": st.integers(-2, 5) | json_values,
    "created_at": timestamps, "updated_at": timestamps,
    "updated_by_id": ids, "updated_by": users | json_values,
})
zammad_articles = st.none() | json_values | st.fixed_dictionaries({}, optional={
    "id": ids, "internal": json_values, "body": st.text(max_size=40),
    "created_by_id": ids, "created_by": users | json_values,
})
#: A Zammad webhook body as JSON data: mostly ``{"ticket": {...}, "article": {...}}``.
zammad_payloads = st.one_of(
    st.fixed_dictionaries({"ticket": zammad_tickets}, optional={"article": zammad_articles}),
    st.fixed_dictionaries({"ticket": zammad_tickets}, optional={"article": zammad_articles}),
    st.fixed_dictionaries({"ticket": zammad_tickets | json_values}, optional={"article": zammad_articles}),
    json_values,
)

odoo_m2o = st.lists(st.integers(1, 100) | json_values, max_size=3) | json_values
#: An Odoo "Send Webhook Notification" body: the record's fields plus ``_model``, ``_id``, ``_action``.
odoo_payloads = st.one_of(
    st.fixed_dictionaries(
        {"_model": st.sampled_from(["helpdesk.ticket"] * 4 + ["res.partner", "Helpdesk.Ticket"]) | json_values,
         "_id": ids},
        optional={"id": ids, "_action": st.text(max_size=20) | json_values, "write_date": timestamps,
                  "create_date": timestamps, "write_uid": odoo_m2o, "stage_id": odoo_m2o,
                  "name": st.text(max_size=30)}),
    json_values,
)

ENCODINGS = ["utf-8"] * 12 + ["utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "broken-utf-8", "raw"]


@st.composite
def encoded(draw: st.DrawFn, payloads: st.SearchStrategy[Any]) -> tuple[str, bytes]:
    """(encoding name, body bytes) of a drawn payload."""
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding == "raw":  # anything at all: truncated JSON, binary, empty
        return encoding, draw(st.binary(max_size=300) | st.sampled_from(
            [b"", b"{", b'{"ticket": {"id": 81,', b"null", b"[]", b"\xef\xbb\xbf{}", b"\x00" * 8]))
    text = json.dumps(draw(payloads), ensure_ascii=draw(st.booleans()))
    if encoding == "broken-utf-8":
        raw = text.encode("utf-8")
        at = draw(st.integers(0, len(raw)))
        return encoding, raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"])) + raw[at:]
    if encoding == "latin-1":
        return encoding, text.encode("latin-1", "replace")
    return encoding, text.encode(encoding)


CONTENT_TYPES = [
    None, "application/json", "application/json; charset=utf-8", "application/json; charset=utf-16",
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "*/*",
    "application/json; charset=ünïcode",
]
#: Header names that must not change how a delivery is read (or must be refused cleanly).
NOISE_HEADERS = ["x-forwarded-for", "x-zammad-trigger", "user-agent", "accept", "content-encoding",
                 "x-request-id", "cookie", "authorization", "x-api-key", "transfer-encoding-x"]
#: Any bytes a header value can carry on the wire (no CR, LF or NUL; no surrounding whitespace,
#: which HTTP strips anyway).
header_values = st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b and b"\x00" not in b
                                              ).map(bytes.strip)


@dataclass
class FuzzRequest:
    """One HTTP request as sent: ``path`` includes the query string; headers are raw bytes."""

    intake: str
    path: str
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    encoding: str = "utf-8"
    signed: bool = True  # the signature or secret, as sent, is the right one for the body

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def zammad_signature(body: bytes, secret: str) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


@st.composite
def _common_headers(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("utf-8")))
    for name in draw(st.lists(st.sampled_from(NOISE_HEADERS), max_size=3, unique=True)):
        headers.append((name.encode(), draw(header_values)))
    return headers


@st.composite
def zammad_requests(draw: st.DrawFn, secret: str, max_size: int = 4096) -> FuzzRequest:
    """A Zammad trigger webhook, ``X-Hub-Signature`` over the final (fuzzed) body bytes."""
    encoding, body = draw(encoded(zammad_payloads))
    if draw(st.integers(0, 19)) == 0:  # now and then a body around and beyond the size cap
        body = body + b" " * draw(st.integers(0, max_size + 64))
    headers = draw(_common_headers())
    delivery = draw(st.none() | st.uuids().map(str) | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=140)
                    | st.sampled_from(["x" * 128, "x" * 129, "", "a b"]))
    if delivery is not None:
        headers.append((b"x-zammad-delivery", delivery.encode()))
    elif draw(st.booleans()):
        headers.append((b"x-zammad-delivery", draw(header_values)))
    signature = zammad_signature(body, secret)
    signing = draw(st.sampled_from(["right"] * 14 + ["upper", "spaces", "missing", "wrong", "md5", "garbage"]))
    value = {
        "right": signature.encode(), "upper": ("sha1=" + signature[5:].upper()).encode(),
        "spaces": f"sha1= {signature[5:]} ".encode(), "missing": None,
        "wrong": zammad_signature(body + b"x", secret).encode(), "md5": b"md5=" + signature[5:].encode(),
        "garbage": draw(header_values),
    }[signing]
    if value is not None:
        headers.append((b"x-hub-signature", value))
    return FuzzRequest("zammad", "/webhooks/zammad", body, headers, encoding,
                       signed=signing in ("right", "upper", "spaces"))


@st.composite
def odoo_requests(draw: st.DrawFn, secret: str, header_name: str = "x-kesu-token",
                  max_size: int = 4096) -> FuzzRequest:
    """An Odoo webhook: the shared secret in ``?token=`` or in its header (or wrong, or absent)."""
    encoding, body = draw(encoded(odoo_payloads))
    if draw(st.integers(0, 19)) == 0:
        body = body + b" " * draw(st.integers(0, max_size + 64))
    headers = draw(_common_headers())
    where = draw(st.sampled_from(["query"] * 8 + ["header"] * 4 + ["both", "missing", "wrong", "empty"]))
    path = "/webhooks/odoo"
    if where in ("query", "both"):
        path += "?token=" + quote(secret)
    if where in ("header", "both"):
        headers.append((header_name.encode(), secret.encode()))
    if where == "wrong":
        path += "?token=" + quote(draw(st.text(max_size=20)))
    if where == "empty":
        path += "?token="
    extra = draw(st.sampled_from(["", "&token=other", "&x=%ff", "&id=5"]))
    if extra and "?" in path:
        path += extra
    signed = where in ("query", "header", "both") and "token=other" not in path
    return FuzzRequest("odoo", path, body, headers, encoding, signed=signed)


def has_invalid_header(req: FuzzRequest) -> bool:
    """A header value with control characters (RFC 9110 allows none but HTAB): the HTTP server
    refuses the request (400) before kesu sees it."""
    return any(b < 0x20 and b != 0x09 or b == 0x7f for _, v in req.headers for b in v)


def answer_problem(req: FuzzRequest, status: int, data: Any) -> str | None:
    """What is wrong with kesu's answer to a fuzzed webhook, judged from the answer alone (the
    tests also look in the store): None when it is right."""
    if status >= 500:
        return f"server error {status}"
    if status == 400 and has_invalid_header(req):
        return None  # uvicorn's own "Invalid HTTP request received." (the TestClient has no parser)
    if not isinstance(data, dict):
        return f"answer is not a JSON object: {data!r:.200}"
    if 200 <= status < 300:
        if not req.signed:
            return f"{status} for a delivery without the right signature or secret"
        if status == 202 and not (isinstance(data.get("id"), int) and data.get("status")):
            return f"202 without the stored event's id: {data!r:.200}"
        if status == 200 and data.get("status") != "duplicate":
            return f"200 that is not a duplicate: {data!r:.200}"
        if status not in (200, 202):
            return f"unexpected success status {status}"
        return None
    if not 400 <= status < 500:
        return f"unexpected status {status}"
    if not (isinstance(data.get("error"), str) and data["error"].strip()):
        return f"{status} without a reason: {data!r:.200}"
    if status != 404 and not isinstance(data.get("rejected_id"), int):
        return f"{status} without the id of the kept delivery: {data!r:.200}"
    if not req.signed and status not in (401, 413):
        return f"{status} for an unsigned delivery (expected 401, or 413 before any check)"
    return None


# -- the admin page (/admin): HTML forms, not in the OpenAPI schema ---------------------------------

PAGE_ACTIONS = ["ledger_confirm", "ledger_reject", "ledger_reverse", "ext_approve", "ext_reject", "plugin_enable",
                "plugin_disable", "inbox_retry", "report_generate", "nope", "ledger_confirm/x", "%E2%91%A0"]
FORM_FIELDS = ["id", "amount", "note", "ticket", "rule", "extended_to", "approved_by", "reason", "name", "all",
               "kind", "period", "formats[]", "formats", "premium", "policies", "csrf", "token"]
form_values = st.one_of(
    st.sampled_from(["1", "2", "3", "0", "-1", "٣", "9" * 20, "1e309", "nan", "inf", "12.5", "", " ", "zammad:1",
                     "2026-03", "2026-Q1", "2026", "monthly", "major", "severity", "deadlines", "2026-03-10",
                     "2026-03-10 12:00", "R-SLA-6.18-general", "md", "xlsx"]),
    st.text(max_size=30), st.integers().map(str), st.floats().map(str),
)


@dataclass
class PageRequest:
    method: str
    path: str
    form: list[tuple[str, str]] | None
    headers: dict[str, str]
    session: bool  # send the logged-in session cookie


@st.composite
def admin_page_requests(draw: st.DrawFn) -> PageRequest:
    """A request to the admin page: the dashboard, login, logout, an action form, a download."""
    which = draw(st.sampled_from(["home", "home", "slash", "login", "logout", "do", "do", "do", "do", "download"]))
    headers: dict[str, str] = {}
    if draw(st.integers(0, 9)) == 0:
        headers["Origin"] = draw(st.sampled_from(["https://evil.example", "null", "http://testserver", ""]))
    if draw(st.booleans()):
        headers["Accept-Language"] = draw(st.sampled_from(["en", "zh-CN", "fr;q=x", "", "*"]))
    session = draw(st.integers(0, 9)) > 0
    if which in ("home", "slash"):
        query = draw(st.sampled_from(["", "?lang=en", "?lang=zh", "?lang=xx", "?lang=%ff", "?x=1"]))
        return PageRequest("GET", ("/admin" if which == "home" else "/admin/") + query, None, headers, session)
    if which == "download":
        run_id = draw(st.sampled_from(["1", "2", "0", "-1", "9" * 25, "x", "٣"]) | st.integers().map(str))
        fmt = draw(st.sampled_from(["md", "html", "json", "xlsx", "pdf", "..%2f..%2fetc", ""]))
        return PageRequest("GET", f"/admin/reports/{quote(run_id)}/{fmt}", None, headers, session)
    form = draw(st.lists(st.tuples(st.sampled_from(FORM_FIELDS), form_values), max_size=7))
    if which == "login":
        return PageRequest("POST", "/admin/login", form, headers, False)
    if which == "logout":
        return PageRequest("POST", "/admin/logout", form, headers, session)
    action = draw(st.sampled_from(PAGE_ACTIONS))
    return PageRequest("POST", f"/admin/do/{action}", form, headers, session)


# -- schemathesis cases --------------------------------------------------------------------------

def send_case(case: Any, base_url: str, session: Any, token: str | None, *, sign_secret: str | None) -> Any:
    """Send a schemathesis ``case`` over ``session`` (requests) with the admin ``token`` (or none).
    With ``sign_secret``, a Zammad webhook case gets the right ``X-Hub-Signature`` for its body as
    sent, so that the checks behind the signature are reached."""
    import requests

    kwargs = case.as_transport_kwargs(base_url=base_url)
    headers = {k: v for k, v in (kwargs.pop("headers", None) or {}).items() if k.lower() != "authorization"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    fields = {k: v for k, v in kwargs.items() if k in ("method", "url", "params", "data", "json", "files", "cookies")}
    prepared = session.prepare_request(requests.Request(headers=headers, **fields))
    if case.operation.path == "/webhooks/{hook_kind}" and sign_secret is not None:
        body = prepared.body or b""
        prepared.headers["X-Hub-Signature"] = zammad_signature(
            body.encode() if isinstance(body, str) else body, sign_secret)
    return session.send(prepared, timeout=60)
