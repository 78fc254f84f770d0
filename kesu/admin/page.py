"""The admin page (``/admin``): server-rendered HTML, no scripts, no external assets.

Login is a form; the token is kept in an HttpOnly, SameSite=Strict cookie limited to ``/admin``.
Every action is a POST form carrying a form token derived from the login token (CSRF), answered
with a redirect back to the page (post/redirect/get) and a one-time message.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote, unquote
from zoneinfo import ZoneInfo

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from kesu import i18n
from kesu.admin.auth import Principal, authenticate, authenticate_session, form_token, form_token_ok, session_value
from kesu.admin.i18n import word
from kesu.admin.ops import AdminError, AdminOps, InvalidError
from kesu.report.formats import MEDIA_TYPES

TOKEN_COOKIE, LANG_COOKIE, FLASH_COOKIE = "kesu_admin", "kesu_lang", "kesu_flash"
PATH = "/admin"

CSS = """
body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;margin:0;color:#222;
background:#f6f7f9}header{background:#1f3d63;color:#fff;padding:.7em 1.5em;display:flex;align-items:center;
gap:1em}header h1{font-size:1.25em;margin:0;flex:1}header a,header button{color:#fff}main{padding:1em 1.5em;
max-width:1200px}section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:.6em 1em 1em;
margin:1em 0}h2{font-size:1.1em;margin:.3em 0 .5em}.hint{color:#555;font-size:.9em;margin:.2em 0 .6em}
table{border-collapse:collapse;width:100%;font-size:.92em}th,td{border-bottom:1px solid #e5e8ec;
padding:.35em .5em;text-align:left;vertical-align:top}th{background:#eef2f7}.num{text-align:right}
form.inline{display:inline-flex;flex-wrap:wrap;gap:.3em;align-items:center;margin:0 .3em .2em 0}input,select{padding:.25em;
font:inherit;font-size:.92em}input[type=number]{width:7em}button{font:inherit;font-size:.92em;padding:.25em .8em;
border-radius:4px;border:1px solid #1f3d63;background:#1f3d63;color:#fff;cursor:pointer;white-space:nowrap}
button.secondary{background:#fff;color:#1f3d63}button:disabled{opacity:.4;cursor:default}
.cards{display:flex;flex-wrap:wrap;gap:.8em}.card{background:#fff;border:1px solid #dde2e8;border-radius:6px;
padding:.5em 1em;min-width:9em}.card b{display:block;font-size:1.6em}.card a{color:inherit;text-decoration:none}
.flash{padding:.6em 1em;border-radius:6px;margin:1em 0;position:sticky;top:0;z-index:5}.ok{background:#e4f4e7;border:1px solid #9bd0a6}
.err{background:#fbe6e4;border:1px solid #e3a39b}.flash.static{position:static}.tag{display:inline-block;padding:0 .4em;border-radius:3px;
background:#eef2f7;color:#1f3d63;font-size:.85em}.login{max-width:32em;margin:4em auto}.login input{width:100%;box-sizing:border-box}
"""


def secure_headers(resp: Response) -> Response:
    """No caching, no scripts or outside resources, never framed: every admin page sends these."""
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


def admin_page(ops: AdminOps) -> APIRouter:
    settings = ops.services.settings
    tz = ZoneInfo(settings.reports.timezone)
    r = APIRouter(prefix=PATH, include_in_schema=False)

    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
        return "en" if lang == "en" else "zh"

    def principal(request: Request) -> tuple[Principal | None, str]:
        return authenticate_session(settings.admin, request.cookies.get(TOKEN_COOKIE))

    def set_cookie(resp: Response, name: str, value: str, max_age: int | None = None,
                   request: Request | None = None) -> None:
        # Secure when configured, and whenever the browser came over TLS (directly, or through a
        # proxy that says so): the flag only ever narrows where the browser sends the cookie.
        tls = request is not None and (request.url.scheme == "https"
                                       or request.headers.get("x-forwarded-proto", "").lower() == "https")
        resp.set_cookie(name, value, max_age=max_age, path=PATH, httponly=True, samesite="strict",
                        secure=settings.admin.secure_cookie or tls)

    def redirect(message: str, ok: bool, anchor: str = "") -> RedirectResponse:
        resp = RedirectResponse(f"{PATH}{'#' + anchor if anchor else ''}", status_code=303)
        set_cookie(resp, FLASH_COOKIE, quote(json.dumps({"msg": message, "ok": ok}, ensure_ascii=False)), 60)
        return resp

    @r.get("", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        lang = lang_of(request)
        who, token = principal(request)
        if who is None:
            resp: Response = HTMLResponse(login_html(lang, error=False))
        else:
            if not who.can("read"):
                resp = HTMLResponse(login_html(lang, error=True), status_code=403)
            else:
                flash = _flash(request.cookies.get(FLASH_COOKIE))
                body = await to_thread.run_sync(lambda: dashboard(ops, who, form_token(token), lang, tz, flash))
                resp = HTMLResponse(body)
                resp.delete_cookie(FLASH_COOKIE, path=PATH)
        if "lang" in request.query_params:
            set_cookie(resp, LANG_COOKIE, lang, 365 * 86400)
        return secure_headers(resp)

    @r.get("/")
    async def slash() -> RedirectResponse:
        return RedirectResponse(PATH, status_code=307)

    @r.post("/login")
    async def login(request: Request) -> Response:
        if not _same_origin(request):  # login CSRF: another site must not sign this browser in
            return HTMLResponse(login_html(lang_of(request), error=True), status_code=403)
        form = await _form(request)
        token = form.get("token", "").strip()
        if authenticate(settings.admin, token) is None:
            return HTMLResponse(login_html(lang_of(request), error=True), status_code=401)
        resp = RedirectResponse(PATH, status_code=303)
        set_cookie(resp, TOKEN_COOKIE, session_value(token), 12 * 3600, request)
        return resp

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        resp = RedirectResponse(PATH, status_code=303)
        resp.delete_cookie(TOKEN_COOKIE, path=PATH)
        return resp

    @r.post("/do/{action}")
    async def act(action: str, request: Request) -> Response:
        lang = lang_of(request)
        who, token = principal(request)
        if who is None:
            return HTMLResponse(login_html(lang, error=False), status_code=401)
        form = await _form(request)
        if not _same_origin(request) or not form_token_ok(token, form.get("csrf")):
            return redirect(word("csrf", lang), ok=False)
        if not who.can("write"):
            return redirect(word("read_only", lang), ok=False)
        handler = ACTIONS.get(action)
        if handler is None:
            return redirect(i18n.said("unknown_action", lang, action=action), ok=False)
        anchor, run = handler
        try:
            message = await to_thread.run_sync(lambda: run(ops, form, who.name, lang))
        except AdminError as exc:
            return redirect(exc.text(lang), ok=False, anchor=anchor)
        return redirect(message, ok=True, anchor=anchor)

    @r.get("/reports/{run_id}/{fmt}")
    async def download(run_id: int, fmt: str, request: Request) -> Response:
        who, _ = principal(request)
        if who is None or not who.can("read"):
            return HTMLResponse(login_html(lang_of(request), error=False), status_code=401)
        try:
            _, path = await to_thread.run_sync(lambda: ops.report_file(run_id, fmt))
        except AdminError as exc:
            return HTMLResponse(escape(exc.text(lang_of(request))), status_code=exc.status)
        return FileResponse(path, media_type=MEDIA_TYPES[fmt], filename=path.name)

    return r


async def _form(request: Request) -> dict[str, Any]:
    """A urlencoded form; repeated names (checkboxes) become lists under ``name[]``."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    out: dict[str, Any] = {k: v[-1] for k, v in fields.items()}
    out.update({f"{k}[]": v for k, v in fields.items()})
    return out


def _same_origin(request: Request) -> bool:
    """Browsers send Origin on POST; a different one is a cross-site form (belt and braces with SameSite)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _flash(raw: str | None) -> tuple[str, bool] | None:
    if not raw:
        return None
    try:
        data = json.loads(unquote(raw))
        return str(data["msg"]), bool(data["ok"])
    except (ValueError, KeyError, TypeError):
        return None


# -- actions -------------------------------------------------------------------------------------

Action = tuple[str, Callable[[AdminOps, dict[str, Any], str, str], str]]


def _int(form: dict[str, Any], key: str) -> int:
    text = str(form.get(key, "")).strip()
    # int() also reads "٣" and would try a 5,000-digit string: ASCII digits, at most 19 of them.
    if not (text.isascii() and text.isdecimal() and len(text) <= 19):
        raise InvalidError.said("number", field=key)
    return int(text)


def _amount(form: dict[str, Any]) -> float | None:
    text = str(form.get("amount", "")).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidError.said("amount_nan", text=text) from None


def _ok(lang: str, what: str) -> str:
    return f"{word('done_ok', lang)}：{what}" if lang == "zh" else f"{word('done_ok', lang)}: {what}"


ACTIONS: dict[str, Action] = {
    "ledger_confirm": ("ledger", lambda ops, f, by, lang: _ok(lang, "{} #{} → #{} ({:g})".format(
        word("confirm", lang), _int(f, "id"), (v := ops.confirm(_int(f, "id"), _amount(f), by, f.get("note", ""))).id,
        v.amount or 0))),
    "ledger_reject": ("ledger", lambda ops, f, by, lang: _ok(lang, "{} #{} → #{}".format(
        word("reject", lang), _int(f, "id"), ops.reject(_int(f, "id"), by, f.get("note", "")).id))),
    "ledger_reverse": ("ledger", lambda ops, f, by, lang: _ok(lang, "{} #{} → #{}".format(
        word("reverse", lang), _int(f, "id"), ops.reverse(_int(f, "id"), by, f.get("note", "")).id))),
    "ext_approve": ("extensions", lambda ops, f, by, lang: _ok(lang, "{} {} → {}".format(
        word("approve", lang), f.get("ticket", ""), ops.approve_extension(
            f.get("ticket", "").strip(), rule_id=f.get("rule") or None, extended_to=f.get("extended_to", ""),
            approved_by=f.get("approved_by", ""), reason=f.get("reason", ""), by=by).fields))),
    "ext_reject": ("extensions", lambda ops, f, by, lang: _ok(lang, "{} {}".format(
        word("reject", lang), ops.reject_extension(f.get("ticket", "").strip(), rule_id=f.get("rule") or None,
                                                   reason=f.get("reason", ""), by=by).ticket_key))),
    "plugin_enable": ("plugins", lambda ops, f, by, lang: _ok(lang, "{} {}".format(
        word("enable", lang), ops.set_plugin(f.get("name", ""), True).name))),
    "plugin_disable": ("plugins", lambda ops, f, by, lang: _ok(lang, "{} {}".format(
        word("disable", lang), ops.set_plugin(f.get("name", ""), False).name))),
    "inbox_retry": ("inbox", lambda ops, f, by, lang: _ok(lang, "{} {}".format(
        word("retry", lang), ops.retry(None if f.get("all") else [_int(f, "id")])))),
    "report_generate": ("reports", lambda ops, f, by, lang: _ok(lang, "{} #{}".format(
        word("generate", lang), ops.generate(f.get("kind", ""), f.get("period", "").strip(),
                                             f.get("formats[]") or None, by, f.get("premium") or None,
                                             f.get("policies") or None).id))),
}


# -- rendering -----------------------------------------------------------------------------------


def _page(title: str, body: str, lang: str) -> str:
    return (f'<!DOCTYPE html><html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{CSS.strip()}</style></head><body>{body}</body></html>")


def login_html(lang: str, *, error: bool) -> str:
    w = lambda k: escape(word(k, lang))  # noqa: E731
    other = "zh" if lang == "en" else "en"
    err = f'<p class="flash err" id="flash">{w("bad_token")}</p>' if error else ""
    return _page(word("title", lang), f"""
<header><h1>{w("title")}</h1><a href="{PATH}?lang={other}">{w("lang")}</a></header>
<main class="login"><section><h2>{w("login")}</h2>{err}<p class="hint">{w("login_hint")}</p>
<form method="post" action="{PATH}/login" id="login-form"><label for="token">{w("token")}</label>
<p><input type="password" id="token" name="token" autocomplete="current-password" required autofocus></p>
<button type="submit" id="login">{w("login")}</button></form></section></main>""", lang)


def dashboard(ops: AdminOps, who: Principal, csrf: str, lang: str, tz: ZoneInfo,
              flash: tuple[str, bool] | None) -> str:
    w = lambda k: escape(word(k, lang))  # noqa: E731
    can = who.can("write")
    dis = "" if can else " disabled"

    def when(value: Any) -> str:
        if not value:
            return ""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return escape(value)
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    def form(action: str, inner: str, cls: str = "inline") -> str:
        return (f'<form method="post" action="{PATH}/do/{action}" class="{cls}">'
                f'<input type="hidden" name="csrf" value="{csrf}">{inner}</form>')

    def table(head: list[str], rows: list[str], empty_id: str = "") -> str:
        if not rows:
            return f'<p class="hint"{f" id={empty_id!r}" if empty_id else ""}>{w("none")}</p>'
        return ("<table><thead><tr>" + "".join(f"<th>{w(h)}</th>" for h in head) + "</tr></thead><tbody>"
                + "".join(rows) + "</tbody></table>")

    proposals = ops.ledger(open_only=True, limit=500)
    recent = [e for e in ops.ledger(limit=40) if e.status != "proposed"][:20]
    try:
        extensions = ops.extensions()
        ext_enabled = True
    except AdminError:
        extensions, ext_enabled = [], False
    due, overdue = ops.followups("due"), ops.followups("overdue")
    depth, dead = ops.inbox()
    plugins, runs = ops.plugins(), ops.reports(30)

    cards = [("open_proposals", len(proposals), "ledger"), ("pending_ext", len(extensions), "extensions"),
             ("fu_due", len(due), "followups"), ("fu_overdue", len(overdue), "followups"),
             ("dead", depth.get("dead", 0), "inbox"),
             ("queue", depth.get("pending", 0) + depth.get("processing", 0), "inbox")]
    out = [f"""<header><h1>{w("title")}</h1><span>{w("signed_in")} <b id="who">{escape(who.name)}</b>
<span class="tag">{escape(", ".join(sorted(who.scopes)))}</span></span>
<a href="{PATH}/complaints" id="nav-complaints">{w("complaints")}</a>
<a href="{PATH}?lang={"zh" if lang == "en" else "en"}">{w("lang")}</a>
<form method="post" action="{PATH}/logout" class="inline"><button class="secondary" id="logout">{w("logout")}</button></form>
</header><main>"""]
    if flash:
        out.append(f'<p class="flash {"ok" if flash[1] else "err"}" id="flash">{escape(flash[0])}</p>')
    if not can:
        out.append(f'<p class="flash err static">{w("read_only")}</p>')
    out.append('<div class="cards" id="cards">' + "".join(
        f'<div class="card" id="card-{k}"><a href="#{a}"><b>{n}</b>{w(k)}</a></div>' for k, n, a in cards) + "</div>")

    # ledger
    def amount_of(e: Any) -> str:
        return f"{e.amount:g}" if e.amount is not None else ""

    def range_of(e: Any) -> str:
        return f"{e.amount_min or 0:g}–{e.amount_max or 0:g}" if e.amount_min is not None or e.amount_max is not None else ""

    rows = []
    for e in proposals:
        ranged = e.amount_min is not None or e.amount_max is not None
        amount_input = (f'<input type="number" name="amount" step="0.01" min="{e.amount_min or 0:g}" '
                        f'max="{e.amount_max or 0:g}" required placeholder="{range_of(e)}" aria-label="{w("amount")}">'
                        if ranged else "")
        rows.append(
            f'<tr id="ledger-{e.id}" data-status="proposed"><td class="num">{e.id}</td><td>{escape(e.ticket_key)}</td>'
            f"<td>{escape(e.rule_id)}</td><td>{escape(e.subject)}</td><td>{w(e.kind)}</td>"
            f'<td class="num">{amount_of(e) or range_of(e)}</td><td>{when(e.created_at)}</td><td>'
            + form("ledger_confirm", f'<input type="hidden" name="id" value="{e.id}">{amount_input}'
                   f'<button name="go" value="confirm" id="confirm-{e.id}"{dis}>{w("confirm")}</button>')
            + form("ledger_reject", f'<input type="hidden" name="id" value="{e.id}">'
                   f'<input name="note" placeholder="{w("reason")}" aria-label="{w("reason")}">'
                   f'<button class="secondary" id="reject-{e.id}"{dis}>{w("reject")}</button>')
            + "</td></tr>")
    recent_rows = []
    for e in recent:
        reverse = ""
        if e.status == "confirmed" and not e.reversed:
            reverse = form("ledger_reverse", f'<input type="hidden" name="id" value="{e.id}">'
                           f'<input name="note" required placeholder="{w("reason")}" aria-label="{w("reason")}">'
                           f'<button class="secondary" id="reverse-{e.id}"{dis}>{w("reverse")}</button>')
        recent_rows.append(
            f'<tr id="decision-{e.id}" data-status="{e.status}"><td class="num">{e.id}</td><td>{escape(e.ticket_key)}</td>'
            f"<td>{escape(e.subject)}</td><td>{w(e.kind)}</td><td>{w(e.status)}</td>"
            f'<td class="num">{amount_of(e)}</td><td>{escape(e.decided_by or "")}</td>'
            f'<td class="num">{e.refers_to or ""}</td><td>{escape(e.note or "")}</td><td>{reverse}</td></tr>')
    out.append(f"""<section id="ledger"><h2>{w("ledger")} · {w("open_proposals")}</h2><p class="hint">{w("ledger_hint")}</p>
{table(["id", "ticket", "rule", "subject", "kind", "amount", "created", "actions"], rows, "no-proposals")}
<h2>{w("recent")}</h2>
{table(["id", "ticket", "subject", "kind", "status", "amount", "decided_by", "refers_to", "note", "actions"], recent_rows)}
</section>""")

    # extensions
    ext_rows = []
    for x in extensions:
        hidden = (f'<input type="hidden" name="ticket" value="{escape(x.ticket_key)}">'
                  f'<input type="hidden" name="rule" value="{escape(x.rule_id or "")}">')
        ext_rows.append(
            f"<tr><td>{escape(x.ticket_key)}</td><td>{escape(x.rule_id or '')}</td><td>{escape(x.requested)}</td>"
            f"<td>{when(x.due)}</td><td>{when(x.noted_at)}</td><td>"
            + form("ext_approve", hidden + f'<input name="extended_to" value="{escape(x.requested)}" required '
                   f'aria-label="{w("extended_to")}"><input name="approved_by" required placeholder="{w("approved_by")}" '
                   f'aria-label="{w("approved_by")}"><button{dis}>{w("approve")}</button>')
            + form("ext_reject", hidden + f'<input name="reason" required placeholder="{w("reason")}" '
                   f'aria-label="{w("reason")}"><button class="secondary"{dis}>{w("reject")}</button>')
            + "</td></tr>")
    register = form("ext_approve", f'<input name="ticket" required placeholder="{w("ticket")} (zammad:12)" '
                    f'aria-label="{w("ticket")}"><input name="rule" placeholder="R-SLA-6.18-general" '
                    f'aria-label="{w("deadline")}"><input name="extended_to" required placeholder="2026-03-10 17:00" '
                    f'aria-label="{w("extended_to")}"><input name="approved_by" required placeholder="{w("approved_by")}" '
                    f'aria-label="{w("approved_by")}"><input name="reason" placeholder="{w("reason")}" '
                    f'aria-label="{w("reason")}"><button{dis}>{w("approve")}</button>')
    out.append(f"""<section id="extensions"><h2>{w("extensions")}</h2><p class="hint">{w("ext_hint")}</p>
{table(["ticket", "deadline", "requested", "current_due", "noted", "actions"], ext_rows)}
{f"<h2>{w('register_ext')}</h2>{register}" if ext_enabled else ""}</section>""")

    # follow-ups
    def fu_rows(items: list[dict[str, Any]]) -> list[str]:
        return [f"<tr><td>{escape(f['ticket_key'])}</td><td>{escape(f['rule_id'])}</td><td>{when(f['resolved_at'])}</td>"
                f"<td>{when(f['due_at'])}</td><td class='num'>{f['attempts']}</td><td>{escape(f['outcome'] or '')}</td></tr>"
                for f in items]
    fu_head = ["ticket", "rule", "resolved", "due_at", "attempts", "outcome"]
    out.append(f"""<section id="followups"><h2>{w("followups")}</h2><p class="hint">{w("fu_hint")}</p>
<h2>{w("fu_overdue")}</h2>{table(fu_head, fu_rows(overdue))}<h2>{w("fu_due")}</h2>{table(fu_head, fu_rows(due))}</section>""")

    # inbox
    dead_rows = [f"<tr><td class='num'>{e['id']}</td><td>{escape(e['ticket_key'])}</td><td>{escape(e['kind'])}</td>"
                 f"<td class='num'>{e['attempts']}</td><td>{escape((e['last_error'] or '')[:160])}</td><td>"
                 + form("inbox_retry", f'<input type="hidden" name="id" value="{e["id"]}"><button{dis}>{w("retry")}</button>')
                 + "</td></tr>" for e in dead]
    chips = " ".join(f'<span class="tag">{escape(k)}: {v}</span>' for k, v in sorted(depth.items()))
    retry_all = form("inbox_retry", f'<input type="hidden" name="all" value="1"><button{dis}>{w("retry_all")}</button>') if dead else ""
    out.append(f"""<section id="inbox"><h2>{w("inbox")}</h2><p>{chips}</p><h2>{w("dead")}</h2>
{table(["id", "ticket", "event", "attempts", "error", "actions"], dead_rows)}{retry_all}</section>""")

    # plugins
    p_rows = []
    for p in plugins:
        if p.essential:
            action = f'<span class="tag">{w("essential")}</span>'
        else:
            name = "plugin_disable" if p.enabled_in_config else "plugin_enable"
            label = w("disable") if p.enabled_in_config else w("enable")
            action = form(name, f'<input type="hidden" name="name" value="{escape(p.name)}">'
                          f'<button class="secondary" id="plugin-{escape(p.name)}"{dis}>{label}</button>')
        p_rows.append(f"<tr><td>{escape(p.name)}</td><td>{escape(p.version)}</td><td>{escape(', '.join(p.hooks))}</td>"
                      f"<td>{w('yes') if p.running else w('no')}</td><td>{w('on') if p.enabled_in_config else w('off')}</td>"
                      f"<td>{action}</td></tr>")
    out.append(f"""<section id="plugins"><h2>{w("plugins")}</h2><p class="hint">{w("plugins_hint")}</p>
{table(["name", "version", "hooks", "running", "configured", "actions"], p_rows)}</section>""")

    # reports
    kinds = "".join(f'<option value="{k}">{w(k)}</option>' for k in ("monthly", "quarterly", "yearly", "major"))
    formats = "".join(f'<label><input type="checkbox" name="formats" value="{f}" checked> {f}</label>'
                      for f in ("xlsx", "html", "md", "json"))
    gen = form("report_generate", f'<select name="kind" aria-label="{w("kind")}">{kinds}</select>'
               f'<input name="period" required placeholder="2026-03 / 2026-Q1 / 2026 / zammad:12" aria-label="{w("period")}">'
               f'<input name="premium" id="premium" placeholder="{w("premium")}" aria-label="{w("premium")}">'
               f'<input name="policies" id="policies" placeholder="{w("policies")}" aria-label="{w("policies")}">'
               f'{formats}<button id="generate"{dis}>{w("generate")}</button>')

    def inputs(run: Any) -> str:  # what a run was given for R-PEN-5.6.5
        given = run.inputs or {}
        parts = [f'{w("premium_short")} {given["premium_yuan"]:,.2f}' if "premium_yuan" in given else "",
                 f'{w("policies_short")} {int(given["policies"]):,}' if "policies" in given else ""]
        return escape("，".join(p for p in parts if p))

    r_rows = [f"<tr><td class='num'>{run.id}</td><td>{w(run.kind)}</td><td>{escape(run.period)}</td>"
              f"<td>{escape(run.trigger)}</td><td>{escape(run.status)}</td><td>{when(run.finished_at or run.created_at)}</td>"
              f"<td>{inputs(run)}</td><td>"
              + " ".join(f'<a href="{PATH}/reports/{run.id}/{f}">{f}</a>' for f in run.files) + "</td></tr>"
              for run in runs]
    out.append(f"""<section id="reports"><h2>{w("reports")}</h2><p class="hint">{w("reports_hint")}</p>{gen}
{table(["id", "kind", "period", "trigger", "status", "made", "ratio_inputs", "download"], r_rows)}</section></main>""")
    return _page(word("title", lang), "".join(out), lang)
