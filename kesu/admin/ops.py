"""What admins can see and do; the API (``kesu.admin.api``) and the page (``kesu.admin.page``)
are two faces of these operations.

Errors are :class:`AdminError` subclasses carrying the HTTP status that fits them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from connector.base import WriteSet
from connector.errors import ConnectorError, NotFound
from kesu.admin.complaints import ComplaintDetail, ComplaintPage, ComplaintViews, FilterError, Filters, helpdesk_link
from kesu.admin.config_file import ConfigEditError, disabled_in, set_plugin_disabled
from kesu.admin.labels import Labels
from kesu import i18n
from kesu.i18n import Ref, Said
from kesu.ledger import Ledger, LedgerError
from kesu.lookup import TicketLookupError, resolve_ticket
from kesu.models import TicketRef
from kesu.report.major import NoComplaint
from kesu.report.labels import Catalogue
from kesu.report.period import PeriodError
from kesu.report.ratios import RatioInputError, inputs
from kesu.report.runs import REPORT_KINDS, ReportRun, get_run, list_runs, produce
from kesu.store import tickets as store
from kesu.store.db import as_utc, utcnow
from kesu.store.inbox import NewEvent
from kesu.store.tables import audit_log, complaints, ledger
from plugins.manager import list_plugins

if TYPE_CHECKING:
    from kesu.app import Services


class AdminError(Said):
    """``message`` in English (the API, the CLI), ``zh`` the same in Chinese for the page; made
    from the catalogue with ``said(key, **values)`` (``kesu/i18n``, context ``error``)."""

    status = 400

    def __init__(self, message: str, zh: str | None = None) -> None:
        super().__init__(message, zh)
        self.message = message

    @classmethod
    def of(cls, exc: BaseException) -> AdminError:
        """The error of a lower layer's refusal, in both languages when it has them."""
        return cls(str(exc), getattr(exc, "zh", None))

    def text(self, lang: str) -> str:
        return self.zh if lang != "en" and self.zh else self.message


class NotFoundError(AdminError):
    status = 404


class ConflictError(AdminError):
    status = 409


class InvalidError(AdminError):
    status = 422


class HelpdeskError(AdminError):
    status = 502


#: Record ids are BIGINT on PostgreSQL and INTEGER (64-bit) on SQLite: a larger number reaches the
#: driver as an overflow (a 500), so it is refused here as what it is, an id with no record.
MAX_ID = 2**63 - 1


def record_id(value: int, what: str) -> int:
    """``value`` when it can name a stored record; else ``NotFoundError`` (no such record)."""
    if not 1 <= value <= MAX_ID:
        raise NotFoundError.said("no_record", what=Ref("record", what), value=str(value)[:100])
    return value


@dataclass(frozen=True)
class PluginView:
    name: str
    version: str
    hooks: tuple[str, ...]
    running: bool  # loaded in this process
    enabled_in_config: bool  # what kesu.toml says now; applies at the next start
    builtin: bool
    essential: bool


@dataclass(frozen=True)
class LedgerView:
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
    open: bool  # a proposal nobody has decided
    reversed: bool  # a confirmed entry that has a reversal


@dataclass(frozen=True)
class ExtensionRequest:
    ticket_key: str
    rule_id: str | None  # the deadline (R-SLA-...) the extension is for
    requested: str  # the new deadline as the deadlines plugin noted it
    noted_at: datetime
    due: str | None  # the standing deadline (ISO, UTC)
    note: str


@dataclass(frozen=True)
class ExtensionResult:
    ticket_key: str
    rule_id: str | None
    action: str  # approved | rejected
    fields: dict[str, Any]
    event_id: int | None


# The deadlines plugin notes an extension it ignores for lack of approval (R-EXT-6.18) like
# "延期至 2026-03-10 17:00 未获批准，已忽略，… （R-SLA-6.18-general）".
_IGNORED = re.compile(r"延期至\s*(?P<to>.+?)\s*未获批准.*（(?P<rule>R-[A-Z]+-[^（）]+)）\s*$", re.S)


