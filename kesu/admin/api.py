"""The admin HTTP API under ``/admin/api`` (bearer token from ``[admin.tokens.*]``).

401 without a valid token, 403 when the token lacks the scope (``read`` to see, ``write`` to act).
Every route has a summary and a response model, so ``/openapi.json`` documents the whole surface.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Security
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from kesu.admin.auth import Principal, authenticate
from kesu.admin.complaints import ComplaintDetail, Filters
from kesu.admin.ops import AdminError, AdminOps
from kesu.report.formats import MEDIA_TYPES
from kesu.report.runs import ReportRun

bearer = HTTPBearer(auto_error=False, description="An admin token from [admin.tokens.<name>]")


class Problem(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No token, or not a configured one"},
    403: {"model": Problem, "description": "The token lacks the scope"},
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    texts = {404: "Not found", 409: "Refused in the current state", 422: "Invalid input",
             502: "The helpdesk failed"}
    return {**ERRORS, **{c: {"model": Problem, "description": texts[c]} for c in codes}}


# -- response and request models -------------------------------------------------------------------


class PluginOut(BaseModel):
    name: str
    version: str
    hooks: list[str]
    running: bool = Field(description="Loaded in this process")
    enabled_in_config: bool = Field(description="What kesu.toml says now; applies when kesu restarts")
    builtin: bool
    essential: bool = Field(description="Cannot be disabled")


class PluginChangeOut(PluginOut):
    restart_required: bool = True
    config_path: str


class LedgerOut(BaseModel):
    id: int
    created_at: datetime
    ticket_key: str
    rule_id: str
    plugin: str
    kind: str
    subject: str
    amount: float | None
    amount_min: float | None
    amount_max: float | None
    status: str
    decided_by: str | None
    refers_to: int | None
    note: str | None
    open: bool = Field(description="A proposal nobody has decided yet")
    reversed: bool = Field(description="A confirmed entry already corrected by a reversal")


class ConfirmIn(BaseModel):
    amount: float | None = Field(None, description="Required for a range; must lie inside it")
    note: str = ""


class RejectIn(BaseModel):
    note: str = ""


class ReverseIn(BaseModel):
    note: str = Field(min_length=1, description="Why the entry is corrected")


class ExtensionOut(BaseModel):
    ticket_key: str
    rule_id: str | None
    requested: str
    noted_at: datetime
    due: str | None
    note: str


class ApproveIn(BaseModel):
    rule_id: str | None = Field(None, description="The deadline, e.g. R-SLA-6.18-general")
    extended_to: str = Field(description="New deadline, local time: 2026-03-10 or 2026-03-10 12:00")
    approved_by: str = Field(min_length=1, description="The vice-president in charge who approved (R-EXT-6.18)")
    reason: str = ""


class RejectExtensionIn(BaseModel):
    rule_id: str | None = None
    reason: str = Field(min_length=1)


class ExtensionResultOut(BaseModel):
    ticket_key: str
    rule_id: str | None
    action: Literal["approved", "rejected"]
    fields: dict[str, Any] = Field(description="Ticket fields written")
    event_id: int | None = Field(description="The event queued so the policies re-run")


class FollowupOut(BaseModel):
    id: int
    ticket_key: str
    rule_id: str
    resolved_at: datetime
    due_at: datetime
    status: str
    outcome: str | None
    attempts: int


class EventOut(BaseModel):
    id: int
    ticket_key: str
    kind: str
    source: str
    delivery_id: str | None
    status: str
    attempts: int
    last_error: str | None
    received_at: datetime


class InboxOut(BaseModel):
    depth: dict[str, int]
    dead: list[EventOut]


class RetryIn(BaseModel):
    ids: list[int] = Field(default_factory=list)
    all: bool = Field(False, description="Every dead-lettered event")


class RetryOut(BaseModel):
    queued: int


class ReportOut(BaseModel):
    id: int
    kind: str
    period: str
    trigger: str
    status: str
    formats: list[str]
    downloads: dict[str, str]
    requested_by: str | None
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    inputs: dict[str, float] | None = Field(
        None, description="What the run was given for R-PEN-5.6.5: premium_yuan, policies")


class GenerateIn(BaseModel):
    kind: Literal["monthly", "quarterly", "yearly", "major"]
    period: str = Field(description="2026-03, 2026-Q1, 2026, or for major the ticket: its number (31001) or key (zammad:12)")
    formats: list[Literal["xlsx", "html", "md", "json"]] | None = None
    premium: str | float | None = Field(
        None, description="The period's premium for R-PEN-5.6.5: yuan (1250000000) or with 万/亿 (\"12.5亿\")")
    policies: str | int | None = Field(None, description="The period's policy count for R-PEN-5.6.5 (380000, \"38万\")")


class DeadlineOut(BaseModel):
    rule_id: str
    name: str = Field(description="What the deadline is for, with its rule ID")
    due: datetime | None = Field(description="In force: an approved extension moves it")
    met_at: datetime | None
    extended_to: datetime | None
    approved_by: str | None
    overdue: bool


class ComplaintOut(BaseModel):
    ticket_key: str = Field(description="kesu's key (zammad:12)")
    number: str | None = Field(description="The number agents see in the helpdesk (31001)")
    title: str
    customer: str | None = Field(description="The helpdesk's customer (zammad:7)")
    customer_name: str | None
    received_at: datetime | None
    updated_at: datetime | None
    tier: str | None
    tier_label: str
    cause: str | None
    cause_label: str
    category: str | None
    category_label: str
    channel: str | None
    channel_label: str
    units: list[str]
    units_label: str
    state: Literal["open", "resolved", "invalid"]
    state_label: str
    overdue: bool = Field(description="Open and past a deadline (now, or noted overdue)")
    overdue_by_hours: float | None
    next_due: datetime | None = Field(description="The nearest deadline not yet met")
    next_due_rule: str | None
    next_due_label: str | None
    followup: str | None = Field(description="due, overdue, satisfied, dissatisfied, unreachable")
    followup_label: str | None
    flags: list[str]
    flag_labels: list[str]
    resolved_at: datetime | None
    link: str | None = Field(description="The ticket in the helpdesk")
    deadlines: list[DeadlineOut]


class ComplaintListOut(BaseModel):
    total: int
    page: int
    per_page: int
    pages: int
    items: list[ComplaintOut]


class TrailOut(BaseModel):
    id: int
    at: datetime
    kind: str = Field(description="decision, write, admin, conflict, plugin_error, recovered")
    plugin: str | None
    rule_id: str | None
    what: str | None = Field(description="The effect of a decision: set_priority, internal_note, …")
    what_label: str
    text: str = Field(description="The reason or note text as written")
    quotes: list[str] = Field(description="The customer's words the decision rests on, 「…」")


class FactOut(BaseModel):
    field: str
    name: str
    value: str


class ComplaintLedgerOut(BaseModel):
    id: int
    created_at: datetime
    rule_id: str
    plugin: str
    kind: str
    kind_label: str
    subject: str
    amount: float | None
    amount_min: float | None
    amount_max: float | None
    status: str
    status_label: str
    decided_by: str | None
    refers_to: int | None
    note: str | None
    open: bool


class ComplaintFollowupOut(BaseModel):
    id: int
    rule_id: str
    resolved_at: datetime
    due_at: datetime
    status: str
    status_label: str
    outcome: str | None
    outcome_label: str | None
    attempts: int
    done_at: datetime | None


class ComplaintDetailOut(BaseModel):
    complaint: ComplaintOut
    facts: list[FactOut]
    quotes: list[str]
    trail: list[TrailOut]
    ledger: list[ComplaintLedgerOut]
    followups: list[ComplaintFollowupOut]


def detail_out(d: ComplaintDetail) -> ComplaintDetailOut:
    return ComplaintDetailOut(
        complaint=ComplaintOut(**d.complaint.as_dict()), facts=[FactOut(field=f, name=n, value=v) for f, n, v in d.facts],
        quotes=d.quotes, trail=[TrailOut(**vars(t)) for t in d.trail],
        ledger=[ComplaintLedgerOut(**e) for e in d.ledger], followups=[ComplaintFollowupOut(**f) for f in d.followups])


def _text(value: str | float | None) -> str | None:
    return None if value is None else str(value)


def report_out(run: ReportRun, prefix: str = "/admin/api") -> ReportOut:
    return ReportOut(id=run.id, kind=run.kind, period=run.period, trigger=run.trigger, status=run.status,
                     formats=list(run.files),
                     downloads={f: f"{prefix}/reports/{run.id}/{f}" for f in run.files},
                     requested_by=run.requested_by, created_at=run.created_at, finished_at=run.finished_at,
                     error=run.error, inputs=run.inputs)


# -- the router ------------------------------------------------------------------------------------


def admin_api(ops: AdminOps) -> APIRouter:
    settings = ops.services.settings.admin

    def principal(scope: str) -> Any:
        def check(creds: HTTPAuthorizationCredentials | None = Security(bearer)) -> Principal:
            if creds is None:
                raise HTTPException(401, "missing bearer token", {"WWW-Authenticate": "Bearer"})
            who = authenticate(settings, creds.credentials)
            if who is None:
                raise HTTPException(401, "invalid token", {"WWW-Authenticate": "Bearer"})
            if not who.can(scope):
                raise HTTPException(403, f"token {who.name!r} lacks the {scope!r} scope")
            return who

        return Depends(check)

    read, write = principal("read"), principal("write")
    r = APIRouter(prefix="/admin/api", tags=["admin"])

    async def call(fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return await to_thread.run_sync(lambda: fn(*args, **kw))
        except AdminError as exc:
            raise HTTPException(exc.status, exc.message) from None

    # complaints
    @r.get("/complaints", summary="Complaints kesu knows, most urgent first: filter by tier, unit, state, overdue; "
                                  "search by ticket number or customer", response_model=ComplaintListOut,
           responses=_errors(422))
    async def complaints(tier: str | None = Query(None, description="A tier key: A, B, C, major, difficult, general"),
                         unit: str | None = Query(None, description="A responsible unit (生产班组)"),
                         state: Literal["open", "resolved", "invalid"] | None = Query(None),
                         overdue: bool | None = Query(None, description="true: only overdue; false: none overdue"),
                         q: str | None = Query(None, max_length=200,
                                               description="Ticket number (31001), kesu's key, or the customer"),
                         page: int = Query(1, ge=1), per_page: int = Query(25, ge=1, le=200),
                         lang: Literal["zh", "en"] = Query("zh", description="Language of the labels"),
                         _: Principal = read) -> ComplaintListOut:
        found = await call(ops.complaints, Filters(tier=tier or None, unit=unit or None, state=state, overdue=overdue,
                                                   q=q or None, page=page, per_page=per_page), lang)
        return ComplaintListOut(total=found.total, page=found.page, per_page=found.per_page, pages=found.pages,
                                items=[ComplaintOut(**c.as_dict()) for c in found.items])

    @r.get("/complaints/{ticket}", summary="One complaint: record, decision trail with rule IDs, ledger, follow-ups",
           response_model=ComplaintDetailOut, responses=_errors(404, 502))
    async def complaint(ticket: str, lang: Literal["zh", "en"] = Query("zh"), _: Principal = read) -> ComplaintDetailOut:
        return detail_out(await call(ops.complaint, ticket, lang))

    # plugins
    @r.get("/plugins", summary="List plugins: version, hooks, running, enabled in kesu.toml",
           response_model=list[PluginOut], responses=ERRORS)
    async def plugins(_: Principal = read) -> list[PluginOut]:
        return [PluginOut(**{**vars(p), "hooks": list(p.hooks)}) for p in await call(ops.plugins)]

    async def _set(name: str, enabled: bool) -> PluginChangeOut:
        p = await call(ops.set_plugin, name, enabled)
        return PluginChangeOut(**{**vars(p), "hooks": list(p.hooks)}, config_path=str(ops.config_path))

    @r.post("/plugins/{name}/enable", summary="Enable a plugin in kesu.toml (applies at restart)",
            response_model=PluginChangeOut, responses=_errors(404, 409))
    async def enable(name: str, _: Principal = write) -> PluginChangeOut:
        return await _set(name, True)

    @r.post("/plugins/{name}/disable", summary="Disable a plugin in kesu.toml (applies at restart)",
            response_model=PluginChangeOut, responses=_errors(404, 409))
    async def disable(name: str, _: Principal = write) -> PluginChangeOut:
        return await _set(name, False)

    # ledger
    @r.get("/ledger", summary="List ledger entries, newest first (penalties and rewards, R-PEN/R-REW)",
           response_model=list[LedgerOut], responses=ERRORS)
    async def ledger_list(status: str | None = Query(None, description="proposed, confirmed, rejected, reversal"),
                          open: bool = Query(False, description="Only proposals waiting for a decision"),
                          ticket: str | None = Query(None, description="Only this ticket: its number (31001) or key (zammad:12)"),
                          limit: int = Query(100, ge=1, le=1000), _: Principal = read) -> list[LedgerOut]:
        rows = await call(ops.ledger, status=status, open_only=open, ticket_key=ticket, limit=limit)
        return [LedgerOut(**vars(v)) for v in rows]

    @r.post("/ledger/{entry_id}/confirm", summary="Confirm a proposal (an amount inside its range)",
            response_model=LedgerOut, responses=_errors(404, 409))
    async def confirm(entry_id: int, body: ConfirmIn, who: Principal = write) -> LedgerOut:
        return LedgerOut(**vars(await call(ops.confirm, entry_id, body.amount, who.name, body.note)))

    @r.post("/ledger/{entry_id}/reject", summary="Reject a proposal", response_model=LedgerOut,
            responses=_errors(404, 409))
    async def reject(entry_id: int, body: RejectIn, who: Principal = write) -> LedgerOut:
        return LedgerOut(**vars(await call(ops.reject, entry_id, who.name, body.note)))

    @r.post("/ledger/{entry_id}/reverse", summary="Reverse a confirmed entry (append-only correction)",
            response_model=LedgerOut, responses=_errors(404, 409, 422))
    async def reverse(entry_id: int, body: ReverseIn, who: Principal = write) -> LedgerOut:
        return LedgerOut(**vars(await call(ops.reverse, entry_id, who.name, body.note)))

    # extensions
    @r.get("/extensions", summary="Deadline extensions waiting for approval (R-EXT-6.18)",
           response_model=list[ExtensionOut], responses=ERRORS)
    async def extensions(_: Principal = read) -> list[ExtensionOut]:
        return [ExtensionOut(**vars(x)) for x in await call(ops.extensions)]

    @r.post("/extensions/{ticket_key}/approve", summary="Approve an extension: write it to the ticket, re-run policies",
            response_model=ExtensionResultOut, responses=_errors(404, 409, 422, 502))
    async def approve(ticket_key: str, body: ApproveIn, who: Principal = write) -> ExtensionResultOut:
        res = await call(ops.approve_extension, ticket_key, rule_id=body.rule_id, extended_to=body.extended_to,
                         approved_by=body.approved_by, reason=body.reason, by=who.name)
        return ExtensionResultOut(**vars(res))

    @r.post("/extensions/{ticket_key}/reject", summary="Reject an extension: audit log and a note on the ticket",
            response_model=ExtensionResultOut, responses=_errors(404, 409, 422, 502))
    async def reject_extension(ticket_key: str, body: RejectExtensionIn, who: Principal = write) -> ExtensionResultOut:
        res = await call(ops.reject_extension, ticket_key, rule_id=body.rule_id, reason=body.reason, by=who.name)
        return ExtensionResultOut(**vars(res))

    # follow-ups
    @r.get("/followups", summary="Follow-up calls still open: due, or overdue (R-CB-6.36)",
           response_model=list[FollowupOut], responses=ERRORS)
    async def followups(which: Literal["due", "overdue"] = Query("due"), _: Principal = read) -> list[FollowupOut]:
        return [FollowupOut(**{k: v for k, v in row.items() if k in FollowupOut.model_fields})
                for row in await call(ops.followups, which)]

    # inbox
    @r.get("/inbox", summary="Inbox depth by status and the dead letters", response_model=InboxOut,
           responses=ERRORS)
    async def inbox(limit: int = Query(50, ge=1, le=1000), _: Principal = read) -> InboxOut:
        depth, dead = await call(ops.inbox, limit)
        return InboxOut(depth=depth, dead=[EventOut(**{k: v for k, v in e.items() if k in EventOut.model_fields})
                                           for e in dead])

    @r.post("/inbox/retry", summary="Queue dead-lettered events again", response_model=RetryOut,
            responses=_errors(422))
    async def retry(body: RetryIn, _: Principal = write) -> RetryOut:
        if not body.ids and not body.all:
            raise HTTPException(422, "give ids or all=true")
        return RetryOut(queued=await call(ops.retry, None if body.all else body.ids))

    # reports
    @r.get("/reports", summary="Reports produced, newest first (automatic and on demand)",
           response_model=list[ReportOut], responses=ERRORS)
    async def reports(limit: int = Query(50, ge=1, le=500), _: Principal = read) -> list[ReportOut]:
        return [report_out(run) for run in await call(ops.reports, limit)]

    @r.post("/reports", summary="Produce a report now (monthly, quarterly, yearly, or major for one ticket)",
            response_model=ReportOut, status_code=201, responses=_errors(404, 422))
    async def generate(body: GenerateIn, who: Principal = write) -> ReportOut:
        return report_out(await call(ops.generate, body.kind, body.period, body.formats, who.name,
                                     _text(body.premium), _text(body.policies)))

    @r.get("/reports/{run_id}/{fmt}", summary="Download a report file", response_class=FileResponse,
           responses={**_errors(404), 200: {"description": "The file", "content": {
               t.split(";")[0]: {} for t in MEDIA_TYPES.values()}}})
    async def download(run_id: int, fmt: Literal["xlsx", "html", "md", "json"], _: Principal = read) -> FileResponse:
        run, path = await call(ops.report_file, run_id, fmt)
        return FileResponse(path, media_type=MEDIA_TYPES[fmt], filename=path.name)

    return r
