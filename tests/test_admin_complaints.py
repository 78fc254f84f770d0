"""The complaints view (issue 11): the list with filters, search by the number agents see or by
customer, paging and urgency order; a ticket's decision trail, ledger and helpdesk link; ticket
numbers accepted by the admin API and the CLI; no internal key on the rendered pages."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from typer.testing import CliRunner

from connector.zammad.sandbox import SandboxZammad
from kesu.admin.labels import profile_keys
from tests.raw_keys import raw_keys_in as raw_keys
from kesu.app import Services, create_app
from kesu.cli import app as cli
from kesu.store.db import utcnow
from kesu.store.tables import audit_log, complaints, followups, ledger
from tests.test_admin_api import ALICE, RW, admin_settings

NOW = utcnow()


def _row(n: int, **kw):
    row = {"ticket_key": f"zammad:{n}", "number": str(31000 + n), "title": f"投诉{n}", "customer": f"zammad:{100 + n}",
           "customer_name": f"客户{n}号", "received_at": NOW - timedelta(days=10 - n), "scheme": "food", "tier": "B",
           "cause": "seal_missing_pack", "category": None, "channel": "consumer", "units": ["生产班组"], "valid": 1,
           "invalid_proposed": None, "special": None, "escalations": [], "deadlines": {}, "resolved_at": None,
           "followup_outcome": None, "extra": {}, "updated_at": NOW}
    row.update(kw)
    return row


def _due(hours: float, met: bool = False, **kw):
    due = NOW + timedelta(hours=hours)
    return {"start": None, "due": due.isoformat(), "met_at": (due - timedelta(hours=1)).isoformat() if met else None,
            "extended_to": None, "approved_by": None, "overdue": False, **kw}


def insert_complaints(engine) -> None:
    """Seven complaints: two overdue (one by 30 h, one by 2 h), two open with deadlines ahead, one
    open without any, one resolved and followed up, one invalid; raw keys everywhere."""
    rows = [
        _row(1, tier="A", cause="mould", units=["煮浆人员", "生产班组"], special=1,
             deadlines={"R-SLA-6.18-major": _due(-2)}, extra={"batch": "20261101",
                                                                "fact_labels": {"flags": ["media", "injury"]}}),
        _row(2, tier="B", cause="channel_missing_packs", channel="channel", units=["营销部"],
             deadlines={"R-SLA-6.18-general": _due(-30)}),
        _row(3, tier="C", cause="bag_torn", deadlines={"R-SLA-6.18-general": _due(5)}),
        _row(4, tier="A", cause="burnt", deadlines={"R-SLA-6.18-major": _due(50)}),
        _row(5, tier="C", cause=None, units=None),
        _row(6, tier="B", cause="black_spots", resolved_at=NOW - timedelta(days=1), followup_outcome="dissatisfied",
             deadlines={"R-SLA-6.18-general": _due(-48, met=True)}),
        _row(7, tier="C", cause="date_wrong", valid=0, invalid_proposed=1, customer_name="王小明"),
    ]
    with engine.begin() as conn:
        conn.execute(insert(complaints), rows)
        conn.execute(insert(followups), [{"ticket_key": "zammad:6", "rule_id": "R-CB-6.36", "resolved_at": NOW,
                                          "due_at": NOW, "status": "done", "outcome": "dissatisfied", "attempts": 1,
                                          "created_at": NOW, "done_at": NOW}])
        conn.execute(insert(ledger), [
            {"created_at": NOW, "ticket_key": "zammad:1", "rule_id": "R-PEN-6.40", "plugin": "penalties",
             "kind": "penalty", "subject": "生产班组", "amount": None, "amount_min": 1000, "amount_max": 5000,
             "status": "proposed", "decided_by": None, "refers_to": None, "note": "隐瞒不报"},
            {"created_at": NOW, "ticket_key": "zammad:1", "rule_id": "R-REW-6.43", "plugin": "penalties",
             "kind": "reward", "subject": "李四", "amount": 300, "amount_min": None, "amount_max": None,
             "status": "confirmed", "decided_by": "admin", "refers_to": None, "note": None}])
        decision = {"at": NOW, "ticket_key": "zammad:1", "event_id": None, "kind": "decision"}
        conn.execute(insert(audit_log), [
            {**decision, "plugin": "severity", "rule_id": "R-TIER-1.9.1-A",
             "detail": {"type": "set_priority", "priority": 4, "rule_id": "R-TIER-1.9.1-A", "source": "severity",
                        "reason": "A类（重大），依据：原因 产品发酸、发霉变质、发红，客户原话「豆腐发霉了」",
                        "reason_en": "tier A, evidence: 「豆腐发霉了」"}},
            {**decision, "plugin": "routing", "rule_id": "R-ROUTE-1.10",
             "detail": {"type": "record_complaint", "rule_id": "R-ROUTE-1.10", "source": "routing", "reason": "",
                        "values": {"cause": "mould", "channel": "consumer", "units": ["煮浆人员", "生产班组"],
                                   "followup_outcome": "satisfied"}}},
            {**decision, "plugin": "severity", "rule_id": "R-TIER-1.9.1-A",
             "detail": {"type": "set_state", "values": {"tier": "A"}, "reason": "", "source": "severity"}},
            {**decision, "kind": "write", "plugin": None, "rule_id": None,
             "detail": {"priority": 4, "note": "kesu 客诉策略决定\n• 优先级 → 紧急 [R-TIER-1.9.1-A]"}},
        ])


@pytest.fixture
def api(tmp_path):
    settings = admin_settings(f"sqlite:///{tmp_path / 'kesu.db'}", tmp_path)
    settings.helpdesk.url = "https://zammad.example.com"
    settings.helpdesk.retries = 0
    services = Services.build(settings, load_entrypoints=False)
    insert_complaints(services.engine)
    client = TestClient(create_app(services, workers=False), follow_redirects=False)
    client.services = services  # type: ignore[attr-defined]
    yield client
    services.close()


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [c["number"] for c in response.json()["items"]]


def test_the_list_is_sorted_by_urgency(api):
    got = api.get("/admin/api/complaints", headers=RW).json()
    assert got["total"] == 7 and got["pages"] == 1
    # overdue longest first, then the nearest deadline, then no deadline, then resolved, then invalid
    assert [c["number"] for c in got["items"]] == ["31002", "31001", "31003", "31004", "31005", "31006", "31007"]
    first = got["items"][0]
    assert first["overdue"] and 29.5 < first["overdue_by_hours"] < 30.5
    assert (first["cause"], first["cause_label"], first["channel_label"]) == ("channel_missing_packs", "整箱缺包", "通路客诉")
    one = got["items"][1]
    assert one["tier_label"] == "A类（重大）" and one["cause_label"] == "产品发酸、发霉变质、发红"
    assert one["flag_labels"] == ["特殊客诉"] and one["link"] == "https://zammad.example.com/#ticket/zoom/1"
    six = got["items"][5]
    assert (six["state"], six["state_label"], six["followup_label"]) == ("resolved", "已办结", "已回访：不满意")
    assert not six["overdue"]  # late deadlines of a resolved complaint are history, not urgency
    assert got["items"][6]["state_label"] == "无效投诉"


def test_filters_search_and_paging(api):
    get = lambda query: api.get(f"/admin/api/complaints?{query}", headers=RW)  # noqa: E731
    assert numbers(get("tier=A")) == ["31001", "31004"]
    assert numbers(get("unit=营销部")) == ["31002"]
    assert numbers(get("state=resolved")) == ["31006"]
    assert numbers(get("state=invalid")) == ["31007"]
    assert numbers(get("overdue=true")) == ["31002", "31001"]
    assert numbers(get("overdue=false&tier=C")) == ["31003", "31005", "31007"]
    assert numbers(get("q=31004")) == ["31004"] and numbers(get("q=%2331004")) == ["31004"]
    assert numbers(get("q=zammad:3")) == ["31003"]
    assert numbers(get("q=王小明")) == ["31007"] and numbers(get("q=小明")) == ["31007"]
    assert numbers(get("q=zammad:105")) == ["31005"] and numbers(get("q=105")) == ["31005"]  # the customer's id
    assert numbers(get("q=nobody")) == []
    page2 = get("per_page=3&page=2").json()
    assert (page2["total"], page2["pages"], [c["number"] for c in page2["items"]]) == (7, 3, ["31004", "31005", "31006"])
    assert numbers(get("per_page=3&page=9")) == []
    assert get("state=closed").status_code == 422
    en = get("tier=A&lang=en").json()["items"][0]
    assert en["tier_label"] == "Class A (major)" and en["state_label"] == "Open" and en["cause_label"] == "Sour, mouldy, spoiled or reddened product"


def test_a_ticket_by_its_number_with_its_trail_and_ledger(api):
    d = api.get("/admin/api/complaints/31001", headers=RW)
    assert d.status_code == 200
    d = d.json()
    assert d["complaint"]["ticket_key"] == "zammad:1" and d["quotes"] == ["「豆腐发霉了」"]
    facts = {f["field"]: f["value"] for f in d["facts"]}
    assert facts["cause"] == "产品发酸、发霉变质、发红" and facts["batch"] == "20261101"
    assert facts["flags"] == "媒体曝光、人身伤害"
    trail = d["trail"]
    assert [t["rule_id"] for t in trail] == ["R-TIER-1.9.1-A", "R-ROUTE-1.10", None]  # set_state is not shown
    assert trail[0]["what_label"] == "优先级" and "「豆腐发霉了」" in trail[0]["text"]
    assert trail[1]["text"] == "原因 产品发酸、发霉变质、发红、渠道 消费客诉、责任部门 煮浆人员、生产班组、回访结果 满意"
    assert trail[2]["kind"] == "write" and "[R-TIER-1.9.1-A]" in trail[2]["text"]
    assert [(e["rule_id"], e["kind_label"], e["status_label"], e["open"]) for e in d["ledger"]] == [
        ("R-PEN-6.40", "罚款", "待确认", True), ("R-REW-6.43", "奖励", "已确认", False)]
    assert api.get("/admin/api/complaints/zammad:1", headers=RW).json() == d  # the key still works
    missing = api.get("/admin/api/complaints/zammad:99", headers=RW)
    assert missing.status_code == 404 and "zammad:99" in missing.json()["detail"]
    # a number kesu has not recorded: the helpdesk is asked, and here it cannot be reached
    down = api.get("/admin/api/complaints/39999", headers=RW)
    assert down.status_code == 502 and "39999" in down.json()["detail"]


def test_other_admin_routes_take_the_number(api, tmp_path):
    entries = api.get("/admin/api/ledger?ticket=31001", headers=RW).json()
    assert {e["ticket_key"] for e in entries} == {"zammad:1"} and len(entries) == 2
    assert api.get("/admin/api/ledger?ticket=%2331001", headers=RW).json() == entries
    made = api.post("/admin/api/reports", json={"kind": "major", "period": "31001", "formats": ["md"]}, headers=RW)
    assert made.status_code == 201 and made.json()["period"] == "zammad:1"


def test_a_number_only_the_helpdesk_knows_is_found_by_its_search(tmp_path):
    with SandboxZammad(retry_scale=0.005) as zammad:
        settings = admin_settings(f"sqlite:///{tmp_path / 'kesu.db'}", tmp_path)
        settings.helpdesk.url = zammad.url
        settings.helpdesk.token = type(settings.helpdesk.token)(zammad.token_for("kesu-bot@localhost"))
        services = Services.build(settings, load_entrypoints=False)
        try:
            zammad.create_ticket("第一张", "无关")
            ticket = zammad.create_ticket("豆腐发霉", "豆腐发霉了")
            api = TestClient(create_app(services, workers=False))
            assert services.connector.find_by_number(str(ticket["number"])) == str(ticket["id"])
            assert services.connector.find_by_number("99999999") is None
            assert api.get(f"/admin/api/ledger?ticket={ticket['number']}", headers=RW).json() == []
            unknown = api.get("/admin/api/ledger?ticket=99999999", headers=RW)
            assert unknown.status_code == 404 and "99999999" in unknown.json()["detail"]
            cli_config = tmp_path / "cli.toml"
            cli_config.write_text(f'[helpdesk]\nurl = "{zammad.url}"\n[store]\nurl = "sqlite:///{tmp_path / "kesu.db"}"\n',
                                  encoding="utf-8")
            result = CliRunner().invoke(cli, ["complaints", "show", "99999999", "-c", str(cli_config)],
                                        env={"KESU_HELPDESK__TOKEN": zammad.token_for("kesu-bot@localhost")})
            assert result.exit_code == 2 and result.stderr.strip() == (
                "找不到工单 99999999：kesu 没有这个工单号的记录，服务台也没有这个工单号")
        finally:
            services.close()


# -- the pages ----------------------------------------------------------------------------------


def visible_text(html: str) -> str:
    """What a person reads: no style, no tags, no attribute values."""
    body = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def raw_keys_in(text: str, lang: str = "zh") -> set[str]:
    return raw_keys(text, lang)  # English prose: the compound keys only (see tests/raw_keys.py)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_internal_key_on_the_complaints_pages(api, lang):
    assert api.post("/admin/login", data={"token": ALICE}).status_code == 303
    assert "mould" in profile_keys()["causes"] and "media" in profile_keys()["flags"]  # the check has teeth
    assert raw_keys_in("原因 mould") == {"causes:mould"}
    pages = [api.get(f"/admin/complaints?lang={lang}"), api.get(f"/admin/complaints?lang={lang}&per_page=2&page=2")]
    pages += [api.get(f"/admin/complaints/{31000 + n}?lang={lang}") for n in range(1, 8)]
    for page in pages:
        assert page.status_code == 200 and "<script" not in page.text
        text = visible_text(page.text)
        assert raw_keys_in(text, lang) == set(), (page.url, raw_keys_in(text, lang))
    detail = visible_text(pages[2].text)
    assert "R-TIER-1.9.1-A" in detail and "R-PEN-6.40" in detail and "「豆腐发霉了」" in detail
    assert ("媒体曝光" if lang == "zh" else "Media Exposure") in detail


def test_page_errors_are_shown_in_chinese_at_the_top(api):
    assert api.post("/admin/login", data={"token": ALICE}).status_code == 303
    missing = api.get("/admin/complaints/zammad:99")
    assert missing.status_code == 404
    main = missing.text.split("<main>", 1)[1]
    assert main.lstrip().startswith('<p class="flash err" id="flash" role="alert">kesu 没有工单 zammad:99 的客诉记录</p>')
    bad = api.get("/admin/complaints?state=closed")
    assert bad.status_code == 422 and "未知的状态「closed」" in bad.text
    en = api.get("/admin/complaints/zammad:99?lang=en")
    assert "kesu has no complaint record for zammad:99" in en.text
    assert api.post("/admin/logout").status_code == 303
    assert 'id="login-form"' in api.get("/admin/complaints/31001").text  # signed out: the login form


def test_cli_lists_and_shows_by_number(api, tmp_path: Path):
    config = tmp_path / "cli.toml"
    config.write_text(f'[helpdesk]\nurl = "http://127.0.0.1:9"\nretries = 0\n'
                      f'[store]\nurl = "{api.services.settings.store.url}"\n', encoding="utf-8")
    runner = CliRunner()
    shown = runner.invoke(cli, ["complaints", "show", "31001", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert "zammad:1" in shown.stdout and "R-TIER-1.9.1-A" in shown.stdout and "「豆腐发霉了」" in shown.stdout
    assert "ledger #1  R-PEN-6.40  罚款  生产班组  1000-5000  待确认" in shown.stdout
    listed = runner.invoke(cli, ["complaints", "list", "--tier", "A", "-c", str(config)])
    assert listed.exit_code == 0 and "31001" in listed.stdout and "31004" in listed.stdout and "31002" not in listed.stdout
    ledger_rows = runner.invoke(cli, ["ledger", "list", "--ticket", "31001", "-c", str(config)])
    assert ledger_rows.exit_code == 0 and "2 ledger entries" in ledger_rows.stdout
    fu = runner.invoke(cli, ["followups", "list", "--ticket", "#31006", "-c", str(config)])
    assert fu.exit_code == 0 and "1 follow-up(s)" in fu.stdout
    down = runner.invoke(cli, ["complaints", "show", "39999", "-c", str(config)])
    assert down.exit_code == 2 and "Traceback" not in down.output
    assert len(down.stderr.strip().splitlines()) == 1 and down.stderr.startswith("无法向服务台查询工单 39999")


def test_links_back_to_the_helpdesk():
    from kesu.admin.complaints import helpdesk_link

    assert helpdesk_link("zammad", "https://z.example.com/", "zammad:12") == "https://z.example.com/#ticket/zoom/12"
    assert helpdesk_link("odoo", "https://o.example.com", "odoo:7", 18) == "https://o.example.com/odoo/helpdesk/7"
    assert helpdesk_link("odoo", "https://o.example.com", "odoo:7", 17) == (
        "https://o.example.com/web#id=7&model=helpdesk.ticket&view_type=form")
    assert helpdesk_link("odoo", "https://o.example.com", "odoo:7") == (
        "https://o.example.com/web#id=7&model=helpdesk.ticket&view_type=form")
    assert helpdesk_link("zammad", "https://z.example.com", "zammad:x1") is None  # never a path from odd ids
