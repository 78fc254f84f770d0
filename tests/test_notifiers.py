"""Group-bot notifiers (issue 11, item 5) against fake WeCom, DingTalk and Feishu servers.

The fake servers (tests/fake_bots.py) check the signature and the message format as the public
documentation describes them and count what they accepted: exactly one message per notification
and channel, through refused signatures, rate limits, outages, crashes and plans run again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from connector.errors import ConnectorUnavailable
from kesu.effects import Notify, RecordComplaint
from kesu.models import Ticket, TicketRef
from kesu.notifiers.config import NotifiersConfig
from kesu.notifiers.delivery import BotNotifier, attach
from kesu.pipeline import Pipeline
from kesu.settings import WorkerSettings
from kesu.store.inbox import Inbox
from kesu.worker import TimerLoop, Worker
from plugins import hookimpl
from plugins.manager import BUILTIN_PLUGINS, ESSENTIAL_PLUGINS, PluginConfigError, PluginHost, build_plugin_manager
from plugins.plan import NoteRenderer
from tests.fake_bots import FakeBot, Reply
from tests.test_pipeline import MemoryConnector, enqueue

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DING_TOKEN, DING_SECRET = "ding-access-token-5e0f", "SECd1e2f3a4b5c6d7e8f9"
FEISHU_HOOK, FEISHU_SECRET = "5e3d587e-d78e-4a07-bd07-265f269f86fd", "nIMtb7r3N9pkXyXdtAbx6e"
SECRETS = (WECOM_KEY, DING_TOKEN, DING_SECRET, FEISHU_HOOK, FEISHU_SECRET)


@pytest.fixture
def bots() -> Iterator[dict[str, FakeBot]]:
    made = {"wecom": FakeBot("wecom", token=WECOM_KEY),
            "dingtalk": FakeBot("dingtalk", token=DING_TOKEN, secret=DING_SECRET),
            "feishu": FakeBot("feishu", token=FEISHU_HOOK, secret=FEISHU_SECRET)}
    yield made
    for bot in made.values():
        bot.close()


def channel(bot: FakeBot, **extra) -> dict:
    spec = {"kind": bot.kind, "webhook": bot.webhook, **extra}
    if bot.secret and "secret" not in extra:
        spec["secret"] = bot.secret
    return spec


def make_config(bots: dict[str, FakeBot], **overrides) -> NotifiersConfig:
    data = {
        "channels": {"quality": channel(bots["wecom"]), "production": channel(bots["dingtalk"]),
                     "office": channel(bots["feishu"])},
        "units": {"生产班组": ["production"], "质检部": ["quality"]},
        "default": ["office"],
        "backoff_base": 10, "backoff_max": 600,
        **overrides,
    }
    return NotifiersConfig.model_validate(data)


@pytest.fixture
def clock():
    now = [T0]

    def tick() -> datetime:
        return now[0]

    tick.advance = lambda s: now.__setitem__(0, now[0] + timedelta(seconds=s))  # type: ignore[attr-defined]
    return tick


def notifier(engine, config, clock) -> BotNotifier:
    labels = {"mould": "产品发酸、发霉变质、发红"}
    return BotNotifier(engine, config, helpdesk_url="https://zammad.example.com", helpdesk_kind="zammad",
                       cause_label=labels.get, clock=clock)


def ticket(id: str = "7", group: str | None = "Users") -> Ticket:
    return Ticket(ref=TicketRef(helpdesk="zammad", id=id), number=f"3100{id}", title="豆腐发霉了", group=group)


def save_record(engine, key: str, **values) -> None:
    from kesu.store import tickets as store

    with engine.begin() as conn:
        store.save_complaint(conn, key, values, T0)


NOTE = Notify(rule_id="R-ROUTE-6.21", recipients=("生产班组",), message="请于 24 小时内联系客户",
              reason="派单告知处理人")


def only(bot: FakeBot) -> dict:
    assert bot.refusals == [], bot.refusals
    assert len(bot.accepted) == 1, bot.accepted
    return bot.accepted[0]


# -- formats and signatures, one channel at a time -------------------------------------------------


@pytest.mark.parametrize("kind,option", [
    ("wecom", {"msgtype": "markdown"}), ("wecom", {"msgtype": "text", "mention_mobiles": ["13800001111"]}),
    ("dingtalk", {"msgtype": "markdown", "at_mobiles": ["13800001111"]}), ("dingtalk", {"msgtype": "text"}),
    ("feishu", {"msg_type": "post"}), ("feishu", {"msg_type": "text"}), ("feishu", {"msg_type": "interactive"}),
])
def test_each_bot_takes_the_signed_message_in_its_documented_format(engine, bots, clock, kind, option):
    bot = bots[kind]
    config = NotifiersConfig.model_validate({"channels": {"only": channel(bot, **option)}, "default": ["only"]})
    n = notifier(engine, config, clock)
    save_record(engine, "zammad:7", tier="A", cause="mould", units=["生产班组", "质检部"])
    assert n.record(ticket(), NOTE, clock()) == 1
    assert n.deliver_due() == {"sent": 1}
    body = only(bot)
    shown = str(body)
    for words in ("31007", "A类（重大）", "产品发酸、发霉变质、发红", "生产班组", "请于 24 小时内联系客户",
                  "R-ROUTE-6.21", "https://zammad.example.com/#ticket/zoom/7"):
        assert words in shown, (words, body)
    assert "mould" not in shown, "the cause's label is shown, never kesu's key"
    if kind == "wecom" and option["msgtype"] == "text":
        assert body["text"]["mentioned_mobile_list"] == ["13800001111"]
    if kind == "dingtalk" and option["msgtype"] == "markdown":
        assert body["at"] == {"atMobiles": ["13800001111"], "isAtAll": False}
        assert "@13800001111" in body["markdown"]["text"], "DingTalk shows an @ only when the text names it"
    if kind == "feishu" and option["msg_type"] == "post":
        rows = body["content"]["post"]["zh_cn"]["content"]
        assert {"tag": "a", "text": "查看工单", "href": "https://zammad.example.com/#ticket/zoom/7"} in rows[-1]
    assert n.rows()[0]["status"] == "sent" and n.rows()[0]["attempts"] == 1


def test_english_messages_by_config(engine, bots, clock):
    config = make_config(bots, language="en", default=["office"], units={})
    n = notifier(engine, config, clock)
    save_record(engine, "zammad:7", tier="A")
    n.record(ticket(), NOTE, clock())
    n.deliver_due()
    post = only(bots["feishu"])["content"]["post"]
    assert list(post) == ["en_us"]
    assert post["en_us"]["title"] == "Complaint notice · Ticket 31007"
    assert "Tier: Class A (major)" in str(post) and "Rule: R-ROUTE-6.21" in str(post)


def test_a_wrong_signing_secret_is_refused_by_the_bot_and_the_message_waits(engine, bots, clock):
    bad = NotifiersConfig.model_validate({
        "channels": {"p": channel(bots["dingtalk"], secret="SECnot-the-right-one"),
                     "o": channel(bots["feishu"], secret="not-the-right-one")},
        "default": ["p", "o"], "backoff_base": 10})
    n = notifier(engine, bad, clock)
    n.record(ticket(), NOTE, clock())
    assert n.deliver_due() == {"error": 2}
    assert bots["dingtalk"].refusals == ["sign mismatch"] and bots["feishu"].refusals == ["sign mismatch"]
    errors = sorted(r["last_error"] for r in n.rows())
    assert "code 19021" in errors[0] and "code 310000" in errors[1]
    # The operator fixes the secret and restarts: the waiting messages go out, once each.
    fixed = notifier(engine, NotifiersConfig.model_validate({
        "channels": {"p": channel(bots["dingtalk"]), "o": channel(bots["feishu"])}, "default": ["p", "o"]}), clock)
    assert fixed.deliver_due() == {}, "not before the backoff"
    clock.advance(11)
    assert fixed.deliver_due() == {"sent": 2}
    assert len(bots["dingtalk"].accepted) == 1 and len(bots["feishu"].accepted) == 1


# -- retries without duplicates ----------------------------------------------------------------------


@pytest.mark.parametrize("kind,reply,wait", [
    ("wecom", Reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"}), 60),
    ("dingtalk", Reply(200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}), 600),
    ("dingtalk", Reply(302, {}, {"Location": "https://oapi.dingtalk.com/robot/busy"}), 600),
    ("feishu", Reply(200, {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"}), 60),
    ("feishu", Reply(429, {"code": 99991400, "msg": "request trigger frequency limit"},
                     {"x-ogw-ratelimit-reset": "17"}), 17),
])
def test_a_rate_limited_post_waits_as_the_bot_asks_and_is_sent_once(engine, bots, clock, kind, reply, wait):
    bot = bots[kind]
    bot.script = [reply]
    n = notifier(engine, NotifiersConfig.model_validate({"channels": {"c": channel(bot)}, "default": ["c"]}), clock)
    n.record(ticket(), NOTE, clock())
    assert n.deliver_due() == {"rate_limited": 1}
    row, = n.rows()
    assert row["status"] == "pending" and row["attempts"] == 0, "a rate limit is no failed attempt"
    clock.advance(wait - 1)
    assert n.deliver_due() == {} and bot.posts == 1, "nothing is posted before the bot's wait is over"
    clock.advance(1)
    assert n.deliver_due() == {"sent": 1}
    assert bot.posts == 2 and len(bot.accepted) == 1
    clock.advance(3600)
    assert n.deliver_due() == {} and bot.posts == 2


def test_outages_back_off_and_give_up_after_max_attempts(engine, bots, clock, caplog):
    bot = bots["wecom"]
    bot.script = [Reply(502, {}) for _ in range(3)]
    config = NotifiersConfig.model_validate({"channels": {"c": channel(bot)}, "default": ["c"],
                                             "max_attempts": 3, "backoff_base": 10, "backoff_max": 15})
    n = notifier(engine, config, clock)
    n.record(ticket(), NOTE, clock())
    with caplog.at_level(logging.WARNING):
        assert n.deliver_due() == {"error": 1}
        clock.advance(9)
        assert n.deliver_due() == {}
        clock.advance(1)  # 10 s after the first failure
        assert n.deliver_due() == {"error": 1}
        clock.advance(15)  # 20 s would be the next wait; backoff_max caps it at 15
        assert n.deliver_due() == {"failed": 1}
    clock.advance(3600)
    assert n.deliver_due() == {} and bot.posts == 3 and bot.accepted == []
    row, = n.rows()
    assert row["status"] == "failed" and row["attempts"] == 3 and "HTTP 502" in row["last_error"]
    assert "given up after 3 posts" in caplog.text


def test_no_connection_is_retried_and_no_secret_reaches_logs_or_rows(engine, bots, clock, caplog):
    gone = FakeBot("wecom", token=WECOM_KEY)
    address = gone.webhook
    gone.close()  # nobody listens there any more
    config = NotifiersConfig.model_validate({"channels": {"c": {"kind": "wecom", "webhook": address}},
                                             "default": ["c"], "timeout": 2})
    n = notifier(engine, config, clock)
    n.record(ticket(), NOTE, clock())
    with caplog.at_level(logging.DEBUG):
        assert n.deliver_due() == {"error": 1}
    row, = n.rows()
    assert row["status"] == "pending" and row["last_error"] == "ConnectionError"
    for secret in SECRETS:
        assert secret not in caplog.text and secret not in str(n.rows())


def test_the_same_notification_recorded_again_is_posted_once(engine, bots, clock):
    n = notifier(engine, make_config(bots), clock)
    assert n.record(ticket(), NOTE, clock()) == 1
    again = Notify(**NOTE.model_dump())  # a plan run again decides an equal notification
    assert n.record(ticket(), again, clock()) == 0
    n.deliver_due()
    assert n.record(ticket(), NOTE, clock() + timedelta(days=1)) == 0, "also after it was sent"
    n.deliver_due()
    assert len(bots["dingtalk"].accepted) == 1
    other = NOTE.model_copy(update={"message": "客户再次来电"})
    assert n.record(ticket(), other, clock()) == 1 and n.deliver_due() == {"sent": 1}


def test_kesu_keeps_under_the_robots_per_minute_limit(engine, bots, clock):
    bot = bots["wecom"]
    config = NotifiersConfig.model_validate({"channels": {"c": channel(bot, per_minute=3)}, "default": ["c"]})
    n = notifier(engine, config, clock)
    for i in range(5):
        n.record(ticket(str(i)), NOTE, clock())
    assert n.deliver_due() == {"sent": 3, "deferred": 2}
    clock.advance(30)
    assert n.deliver_due() == {} and bot.posts == 3
    clock.advance(30)
    assert n.deliver_due() == {"sent": 2}
    assert len(bot.accepted) == 5 and bot.posts == 5


def test_a_lapsed_lease_is_posted_again(engine, bots, clock):
    """A process that died while posting: its message goes out after the lease (documented: the
    one case where the bot may show it twice, since its answer was lost)."""
    n = notifier(engine, make_config(bots), clock)
    n.record(ticket(), NOTE, clock())
    from sqlalchemy import update

    from kesu.store.tables import bot_notifications as bn

    with engine.begin() as conn:
        conn.execute(update(bn).values(status="sending", next_at=clock() + timedelta(seconds=40)))
    assert n.deliver_due() == {}, "another process holds it"
    clock.advance(41)
    assert n.deliver_due() == {"sent": 1}


# -- routing per unit ----------------------------------------------------------------------------------


def test_channels_follow_the_responsible_units_else_the_default(engine, bots, clock):
    n = notifier(engine, make_config(bots), clock)
    save_record(engine, "zammad:1", units=["生产班组", "质检部"])
    n.record(ticket("1"), NOTE.model_copy(update={"recipients": ("agent1",)}), clock())
    n.record(ticket("2", group="Users"), NOTE.model_copy(update={"recipients": ("agent1",)}), clock())
    n.record(ticket("3", group="质检部"), NOTE.model_copy(update={"recipients": ("agent1",)}), clock())
    n.deliver_due()
    by_ticket = {(r["ticket_key"], r["channel"]) for r in n.rows()}
    assert by_ticket == {("zammad:1", "production"), ("zammad:1", "quality"),
                         ("zammad:2", "office"), ("zammad:3", "quality")}
    assert [len(b.accepted) for b in bots.values()] == [2, 1, 1]


def test_config_names_only_configured_channels_and_never_shows_secrets(bots):
    pm = build_plugin_manager(load_entrypoints=False)
    with pytest.raises(PluginConfigError) as err:
        PluginHost(pm, {"notifiers": {"channels": {"q": channel(bots["wecom"])}, "units": {"质检部": ["nope"]}}})
    assert "units.质检部 names channels that are not configured: nope" in str(err.value)
    with pytest.raises(PluginConfigError) as err:
        PluginHost(pm, {"notifiers": {"channels": {"d": {"kind": "dingtalk", "secret": DING_SECRET,
                                                          "webhook": f"oapi.dingtalk.com?access_token={DING_TOKEN}"}}}})
    text = str(err.value)
    assert "webhook must be the bot's full http(s) address" in text
    assert DING_SECRET not in text and DING_TOKEN not in text


def test_config_show_redacts_bot_secrets(tmp_path, bots):
    from typer.testing import CliRunner

    from kesu.cli import app

    cfg = tmp_path / "kesu.toml"
    cfg.write_text(f'''[store]
url = "sqlite:///{tmp_path / 'k.db'}"
[policies.notifiers.channels.production]
kind = "dingtalk"
webhook = "{bots['dingtalk'].webhook}"
secret = "{DING_SECRET}"
''', encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "show", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "dingtalk" in result.output and "[redacted]" in result.output
    assert DING_SECRET not in result.output and DING_TOKEN not in result.output


# -- through the pipeline: failures and re-runs -------------------------------------------------------


class Dispatch:
    """A policy that tells the production team at dispatch, like routing's R-ROUTE-6.21."""

    @hookimpl
    def kesu_evaluate(self, ticket):
        return [RecordComplaint(rule_id="R-TIER-1.9.1-A", values={"tier": "A", "cause": "mould",
                                                                  "units": ["生产班组"]}),
                Notify(rule_id="R-ROUTE-6.21", recipients=("生产班组",), message="请处理豆腐发霉投诉")]