class AdminOps:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.engine = services.engine
        self.ledger_book = Ledger(services.engine)
        settings = services.settings.helpdesk
        odoo_version = getattr(getattr(services.connector, "options", None), "version", None)
        self.views = ComplaintViews(
            services.engine, helpdesk=settings.name,
            link=lambda key: helpdesk_link(settings.kind, settings.url, key, self._odoo_version(odoo_version)))

    def _odoo_version(self, configured: int | None) -> int | None:
        """Odoo's major version for links: configured, or what the connector detected (no call here)."""
        if configured is not None:
            return configured
        schema = getattr(self.services.connector, "_schema", None)
        version = getattr(schema, "version", None)
        return getattr(version, "major", None)

    # -- naming tickets ----------------------------------------------------------------------

    def resolve(self, text: str) -> str:
        """kesu's key of the ticket ``text`` names: the number agents see, or the key itself."""
        try:
            return resolve_ticket(self.engine, self.services.settings.helpdesk.name, text,
                                  search=self.services.connector.find_by_number)
        except TicketLookupError as exc:
            raise (HelpdeskError if exc.helpdesk_failed else NotFoundError)(exc.en, exc.zh) from None

    # -- complaints --------------------------------------------------------------------------

    def labels(self, lang: str) -> Labels:
        return Labels.for_settings(self.services.settings, lang)

    def complaints(self, filters: Filters, lang: str = "zh") -> ComplaintPage:
        try:
            return self.views.list(filters, self.labels(lang))
        except FilterError as exc:
            raise InvalidError(exc.en, exc.zh) from None

    def complaint(self, ticket: str, lang: str = "zh") -> ComplaintDetail:
        key = self.resolve(ticket)
        found = self.views.detail(key, self.labels(lang))
        if found is None:
            named = ticket.strip() if ticket.strip() == key else f"{ticket.strip()} ({key})"
            raise NotFoundError(i18n.said("no_complaint", "en", ticket=named),
                                i18n.said("no_complaint", "zh", ticket=named.replace(" (", "（").replace(")", "）")))
        return found

    # -- plugins -----------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        path = self.services.settings.config_path
        return Path(path) if path else Path.cwd() / "kesu.toml"

    def plugins(self) -> list[PluginView]:
        path = self.config_path
        disabled = set(disabled_in(path) if path.exists() else self.services.settings.plugins.disabled)
        return [PluginView(i.name, i.version, i.hooks, i.enabled, i.name not in disabled, i.builtin, i.essential)
                for i in list_plugins(self.services.host.pm)]

    def set_plugin(self, name: str, enabled: bool) -> PluginView:
        try:
            set_plugin_disabled(self.config_path, name, disable=not enabled)
        except ConfigEditError as exc:
            raise (NotFoundError if "no such plugin" in str(exc) else ConflictError).of(exc) from None
        return next(p for p in self.plugins() if p.name == name)

    # -- ledger ------------------------------------------------------------------------------

    def ledger(self, *, status: str | None = None, open_only: bool = False, ticket_key: str | None = None,
               limit: int = 100) -> list[LedgerView]:
        q = select(ledger).order_by(ledger.c.id.desc()).limit(limit)
        if status:
            q = q.where(ledger.c.status == status)
        if ticket_key:
            q = q.where(ledger.c.ticket_key == self.resolve(ticket_key))
        if open_only:
            q = q.where(ledger.c.id.in_([e.id for e in self.ledger_book.open_proposals()]))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            ids = [r["id"] for r in rows]
            followers = conn.execute(select(ledger.c.refers_to, ledger.c.status)
                                     .where(ledger.c.refers_to.in_(ids))).all() if ids else []
        decided = {r.refers_to for r in followers if r.status in ("confirmed", "rejected")}
        reversed_ = {r.refers_to for r in followers if r.status == "reversal"}
        return [LedgerView(
            id=r["id"], created_at=as_utc(r["created_at"]), ticket_key=r["ticket_key"],  # type: ignore[arg-type]
            rule_id=r["rule_id"], plugin=r["plugin"], kind=r["kind"], subject=r["subject"], amount=r["amount"],
            amount_min=r["amount_min"], amount_max=r["amount_max"], status=r["status"],
            decided_by=r["decided_by"], refers_to=r["refers_to"], note=r["note"],
            open=r["status"] == "proposed" and r["id"] not in decided,
            reversed=r["id"] in reversed_) for r in rows]

    def _entry(self, entry_id: int) -> None:
        record_id(entry_id, "ledger entry")
        try:
            self.ledger_book.get(entry_id)
        except LedgerError as exc:
            raise NotFoundError.of(exc) from None

    def _one(self, entry_id: int) -> LedgerView:
        with self.engine.connect() as conn:
            ticket = conn.execute(select(ledger.c.ticket_key).where(ledger.c.id == entry_id)).scalar_one()
        return next(v for v in self.ledger(ticket_key=ticket, limit=10_000) if v.id == entry_id)

    def confirm(self, entry_id: int, amount: float | None, by: str, note: str = "") -> LedgerView:
        self._entry(entry_id)
        try:
            return self._one(self.ledger_book.confirm(entry_id, amount, by, note).id)
        except LedgerError as exc:
            raise ConflictError.of(exc) from None

    def reject(self, entry_id: int, by: str, note: str = "") -> LedgerView:
        self._entry(entry_id)
        try:
            return self._one(self.ledger_book.reject(entry_id, by, note).id)
        except LedgerError as exc:
            raise ConflictError.of(exc) from None

    def reverse(self, entry_id: int, by: str, note: str) -> LedgerView:
        self._entry(entry_id)
        if not note.strip():
            raise InvalidError.said("reversal_note")
        try:
            return self._one(self.ledger_book.reverse(entry_id, by, note).id)
        except LedgerError as exc:
            raise ConflictError.of(exc) from None

    # -- deadline extensions (R-EXT-6.18) -------------------------------------------------------

    def _extension_fields(self) -> Any:
        config = self.services.host.configs.get("deadlines")
        if config is None:
            raise ConflictError.said("no_deadlines")
        return config.extension  # type: ignore[attr-defined]

    def extensions(self) -> list[ExtensionRequest]:
        """Extensions an agent entered on a ticket that the deadlines plugin ignored for lack of
        approval, and that nobody approved or rejected since."""
        with self.engine.connect() as conn:
            notes = conn.execute(select(audit_log).where(
                audit_log.c.kind == "decision", audit_log.c.plugin == "deadlines",
                audit_log.c.rule_id == "R-EXT-6.18").order_by(audit_log.c.id)).mappings().all()
            keys = sorted({n["ticket_key"] for n in notes})
            handled = conn.execute(select(audit_log).where(
                audit_log.c.kind == "admin", audit_log.c.ticket_key.in_(keys))).mappings().all() if keys else []
            records = {r.ticket_key: r.deadlines or {} for r in conn.execute(
                select(complaints.c.ticket_key, complaints.c.deadlines).where(complaints.c.ticket_key.in_(keys)))}
        latest: dict[tuple[str, str | None], tuple[int, ExtensionRequest]] = {}
        for n in notes:
            detail = n["detail"] or {}
            m = _IGNORED.search(str(detail.get("text", "")))
            if detail.get("type") != "internal_note" or m is None:
                continue
            rule = m.group("rule")
            entry = records.get(n["ticket_key"], {}).get(rule) or {}
            latest[(n["ticket_key"], rule)] = (n["id"], ExtensionRequest(
                ticket_key=n["ticket_key"], rule_id=rule, requested=m.group("to"),
                noted_at=as_utc(n["at"]), due=entry.get("due"), note=str(detail["text"])))  # type: ignore[arg-type]
        pending = []
        for (key, rule), (note_id, req) in sorted(latest.items(), key=lambda kv: kv[1][0]):
            entry = records.get(key, {}).get(rule) or {}
            if entry.get("approved_by") or entry.get("met_at"):
                continue
            if any(h["id"] > note_id and (h["detail"] or {}).get("rule_id") == rule for h in handled):
                continue
            pending.append(req)
        return pending

    def _ticket(self, ticket_key: str) -> tuple[TicketRef, Any]:
        ticket_key = self.resolve(ticket_key)
        try:
            ref = TicketRef.parse(ticket_key)
        except ValueError as exc:
            raise InvalidError.of(exc) from None
        if ref.helpdesk != self.services.settings.helpdesk.name:
            raise InvalidError.said("not_this_helpdesk", ticket=ticket_key, helpdesk=self.services.settings.helpdesk.name)
        try:
            return ref, self.services.connector.get_ticket(ref.id)
        except NotFound:
            raise NotFoundError.said("ticket_not_found", ticket=ticket_key) from None
        except ConnectorError as exc:
            raise HelpdeskError.said("helpdesk_read", ticket=ticket_key, error=str(exc)) from None

    def _write(self, ticket: Any, writes: WriteSet) -> None:
        try:
            self.services.connector.apply(ticket, writes)
        except ConnectorError as exc:
            raise HelpdeskError.said("helpdesk_write", ticket=ticket.ref.key, error=str(exc)) from None

    def approve_extension(self, ticket_key: str, *, rule_id: str | None, extended_to: str, approved_by: str,
                          reason: str, by: str) -> ExtensionResult:
        """Record the vice-president's approval (R-EXT-6.18) in the ticket fields the deadlines
        plugin reads, then queue an event so the policies re-run and move the deadline."""
        cfg = self._extension_fields()
        _check_time(extended_to)
        if not approved_by.strip():
            raise InvalidError.said("approved_by")
        ref, ticket = self._ticket(ticket_key)
        fields = {cfg.extended_to: extended_to.strip(), cfg.approved_by: approved_by.strip()}
        if reason.strip():
            fields[cfg.reason] = reason.strip()
        what = f"（{rule_id}）" if rule_id else ""
        self._write(ticket, WriteSet(
            fields=fields, note_subject=f"kesu admin #{uuid.uuid4().hex[:12]}",
            note=f"延期已批准{what}：延至 {extended_to.strip()}，批准人 {approved_by.strip()}，"
                 f"由 {by} 在 kesu 管理页登记 [R-EXT-6.18]"))
        now = utcnow()
        event_id = self.services.inbox.add(NewEvent(
            helpdesk=ref.helpdesk, ticket_id=ref.id, kind="updated", source="manual", received_at=now,
            delivery_id=f"admin:{uuid.uuid4().hex}", payload={"actor": f"admin:{by}"}))
        self._audit(ref.key, "R-EXT-6.18", {"action": "extension_approved", "rule_id": rule_id, "by": by,
                                            "fields": fields, "text": f"延期已批准：{fields}"}, now)
        return ExtensionResult(ref.key, rule_id, "approved", fields, event_id)

    def reject_extension(self, ticket_key: str, *, rule_id: str | None, reason: str, by: str) -> ExtensionResult:
        """Record the refusal in the audit log and as an internal note; the original deadline stands."""
        self._extension_fields()
        if not reason.strip():
            raise InvalidError.said("reject_reason")
        ref, ticket = self._ticket(ticket_key)
        what = f"（{rule_id}）" if rule_id else ""
        text = f"延期申请未获批准{what}，原时限不变：{reason.strip()}（{by} 在 kesu 管理页登记）[R-EXT-6.18]"
        self._write(ticket, WriteSet(note=text, note_subject=f"kesu admin #{uuid.uuid4().hex[:12]}"))
        self._audit(ref.key, "R-EXT-6.18", {"action": "extension_rejected", "rule_id": rule_id, "by": by,
                                            "reason": reason.strip(), "text": text}, utcnow())
        return ExtensionResult(ref.key, rule_id, "rejected", {}, None)

    def _audit(self, key: str, rule_id: str, detail: dict[str, Any], now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(audit_log), {"at": now, "ticket_key": key, "event_id": None, "kind": "admin",
                                             "plugin": None, "rule_id": rule_id, "detail": detail})

    # -- follow-ups, inbox ---------------------------------------------------------------------

    def followups(self, which: str, now: datetime | None = None) -> list[dict[str, Any]]:
        """``due``: open and not yet due; ``overdue``: open past the due time (R-CB-6.36)."""
        now = now or utcnow()
        rows = store.list_followups(self.engine, "due") + store.list_followups(self.engine, "overdue")
        out = []
        for r in rows:
            late = r["status"] == "overdue" or as_utc(r["due_at"]) < now  # type: ignore[operator]
            if (which == "overdue") == late:
                out.append({**r, "due_at": as_utc(r["due_at"]), "resolved_at": as_utc(r["resolved_at"])})
        return sorted(out, key=lambda r: (r["due_at"], r["id"]))

    def inbox(self, limit: int = 50) -> tuple[dict[str, int], list[dict[str, Any]]]:
        return self.services.inbox.depth(), self.services.inbox.list("dead", limit)

    def retry(self, ids: list[int] | None) -> int:
        if ids is not None:
            ids = [i for i in ids if 1 <= i <= MAX_ID]  # out of range: no such event, nothing to retry
        return self.services.inbox.retry_dead(ids, utcnow())

    # -- reports -------------------------------------------------------------------------------

    def reports(self, limit: int = 50) -> list[ReportRun]:
        return list_runs(self.engine, limit)

    def generate(self, kind: str, period: str, formats: list[str] | None, by: str,
                 premium: str | None = None, policies: str | None = None) -> ReportRun:
        """Produce a report now; ``premium`` and ``policies`` (as typed: 12.5亿, 380000) are the
        period's inputs of R-PEN-5.6.5, recorded with the run."""
        if kind not in REPORT_KINDS:
            raise InvalidError.said("report_kind", kind=kind, allowed=", ".join(REPORT_KINDS))
        try:
            given = inputs(premium, policies)
        except RatioInputError as exc:
            raise InvalidError(str(exc), exc.zh) from None
        if kind == "major" and (given.premium_yuan is not None or given.policies is not None):
            raise InvalidError.said("ratio_inputs_major")
        if kind == "major":
            period = self.resolve(period)
        try:
            return produce(self.engine, self.services.settings.reports, kind, period.strip(), trigger="admin",
                           requested_by=by, formats=formats or None,
                           catalogue=Catalogue.from_settings(self.services.settings), inputs=given)
        except PeriodError as exc:
            raise InvalidError.of(exc) from None
        except NoComplaint as exc:
            raise NotFoundError.of(exc) from None

    def report_file(self, run_id: int, fmt: str) -> tuple[ReportRun, Path]:
        record_id(run_id, "report")
        run = get_run(self.engine, run_id)
        if run is None:
            raise NotFoundError.said("no_report", id=run_id)
        if fmt not in run.files:
            raise NotFoundError.said("no_report_file", id=run_id, fmt=fmt, have=", ".join(run.files) or "-")
        path = Path(run.files[fmt])
        if not path.is_file():
            raise NotFoundError.said("report_file_gone", id=run_id, path=str(path))
        return run, path


def _check_time(value: str) -> None:
    text = value.strip()
    try:
        if len(text) == 10:
            date.fromisoformat(text)
        else:
            datetime.fromisoformat(text)
    except ValueError:
        raise InvalidError.said("extended_to", value=value) from None
