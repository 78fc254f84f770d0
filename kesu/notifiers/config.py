"""``[policies.notifiers]``: the group bots, which unit is told on which, how often to retry.

Every secret (the webhook address, which carries the robot's key or access token, and the signing
secret) is a ``SecretStr``: never printed, logged or kept in an error message.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _webhook(value: SecretStr) -> SecretStr:
    url = value.get_secret_value()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # The address itself is a secret: say what is wrong without repeating it.
        raise ValueError("webhook must be the bot's full http(s) address as the group settings show it")
    return value


class WeComChannel(_Strict):
    """企业微信群机器人: ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``."""

    kind: Literal["wecom"]
    webhook: SecretStr = Field(description="the robot's webhook address (its key is the secret)")
    msgtype: Literal["text", "markdown"] = Field(
        "markdown", description="markdown shows the link as a link; text can @ members by mobile")
    mention_mobiles: list[str] = Field(
        default_factory=list, description='text: mentioned_mobile_list (mobile numbers or "@all")')
    per_minute: int = Field(20, ge=1, description="messages a minute per robot (WeCom allows 20)")
    rate_limit_wait: float = Field(60.0, gt=0, description="seconds to wait after errcode 45009")

    _check = field_validator("webhook")(_webhook)


class DingTalkChannel(_Strict):
    """钉钉自定义机器人: ``https://oapi.dingtalk.com/robot/send?access_token=…``, signed (加签)."""

    kind: Literal["dingtalk"]
    webhook: SecretStr = Field(description="the robot's webhook address (its access_token is the secret)")
    secret: SecretStr = Field(SecretStr(""), description="加签 secret (SEC…); empty = the robot is not signed")
    msgtype: Literal["text", "markdown"] = "markdown"
    at_mobiles: list[str] = Field(default_factory=list, description="at.atMobiles: members told by mobile")
    at_all: bool = Field(False, description="at.isAtAll")
    per_minute: int = Field(20, ge=1, description="messages a minute per robot (DingTalk allows 20)")
    rate_limit_wait: float = Field(
        600.0, gt=0, description="seconds to wait after errcode 130101 (DingTalk throttles 10 minutes)")

    _check = field_validator("webhook")(_webhook)


class FeishuChannel(_Strict):
    """飞书自定义机器人: ``https://open.feishu.cn/open-apis/bot/v2/hook/…``, signed (签名校验)."""

    kind: Literal["feishu"]
    webhook: SecretStr = Field(description="the bot's webhook address (the hook id is the secret)")
    secret: SecretStr = Field(SecretStr(""), description="签名校验 secret; empty = the bot is not signed")
    msg_type: Literal["text", "post", "interactive"] = "post"
    at_all: bool = Field(False, description='tell everyone in the group (<at user_id="all">)')
    per_minute: int = Field(100, ge=1, description="messages a minute per bot (Feishu allows 100, 5 a second)")
    rate_limit_wait: float = Field(60.0, gt=0, description="seconds to wait after code 11232 or HTTP 429")

    _check = field_validator("webhook")(_webhook)


Channel = Annotated[Union[WeComChannel, DingTalkChannel, FeishuChannel], Field(discriminator="kind")]


class NotifiersConfig(_Strict):
    """``[policies.notifiers]``. Without channels nothing is posted (the notification is still a
    line of the ticket's internal note)."""

    language: Literal["zh", "en"] = Field("zh", description="language of the bot messages")
    ticket_url: str = Field(
        "", description="link to a ticket: a template with {base} {id} {number}; "
        '"" = the helpdesk\'s own ticket page from [helpdesk] url and kind')
    channels: dict[str, Channel] = Field(
        default_factory=dict, description="[policies.notifiers.channels.<name>]: one group bot each")
    units: dict[str, list[str]] = Field(
        default_factory=dict, description="responsible unit or helpdesk group -> channel names")
    default: list[str] = Field(
        default_factory=list, description="channels for a ticket whose units have none")
    timeout: float = Field(10.0, gt=0, description="seconds for one post")
    max_attempts: int = Field(12, ge=1, description="posts of one message before it is given up (failed)")
    backoff_base: float = Field(30.0, gt=0, description="first wait after a failed post (s), doubling")
    backoff_max: float = Field(3600.0, gt=0, description="longest wait between two posts (s)")
    poll_interval: float = Field(5.0, gt=0, description="how often waiting messages are checked (s)")

    @model_validator(mode="after")
    def _known_channels(self) -> NotifiersConfig:
        for where, names in [("default", self.default), *((f"units.{u}", n) for u, n in self.units.items())]:
            unknown = [n for n in names if n not in self.channels]
            if unknown:
                raise ValueError(f"{where} names channels that are not configured: {', '.join(unknown)} "
                                 f"(configured: {', '.join(sorted(self.channels)) or 'none'})")
        return self