@pytest.fixture
def flow(engine, make_ticket, clock, bots):
    # Only this policy tells anyone: the other built-in policies would add their own notifications.
    disabled = [n for n in BUILTIN_PLUGINS if n not in ESSENTIAL_PLUGINS | {"facts", "notifiers"}]
    pm = build_plugin_manager(disabled, load_entrypoints=False)
    pm.register(Dispatch(), name="dispatch")
    host = PluginHost(pm, {"notifiers": {"channels": {"production": channel(bots["dingtalk"])},
                                         "units": {"生产班组": ["production"]}}}, disabled)
    bot = attach(host, engine, helpdesk_url="https://zammad.example.com", helpdesk_kind="zammad", clock=clock)
    assert bot is not None
    conn = MemoryConnector({"1": make_ticket()})
    pipeline = Pipeline(engine=engine, connector=conn, host=host, renderer=NoteRenderer("zh"), clock=clock)
    worker = Worker(pipeline, WorkerSettings(max_attempts=5, backoff_base=1), clock=clock)
    return conn, worker, bot


def test_a_notification_goes_out_once_through_crashes_write_failures_and_reruns(engine, flow, bots, clock):
    conn, worker, bot = flow
    # 1. The helpdesk is down when kesu writes: nothing is told before the write is on the ticket.
    original_apply = conn.apply

    def failing_apply(ticket, writes):
        conn.apply = original_apply
        raise ConnectorUnavailable("helpdesk away", method="PUT", url="/tickets/1", status=503)

    conn.apply = failing_apply
    enqueue(engine)
    worker.drain()
    assert bot.rows() == [], "not told while the write is not on the ticket"
    # 2. The retry finishes the write; the fresh evaluation finds it decided and writes nothing
    #    new, yet the notification decided with the write is told.
    clock.advance(5)
    worker.drain()
    assert len(conn.notes["1"]) == 1 and len(bot.rows()) == 1
    assert bot.deliver_due() == {"sent": 1}
    # 3. The same plan again (another webhook): decided before, told before.
    enqueue(engine, delivery="d2", kind="updated")
    worker.drain()
    assert bot.deliver_due() == {}
    assert len(bots["dingtalk"].accepted) == 1
    body = bots["dingtalk"].accepted[0]
    assert "产品发酸、发霉变质、发红" in body["markdown"]["text"], "the cause label from [policies.facts]"
    assert "A类（重大）" in body["markdown"]["text"] and "R-ROUTE-6.21" in body["markdown"]["text"]


