"""In-memory Odoo: a small ORM (models, fields, access rights, transactions) plus automation rules.

Everything runs under one re-entrant lock; an RPC call is one transaction (``Txn``). A transaction
records the pre-call version of every record it touches, so an error rolls the call back
completely, like Odoo's "one SQL transaction per call".

Webhook automations (Odoo 17+) are evaluated inside the transaction, on create/write of records
of the rule's model. The resulting deliveries are handed back to the caller:

* 17 and 18 send them *inline*, before the transaction commits: while a delivery is in flight the
  written records are still uncommitted — other callers read the previous version, and a second
  writer of the same record waits (row lock) until the first one commits;
* 19 sends them after commit (``cr.postcommit``), and never when the call failed.

Calls through the Python helpers of ``SandboxOdoo`` take the same path as RPC calls.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from . import domain as dom
from . import errors, manual
from .errors import RpcError
from .fields import (
    LOG_ACCESS, X2MANY, Field, ModelDef, fmt_date, fmt_datetime, html_escape, html_sanitize,
    parse_date, parse_datetime, to_utc_naive,
)

SUPERUSER_ID = 1
VERBS = {"read": "access", "write": "modify", "create": "create", "unlink": "delete"}
LETTER = {"read": "r", "write": "w", "create": "c", "unlink": "u"}

CREATE_TRIGGERS = {"on_create", "on_create_or_write", "on_priority_set", "on_stage_set", "on_state_set",
                   "on_tag_set", "on_user_set"}
WRITE_TRIGGERS = {"on_write", "on_archive", "on_unarchive", "on_create_or_write", "on_priority_set",
                  "on_stage_set", "on_state_set", "on_tag_set", "on_user_set"}

NOT_NULL_MSG = (
    "The operation cannot be completed:\n"
    "- Create/update: a mandatory field is not set.\n"
    "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
    "Model: {model_name} ({model})\n"
    "Field: {field_name} ({field})\n"
)


# ------------------------------------------------------------------------------ clock


class Clock:
    """Naive-UTC microsecond clock whose readings strictly increase (one reading per transaction)."""

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self.source = source or (lambda: datetime.now(timezone.utc))
        self._last: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            dt = to_utc_naive(self.source())
            if self._last is not None and dt <= self._last:
                dt = self._last + timedelta(microseconds=1)
            self._last = dt
            return dt

    def today(self) -> date:
        return to_utc_naive(self.source()).date()


# ------------------------------------------------------------------------ transactions


class Locked(Exception):
    """A record this call wants to modify is held by a transaction that has not committed yet."""

    def __init__(self, event: threading.Event) -> None:
        super().__init__("record locked by a concurrent transaction")
        self.event = event


@dataclass
class Delivery:
    """One webhook POST decided by an automation rule (``ir.actions.server`` of state ``webhook``)."""

    automation_id: int
    automation: str
    action_id: int
    action: str
    model: str
    res_id: int
    url: str
    body: bytes
    mode: str  # "inline" (17/18: before commit) | "postcommit" (19)


@dataclass
class Txn:
    id: int
    uid: int
    now: datetime
    su: bool = False
    context: dict[str, Any] = field(default_factory=dict)
    snapshots: dict[tuple[str, int], dict[str, Any] | None] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    done: set[tuple[int, str, int]] = field(default_factory=set)
    event: threading.Event | None = None
    writes: list[WriteRecord] = field(default_factory=list)  # logged when committed


@dataclass(frozen=True)
class WriteRecord:
    """One committed ``create`` or ``write`` (the sandbox's write log)."""

    uid: int
    model: str
    operation: str  # "create" | "write"
    ids: tuple[int, ...]
    vals: dict[str, Any]


@dataclass
class Outcome:
    """What a call produced; ``txn`` is still open when inline deliveries must go out before commit."""

    result: Any = None
    error: RpcError | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    txn: Txn | None = None


# ------------------------------------------------------------------------------ reading


class View:
    """Records as one transaction sees them (others' uncommitted changes are invisible)."""

    def __init__(self, state: OdooState, txn: Txn | None) -> None:
        self.state = state
        self.txn = txn

    # --- domain.Reader protocol
    def model(self, name: str) -> ModelDef:
        md = self.state.models.get(name)
        if md is None:
            raise errors.key_error(name)
        return md

    def get(self, model: str, rid: int) -> dict[str, Any] | None:
        st = self.state
        if not st._uncommitted:
            return st.tables[model].get(rid)
        held = st._uncommitted.get((model, rid))
        if held is not None and (self.txn is None or held[0] != self.txn.id):
            return held[1]
        return st.tables[model].get(rid)

    def fetcher(self, md: ModelDef) -> Callable[[int], dict[str, Any] | None]:
        name = md.name
        if not self.state._uncommitted:
            return self.state.tables[name].get
        return lambda rid: self.get(name, rid)

    def iter(self, md: ModelDef) -> Iterator[dict[str, Any]]:
        st = self.state
        table = st.tables[md.name]
        if not st._uncommitted:
            yield from table.values()
            return
        mine = self.txn.id if self.txn is not None else None
        seen = set()
        for rid, rec in list(table.items()):
            held = st._uncommitted.get((md.name, rid))
            if held is not None and held[0] != mine:
                seen.add(rid)
                if held[1] is not None:
                    yield held[1]
                continue
            yield rec
        for (model, rid), (tid, snap) in list(st._uncommitted.items()):
            if model == md.name and tid != mine and rid not in seen and rid not in table and snap is not None:
                yield snap  # deleted by an uncommitted transaction

    def getter(self, md: ModelDef, f: Field) -> Callable[[dict[str, Any]], Any]:
        if f.compute is not None:
            compute = f.compute
            return lambda rec: compute(self, rec)
        name = f.name
        return lambda rec: rec.get(name)

    def value(self, md: ModelDef, rec: dict[str, Any], fname: str) -> Any:
        f = md.fields[fname]
        if f.compute is not None:
            return f.compute(self, rec)
        return rec.get(fname)

    def display(self, md: ModelDef, rec: dict[str, Any]) -> str:
        if md.display is not None:
            return md.display(self, rec)
        if md.rec_name and rec.get(md.rec_name):
            return str(rec[md.rec_name])
        return f"{md.name},{rec['id']}"

    def display_getter(self, md: ModelDef) -> Callable[[dict[str, Any]], str]:
        return lambda rec: self.display(md, rec)

    def sort_getter(self, md: ModelDef, f: Field) -> Callable[[dict[str, Any]], Any]:
        if f.type != "many2one":
            if f.type == "boolean":
                return lambda rec: bool(rec.get(f.name))
            return self.getter(md, f)
        comodel = self.model(f.relation or "")
        fetch = self.fetcher(comodel)
        terms = [(n, d) for n, d, _ in dom.parse_order(comodel, None)]

        def view_value(other: dict[str, Any], name: str) -> Any:
            v = self.value(comodel, other, name)
            return bool(v) if comodel.fields[name].type == "boolean" else v

        def key(rec: dict[str, Any]) -> Any:
            rid = rec.get(f.name)
            if rid is None:
                return None
            other = fetch(rid)
            if other is None:
                return (rid,)
            out = []
            for name, _desc in terms:
                v = view_value(other, name)
                out.append((v is None, v if v is not None else 0))
            return tuple(out)

        return key

    # --- rendering
    def render(self, md: ModelDef, rec: dict[str, Any], fnames: Iterable[str], load: str | None) -> dict[str, Any]:
        """``read()`` output for one record, JSON-ready (datetimes as Odoo strings)."""
        return self.renderer(md, fnames, load)(rec)

    def renderer(self, md: ModelDef, fnames: Iterable[str], load: str | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """A function rendering records of ``md``; many2one names are looked up once per renderer."""
        parts = [(name, self._field_renderer(md.fields[name], load)) for name in fnames if name != "id"]

        def render(rec: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"id": rec["id"]}
            for name, fn in parts:
                out[name] = fn(rec)
            return out

        return render

    def _field_renderer(self, f: Field, load: str | None) -> Callable[[dict[str, Any]], Any]:
        name, t = f.name, f.type
        if f.compute is not None:
            compute = f.compute
            return lambda rec: self.render_value(f, compute(self, rec), load)
        if t == "many2one" and load == "_classic_read":
            names: dict[int, Any] = {}
            comodel = self.model(f.relation or "")

            def m2o(rec: dict[str, Any]) -> Any:
                rid = rec.get(name)
                if rid is None:
                    return False
                pair = names.get(rid)
                if pair is None:
                    other = self.get(comodel.name, rid)
                    pair = names[rid] = [rid, self.display(comodel, other) if other is not None else ""]
                return list(pair)

            return m2o
        if t == "datetime":
            return lambda rec: fmt_datetime(v) if (v := rec.get(name)) is not None else False
        if t in ("char", "text", "html", "selection", "date", "json"):
            return lambda rec: self.render_value(f, v, load) if (v := rec.get(name)) is not None else False
        return lambda rec: self.render_value(f, rec.get(name), load)

    def render_value(self, f: Field, raw: Any, load: str | None, *, for_webhook: bool = False) -> Any:
        t = f.type
        if t == "many2one":
            if raw is None:
                return False
            if load == "_classic_read":
                other = self.get(f.relation or "", raw)
                name = self.display(self.model(f.relation or ""), other) if other is not None else ""
                return [raw, name]
            return raw
        if t in X2MANY:
            return list(raw or ())
        if t == "boolean":
            return bool(raw)
        if t in ("integer",):
            return raw if raw is not None else 0
        if t == "float":
            return float(raw) if raw is not None else 0.0
        if t == "properties":
            return copy.deepcopy(raw) if raw else []
        if raw is None or raw == "" and t in ("selection",):
            return False
        if for_webhook:
            return raw  # json.dumps(default=str) renders dates itself
        if t == "datetime":
            return fmt_datetime(raw)
        if t == "date":
            return fmt_date(raw)
        return raw


# -------------------------------------------------------------------------------- state


class OdooState:
    def __init__(
        self,
        *,
        version: int = 17,
        flavour: str = "enterprise",
        database: str = "sandbox",
        clock: Clock | None = None,
    ) -> None:
        if version not in (16, 17, 18, 19):
            raise ValueError(f"unsupported Odoo version {version} (16, 17, 18 or 19)")
        if flavour not in ("enterprise", "oca"):
            raise ValueError(f"unknown flavour {flavour!r} (enterprise or oca)")
        self.version = version
        self.flavour = flavour
        self.database = database
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.models: dict[str, ModelDef] = {}
        self.tables: dict[str, dict[int, dict[str, Any]]] = {}
        self._seq: dict[str, itertools.count[int]] = {}
        self._txn_ids = itertools.count(1)
        self._uncommitted: dict[tuple[str, int], tuple[int, dict[str, Any] | None]] = {}
        self._open: dict[int, Txn] = {}
        # users: passwords, API keys, groups; web sessions
        self.passwords: dict[int, str] = {}
        self.api_keys: dict[str, int] = {}
        self.key_of: dict[int, str] = {}
        self.groups: dict[int, set[str]] = {}
        self.sessions: dict[str, int] = {}
        self.sequences: dict[str, int] = {}
        self.deprecation_warnings = 0
        self.write_log: list[WriteRecord] = []  # committed creates and writes (tests count them)
        self._model_ids: dict[str, int] = {}
        self._xmlids: dict[str, tuple[str, int]] = {}
        self._boot = datetime(2025, 1, 6, 8, 0, 0)
        self.base_url = "http://localhost:8069"
        from . import seeds  # noqa: PLC0415 - seeds needs this module's names

        seeds.install(self)

    # ------------------------------------------------------------------ registry helpers

    @property
    def ticket_model(self) -> str:
        return "helpdesk.ticket"

    @property
    def team_model(self) -> str:
        return "helpdesk.team" if self.flavour == "enterprise" else "helpdesk.ticket.team"

    @property
    def stage_model(self) -> str:
        return "helpdesk.stage" if self.flavour == "enterprise" else "helpdesk.ticket.stage"

    @property
    def tag_model(self) -> str:
        return "helpdesk.tag" if self.flavour == "enterprise" else "helpdesk.ticket.tag"

    def register(self, md: ModelDef) -> ModelDef:
        base = {
            "id": Field("id", "integer", "ID", readonly=True),
            "display_name": Field("display_name", "char", "Display Name", store=False,
                                  compute=lambda view, rec, md=md: view.display(md, rec)),
            "create_uid": Field("create_uid", "many2one", "Created by", readonly=True, relation="res.users"),
            "create_date": Field("create_date", "datetime", "Created on", readonly=True),
            "write_uid": Field("write_uid", "many2one", "Last Updated by", readonly=True, relation="res.users"),
            "write_date": Field("write_date", "datetime", "Last Updated on", readonly=True),
        }
        if self.version == 16:
            base["__last_update"] = Field("__last_update", "datetime", "Last Modified on", store=False,
                                          compute=lambda view, rec: rec.get("write_date"))
        for name, f in base.items():
            md.fields.setdefault(name, f)
        self.models[md.name] = md
        self.tables[md.name] = {}
        self._seq[md.name] = itertools.count(1)
        return md

    def model(self, name: str) -> ModelDef:
        md = self.models.get(name)
        if md is None:
            raise errors.key_error(name)
        return md

    def xmlid(self, xmlid: str) -> tuple[str, int]:
        try:
            return self._xmlids[xmlid]
        except KeyError:
            raise errors.value_error(f"External ID not found in the system: {xmlid}") from None

    def xmlid_res_id(self, xmlid: str) -> int:
        return self.xmlid(xmlid)[1]

    def model_id(self, model: str) -> int:
        return self._model_ids[model]

    def is_internal(self, uid: int) -> bool:
        return uid == SUPERUSER_ID or "user" in self.groups.get(uid, set())

    def is_system(self, uid: int) -> bool:
        return uid == SUPERUSER_ID or "system" in self.groups.get(uid, set())

    # ------------------------------------------------------------------- users & auth

    def user_id(self, login: str) -> int:
        for rec in self.tables["res.users"].values():
            if rec["login"] == login:
                return rec["id"]
        raise KeyError(login)

    def check_password(self, uid: int, secret: str) -> bool:
        user = self.tables["res.users"].get(uid)
        if user is None or not user.get("active"):
            return False
        if not isinstance(secret, str) or not secret:
            return False
        return self.passwords.get(uid) == secret or self.api_keys.get(secret) == uid

    def login(self, login: str, secret: str) -> int | None:
        for rec in self.tables["res.users"].values():
            if rec["login"] == login and rec.get("active"):
                return rec["id"] if self.check_password(rec["id"], secret) else None
        return None

    def uid_for_key(self, key: str) -> int | None:
        uid = self.api_keys.get(key)
        if uid is None:
            return None
        user = self.tables["res.users"].get(uid)
        return uid if user is not None and user.get("active") else None

    def new_api_key(self, uid: int, key: str | None = None) -> str:
        key = key or secrets.token_hex(20)  # Odoo: 20 random bytes, hex → 40 characters
        old = self.key_of.get(uid)
        if old:
            self.api_keys.pop(old, None)
        self.api_keys[key] = uid
        self.key_of[uid] = key
        return key

    def new_session(self, uid: int) -> str:
        sid = secrets.token_hex(20)
        self.sessions[sid] = uid
        return sid

    # ---------------------------------------------------------------------- transactions

    def begin(self, uid: int, *, su: bool = False, context: dict[str, Any] | None = None) -> Txn:
        return Txn(next(self._txn_ids), uid, self.clock.now(), su=su, context=dict(context or {}))

    def _touch(self, txn: Txn, model: str, rid: int) -> None:
        key = (model, rid)
        held = self._uncommitted.get(key)
        if held is not None and held[0] != txn.id:
            owner = self._open.get(held[0])
            raise Locked(owner.event if owner and owner.event else threading.Event())
        if key not in txn.snapshots:
            cur = self.tables[model].get(rid)
            txn.snapshots[key] = dict(cur) if cur is not None else None

    def rollback(self, txn: Txn) -> None:
        txn.writes.clear()
        for (model, rid), snap in txn.snapshots.items():
            if snap is None:
                self.tables[model].pop(rid, None)
            else:
                self.tables[model][rid] = snap
            held = self._uncommitted.get((model, rid))
            if held is not None and held[0] == txn.id:
                del self._uncommitted[(model, rid)]
        if any(model in manual.MODELS for model, _ in txn.snapshots):
            manual.sync(self)  # custom fields created in the transaction go with it
        txn.snapshots.clear()
        self._release(txn)

    def hold(self, txn: Txn) -> None:
        """Keep ``txn`` open: its changes stay invisible to others until ``commit``."""
        txn.event = threading.Event()
        self._open[txn.id] = txn
        for key, snap in txn.snapshots.items():
            self._uncommitted[key] = (txn.id, snap)

    def commit(self, txn: Txn) -> None:
        with self.lock:
            for key in txn.snapshots:
                held = self._uncommitted.get(key)
                if held is not None and held[0] == txn.id:
                    del self._uncommitted[key]
            self._release(txn)

    def _release(self, txn: Txn) -> None:
        self.write_log.extend(txn.writes)  # empty after a rollback
        txn.writes.clear()
        self._open.pop(txn.id, None)
        if txn.event is not None:
            txn.event.set()

    # ------------------------------------------------------------------------ access

    def check_access(self, txn: Txn, md: ModelDef, operation: str) -> None:
        if txn.su or txn.uid == SUPERUSER_ID:
            return
        letter = LETTER[operation]
        for group in self.groups.get(txn.uid, ()):
            if letter in md.acl.get(group, ""):
                return
        raise errors.access_error(
            f"You are not allowed to {VERBS[operation]} '{md.description}' ({md.name}) records."
        )

    def _existing(self, view: View, md: ModelDef, ids: list[int], txn: Txn) -> list[dict[str, Any]]:
        recs, missing = [], []
        for rid in ids:
            rec = view.get(md.name, rid)
            (missing.append(rid) if rec is None else recs.append(rec))
        if missing:
            raise errors.missing_error(md.name, missing, txn.uid)
        return recs

    # ------------------------------------------------------------------------ ORM: read

    def search(self, txn: Txn, model: str, domain: Any, offset: int = 0, limit: int | None = None,
               order: str | None = None, *, check: bool = True) -> list[int]:
        md = self.model(model)
        if check:
            self.check_access(txn, md, "read")
        view = View(self, txn)
        active_test = txn.context.get("active_test", True) is not False
        pred, pinned = dom.plan(view, md, domain, active_test=active_test)
        if pinned is not None:
            fetch = view.fetcher(md)
            recs = [r for r in (fetch(i) for i in pinned) if r is not None and pred(r)]
        else:
            recs = [r for r in view.iter(md) if pred(r)]
        recs = dom.sort_records(view, md, recs, order)
        offset = int(offset or 0)
        if offset:
            recs = recs[offset:]
        if limit:  # Odoo: limit=0/None/False means "no limit"
            recs = recs[: int(limit)]
        return [r["id"] for r in recs]

    def resolve_fields(self, md: ModelDef, fields: Any) -> list[str]:
        if not fields:
            return [n for n in md.fields if n != "id"]
        if isinstance(fields, str):
            fields = [fields]
        out = []
        for fname in fields:
            if fname not in md.fields:
                raise errors.value_error(f"Invalid field {fname!r} on model {md.name!r}")
            if fname != "id":
                out.append(fname)
        return out

    def read(self, txn: Txn, model: str, ids: list[int], fields: Any = None, load: str | None = "_classic_read",
             *, check: bool = True) -> list[dict[str, Any]]:
        md = self.model(model)
        if check:
            self.check_access(txn, md, "read")
        fnames = self.resolve_fields(md, fields)
        view = View(self, txn)
        recs = self._existing(view, md, ids, txn)
        render = view.renderer(md, fnames, load)
        return [render(rec) for rec in recs]

    # ----------------------------------------------------------------------- ORM: write

    def convert(self, txn: Txn, md: ModelDef, f: Field, value: Any, current: Any, rid: int | None) -> Any:
        """Client value → raw value (Odoo's ``convert_to_cache`` + x2many commands)."""
        t = f.type
        if t in ("char", "text"):
            if value is None or value is False:
                return None
            return value if isinstance(value, str) else str(value)
        if t == "html":
            if value is None or value is False:
                return None
            return html_sanitize(value if isinstance(value, str) else str(value))
        if t == "integer":
            return int(value or 0)
        if t == "float":
            return float(value or 0.0)
        if t == "boolean":
            return bool(value)
        if t == "selection":
            if value is None or value is False or value == "":
                return None
            if value in [k for k, _ in (f.selection or [])]:
                return value
            raise errors.value_error(f"Wrong value for {f.owner or md.name}.{f.name}: {value!r}")
        if t == "datetime":
            return parse_datetime(value, f.name)
        if t == "date":
            return parse_date(value, f.name)
        if t == "properties":
            return copy.deepcopy(value) if value else None
        if t == "many2one":
            if value is None or value is False:
                return None
            if isinstance(value, (list, tuple)) and value:
                value = value[0]
            if isinstance(value, bool) or not isinstance(value, int):
                raise errors.value_error(f"Wrong value for {md.name}.{f.name}: {value!r}")
            if View(self, txn).get(f.relation or "", value) is None:
                raise errors.validation_error(self._not_null_message(md, f))
            return value
        if t == "many2many":
            return self._m2m_commands(txn, md, f, value, tuple(current or ()))
        if t == "one2many":
            return value  # applied after the parent row exists (see _apply_o2m)
        return value

    def _not_null_message(self, md: ModelDef, f: Field) -> str:
        return NOT_NULL_MSG.format(model_name=md.description, model=md.name, field_name=f.string, field=f.name)

    def _m2m_commands(self, txn: Txn, md: ModelDef, f: Field, value: Any, current: tuple[int, ...]) -> tuple[int, ...]:
        comodel = f.relation or ""
        ids = list(current)
        view = View(self, txn)
        if value is None or value is False:
            return ()
        if not isinstance(value, (list, tuple)):
            raise errors.value_error(f"Wrong value for {md.name}.{f.name}: {value!r}")

        def exists(i: Any) -> int:
            if isinstance(i, bool) or not isinstance(i, int) or view.get(comodel, i) is None:
                raise errors.validation_error(self._not_null_message(md, f))
            return i

        for cmd in value:
            if isinstance(cmd, int) and not isinstance(cmd, bool):
                # a plain list of ids replaces the relation (like Command.set)
                if all(isinstance(c, int) and not isinstance(c, bool) for c in value):
                    return tuple(dict.fromkeys(exists(i) for i in value))
                raise errors.value_error(f"Wrong value for {md.name}.{f.name}: {value!r}")
            if not isinstance(cmd, (list, tuple)) or not cmd:
                raise errors.value_error(f"Wrong value for {md.name}.{f.name}: {value!r}")
            code = cmd[0]
            if code == 0:
                vals = cmd[2] if len(cmd) > 2 else {}
                ids.append(self.create(txn, comodel, [dict(vals or {})], check=not txn.su)[0])
            elif code == 1:
                self.write(txn, comodel, [cmd[1]], dict(cmd[2] or {}))
            elif code == 2:
                i = cmd[1]
                ids = [x for x in ids if x != i]
                self.unlink(txn, comodel, [i])
            elif code == 3:
                ids = [x for x in ids if x != cmd[1]]
            elif code == 4:
                i = exists(cmd[1])
                if i not in ids:
                    ids.append(i)
            elif code == 5:
                ids = []
            elif code == 6:
                ids = [exists(i) for i in (cmd[2] if len(cmd) > 2 else []) or []]
            else:
                raise errors.value_error(f"Wrong value for {md.name}.{f.name}: {value!r}")
        return tuple(dict.fromkeys(ids))

    def _apply_o2m(self, txn: Txn, md: ModelDef, f: Field, rid: int, value: Any) -> None:
        comodel, inverse = f.relation or "", f.inverse_name or ""
        if value is None or value is False:
            return
        view = View(self, txn)
        for cmd in value:
            if isinstance(cmd, int):
                cmd = (4, cmd)
            code = cmd[0]
            if code == 0:
                vals = dict(cmd[2] or {})
                vals[inverse] = rid
                self.create(txn, comodel, [vals], check=False)
            elif code == 1:
                self.write(txn, comodel, [cmd[1]], dict(cmd[2] or {}), check=False)
            elif code in (2,):
                self.unlink(txn, comodel, [cmd[1]], check=False)
            elif code == 3:
                self.write(txn, comodel, [cmd[1]], {inverse: False}, check=False)
            elif code == 4:
                if view.get(comodel, cmd[1]) is None:
                    raise errors.missing_error(comodel, [cmd[1]], txn.uid)
                self.write(txn, comodel, [cmd[1]], {inverse: rid}, check=False)
            elif code in (5, 6):
                keep = set(cmd[2] or []) if code == 6 else set()
                for child in list(view.iter(self.model(comodel))):
                    if child.get(inverse) == rid and child["id"] not in keep:
                        self.write(txn, comodel, [child["id"]], {inverse: False}, check=False)
                for cid in keep:
                    self.write(txn, comodel, [cid], {inverse: rid}, check=False)

    def _clean_vals(self, md: ModelDef, vals: Any) -> dict[str, Any]:
        if not isinstance(vals, dict):
            raise errors.value_error(f"Invalid values {vals!r} for {md.name}")
        out = {}
        for key, value in vals.items():
            if key in LOG_ACCESS or key == "id" or key == "__last_update":
                continue
            f = md.fields.get(key)
            if f is None:
                if self.version == 16:
                    continue  # 16: "write() with unknown fields" is only logged
                raise errors.value_error(f"Invalid field {key!r} on model {md.name!r}")
            if (f.computed and f.type != "one2many") or f.name == "display_name":
                continue  # computed without inverse: the value is ignored
            out[key] = value
        return out

    def create(self, txn: Txn, model: str, vals_list: list[dict[str, Any]], *, check: bool = True) -> list[int]:
        md = self.model(model)
        if check:
            self.check_access(txn, md, "create")
        ids = []
        created = []
        for raw_vals in vals_list:
            vals = self._clean_vals(md, raw_vals)
            rid = next(self._seq[model])
            rec: dict[str, Any] = {"id": rid}
            o2m: list[tuple[Field, Any]] = []
            for fname, f in md.fields.items():
                if fname == "id" or f.computed:
                    continue
                if fname in vals:
                    continue
                default = f.default(self, txn) if callable(f.default) else copy.deepcopy(f.default)
                if default is not None:
                    rec[fname] = default
                elif f.type in X2MANY:
                    rec[fname] = ()
                elif f.type == "boolean":
                    rec[fname] = False
                else:
                    rec[fname] = None
            for fname, value in vals.items():
                f = md.fields[fname]
                if f.type == "one2many":
                    o2m.append((f, value))
                    continue
                rec[fname] = self.convert(txn, md, f, value, rec.get(fname), None)
            rec["create_uid"] = rec["write_uid"] = txn.uid
            rec["create_date"] = rec["write_date"] = txn.now
            if md.on_create is not None:
                md.on_create(self, txn, rec, vals)
            for fname, f in md.fields.items():
                if f.required and not f.computed and f.type not in X2MANY and rec.get(fname) in (None, ""):
                    if f.type not in ("boolean", "integer", "float"):
                        raise errors.validation_error(self._not_null_message(md, f))
            key = (model, rid)
            txn.snapshots.setdefault(key, None)
            self.tables[model][rid] = rec
            for f, value in o2m:
                self._apply_o2m(txn, md, f, rid, value)
            if md.constrains is not None:
                md.constrains(self, txn, self.tables[model][rid])
            ids.append(rid)
            created.append(rec)
        txn.writes.append(WriteRecord(txn.uid, model, "create", tuple(ids),
                                      {"vals_list": copy.deepcopy(vals_list)}))
        self._run_automations(txn, md, created)
        return ids

    def write(self, txn: Txn, model: str, ids: list[int], vals: dict[str, Any], *, check: bool = True) -> bool:
        md = self.model(model)
        if check:
            self.check_access(txn, md, "write")
        vals = self._clean_vals(md, vals)
        txn.writes.append(WriteRecord(txn.uid, model, "write", tuple(ids), copy.deepcopy(vals)))
        view = View(self, txn)
        recs = self._existing(view, md, ids, txn)
        for rec in recs:
            self._touch(txn, model, rec["id"])
        automations = self._automations(txn, md, WRITE_TRIGGERS)
        pre: dict[int, set[int]] = {}
        old_values: dict[int, dict[str, Any]] = {}
        for auto in automations:
            pre_domain = dom.literal_domain(auto.get("filter_pre_domain"), txn.uid)
            if pre_domain:
                pred = dom.compile_domain(view, md, pre_domain, active_test=False)
                pre[auto["id"]] = {r["id"] for r in recs if pred(r)}
            else:
                pre[auto["id"]] = {r["id"] for r in recs}
        if automations:
            for rec in recs:
                old_values[rec["id"]] = dict(rec)
        for rec in recs:
            rid = rec["id"]
            old = self.tables[model][rid]
            new = dict(old)
            o2m: list[tuple[Field, Any]] = []
            for fname, value in vals.items():
                f = md.fields[fname]
                if f.type == "one2many":
                    o2m.append((f, value))
                    continue
                new[fname] = self.convert(txn, md, f, value, old.get(fname), rid)
            new["write_uid"] = txn.uid
            new["write_date"] = txn.now
            if md.on_write is not None:
                md.on_write(self, txn, old, new, vals)
            for fname, f in md.fields.items():
                if f.required and fname in vals and f.type not in ("boolean", "integer", "float") \
                        and f.type not in X2MANY and new.get(fname) in (None, ""):
                    raise errors.validation_error(self._not_null_message(md, f))
            self.tables[model][rid] = new
            for f, value in o2m:
                self._apply_o2m(txn, md, f, rid, value)
            if md.constrains is not None:
                md.constrains(self, txn, self.tables[model][rid])
        if automations:
            self._fire(txn, md, automations, [self.tables[model][r["id"]] for r in recs], pre, old_values)
        return True

    def unlink(self, txn: Txn, model: str, ids: list[int], *, check: bool = True) -> bool:
        md = self.model(model)
        if check:
            self.check_access(txn, md, "unlink")
        view = View(self, txn)
        recs = self._existing(view, md, ids, txn)
        for rec in recs:
            self._touch(txn, model, rec["id"])
            del self.tables[model][rec["id"]]
        gone = {r["id"] for r in recs}
        # ondelete: cascade children, "set null" on other many2one, drop from many2many
        for other in self.models.values():
            for f in other.fields.values():
                if f.relation != model or f.computed:
                    continue
                if f.type == "many2one":
                    for child in list(self.tables[other.name].values()):
                        if child.get(f.name) in gone:
                            if f.ondelete == "cascade":
                                self.unlink(txn, other.name, [child["id"]], check=False)
                            else:
                                self._touch(txn, other.name, child["id"])
                                self.tables[other.name][child["id"]] = {**child, f.name: None}
                elif f.type == "many2many":
                    for child in list(self.tables[other.name].values()):
                        cur = child.get(f.name) or ()
                        if any(i in gone for i in cur):
                            self._touch(txn, other.name, child["id"])
                            self.tables[other.name][child["id"]] = {
                                **child, f.name: tuple(i for i in cur if i not in gone)
                            }
        if model in manual.MODELS:
            manual.sync(self)
        return True

    # ------------------------------------------------------------------- automations

    def _automations(self, txn: Txn, md: ModelDef, triggers: set[str]) -> list[dict[str, Any]]:
        if self.version < 17 or md.name in ("base.automation", "ir.actions.server", "mail.message"):
            return []
        table = self.tables.get("base.automation")
        if not table:
            return []
        mid = self._model_ids.get(md.name)
        view = View(self, txn)
        return sorted(
            (a for a in view.iter(self.models["base.automation"])
             if a.get("active") and a.get("model_id") == mid and a.get("trigger") in triggers),
            key=lambda a: a["id"],
        )

    def _run_automations(self, txn: Txn, md: ModelDef, recs: list[dict[str, Any]]) -> None:
        automations = self._automations(txn, md, CREATE_TRIGGERS)
        if automations:
            self._fire(txn, md, automations, recs, None, None)

    def _fire(self, txn: Txn, md: ModelDef, automations: list[dict[str, Any]], recs: list[dict[str, Any]],
              pre: dict[int, set[int]] | None, old_values: dict[int, dict[str, Any]] | None) -> None:
        view = View(self, txn)
        fields_by_id = self.tables["ir.model.fields"]
        for auto in automations:
            candidates = recs if pre is None else [r for r in recs if r["id"] in pre.get(auto["id"], set())]
            post_domain = dom.literal_domain(auto.get("filter_domain"), txn.uid)
            if post_domain and candidates:
                pred = dom.compile_domain(view, md, post_domain, active_test=False)
                candidates = [r for r in candidates if pred(r)]
            watched = [fields_by_id[i]["name"] for i in auto.get("trigger_field_ids") or () if i in fields_by_id]
            for rec in candidates:
                key = (auto["id"], md.name, rec["id"])
                if key in txn.done:
                    continue
                if watched and old_values is not None:
                    old = old_values.get(rec["id"], {})
                    if not any(name in old and old.get(name) != rec.get(name) for name in watched):
                        continue
                txn.done.add(key)
                actions = sorted(
                    (a for a in view.iter(self.models["ir.actions.server"]) if a.get("base_automation_id") == auto["id"]),
                    key=lambda a: (a.get("sequence") or 0, a["id"]),
                )
                for action in actions:
                    if action.get("state") == "webhook":
                        txn.deliveries.append(self._webhook(txn, auto, action, md, rec))

    def _webhook(self, txn: Txn, auto: dict[str, Any], action: dict[str, Any], md: ModelDef,
                 rec: dict[str, Any]) -> Delivery:
        """``ir.actions.server._run_action_webhook``: the body is built now, inside the transaction."""
        url = action.get("webhook_url")
        if not url:
            raise errors.user_error(
                "I'll be happy to send a webhook for you, but you really need to give me a URL to reach out to..."
            )
        view = View(self, txn)
        vals: dict[str, Any] = {
            "_model": md.name,
            "_id": rec["id"],
            "_action": f"{action.get('name')}(#{action['id']})",
        }
        field_ids = action.get("webhook_field_ids") or ()
        if field_ids:
            names = [self.tables["ir.model.fields"][i]["name"] for i in field_ids if i in self.tables["ir.model.fields"]]
            vals["id"] = rec["id"]
            for name in names:
                f = md.fields.get(name)
                if f is None:
                    continue
                vals[name] = view.render_value(f, view.value(md, rec, name), None, for_webhook=True)
        body = json.dumps(vals, sort_keys=True, default=str).encode("utf-8")
        return Delivery(
            automation_id=auto["id"], automation=auto.get("name") or "", action_id=action["id"],
            action=action.get("name") or "", model=md.name, res_id=rec["id"], url=url, body=body,
            mode="postcommit" if self.version >= 19 else "inline",
        )

    # ------------------------------------------------------------------------ mail

    def message_post(self, txn: Txn, model: str, ids: list[int], kw: dict[str, Any]) -> int:
        md = self.model(model)
        if not md.mail_thread:
            raise errors.attribute_error(f"The method '{model}.message_post' does not exist")
        if len(ids) != 1:
            raise errors.value_error(f"Expected singleton: {model}({', '.join(map(str, ids))}{',' if len(ids) == 1 else ''})")
        view = View(self, txn)
        self.check_access(txn, md, "read")
        rec = self._existing(view, md, ids, txn)[0]
        extra = dict(kw.pop("kwargs", {}) or {})
        bad = sorted(set(extra) & {"model", "res_id", "subtype"})
        if bad:
            raise errors.value_error(f"Those values are not supported when posting or notifying: {', '.join(bad)}")
        message_type = kw.get("message_type") or "notification"
        if message_type == "user_notification":
            raise errors.value_error("Use message_notify to send a notification to an user.")
        subtype_id = kw.get("subtype_id") or False
        if kw.get("subtype_xmlid"):
            subtype_id = self.xmlid_res_id(kw["subtype_xmlid"])
        if not subtype_id:
            subtype_id = self.xmlid_res_id("mail.mt_note")
        body = kw.get("body") or ""
        if self.version >= 17:
            if not (kw.get("body_is_html") and self.is_internal(txn.uid)):
                body = html_escape(body) if isinstance(body, str) else str(body)
        user = self.tables["res.users"][txn.uid]
        author_id = kw.get("author_id") or user.get("partner_id")
        author = self.tables["res.partner"].get(author_id) if author_id else None
        email_from = kw.get("email_from") or (
            f'"{author.get("name")}" <{author.get("email")}>' if author and author.get("email") else False
        )
        msg_md = self.models["mail.message"]
        vals = {k: v for k, v in extra.items() if k in msg_md.fields}
        vals.update({
            "model": model,
            "res_id": rec["id"],
            "body": body,
            "message_type": message_type,
            "subtype_id": subtype_id,
            "author_id": author_id or False,
            "email_from": email_from,
            "subject": kw.get("subject") or False,
            "record_name": view.display(md, rec),
            "date": fmt_datetime(txn.now),
        })
        if kw.get("parent_id"):
            vals["parent_id"] = kw["parent_id"]
        if kw.get("partner_ids"):
            vals["partner_ids"] = [(6, 0, list(kw["partner_ids"]))]
        return self.create(txn, "mail.message", [vals], check=False)[0]

    def activity_schedule(self, txn: Txn, model: str, ids: list[int], kw: dict[str, Any]) -> list[int]:
        md = self.model(model)
        if not md.mail_thread:
            raise errors.attribute_error(f"The method '{model}.activity_schedule' does not exist")
        view = View(self, txn)
        self._existing(view, md, ids, txn)
        extra = dict(kw.pop("act_values", {}) or {})
        type_id = self.xmlid_res_id(kw["act_type_xmlid"]) if kw.get("act_type_xmlid") else \
            self.xmlid_res_id("mail.mail_activity_data_todo")
        out = []
        for rid in ids:
            vals = {
                "res_model_id": self.model_id(model),
                "res_id": rid,
                "activity_type_id": type_id,
                "summary": kw.get("summary") or False,
                "note": kw.get("note") or False,
                "date_deadline": kw.get("date_deadline") or fmt_date(self.clock.today()),
            }
            vals.update(extra)
            vals.setdefault("user_id", txn.uid)
            out.extend(self.create(txn, "mail.activity", [vals]))
        return out

    # --------------------------------------------------------------------- execution

    def execute(self, uid: int, model: str, method: str, call: Callable[[Txn], Any], *,
                su: bool = False, context: dict[str, Any] | None = None) -> Outcome | Locked:
        """Run ``call`` in a fresh transaction and decide commit / hold / rollback."""
        with self.lock:
            txn = self.begin(uid, su=su, context=context)
            try:
                result = call(txn)
            except Locked as locked:
                self.rollback(txn)
                return locked
            except RpcError as exc:
                inline = [d for d in txn.deliveries if d.mode == "inline"]
                self.rollback(txn)
                return Outcome(error=exc, deliveries=inline)
            except Exception as exc:  # a sandbox bug: answer like Odoo's "internal server error"
                traceback.print_exc()
                self.rollback(txn)
                return Outcome(error=errors.RpcError(f"builtins.{type(exc).__name__}", str(exc)))
            if txn.deliveries and txn.deliveries[0].mode == "inline":
                self.hold(txn)
                return Outcome(result=result, deliveries=list(txn.deliveries), txn=txn)
            self._release(txn)
            return Outcome(result=result, deliveries=list(txn.deliveries))
