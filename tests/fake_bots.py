"""Fake WeCom, DingTalk and Feishu group-bot servers for the notifier tests.

Each is a real local HTTP server that checks what the public documentation asks of a post and
answers the way the bot does (see ``kesu.notifiers.channels`` for the document addresses):

* WeCom ``POST /cgi-bin/webhook/send?key=K``: JSON ``msgtype`` text (``content`` <= 2048 bytes,
  optional ``mentioned_list`` / ``mentioned_mobile_list``) or markdown (``content`` <= 4096
  bytes); answers ``{"errcode": 0, "errmsg": "ok"}``; 93000 for a wrong key.
* DingTalk ``POST /robot/send?access_token=T&timestamp=MS&sign=S``: the timestamp within one
  hour of now and S = urlencode(base64(HMAC-SHA256(secret, "MS\\nsecret"))); JSON ``msgtype``
  text (``text.content``) or markdown (``markdown.title``, ``markdown.text``), optional ``at``
  (``atMobiles``, ``atUserIds``, ``isAtAll``); 310000 when the signature fails.
* Feishu ``POST /open-apis/bot/v2/hook/H``: JSON ``timestamp`` (seconds, a string, within one
  hour) and ``sign`` = base64(HMAC-SHA256(key="ts\\nsecret", msg="")), ``msg_type`` text / post /
  interactive with its ``content`` or ``card``; body <= 20 KB; 19021 when the signature fails.

A test scripts extra answers (``script``: rate limits, 5xx) and counts what was accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ONE_HOUR = 3600
SIGN_FAIL = "sign match fail or timestamp is not within one hour from current time"


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeBot:
    """One bot: ``kind`` wecom | dingtalk | feishu, its key/token/hook id and signing secret."""

    def __init__(self, kind: str, *, token: str, secret: str = "") -> None:
        self.kind = kind
        self.token = token
        self.secret = secret
        self.accepted: list[dict[str, Any]] = []  # bodies the bot showed in the group
        self.posts = 0  # every request, accepted or not
        self.refusals: list[str] = []  # why a post was refused (signature, format)
        self.script: list[Reply] = []  # answers given before checking (rate limits, outages)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def webhook(self) -> str:
        return {"wecom": f"{self.base}/cgi-bin/webhook/send?key={self.token}",
                "dingtalk": f"{self.base}/robot/send?access_token={self.token}",
                "feishu": f"{self.base}/open-apis/bot/v2/hook/{self.token}"}[self.kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- checks, as the documentation describes the posts --------------------------------------

    def check(self, path: str, query: dict[str, list[str]], headers: Any, raw: bytes) -> tuple[Reply, dict | None]:
        if "application/json" not in (headers.get("Content-Type") or ""):
            return self._bad("Content-Type is not JSON"), None
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self._bad("body is not UTF-8 JSON"), None
        return getattr(self, f"_check_{self.kind}")(path, query, body), body

    def _bad(self, why: str) -> Reply:
        self.refusals.append(why)
        code = {"wecom": ("errcode", 40035), "dingtalk": ("errcode", 300001), "feishu": ("code", 9499)}[self.kind]
        msg = "errmsg" if self.kind != "feishu" else "msg"
        return Reply(200, {code[0]: code[1], msg: why})

    def _check_wecom(self, path: str, query: dict, body: dict) -> Reply:
        if path != "/cgi-bin/webhook/send" or query.get("key") != [self.token]:
            self.refusals.append("wrong key")
            return Reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        kind = body.get("msgtype")
        if kind == "text":
            text = body.get("text") or {}
            if set(text) - {"content", "mentioned_list", "mentioned_mobile_list"} or set(body) != {"msgtype", "text"}:
                return self._bad(f"unknown fields {sorted(set(text) | set(body))}")
            if not isinstance(text.get("content"), str) or len(text["content"].encode()) > 2048:
                return self._bad("text.content missing or over 2048 bytes")
            for k in ("mentioned_list", "mentioned_mobile_list"):
                if k in text and not all(isinstance(m, str) for m in text[k]):
                    return self._bad(f"{k} is not a list of strings")
        elif kind == "markdown":
            md = body.get("markdown") or {}
            if set(md) != {"content"} or set(body) != {"msgtype", "markdown"}:
                return self._bad("markdown takes only content")
            if not isinstance(md["content"], str) or len(md["content"].encode()) > 4096:
                return self._bad("markdown.content over 4096 bytes")
        else:
            return self._bad(f"msgtype {kind!r}")
        return self._accept(body, {"errcode": 0, "errmsg": "ok"})

    def _check_dingtalk(self, path: str, query: dict, body: dict) -> Reply:
        if path != "/robot/send" or query.get("access_token") != [self.token]:
            self.refusals.append("wrong token")
            return Reply(200, {"errcode": 300001, "errmsg": "token is not exist"})
        if self.secret:
            ts, sign = (query.get("timestamp") or [""])[0], (query.get("sign") or [""])[0]
            if not ts.isdigit() or abs(int(ts) - time.time() * 1000) > ONE_HOUR * 1000:
                self.refusals.append("timestamp outside one hour")
                return Reply(200, {"errcode": 310000, "errmsg": "timestamp is not within one hour"})
            mac = hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(), hashlib.sha256)
            if not hmac.compare_digest(base64.b64encode(mac.digest()).decode(), sign):  # parse_qs decoded it
                self.refusals.append("sign mismatch")
                return Reply(200, {"errcode": 310000, "errmsg": "sign not match"})
        kind = body.get("msgtype")
        at = body.get("at", {})
        if set(at) - {"atMobiles", "atUserIds", "isAtAll"} or not isinstance(at.get("isAtAll", False), bool):
            return self._bad("bad at")
        if kind == "text":
            if set(body) - {"msgtype", "text", "at"} or not isinstance((body.get("text") or {}).get("content"), str):
                return self._bad("text.content missing")
        elif kind == "markdown":
            md = body.get("markdown") or {}
            if set(body) - {"msgtype", "markdown", "at"} or set(md) != {"title", "text"}:
                return self._bad("markdown needs title and text")
        else:
            return self._bad(f"msgtype {kind!r}")
        return self._accept(body, {"errcode": 0, "errmsg": "ok"})

    def _check_feishu(self, path: str, query: dict, body: dict) -> Reply:
        if path != f"/open-apis/bot/v2/hook/{self.token}":
            self.refusals.append("wrong hook")
            return Reply(404, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"})
        if self.secret:
            ts, sign = body.get("timestamp"), body.get("sign")
            if not isinstance(ts, str) or not ts.isdigit() or abs(int(ts) - time.time()) > ONE_HOUR:
                self.refusals.append("timestamp outside one hour")
                return Reply(200, {"code": 19021, "msg": SIGN_FAIL})
            mac = hmac.new(f"{ts}\n{self.secret}".encode(), b"", hashlib.sha256)
            if not isinstance(sign, str) or not hmac.compare_digest(base64.b64encode(mac.digest()).decode(), sign):
                self.refusals.append("sign mismatch")
                return Reply(200, {"code": 19021, "msg": SIGN_FAIL})
        kind = body.get("msg_type")
        rest = set(body) - {"timestamp", "sign", "msg_type"}
        if kind == "text":
            if rest != {"content"} or not isinstance(body["content"].get("text"), str):
                return self._bad("text needs content.text")
        elif kind == "post":
            post = (body.get("content") or {}).get("post") or {}
            if rest != {"content"} or not post:
                return self._bad("post needs content.post")
            for locale, doc in post.items():
                if locale not in ("zh_cn", "en_us", "ja_jp") or not isinstance(doc.get("title"), str):
                    return self._bad("post needs a locale with a title")
                for row in doc.get("content", []):
                    for el in row:
                        if el.get("tag") not in ("text", "a", "at", "img") or (
                                el["tag"] == "a" and not el.get("href")):
                            return self._bad(f"bad post element {el}")
        elif kind == "interactive":
            card = body.get("card") or {}
            if rest != {"card"} or not isinstance(card.get("elements"), list):
                return self._bad("interactive needs card.elements")
        else:
            return self._bad(f"msg_type {kind!r}")
        return self._accept(body, {"code": 0, "msg": "success", "data": {}, "StatusCode": 0,
                                   "StatusMessage": "success"})

    def _accept(self, body: dict, answer: dict) -> Reply:
        self.accepted.append(body)
        return Reply(200, answer)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        bot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                with bot.lock:
                    bot.posts += 1
                    if len(raw) > 20_000 and bot.kind == "feishu":
                        reply = bot._bad("body over 20 KB")
                    elif bot.script:
                        reply = bot.script.pop(0)
                    else:
                        reply, _ = bot.check(parts.path, parse_qs(parts.query), self.headers, raw)
                data = json.dumps(reply.body or {}).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
