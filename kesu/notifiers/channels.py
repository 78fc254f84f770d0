"""The three group bots: request bodies, signatures and how each answers.

WeCom (企业微信) group robot -- https://developer.work.weixin.qq.com/document/path/91770
  POST the webhook (``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``) with JSON
  ``{"msgtype": "text", "text": {"content", "mentioned_list", "mentioned_mobile_list"}}`` (content
  at most 2048 bytes) or ``{"msgtype": "markdown", "markdown": {"content"}}`` (at most 4096 bytes).
  Answer ``{"errcode": 0, "errmsg": "ok"}``; errcode 45009 is the frequency limit: each robot
  may send 20 messages a minute. No signature (the key in the address is the secret).

DingTalk (钉钉) custom robot -- https://open.dingtalk.com/document/orgapp/custom-robot-access and
https://open.dingtalk.com/document/robots/customize-robot-security-settings
  POST ``https://oapi.dingtalk.com/robot/send?access_token=…&timestamp=…&sign=…`` with JSON
  ``{"msgtype": "text", "text": {"content"}, "at": {"atMobiles", "isAtAll"}}`` or
  ``{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {…}}``; an @ shows only when the
  content names ``@<mobile>``. 加签: ``timestamp`` in milliseconds (within one hour of DingTalk's
  clock), ``sign`` = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))).
  Answer ``{"errcode": 0, "errmsg": "ok"}``; 20 messages a minute per robot, beyond that errcode
  130101 ("send too fast") and the robot is throttled for 10 minutes; 310000 = the security
  settings (signature, keywords, IP) refused the message.

Feishu (飞书) custom bot -- https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
  POST ``https://open.feishu.cn/open-apis/bot/v2/hook/…`` with JSON ``{"msg_type": "text",
  "content": {"text"}}``, ``{"msg_type": "post", "content": {"post": {"zh_cn": {"title",
  "content": [[{"tag": "text", …}, {"tag": "a", "text", "href"}], …]}}}}`` or ``{"msg_type":
  "interactive", "card": {…}}``; with 签名校验 the body also carries ``timestamp`` (seconds, within
  one hour) and ``sign`` = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")). Body at
  most 20 KB. Answer ``{"code": 0, "msg": "success", …}`` (older answers: ``StatusCode``);
  100 messages a minute and 5 a second per bot, code 11232 or HTTP 429 when exceeded; 19021 =
  signature or timestamp refused, 19024 = keyword missing, 9499 = bad request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from kesu.notifiers.config import DingTalkChannel, FeishuChannel, WeComChannel
from kesu.notifiers.message import Message

WECOM_TEXT_BYTES = 2048
WECOM_MARKDOWN_BYTES = 4096
FEISHU_BODY_BYTES = 20_000

WECOM_RATE_LIMITED = 45009
DINGTALK_RATE_LIMITED = 130101
FEISHU_RATE_LIMITED = 11232


@dataclass(frozen=True)
class Request:
    url: str  # a secret: never logged
    body: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    ok: bool
    rate_limited: bool = False
    wait: float | None = None  # seconds the bot asks for (Feishu's x-ogw-ratelimit-reset)
    error: str = ""  # what the bot said, without secrets


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签, ready for the query string."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu 签名校验: the string ``timestamp\\nsecret`` is the HMAC key, the message is empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def build(channel: WeComChannel | DingTalkChannel | FeishuChannel, message: Message, *,
          epoch: float, language: str = "zh") -> Request:
    """The request that posts ``message`` on ``channel`` at wall-clock time ``epoch`` (seconds)."""
    url = channel.webhook.get_secret_value()
    if isinstance(channel, WeComChannel):
        return Request(url, _wecom(channel, message))
    if isinstance(channel, DingTalkChannel):
        secret = channel.secret.get_secret_value()
        if secret:
            ts = int(epoch * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={dingtalk_sign(secret, ts)}"
        return Request(url, _dingtalk(channel, message))
    body = _feishu(channel, message, language)
    secret = channel.secret.get_secret_value()
    if secret:
        ts = int(epoch)
        body = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body}
    return Request(url, body)


def _wecom(channel: WeComChannel, message: Message) -> dict[str, Any]:
    if channel.msgtype == "markdown":
        return {"msgtype": "markdown", "markdown": {"content": message.markdown(WECOM_MARKDOWN_BYTES)}}
    text: dict[str, Any] = {"content": message.text(WECOM_TEXT_BYTES)}
    if channel.mention_mobiles:
        text["mentioned_mobile_list"] = list(channel.mention_mobiles)
    return {"msgtype": "text", "text": text}


def _dingtalk(channel: DingTalkChannel, message: Message) -> dict[str, Any]:
    at = {"atMobiles": list(channel.at_mobiles), "isAtAll": channel.at_all}
    mentions = " ".join(f"@{m}" for m in channel.at_mobiles)  # DingTalk shows an @ named in the content
    if channel.msgtype == "markdown":
        text = message.markdown(heading="#### {}", bullet="- ", bold_labels=True)
        text = text.replace("\n", "\n\n") + (f"\n\n{mentions}" if mentions else "")
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": text}, "at": at}
    content = message.text() + (f"\n{mentions}" if mentions else "")
    return {"msgtype": "text", "text": {"content": content}, "at": at}


def _feishu(channel: FeishuChannel, message: Message, language: str) -> dict[str, Any]:
    if channel.msg_type == "text":
        text = message.text()
        if channel.at_all:
            text += '\n<at user_id="all">所有人</at>' if language == "zh" else '\n<at user_id="all">all</at>'
        return {"msg_type": "text", "content": {"text": text}}
    if channel.msg_type == "post":
        rows: list[list[dict[str, Any]]] = [[{"tag": "text", "text": line}] for line in message.plain_lines()]
        if message.link:
            rows.append([{"tag": "a", "text": message.link_text, "href": message.link}])
        if channel.at_all:
            rows.append([{"tag": "at", "user_id": "all"}])
        locale = "zh_cn" if language == "zh" else "en_us"
        return {"msg_type": "post", "content": {"post": {locale: {"title": message.title, "content": rows}}}}
    body = message.markdown(heading="", bullet="", bold_labels=True).strip()
    if channel.at_all:
        body += "\n<at id=all></at>"
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": body}}]
    if message.link:
        elements.append({"tag": "action", "actions": [
            {"tag": "button", "text": {"tag": "plain_text", "content": message.link_text},
             "url": message.link, "type": "primary"}]})
    card = {"header": {"title": {"tag": "plain_text", "content": message.title}, "template": "red"},
            "elements": elements}
    return {"msg_type": "interactive", "card": card}


def read_answer(channel: WeComChannel | DingTalkChannel | FeishuChannel, status: int,
                headers: dict[str, str], text: str) -> Answer:
    """What the bot's answer means: delivered, rate-limited (wait), or an error to retry later."""
    headers = {k.lower(): v for k, v in headers.items()}
    if status == 429:
        return Answer(False, rate_limited=True, wait=_seconds(headers.get("x-ogw-ratelimit-reset")),
                      error="HTTP 429")
    if isinstance(channel, DingTalkChannel) and 300 <= status < 400:
        # A throttled DingTalk robot answers a redirect instead of JSON for its 10 minutes.
        return Answer(False, rate_limited=True, error=f"HTTP {status} (throttled)")
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return Answer(False, error=f"HTTP {status}: not a JSON answer")
    if isinstance(channel, FeishuChannel):
        code = data.get("code", data.get("StatusCode"))
        msg = data.get("msg", data.get("StatusMessage", ""))
        limited = code == FEISHU_RATE_LIMITED
    else:
        code = data.get("errcode")
        msg = data.get("errmsg", "")
        limited = code == (WECOM_RATE_LIMITED if isinstance(channel, WeComChannel) else DINGTALK_RATE_LIMITED)
    if status == 200 and code == 0:
        return Answer(True)
    if limited:
        return Answer(False, rate_limited=True, wait=_seconds(headers.get("x-ogw-ratelimit-reset")),
                      error=f"code {code}: {str(msg)[:200]}")
    return Answer(False, error=f"HTTP {status}, code {code}: {str(msg)[:200]}")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