def test_a_crash_after_the_write_still_tells_once(engine, flow, bots, clock):
    conn, worker, bot = flow
    conn.crash_after_write = True
    enqueue(engine)
    with pytest.raises(SystemExit):
        worker.run_once()
    assert bot.rows() == []
    clock.advance(120)
    TimerLoop(worker.pipeline, worker.settings, clock=clock).tick()  # the lapsed lease comes back
    worker.drain()
    assert len(bot.rows()) == 1 and bot.deliver_due() == {"sent": 1}
    # The hook is called again for the same notification (a crash between the hook and marking
    # the write applied): the store turns that into nothing.
    from kesu.effects import Notify as N

    worker.pipeline.host.notify(conn.tickets["1"], [N(rule_id="R-ROUTE-6.21", recipients=("生产班组",),
                                                      message="请处理豆腐发霉投诉")], clock())
    assert bot.deliver_due() == {}
    assert len(bots["dingtalk"].accepted) == 1 and Inbox(engine).depth().get("processing", 0) == 0


def test_services_deliver_in_the_background(tmp_path, bots):
    """Wiring: ``Services`` registers the delivery and the worker runner posts without help."""
    import time

    from kesu.app import Services
    from kesu.settings import Settings

    settings = Settings(store={"url": f"sqlite:///{tmp_path / 'kesu.db'}"},
                        policies={"notifiers": {"channels": {"o": channel(bots["feishu"])}, "default": ["o"],
                                                "poll_interval": 0.2}})
    services = Services.build(settings, load_entrypoints=False)
    try:
        assert services.notifier is not None
        services.start_workers(timers=False)
        services.host.notify(ticket(), [NOTE], datetime.now(timezone.utc))
        deadline = time.monotonic() + 30
        while not bots["feishu"].accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(bots["feishu"].accepted) == 1 and bots["feishu"].refusals == []
    finally:
        services.close()
