"""The complaints view of the admin page: ``/admin/complaints`` (list, filters, search, paging)
and ``/admin/complaints/<ticket>`` (one complaint's decision trail, ledger and follow-ups).

Rendered with Jinja2 templates (``kesu/admin/templates``, autoescaped); signed in with the same
cookie as the dashboard (``kesu.admin.page``). Read-only, so plain GET forms; no scripts.
Errors are shown at the top of the page, in the page's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from kesu.admin.auth import authenticate_session
from kesu.admin.complaints import STATES, Filters
from kesu.admin.i18n import word
from kesu.admin.ops import AdminError, AdminOps
from kesu.admin.page import CSS, LANG_COOKIE, PATH, TOKEN_COOKIE, login_html, secure_headers

VIEW_CSS = """
nav a{margin-right:.8em}.filters{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;margin:.4em 0 .8em}
tr.late td:first-child{border-left:3px solid #c0392b}.tag.late{background:#fbe6e4;color:#9b2c1f}
.kv th{width:9em;background:#f6f8fb}.text{white-space:pre-line}.nowrap,.rule{white-space:nowrap}
.quote{background:#fff6d9;padding:0 .2em}.pager a{margin-right:1em}
"""

_env = Environment(loader=PackageLoader("kesu.admin", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def _flag(value: str | None) -> bool | None:
    return {"1": True, "true": True, "0": False, "false": False}.get((value or "").strip().lower())


def _page_number(value: str | None) -> int:
    text = (value or "1").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0  # 0: refused by Filters


def complaints_page(ops: AdminOps) -> APIRouter:
    settings = ops.services.settings
    tz = ZoneInfo(settings.reports.timezone)
    r = APIRouter(prefix=PATH, include_in_schema=False)

    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
        return "en" if lang == "en" else "zh"

    def when(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    def amount(e: dict[str, Any]) -> str:
        if e["amount"] is not None:
            return f"{e['amount']:g}"
        if e["amount_min"] is not None or e["amount_max"] is not None:
            return f"{e['amount_min'] or 0:g}–{e['amount_max'] or 0:g}"
        return ""

    def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        lang = lang_of(request)
        who, _ = authenticate_session(settings.admin, request.cookies.get(TOKEN_COOKIE))
        if who is None or not who.can("read"):
            return secure_headers(HTMLResponse(login_html(lang, error=who is not None), status_code=401))
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        other = "zh" if lang == "en" else "en"
        body = _env.get_template(template).render(
            lang=lang, w=lambda k: word(k, lang), css=CSS.strip() + VIEW_CSS, path=PATH, who=who.name,
            lang_switch=f"{request.url.path}?{urlencode([*params, ('lang', other)])}", when=when, amount=amount,
            **context)
        resp = HTMLResponse(body, status_code=status)
        if "lang" in request.query_params:
            resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path=PATH, httponly=True, samesite="strict",
                            secure=settings.admin.secure_cookie)
        return secure_headers(resp)

    def signed_in(request: Request) -> bool:
        who, _ = authenticate_session(settings.admin, request.cookies.get(TOKEN_COOKIE))
        return who is not None and who.can("read")

    @r.get("/complaints", response_class=HTMLResponse)
    async def complaints(request: Request) -> Response:
        if not signed_in(request):
            return render(request, "complaints.html")
        lang, qp = lang_of(request), request.query_params
        filters = Filters(tier=qp.get("tier") or None, unit=qp.get("unit") or None, state=qp.get("state") or None,
                          overdue=_flag(qp.get("overdue")), q=(qp.get("q") or "").strip() or None,
                          page=_page_number(qp.get("page")))
        labels = ops.labels(lang)
        status, flash, result = 200, None, None
        try:
            result = await to_thread.run_sync(lambda: ops.complaints(filters, lang))
        except AdminError as exc:
            status, flash = exc.status, (exc.text(lang), False)
            result = await to_thread.run_sync(lambda: ops.complaints(Filters(), lang))  # the menus still work
            filters = Filters()
        tiers = [{"key": t, "label": labels.tier(t)} for t in result.tiers]
        units = [{"key": u, "label": labels.unit(u)} for u in result.units]
        states = [{"key": s, "label": labels.state(s)} for s in STATES]
        kept = [(k, v) for k, v in qp.multi_items() if k not in ("page", "lang")]

        def page_url(n: int) -> str:
            return f"{PATH}/complaints?{urlencode([*kept, ('page', str(n))])}"

        return render(request, "complaints.html", status=status, f=filters, result=result, tiers=tiers, units=units,
                      states=states, page_url=page_url, flash=flash)

    @r.get("/complaints/{ticket:path}", response_class=HTMLResponse)
    async def complaint(ticket: str, request: Request) -> Response:
        if not signed_in(request):
            return render(request, "complaint.html")
        lang = lang_of(request)
        try:
            detail = await to_thread.run_sync(lambda: ops.complaint(ticket, lang))
        except AdminError as exc:
            # Said at the top of the list, where the person can search again.
            result = await to_thread.run_sync(lambda: ops.complaints(Filters(), lang))
            labels = ops.labels(lang)
            return render(request, "complaints.html", status=exc.status, f=Filters(q=ticket[:200]), result=result,
                          tiers=[{"key": t, "label": labels.tier(t)} for t in result.tiers],
                          units=[{"key": u, "label": labels.unit(u)} for u in result.units],
                          states=[{"key": s, "label": labels.state(s)} for s in STATES],
                          page_url=lambda n: f"{PATH}/complaints?page={n}", flash=(exc.text(lang), False))
        return render(request, "complaint.html", c=detail.complaint, d=detail)

    return r
