"""No raw internal key where an agent or a manager reads (issue 11): every scenario of every profile
played end to end through the sandbox Zammad with notes, bots, reports and the admin page in
Chinese, then again in English, and everything people read from it scanned for the keys of
causes, categories, flags, tiers, outcomes, states, channels and ledger kinds (``mould``,
``channel_missing_packs``, ``insect_unopened``, ``serious_injury``; see tests/raw_keys.py):

* every note kesu wrote to every scenario ticket;
* every group-bot message, as stored and as each channel's body (WeCom, DingTalk, Feishu), and
  what the fake bots accepted;
* the monthly, quarterly and yearly report of every month with complaints and the special report
  of every ticket, as Markdown, HTML and XLSX (every cell); their JSON keeps keys as keys, but
  every key there must come with a label that is not the key;
* the admin page: the dashboard, the complaints list and every complaint's page.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import requests
from sqlalchemy import select

from connector.zammad.sandbox import SandboxZammad
from kesu.i18n.labels import internal_keys
from kesu.notifiers.channels import build
from kesu.notifiers.config import NotifiersConfig
from kesu.notifiers.message import Message
from kesu.report import render
from kesu.report.labels import Catalogue
from kesu.report.runs import build as build_report
from kesu.settings import AdminSettings, AdminToken
from kesu.store.db import as_utc
from kesu.store.tables import bot_notifications, complaints
from tests.e2e.conftest import start_stack, wait_until
from tests.e2e.scenario_kit import Runner, ScenarioClock
from tests.e2e.scenarios import ALL
from tests.e2e.test_scenarios import _groups
from tests.fake_bots import FakeBot
from tests.raw_keys import raw_keys_in, where

pytestmark = pytest.mark.slow

TOKEN = "raw-key-check-0123456789abcdef"
PROFILES = sorted({s.profile for s in ALL})
DING_SECRET, FEISHU_SECRET = "SECraw0key1check2", "rawKeyCheckFeishu3"


@pytest.fixture
def bots() -> Iterator[dict[str, FakeBot]]:
    made = {"wecom": FakeBot("wecom", token="raw-key-wecom"),
            "dingtalk": FakeBot("dingtalk", token="raw-key-ding", secret=DING_SECRET),
            "feishu": FakeBot("feishu", token="raw-key-feishu", secret=FEISHU_SECRET)}
    yield made
    for bot in made.values():
        bot.close()


def _notifiers(bots: dict[str, FakeBot], lang: str) -> dict[str, Any]:
    channels = {kind: {"kind": kind, "webhook": bot.webhook, **({"secret": bot.secret} if bot.secret else {})}
                for kind, bot in bots.items()}
    return {"channels": channels, "default": list(channels), "language": lang, "poll_interval": 0.2}


def visible_text(html: str) -> str:
    """What a person reads on a page: no style, no tags, no attribute values."""
    body = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def xlsx_text(data: bytes) -> str:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    out = [ws.title for ws in wb.worksheets]
    for ws in wb.worksheets:
        out += [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    return "\n".join(out)


def json_label_problems(data: Any, keys: set[str], path: str = "$") -> list[str]:
    """In a report's JSON, a stored key shown without its label: an object whose ``key`` is an
    internal key has a ``label`` that is neither empty nor the key itself."""
    found: list[str] = []
    if isinstance(data, dict):
        key = data.get("key")
        if isinstance(key, str) and key in keys and "label" in data and data["label"] in ("", None, key):
            found.append(f"{path}: {key!r} labelled {data['label']!r}")
        for k, v in data.items():
            if k == "shown" and isinstance(v, dict):  # the major report: field -> label of its stored key
                found += [f"{path}.shown.{f}: {s!r}" for f, s in v.items() if s in keys or not s]
            else:
                found += json_label_problems(v, keys, f"{path}.{k}")
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found += json_label_problems(v, keys, f"{path}[{i}]")
    return found


def play(profile: str, lang: str, bots: dict[str, FakeBot], tmp_path: Any) -> tuple[Runner, list[int]]:
    clock = ScenarioClock()
    sandbox = SandboxZammad(retry_scale=0.01, clock=clock)
    sandbox.start()
    clock.sandbox_clock = sandbox.state.clock
    for group in _groups(profile):
        sandbox.add_group(group)

    def configure(settings: Any) -> None:
        settings.profile = profile
        settings.helpdesk.name = f"zammad-{profile}"
        settings.worker.timer_interval = 0.05
        settings.notes.language = lang
        settings.reports.automatic = []
        settings.reports.language = lang
        settings.reports.directory = str(tmp_path / "reports")
        settings.admin = AdminSettings(tokens={"manager": AdminToken(token=TOKEN, scopes=["read"])})
        settings.policies = {**settings.policies, "notifiers": _notifiers(bots, lang)}

    stack = start_stack(sandbox, f"sqlite:///{tmp_path / 'kesu.db'}", configure=configure, clock=clock)
    runner = Runner(stack, clock)
    tickets: list[int] = []
    for scenario in (s for s in ALL if s.profile == profile):
        # what each step must do is checked by test_scenarios (in Chinese); here only what is read
        quiet = replace(scenario, steps=tuple(replace(step, expect=None) for step in scenario.steps))
        tickets += runner.run(quiet).values()
    return runner, tickets


def gather(runner: Runner, tickets: list[int], bots: dict[str, FakeBot], lang: str) -> list[tuple[str, str]]:
    """(where, text) of everything people read."""
    stack, engine, settings = runner.stack, runner.engine, runner.stack.settings
    texts: list[tuple[str, str]] = []
    for tid in tickets:
        texts += [(f"note on ticket {tid}", n["body"]) for n in stack.notes(tid)]

    # group-bot messages: stored, as each channel's body, and as the bots got them
    with engine.connect() as conn:
        stored = [dict(r) for r in conn.execute(select(bot_notifications)).mappings()]
    config = NotifiersConfig.model_validate(_notifiers(bots, lang))
    for row in stored:
        message = Message.model_validate(row["message"])
        texts += [(f"bot message {row['id']}", message.text()), (f"bot markdown {row['id']}", message.markdown())]
        for name, channel in config.channels.items():
            body = build(channel, message, epoch=time.time(), language=lang).body
            texts.append((f"bot {name} body {row['id']}", json.dumps(body, ensure_ascii=False)))
    for kind, bot in bots.items():
        texts += [(f"{kind} bot accepted", json.dumps(b, ensure_ascii=False)) for b in list(bot.accepted)]

    # reports: every period with complaints, every ticket's special report
    with engine.connect() as conn:
        rows = conn.execute(select(complaints.c.ticket_key, complaints.c.received_at)).all()
    months = sorted({as_utc(r.received_at).astimezone(ZoneInfo(settings.reports.timezone)).strftime("%Y-%m") for r in rows})
    periods = [("monthly", m) for m in months]
    periods += [("quarterly", f"{m[:4]}-Q{(int(m[5:]) - 1) // 3 + 1}") for m in months]
    periods += [("yearly", m[:4]) for m in months]
    periods = list(dict.fromkeys(periods)) + [("major", r.ticket_key) for r in rows]
    catalogue = Catalogue.from_settings(settings)
    keys = set().union(*internal_keys().values())
    for kind, period in periods:
        report = build_report(engine, kind, period, tz=settings.reports.timezone, catalogue=catalogue, language=lang)
        for fmt in ("md", "html"):
            text = render(report, fmt).decode()
            texts.append((f"{kind} report {period} ({fmt})", visible_text(text) if fmt == "html" else text))
        texts.append((f"{kind} report {period} (xlsx)", xlsx_text(render(report, "xlsx"))))
        problems = json_label_problems(json.loads(render(report, "json")), keys)
        assert problems == [], (kind, period, problems)
    assert len(periods) > len(rows) >= 5

    # the admin page, signed in as a manager
    web = requests.Session()
    assert web.post(f"{stack.url}/admin/login", data={"token": TOKEN}, allow_redirects=False).status_code == 303
    pages = [f"/admin?lang={lang}", f"/admin/complaints?lang={lang}&per_page=100"]
    listing = web.get(f"{stack.url}/admin/api/complaints", params={"per_page": 100}, headers={
        "Authorization": f"Bearer {TOKEN}"}).json()
    assert listing["total"] == len(rows)
    pages += [f"/admin/complaints/{c['number'] or c['ticket_key']}?lang={lang}" for c in listing["items"]]
    for path in pages:
        page = web.get(f"{stack.url}{path}")
        assert page.status_code == 200, (path, page.text[:300])
        texts.append((f"admin page {path}", visible_text(page.text)))
    return texts


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("profile", PROFILES)
def test_no_raw_key_anywhere_people_read(profile: str, lang: str, bots: dict[str, FakeBot], tmp_path: Any) -> None:
    runner, tickets = play(profile, lang, bots, tmp_path)
    try:
        texts = gather(runner, tickets, bots, lang)
    finally:
        stop = threading.Thread(target=runner.stack.stop)
        stop.start()
        stop.join(30)
        runner.sandbox.close()
    kinds = {where_.split(" ")[0] for where_, _ in texts}
    assert {"note", "monthly", "major", "admin"} <= kinds, kinds
    assert sum(1 for w, _ in texts if w.startswith("note")) >= len(tickets)
    leaks = []
    for place, text in texts:
        found = raw_keys_in(text, lang)
        if found:
            leaks.append(f"{place}: " + " | ".join(where(text, found)))
    assert leaks == [], f"{len(leaks)} places show raw keys:\n" + "\n".join(leaks[:60])
