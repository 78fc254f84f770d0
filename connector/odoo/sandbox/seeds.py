"""Model definitions per version/flavour and the seed data of a fresh sandbox database.

Field names, selections and defaults follow reference/odoo.md §1 (Enterprise ``helpdesk`` 16–19,
OCA ``helpdesk_mgmt``), Odoo's ``base``/``mail``/``base_automation`` models and §3 (webhook server
actions, 17+). Only what a client can observe is modelled; computed fields are computed on read.

Seeded users (``login`` / password; every user also has an API key, ``SandboxOdoo.api_key_for``):

====  ==========  ===============  =============================================
uid   login       name             groups
====  ==========  ===============  =============================================
1     __system__  OdooBot          superuser, inactive (mail gateway, crons)
2     admin       Mitchell Admin   Settings (system) + Helpdesk manager
3     public      Public user      inactive
4     kesu-bot    Kesu Bot         internal user, Helpdesk user
5     portal      Joel Willis      portal
6     agent1      Marc Demo        internal user, Helpdesk user
7     agent2      Beth Evans       internal user, Helpdesk user
====  ==========  ===============  =============================================
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import errors, manual
from .fields import Field, ModelDef

if TYPE_CHECKING:
    from .model import OdooState, Txn, View

BOT_LOGIN = "kesu-bot"

# access letters per group: r(ead) w(rite) c(reate) u(nlink)
ALL = {"system": "rwcu"}
HELPDESK = {"system": "rwcu", "user": "rwc"}
READ_INTERNAL = {"system": "rwcu", "user": "r"}
PUBLIC_READ = {"system": "rwcu", "user": "r", "portal": "r"}
PARTNERS = {"system": "rwcu", "user": "rwc", "portal": "r"}

EE_PRIORITY = [("0", "Low priority"), ("1", "Medium priority"), ("2", "High priority"), ("3", "Urgent")]
OCA_PRIORITY = [("0", "Low"), ("1", "Medium"), ("2", "High"), ("3", "Very High")]


# ------------------------------------------------------------------------------ helpers


def F(name: str, type_: str, string: str, **kw: Any) -> Field:  # noqa: N802 - reads like a column spec
    return Field(name, type_, string, **kw)


def m2o(name: str, relation: str, string: str, **kw: Any) -> Field:
    return Field(name, "many2one", string, relation=relation, **kw)


def m2m(name: str, relation: str, string: str, **kw: Any) -> Field:
    return Field(name, "many2many", string, relation=relation, **kw)


def o2m(name: str, relation: str, inverse: str, string: str, **kw: Any) -> Field:
    def compute(view: View, rec: dict[str, Any]) -> tuple[int, ...]:
        comodel = view.model(relation)
        return tuple(sorted(r["id"] for r in view.iter(comodel) if r.get(inverse) == rec["id"]))

    return Field(name, "one2many", string, relation=relation, inverse_name=inverse, compute=compute, **kw)


def computed(name: str, type_: str, string: str, fn: Any, **kw: Any) -> Field:
    return Field(name, type_, string, store=False, compute=fn, readonly=True, **kw)


def _related_on(model: str, fname: str, target: str) -> Any:
    def compute(view: View, rec: dict[str, Any]) -> Any:
        rid = rec.get(fname)
        if rid is None:
            return None
        rel = view.state.models[model].fields[fname].relation or ""
        other = view.get(rel, rid)
        return other.get(target) if other else None

    return compute


def _default_company(state: OdooState, txn: Txn) -> int:
    return 1


def _default_user(state: OdooState, txn: Txn) -> int:
    return txn.uid


def _today(state: OdooState, txn: Txn) -> Any:
    return state.clock.today()


# ------------------------------------------------------------------------- base models


def _partner_display(view: View, rec: dict[str, Any]) -> str:
    name = rec.get("name") or ""
    parent = view.get("res.partner", rec["parent_id"]) if rec.get("parent_id") else None
    if parent is not None and not rec.get("is_company"):
        return f"{parent.get('name') or ''}, {name}"
    return name


def base_models(state: OdooState) -> None:
    state.register(ModelDef("res.company", "Companies", order="sequence, name", acl=PUBLIC_READ).add(
        F("name", "char", "Company Name", required=True),
        m2o("partner_id", "res.partner", "Partner"),
        F("email", "char", "Email"),
        F("sequence", "integer", "Sequence", default=10),
        F("active", "boolean", "Active", default=True),
    ))
    state.register(ModelDef(
        "res.partner", "Contact", order="complete_name ASC, id DESC", acl=PARTNERS, display=_partner_display,
    ).add(
        F("name", "char", "Name"),
        computed("complete_name", "char", "Complete Name", lambda view, rec: _partner_display(view, rec)),
        F("email", "char", "Email"),
        F("phone", "char", "Phone"),
        F("is_company", "boolean", "Is a Company", default=False),
        m2o("parent_id", "res.partner", "Related Company"),
        computed("commercial_partner_id", "many2one", "Commercial Entity",
                 lambda view, rec: rec.get("parent_id") if rec.get("parent_id") and not rec.get("is_company")
                 else rec["id"], relation="res.partner"),
        o2m("child_ids", "res.partner", "parent_id", "Contact"),
        m2o("company_id", "res.company", "Company"),
        F("lang", "char", "Language", default="en_US"),
        F("tz", "char", "Timezone"),
        F("active", "boolean", "Active", default=True),
    ))
    # complete_name is stored in Odoo (it is the _order); keep ordering working on the computed value
    state.models["res.partner"].order = "name ASC, id DESC"
    state.register(ModelDef("res.users", "User", order="name, login", acl=PUBLIC_READ).add(
        F("name", "char", "Name", required=True),
        F("login", "char", "Login", required=True),
        m2o("partner_id", "res.partner", "Related Partner", required=True),
        F("email", "char", "Email"),
        F("active", "boolean", "Active", default=True),
        F("share", "boolean", "Share User", default=False,
          help="External user with limited access, created only for the purpose of sharing data."),
        m2o("company_id", "res.company", "Company", default=_default_company),
        F("tz", "char", "Timezone", default="Europe/Brussels"),
        F("lang", "char", "Language", default="en_US"),
    ))
    state.register(ModelDef("ir.model", "Models", order="model", rec_name="name", acl=READ_INTERNAL).add(
        F("name", "char", "Model Description", required=True),
        F("model", "char", "Model", required=True),
        F("info", "text", "Information"),
        F("state", "selection", "Type", selection=[("manual", "Custom Object"), ("base", "Base Object")],
          default="manual"),
        F("transient", "boolean", "Transient Model"),
        F("modules", "char", "In Apps", readonly=True),
        F("is_mail_thread", "boolean", "Has Mail Thread"),
        F("is_mail_activity", "boolean", "Has Mail Activity"),
        o2m("field_id", "ir.model.fields", "model_id", "Fields"),
    ))
    state.register(ModelDef("ir.model.fields", "Fields", order="name", rec_name="field_description",
                            acl=READ_INTERNAL).add(
        F("name", "char", "Field Name", required=True),
        F("model", "char", "Model Name", required=True),
        m2o("model_id", "ir.model", "Model", required=True, ondelete="cascade"),
        F("field_description", "char", "Field Label", required=True),
        F("help", "text", "Field Help"),
        F("ttype", "selection", "Field Type", required=True, selection=[(t, t) for t in (
            "binary", "boolean", "char", "date", "datetime", "float", "html", "integer", "json", "many2many",
            "many2one", "many2one_reference", "monetary", "one2many", "properties", "properties_definition",
            "reference", "selection", "text")]),
        F("relation", "char", "Related Model"),
        F("relation_field", "char", "Relation Field"),
        F("required", "boolean", "Required"),
        F("readonly", "boolean", "Readonly"),
        F("store", "boolean", "Stored", default=True),
        F("state", "selection", "Type", selection=[("manual", "Custom Field"), ("base", "Base Field")],
          default="manual"),
        F("modules", "char", "In Apps", readonly=True),
    ))
    state.register(ModelDef("ir.model.data", "Model Data", order="module, model, name",
                            rec_name="complete_name", acl=READ_INTERNAL).add(
        F("name", "char", "External Identifier", required=True),
        computed("complete_name", "char", "Complete ID",
                 lambda view, rec: f"{rec.get('module') or ''}.{rec.get('name') or ''}"),
        F("model", "char", "Model Name", required=True),
        F("module", "char", "Module", required=True, default=""),
        F("res_id", "integer", "Record ID"),
        F("noupdate", "boolean", "Non Updatable", default=False),
    ))


# ------------------------------------------------------------------------- mail models


def _message_types(version: int) -> list[tuple[str, str]]:
    out = [("email", "Incoming Email"), ("comment", "Comment"), ("notification", "System notification")]
    if version >= 17:
        out.append(("auto_comment", "Automated Targeted Notification"))
    if version >= 18:
        out.append(("email_outgoing", "Outgoing Email"))
    out.append(("user_notification", "User Specific Notification"))
    return out


def _activity_state(view: View, rec: dict[str, Any]) -> str | None:
    deadline = rec.get("date_deadline")
    if deadline is None:
        return None
    today = view.state.clock.today()
    if deadline < today:
        return "overdue"
    if deadline == today:
        return "today"
    return "planned"


def _activity_res_name(view: View, rec: dict[str, Any]) -> str | None:
    model = rec.get("res_model")
    if not model or model not in view.state.models:
        return None
    target = view.get(model, rec.get("res_id") or 0)
    return view.display(view.model(model), target) if target else None


def _activity_on_create(state: OdooState, txn: Txn, rec: dict[str, Any], vals: dict[str, Any]) -> None:
    from .model import View  # noqa: PLC0415

    view = View(state, txn)
    model_rec = view.get("ir.model", rec.get("res_model_id") or 0)
    if model_rec is None:
        raise errors.validation_error(state._not_null_message(state.models["mail.activity"],
                                                               state.models["mail.activity"].fields["res_model_id"]))
    model = model_rec["model"]
    rec["res_model"] = model
    md = state.model(model)
    if not rec.get("res_id") or view.get(model, rec["res_id"]) is None:
        raise errors.missing_error(model, [rec.get("res_id") or 0], txn.uid)
    state.check_access(txn, md, "read")
    if rec.get("activity_type_id") is None:
        rec["activity_type_id"] = state.xmlid_res_id("mail.mail_activity_data_todo")


def mail_models(state: OdooState) -> None:
    state.register(ModelDef("mail.message.subtype", "Message subtypes", order="sequence, id", module="mail",
                            acl=PUBLIC_READ).add(
        F("name", "char", "Message Type", required=True),
        F("description", "text", "Description"),
        F("internal", "boolean", "Internal Only"),
        F("res_model", "char", "Model"),
        F("default", "boolean", "Default", default=True),
        F("sequence", "integer", "Sequence", default=1),
        F("hidden", "boolean", "Hidden"),
    ))
    state.register(ModelDef("mail.activity.type", "Activity Type", order="sequence, id", module="mail",
                            acl=PUBLIC_READ).add(
        F("name", "char", "Name", required=True),
        F("summary", "char", "Default Summary"),
        F("sequence", "integer", "Sequence", default=10),
        F("active", "boolean", "Active", default=True),
        F("delay_count", "integer", "Schedule"),
        F("category", "selection", "Action", selection=[("default", "None"), ("upload_file", "Upload Document"),
                                                         ("phonecall", "Phonecall"), ("meeting", "Meeting")],
          default="default"),
        F("res_model", "char", "Model"),
        F("icon", "char", "Icon"),
    ))
    state.register(ModelDef("mail.message", "Message", order="id desc", rec_name="record_name", module="mail",
                            acl={"system": "rwcu", "user": "rc"}).add(
        F("subject", "char", "Subject"),
        F("date", "datetime", "Date", default=lambda st, txn: txn.now),
        F("body", "html", "Contents", default=""),
        F("model", "char", "Related Document Model"),
        F("res_id", "integer", "Related Document ID"),
        F("record_name", "char", "Message Record Name"),
        F("message_type", "selection", "Type", required=True, selection=_message_types(state.version),
          default="comment"),
        m2o("subtype_id", "mail.message.subtype", "Subtype"),
        m2o("author_id", "res.partner", "Author"),
        F("email_from", "char", "From"),
        m2o("parent_id", "mail.message", "Parent Message"),
        m2m("partner_ids", "res.partner", "Recipients"),
        F("is_internal", "boolean", "Employee Only",
          help="Hide to public / portal users, independently from subtype configuration."),
    ))
    state.register(ModelDef("mail.activity", "Activity", order="date_deadline ASC, id ASC", rec_name="summary",
                            module="mail", acl={"system": "rwcu", "user": "rwcu"},
                            on_create=_activity_on_create).add(
        m2o("res_model_id", "ir.model", "Document Model", required=True, ondelete="cascade"),
        F("res_model", "char", "Related Document Model", readonly=True),
        F("res_id", "integer", "Related Document ID", required=True),
        computed("res_name", "char", "Document Name", _activity_res_name),
        m2o("activity_type_id", "mail.activity.type", "Activity Type"),
        F("summary", "char", "Summary"),
        F("note", "html", "Note"),
        F("date_deadline", "date", "Due Date", required=True, default=_today),
        m2o("user_id", "res.users", "Assigned to", required=True, default=_default_user),
        computed("state", "selection", "State", _activity_state,
                 selection=[("overdue", "Overdue"), ("today", "Today"), ("planned", "Planned")]),
        F("automated", "boolean", "Automated activity"),
    ))


def thread_fields(model: str) -> list[Field]:
    """``mail.thread`` / ``mail.activity.mixin`` one2many fields of a document model."""

    def messages(view: View, rec: dict[str, Any]) -> tuple[int, ...]:
        md = view.model("mail.message")
        return tuple(sorted((m["id"] for m in view.iter(md) if m.get("model") == model and m.get("res_id") == rec["id"]),
                            reverse=True))

    def activities(view: View, rec: dict[str, Any]) -> tuple[int, ...]:
        md = view.model("mail.activity")
        return tuple(sorted(a["id"] for a in view.iter(md) if a.get("res_model") == model and a.get("res_id") == rec["id"]))

    return [
        Field("message_ids", "one2many", "Messages", relation="mail.message", inverse_name="res_id",
              compute=messages, store=False),
        Field("activity_ids", "one2many", "Activities", relation="mail.activity", inverse_name="res_id",
              compute=activities, store=False),
    ]


# -------------------------------------------------------------------- automation models


def _server_action_states(version: int) -> list[tuple[str, str]]:
    if version == 16:
        return [("code", "Execute Python Code"), ("object_create", "Create a new Record"),
                ("object_write", "Update the Record"), ("multi", "Execute several actions"),
                ("email", "Send Email"), ("followers", "Add Followers"), ("next_activity", "Create Next Activity")]
    out = [("object_write", "Update Record"), ("object_create", "Create Record")]
    if version >= 18:
        out.append(("object_copy", "Duplicate Record"))
    out += [("code", "Execute Code"), ("webhook", "Send Webhook Notification"), ("multi", "Execute Existing Actions"),
            ("mail_post", "Send Email"), ("followers", "Add Followers"), ("remove_followers", "Remove Followers"),
            ("next_activity", "Create Activity")]
    return out


def _triggers(version: int) -> list[tuple[str, str]]:
    if version == 16:
        return [("on_create", "On Creation"), ("on_write", "On Update"), ("on_create_or_write", "On Creation & Update"),
                ("on_unlink", "On Deletion"), ("on_change", "Based on Form Modification"),
                ("on_time", "Based on Timed Condition")]
    return [("on_stage_set", "Stage is set to"), ("on_user_set", "User is set"), ("on_tag_set", "Tag is added"),
            ("on_state_set", "State is set to"), ("on_priority_set", "Priority is set to"),
            ("on_archive", "On archived"), ("on_unarchive", "On unarchived"), ("on_create_or_write", "On save"),
            ("on_create", "On creation"), ("on_write", "On update"), ("on_unlink", "On deletion"),
            ("on_change", "On UI change"), ("on_time", "Based on date field"), ("on_time_created", "After creation"),
            ("on_time_updated", "After last update"), ("on_message_received", "On incoming message"),
            ("on_message_sent", "On outgoing message"), ("on_webhook", "On webhook")]


_SET_TRIGGER_FIELDS = {
    "on_stage_set": ("stage_id",), "on_tag_set": ("tag_ids",), "on_priority_set": ("priority",),
    "on_state_set": ("state",), "on_user_set": ("user_id", "user_ids"), "on_archive": ("active",),
    "on_unarchive": ("active",), "on_time_created": ("create_date",), "on_time_updated": ("write_date",),
}


def _model_name_of(view: View, rec: dict[str, Any]) -> str | None:
    m = view.get("ir.model", rec.get("model_id") or 0)
    return m["model"] if m else None


def _automation_on_create(state: OdooState, txn: Txn, rec: dict[str, Any], vals: dict[str, Any]) -> None:
    if state.version >= 17:
        rec["webhook_uuid"] = rec.get("webhook_uuid") or str(uuid.uuid4())
        if "trigger_field_ids" not in vals and rec.get("trigger") in _SET_TRIGGER_FIELDS:
            model = state.tables["ir.model"].get(rec.get("model_id") or 0)
            names = _SET_TRIGGER_FIELDS[rec["trigger"]]
            ids = [f["id"] for f in state.tables["ir.model.fields"].values()
                   if model and f["model"] == model["model"] and f["name"] in names][:1]
            rec["trigger_field_ids"] = tuple(ids)


def _automation_constrains(state: OdooState, txn: Txn, rec: dict[str, Any]) -> None:
    if state.version < 17:
        return
    failing = [a.get("name") or "" for a in state.tables["ir.actions.server"].values()
               if a.get("base_automation_id") == rec["id"] and a.get("model_id") != rec.get("model_id")]
    if failing:
        raise errors.validation_error(
            f"Target model of actions {', '.join(failing)} are different from rule model."
        )


def _action_constrains(state: OdooState, txn: Txn, rec: dict[str, Any]) -> None:
    auto = state.tables["base.automation"].get(rec.get("base_automation_id") or 0)
    if auto is not None and auto.get("model_id") != rec.get("model_id"):
        raise errors.validation_error(
            f"Target model of actions {rec.get('name') or ''} are different from rule model."
        )


def _sample_payload(view: View, rec: dict[str, Any]) -> str | None:
    if rec.get("state") != "webhook":
        return None
    model = _model_name_of(view, rec) or ""
    sample: dict[str, Any] = {"_id": 1, "_model": model, "_name": "Sample record"}
    fields = view.state.tables["ir.model.fields"]
    for fid in rec.get("webhook_field_ids") or ():
        f = fields.get(fid)
        if f:
            sample[f["name"]] = f"<{f['ttype']}>"
    return json.dumps(sample, sort_keys=True, indent=4)


def automation_models(state: OdooState) -> None:
    v = state.version
    action = ModelDef("ir.actions.server", "Server Actions", order="sequence,name", acl=READ_INTERNAL,
                      constrains=_action_constrains if v >= 17 else None).add(
        F("name", "char", "Action Name", required=True),
        F("type", "char", "Action Type", default="ir.actions.server", readonly=True),
        m2o("model_id", "ir.model", "Model", required=True, ondelete="cascade"),
        computed("model_name", "char", "Model Name", _model_name_of),
        F("state", "selection", "Type", required=True, selection=_server_action_states(v), default="object_write"),
        F("code", "text", "Python Code"),
        F("sequence", "integer", "Sequence", default=5),
        F("usage", "selection", "Usage", selection=[("ir_actions_server", "Server Action"), ("ir_cron", "Scheduled Action"),
                                                     ("base_automation", "Automation Rule")],
          default="ir_actions_server", required=True),
        m2o("binding_model_id", "ir.model", "Binding Model"),
    )
    if v >= 17:
        action.add(
            F("webhook_url", "char", "Webhook URL", help="URL to send the POST request to."),
            m2m("webhook_field_ids", "ir.model.fields", "Webhook Fields",
                help="Fields to send in the POST request. The id and model of the record are always sent as "
                     "'_id' and '_model'. The name of the action that triggered the webhook is always sent as '_name'."),
            computed("webhook_sample_payload", "text", "Sample Payload", _sample_payload),
            m2o("base_automation_id", "base.automation", "Automation Rule", ondelete="cascade"),
        )
    state.register(action)

    auto = ModelDef("base.automation", "Automation Rule" if v >= 17 else "Automated Action", order="id",
                    module="base_automation", acl=ALL, on_create=_automation_on_create,
                    constrains=_automation_constrains)
    auto.add(
        F("name", "char", "Automation Rule Name" if v >= 17 else "Action Name", required=True),
        m2o("model_id", "ir.model", "Model", required=True, ondelete="cascade"),
        computed("model_name", "char", "Model Name", _model_name_of),
        F("active", "boolean", "Active", default=True),
        F("trigger", "selection", "Trigger", required=True, selection=_triggers(v)),
        m2m("trigger_field_ids", "ir.model.fields", "Trigger Fields"),
        F("filter_pre_domain", "char", "Before Update Domain"),
        F("filter_domain", "char", "Apply on"),
        m2o("trg_date_id", "ir.model.fields", "Trigger Date"),
        F("trg_date_range", "integer", "Delay after trigger date"),
        F("trg_date_range_type", "selection", "Delay type",
          selection=[("minutes", "Minutes"), ("hour", "Hours"), ("day", "Days"), ("month", "Months")]),
        F("last_run", "datetime", "Last Run", readonly=True),
        m2m("on_change_field_ids", "ir.model.fields", "On Change Fields Trigger"),
    )
    if v >= 17:
        auto.add(
            F("description", "html", "Description"),
            o2m("action_server_ids", "ir.actions.server", "base_automation_id", "Actions"),
            computed("url", "char", "URL", lambda view, rec: "" if rec.get("trigger") != "on_webhook"
                     else f"{view.state.base_url}/web/hook/{rec.get('webhook_uuid')}"),
            F("webhook_uuid", "char", "Webhook UUID", readonly=True),
            F("record_getter", "char", "Record Getter",
              default="model.env[payload.get('_model')].browse(int(payload.get('_id')))"),
            F("log_webhook_calls", "boolean", "Log Calls"),
        )
    else:
        # 16: base.automation _inherits ir.actions.server (delegate=True); state/code are delegated fields
        auto.add(
            m2o("action_server_id", "ir.actions.server", "Server Actions", ondelete="cascade"),
            F("state", "selection", "Action To Do", required=True, selection=_server_action_states(v),
              default="code", owner="ir.actions.server"),
            F("code", "text", "Python Code"),
        )
    state.register(auto)


# -------------------------------------------------------------------------- helpdesk EE


def _first(view: View, model: str, pred: Any = None) -> int | None:
    md = view.model(model)
    from . import domain as dom  # noqa: PLC0415

    recs = [r for r in view.iter(md) if (r.get("active", True)) and (pred is None or pred(r))]
    recs = dom.sort_records(view, md, recs, None)
    return recs[0]["id"] if recs else None


def _next_seq(state: OdooState, code: str) -> int:
    state.sequences[code] = state.sequences.get(code, 0) + 1
    return state.sequences[code]


def _ee_ticket_on_create(state: OdooState, txn: Txn, rec: dict[str, Any], vals: dict[str, Any]) -> None:
    from .model import View  # noqa: PLC0415

    view = View(state, txn)
    if rec.get("team_id") is None and "team_id" not in vals:
        rec["team_id"] = _first(view, "helpdesk.team")
    if rec.get("stage_id") is None:
        team = rec.get("team_id")
        rec["stage_id"] = _first(view, "helpdesk.stage", lambda s: team in (s.get("team_ids") or ())) \
            or _first(view, "helpdesk.stage")
    rec["ticket_ref"] = rec.get("ticket_ref") or str(_next_seq(state, "helpdesk.ticket"))
    _ee_partner_fields(view, rec, vals)
    rec["date_last_stage_update"] = txn.now
    stage = view.get("helpdesk.stage", rec.get("stage_id") or 0)
    if stage and stage.get("fold"):
        rec["close_date"] = txn.now
    if rec.get("user_id"):
        rec["assign_date"] = txn.now


def _ee_partner_fields(view: View, rec: dict[str, Any], vals: dict[str, Any]) -> None:
    partner = view.get("res.partner", rec.get("partner_id") or 0)
    if partner is None:
        return
    if "partner_email" not in vals:
        rec["partner_email"] = partner.get("email")
    if "partner_name" not in vals:
        rec["partner_name"] = partner.get("name")
    if "partner_phone" not in vals:
        rec["partner_phone"] = partner.get("phone")


def _ee_ticket_on_write(state: OdooState, txn: Txn, old: dict[str, Any], new: dict[str, Any],
                        vals: dict[str, Any]) -> None:
    from .model import View  # noqa: PLC0415

    view = View(state, txn)
    if new.get("stage_id") != old.get("stage_id"):
        new["date_last_stage_update"] = txn.now
        stage = view.get("helpdesk.stage", new.get("stage_id") or 0)
        old_stage = view.get("helpdesk.stage", old.get("stage_id") or 0)
        if stage and stage.get("fold"):
            if not (old_stage and old_stage.get("fold")):
                new["close_date"] = txn.now
        else:
            new["close_date"] = None
    if new.get("user_id") != old.get("user_id"):
        new["assign_date"] = txn.now if new.get("user_id") else None
    if new.get("partner_id") != old.get("partner_id"):
        _ee_partner_fields(view, new, vals)


def _ee_ticket_display(view: View, rec: dict[str, Any]) -> str:
    return f"{rec.get('name') or ''} (#{rec.get('ticket_ref') or rec['id']})"


def enterprise_models(state: OdooState) -> None:
    v = state.version
    mod = "helpdesk"
    assign = [("randomly", "Each user is assigned an equal number of tickets"),
              ("balanced", "Each user has an equal number of open tickets")]
    if v >= 19:
        assign.append(("tags", "Dispatch tickets based on tags"))
    state.register(ModelDef("helpdesk.team", "Helpdesk Team", order="sequence,name", module=mod, acl=HELPDESK,
                            mail_thread=True).add(
        F("name", "char", "Helpdesk Team", required=True),
        F("description", "html", "About Team"),
        F("sequence", "integer", "Sequence", default=10),
        F("active", "boolean", "Active", default=True),
        m2o("company_id", "res.company", "Company", default=_default_company),
        m2m("member_ids", "res.users", "Team Members"),
        F("auto_assignment", "boolean", "Automatic Assignment"),
        F("assign_method", "selection", "Assignment Method", selection=assign, default="randomly"),
        F("use_sla", "boolean", "SLA Policies", default=True),
        F("use_rating", "boolean", "Customer Ratings"),
        F("allow_portal_ticket_closing", "boolean", "Closure by Customers"),
        F("auto_close_ticket", "boolean", "Automatic Closing"),
        F("auto_close_day", "integer", "Inactive Period(days)", default=7),
        F("privacy_visibility", "selection", "Visibility",
          selection=[("invited_internal", "Invited internal users"), ("internal", "All internal users"),
                     ("portal", "Invited portal users and all internal users")], default="portal"),
        computed("stage_ids", "many2many", "Stages",
                 lambda view, rec: tuple(sorted(s["id"] for s in view.iter(view.model("helpdesk.stage"))
                                                if rec["id"] in (s.get("team_ids") or ()))), relation="helpdesk.stage"),
        F("ticket_properties", "json", "Ticket Properties"),
    ))
    state.register(ModelDef("helpdesk.stage", "Helpdesk Stage", order="sequence, id", module=mod, acl=HELPDESK).add(
        F("name", "char", "Stage Name", required=True),
        F("description", "text", "Description"),
        F("sequence", "integer", "Sequence", default=10),
        F("active", "boolean", "Active", default=True),
        F("fold", "boolean", "Folded in Kanban",
          help="Tickets in a folded stage are considered as closed."),
        m2m("team_ids", "helpdesk.team", "Helpdesk Teams"),
        F("legend_blocked", "char", "Red Kanban Label", default="Blocked"),
        F("legend_done", "char", "Green Kanban Label", default="Ready"),
        F("legend_normal", "char", "Grey Kanban Label", default="In Progress"),
    ))
    state.register(ModelDef("helpdesk.tag", "Helpdesk Tags", order="name", module=mod, acl=HELPDESK).add(
        F("name", "char", "Tag Name", required=True),
        F("color", "integer", "Color", default=0),
    ))
    if v <= 17:
        state.register(ModelDef("helpdesk.ticket.type", "Helpdesk Ticket Type", order="sequence, name", module=mod,
                                acl=HELPDESK).add(
            F("name", "char", "Type", required=True),
            F("sequence", "integer", "Sequence", default=10),
        ))
    if v >= 19:
        state.register(ModelDef("helpdesk.tag.assignment", "Helpdesk Tag Assignment", module=mod, acl=HELPDESK,
                                rec_name=None).add(
            m2o("team_id", "helpdesk.team", "Team", required=True),
            m2o("tag_id", "helpdesk.tag", "Tag", required=True),
            m2m("user_ids", "res.users", "Users"),
        ))
    ticket = ModelDef("helpdesk.ticket", "Helpdesk Ticket", order="priority desc, id desc", module=mod,
                      acl=HELPDESK, mail_thread=True, display=_ee_ticket_display,
                      on_create=_ee_ticket_on_create, on_write=_ee_ticket_on_write)
    ticket.add(
        F("name", "char", "Subject", required=True),
        F("description", "html", "Description"),
        F("active", "boolean", "Active", default=True),
        m2o("team_id", "helpdesk.team", "Helpdesk Team"),
        m2o("user_id", "res.users", "Assigned to"),
        m2o("stage_id", "helpdesk.stage", "Stage"),
        m2m("tag_ids", "helpdesk.tag", "Tags"),
        m2o("partner_id", "res.partner", "Customer"),
        F("partner_name", "char", "Customer Name"),
        F("partner_email", "char", "Customer Email"),
        F("partner_phone", "char", "Customer Phone"),
        computed("commercial_partner_id", "many2one", "Customer Company", _commercial_partner, relation="res.partner"),
        m2o("company_id", "res.company", "Company", default=_default_company),
        F("ticket_ref", "char", "Ticket IDs Sequence", readonly=True),
        F("priority", "selection", "Priority", selection=EE_PRIORITY, default="0"),
        F("kanban_state", "selection", "Kanban State",
          selection=[("normal", "Grey"), ("done", "Green"), ("blocked", "Red")], default="normal"),
        F("properties", "properties", "Properties"),
        F("email_cc", "char", "Email cc"),
        F("close_date", "datetime", "Close date"),
        F("closed_by_partner", "boolean", "Closed by Partner"),
        F("date_last_stage_update", "datetime", "Last Stage Update"),
        F("assign_date", "datetime", "First assignment date"),
        F("sla_deadline", "datetime", "SLA Deadline",
          help="The closest deadline of all SLA applied on this ticket"),
        F("sla_reached_late", "boolean", "Has SLA reached late"),
        F("sla_reached", "boolean", "Has SLA reached"),
        F("sla_fail", "boolean", "Failed SLA Policy"),
        F("sla_success", "boolean", "Success SLA Policy"),
        *thread_fields("helpdesk.ticket"),
    )
    if v >= 17:
        ticket.add(computed("fold", "boolean", "Folded in Kanban", _related_on("helpdesk.ticket", "stage_id", "fold"),
                            related="stage_id.fold"))
    if v <= 17:
        ticket.add(m2o("ticket_type_id", "helpdesk.ticket.type", "Type"))
    state.register(ticket)


def _commercial_partner(view: View, rec: dict[str, Any]) -> int | None:
    partner = view.get("res.partner", rec.get("partner_id") or 0)
    if partner is None:
        return None
    return partner.get("parent_id") if partner.get("parent_id") and not partner.get("is_company") else partner["id"]


# ------------------------------------------------------------------------- helpdesk OCA


def _oca_ticket_on_create(state: OdooState, txn: Txn, rec: dict[str, Any], vals: dict[str, Any]) -> None:
    from .model import View  # noqa: PLC0415

    view = View(state, txn)
    if not rec.get("number"):
        rec["number"] = f"HT{_next_seq(state, 'helpdesk.ticket.sequence'):05d}"
    if rec.get("stage_id") is None:
        rec["stage_id"] = _first(view, "helpdesk.ticket.stage")
    rec["last_stage_update"] = txn.now
    stage = view.get("helpdesk.ticket.stage", rec.get("stage_id") or 0)
    if stage and stage.get("closed"):
        rec["closed_date"] = txn.now
    if rec.get("user_id"):
        rec["assigned_date"] = txn.now


def _oca_ticket_on_write(state: OdooState, txn: Txn, old: dict[str, Any], new: dict[str, Any],
                         vals: dict[str, Any]) -> None:
    from .model import View  # noqa: PLC0415

    view = View(state, txn)
    if new.get("stage_id") != old.get("stage_id"):
        new["last_stage_update"] = txn.now
        stage = view.get("helpdesk.ticket.stage", new.get("stage_id") or 0)
        if stage and stage.get("closed"):
            new["closed_date"] = txn.now
    if new.get("user_id") != old.get("user_id") and new.get("user_id"):
        new["assigned_date"] = txn.now


def _oca_ticket_display(view: View, rec: dict[str, Any]) -> str:
    return f"{rec.get('number') or ''} - {rec.get('name') or ''}"


def oca_models(state: OdooState) -> None:
    mod = "helpdesk_mgmt"
    state.register(ModelDef("helpdesk.ticket.team", "Helpdesk Ticket Team", order="name", module=mod,
                            acl=HELPDESK, mail_thread=True).add(
        F("name", "char", "Name", required=True),
        F("description", "html", "Description"),
        F("active", "boolean", "Active", default=True),
        m2m("user_ids", "res.users", "Members"),
        m2o("user_id", "res.users", "Team Leader"),
        m2o("company_id", "res.company", "Company", default=_default_company),
        F("color", "integer", "Color Index", default=0),
        F("show_in_portal", "boolean", "Show in portal form", default=True),
    ))
    state.register(ModelDef("helpdesk.ticket.stage", "Helpdesk Ticket Stage", order="sequence, id", module=mod,
                            acl=HELPDESK).add(
        F("name", "char", "Stage Name", required=True),
        F("description", "html", "Description"),
        F("sequence", "integer", "Sequence", default=1),
        F("active", "boolean", "Active", default=True),
        F("unattended", "boolean", "Unattended"),
        F("closed", "boolean", "Closed"),
        F("close_from_portal", "boolean", "Close from portal"),
        F("fold", "boolean", "Folded in Kanban",
          help="This stage is folded in the kanban view when there are no records in that stage to display."),
        m2m("team_ids", "helpdesk.ticket.team", "Helpdesk Teams"),
        m2o("company_id", "res.company", "Company"),
    ))
    state.register(ModelDef("helpdesk.ticket.tag", "Helpdesk Ticket Tag", order="name", module=mod,
                            acl=HELPDESK).add(
        F("name", "char", "Name", required=True),
        F("color", "integer", "Color Index"),
        F("active", "boolean", "Active", default=True),
        m2o("company_id", "res.company", "Company"),
    ))
    state.register(ModelDef("helpdesk.ticket.category", "Helpdesk Ticket Category", order="sequence, id", module=mod,
                            acl=HELPDESK).add(
        F("name", "char", "Name", required=True),
        F("sequence", "integer", "Sequence", default=10),
        F("active", "boolean", "Active", default=True),
        m2o("company_id", "res.company", "Company"),
    ))
    state.register(ModelDef("helpdesk.ticket.channel", "Helpdesk Ticket Channel", order="sequence, id", module=mod,
                            acl=HELPDESK).add(
        F("name", "char", "Name", required=True),
        F("sequence", "integer", "Sequence", default=10),
        F("active", "boolean", "Active", default=True),
    ))
    state.register(ModelDef(
        "helpdesk.ticket", "Helpdesk Ticket", order="priority desc, sequence, number desc, id desc", rec_name="number",
        module=mod, acl=HELPDESK, mail_thread=True, display=_oca_ticket_display,
        on_create=_oca_ticket_on_create, on_write=_oca_ticket_on_write,
    ).add(
        F("number", "char", "Ticket number", readonly=True),
        F("name", "char", "Title", required=True),
        F("description", "html", "Description", required=True),
        m2o("user_id", "res.users", "Assigned user"),
        computed("user_ids", "many2many", "Users", _oca_team_users, relation="res.users", related="team_id.user_ids"),
        m2o("stage_id", "helpdesk.ticket.stage", "Stage"),
        m2o("partner_id", "res.partner", "Contact"),
        computed("commercial_partner_id", "many2one", "Commercial Entity", _commercial_partner, relation="res.partner"),
        F("partner_name", "char", "Partner Name"),
        F("partner_email", "char", "Email"),
        F("last_stage_update", "datetime", "Last Stage Update"),
        F("assigned_date", "datetime", "Assigned Date"),
        F("closed_date", "datetime", "Closed Date"),
        computed("closed", "boolean", "Closed", _related_on("helpdesk.ticket", "stage_id", "closed"),
                 related="stage_id.closed"),
        computed("unattended", "boolean", "Unattended", _related_on("helpdesk.ticket", "stage_id", "unattended"),
                 related="stage_id.unattended"),
        m2m("tag_ids", "helpdesk.ticket.tag", "Tags"),
        m2o("company_id", "res.company", "Company", required=True, default=_default_company),
        m2o("channel_id", "helpdesk.ticket.channel", "Channel",
            help="Channel indicates where the source of a ticket comes from (it could be a phone call, an email...)"),
        m2o("category_id", "helpdesk.ticket.category", "Category"),
        m2o("team_id", "helpdesk.ticket.team", "Team"),
        F("priority", "selection", "Priority", selection=OCA_PRIORITY, default="1"),
        F("color", "integer", "Color Index"),
        F("kanban_state", "selection", "Kanban State",
          selection=[("normal", "Default"), ("done", "Ready for next stage"), ("blocked", "Blocked")],
          default="normal"),
        F("sequence", "integer", "Sequence", default=10),
        F("active", "boolean", "Active", default=True),
        *thread_fields("helpdesk.ticket"),
    ))


def _oca_team_users(view: View, rec: dict[str, Any]) -> tuple[int, ...]:
    team = view.get("helpdesk.ticket.team", rec.get("team_id") or 0)
    return tuple(team.get("user_ids") or ()) if team else ()


# --------------------------------------------------------------------------- seed data


def _insert(state: OdooState, model_name: str, rid: int, xmlid: str | None = None, /, **values: Any) -> dict[str, Any]:
    model = model_name
    md = state.models[model]
    rec: dict[str, Any] = {"id": rid}
    for fname, f in md.fields.items():
        if fname == "id" or f.computed:
            continue
        if f.default is not None and not callable(f.default):
            rec[fname] = f.default
        elif f.type in ("many2many",):
            rec[fname] = ()
        elif f.type == "boolean":
            rec[fname] = False
        else:
            rec[fname] = None
    if "company_id" in md.fields and md.fields["company_id"].default is not None:
        rec["company_id"] = 1
    rec.update(values)
    rec.setdefault("create_uid", 1)
    rec.setdefault("write_uid", 1)
    rec.setdefault("create_date", state._boot)
    rec.setdefault("write_date", state._boot)
    state.tables[model][rid] = rec
    if xmlid:
        _xmlid(state, xmlid, model, rid)
    return rec


def _xmlid(state: OdooState, xmlid: str, model: str, rid: int, noupdate: bool = True) -> None:
    module, name = xmlid.split(".", 1)
    nid = len(state.tables["ir.model.data"]) + 1
    state.tables["ir.model.data"][nid] = {
        "id": nid, "name": name, "module": module, "model": model, "res_id": rid, "noupdate": noupdate,
        "create_uid": 1, "write_uid": 1, "create_date": state._boot, "write_date": state._boot,
    }
    state._xmlids[xmlid] = (model, rid)


def _reset_sequences(state: OdooState) -> None:
    import itertools  # noqa: PLC0415

    for model, table in state.tables.items():
        state._seq[model] = itertools.count(max(table, default=0) + 1)


USERS = [
    # uid, login, name, partner_id, email, groups, active, share
    (1, "__system__", "OdooBot", 2, "odoobot@example.com", {"system", "user"}, False, False),
    (2, "admin", "Mitchell Admin", 3, "admin@yourcompany.example.com", {"system", "user"}, True, False),
    (3, "public", "Public user", 4, None, {"public"}, False, True),
    (4, BOT_LOGIN, "Kesu Bot", 5, "kesu-bot@example.com", {"user"}, True, False),
    (5, "portal", "Joel Willis", 6, "joel.willis@example.com", {"portal"}, True, True),
    (6, "agent1", "Marc Demo", 8, "mark.brown23@example.com", {"user"}, True, False),
    (7, "agent2", "Beth Evans", 9, "beth.evans77@example.com", {"user"}, True, False),
]

PARTNERS_SEED = [
    # id, name, email, parent_id, is_company
    (1, "YourCompany", "info@yourcompany.com", None, True),
    (2, "OdooBot", "odoobot@example.com", None, False),
    (3, "Mitchell Admin", "admin@yourcompany.example.com", None, False),
    (4, "Public user", None, None, False),
    (5, "Kesu Bot", "kesu-bot@example.com", None, False),
    (6, "Joel Willis", "joel.willis@example.com", None, False),
    (7, "Jane Doe", "jane.doe@example.com", 10, False),
    (8, "Marc Demo", "mark.brown23@example.com", None, False),
    (9, "Beth Evans", "beth.evans77@example.com", None, False),
    (10, "Deco Addict", "deco_addict@example.com", None, True),
    (11, "Azure Interior", "azure.Interior24@example.com", None, True),
    (12, "Brandon Freeman", "brandon.freeman55@example.com", 11, False),
]

TAGS = ["Service", "Repair", "Complaint", "Refund", "Shipping"]


def install(state: OdooState) -> None:
    state._boot = datetime(2025, 1, 6, 8, 0, 0)
    base_models(state)
    mail_models(state)
    automation_models(state)
    manual.install(state)
    if state.flavour == "enterprise":
        enterprise_models(state)
    else:
        oca_models(state)
    module_of = {
        "res.": "base", "ir.": "base", "mail.": "mail", "base.automation": "base_automation",
        "helpdesk.": "helpdesk" if state.flavour == "enterprise" else "helpdesk_mgmt",
    }

    def module(model: str) -> str:
        for prefix, mod in module_of.items():
            if model.startswith(prefix):
                return mod
        return "base"

    # ir.model / ir.model.fields (+ their xml ids), so clients can introspect and provision
    fid = 0
    for mid, (name, md) in enumerate(sorted(state.models.items()), start=1):
        md.module = module(name)
        state._model_ids[name] = mid
        _insert(state, "ir.model", mid, None, name=md.description, model=name, state="base",
                modules=md.module, is_mail_thread=md.mail_thread, is_mail_activity=md.mail_thread)
        _xmlid(state, f"{md.module}.model_{name.replace('.', '_')}", "ir.model", mid)
    for name, md in sorted(state.models.items()):
        for fname, f in md.fields.items():
            fid += 1
            _insert(state, "ir.model.fields", fid, None, name=fname, model=name, model_id=state._model_ids[name],
                    field_description=f.string, help=f.help or None, ttype=f.type if f.type != "json" else "json",
                    relation=f.relation, relation_field=f.inverse_name, required=f.required,
                    readonly=f.readonly or f.computed, store=f.store and not f.computed, state="base",
                    modules=md.module)
            _xmlid(state, f"{md.module}.field_{name.replace('.', '_')}__{fname}", "ir.model.fields", fid)

    _insert(state, "res.company", 1, "base.main_company", name="YourCompany", partner_id=1,
            email="info@yourcompany.com")
    for pid, name, email, parent, is_company in PARTNERS_SEED:
        _insert(state, "res.partner", pid, None, name=name, email=email, parent_id=parent, is_company=is_company,
                company_id=None, active=pid not in (2, 4))
    _xmlid(state, "base.main_partner", "res.partner", 1)
    _xmlid(state, "base.partner_root", "res.partner", 2)
    _xmlid(state, "base.partner_admin", "res.partner", 3)
    for uid, login, name, pid, email, groups, active, share in USERS:
        _insert(state, "res.users", uid, None, name=name, login=login, partner_id=pid, email=email,
                active=active, share=share)
        state.groups[uid] = set(groups)
        state.passwords[uid] = "admin" if login == "admin" else login
        if active:
            state.new_api_key(uid)
    _xmlid(state, "base.user_root", "res.users", 1)
    _xmlid(state, "base.user_admin", "res.users", 2)
    _xmlid(state, "base.public_user", "res.users", 3)

    for sid, xml, name, internal, default in [
        (1, "mail.mt_comment", "Discussions", False, True),
        (2, "mail.mt_note", "Note", True, False),
        (3, "mail.mt_activities", "Activities", True, True),
    ]:
        _insert(state, "mail.message.subtype", sid, xml, name=name, internal=internal, default=default, sequence=sid)
    for tid, xml, name, category, icon in [
        (1, "mail.mail_activity_data_email", "Email", "default", "fa-envelope"),
        (2, "mail.mail_activity_data_call", "Call", "phonecall", "fa-phone"),
        (3, "mail.mail_activity_data_meeting", "Meeting", "meeting", "fa-users"),
        (4, "mail.mail_activity_data_todo", "To-Do", "default", "fa-check"),
        (5, "mail.mail_activity_data_upload_document", "Upload Document", "upload_file", "fa-upload"),
    ]:
        _insert(state, "mail.activity.type", tid, xml, name=name, category=category, icon=icon, sequence=tid)

    if state.flavour == "enterprise":
        _insert(state, "helpdesk.team", 1, "helpdesk.helpdesk_team1", name="Customer Care", member_ids=(6, 7),
                sequence=1)
        for sid, xml, name, fold in [(1, "stage_new", "New", False), (2, "stage_in_progress", "In Progress", False),
                                     (3, "stage_on_hold", "On Hold", False), (4, "stage_solved", "Solved", True),
                                     (5, "stage_cancelled", "Cancelled", True)]:
            _insert(state, "helpdesk.stage", sid, f"helpdesk.{xml}", name=name, sequence=sid - 1, fold=fold,
                    team_ids=(1,))
        for i, name in enumerate(TAGS, start=1):
            _insert(state, "helpdesk.tag", i, None, name=name)
        if state.version <= 17:
            for i, name in enumerate(["Question", "Issue"], start=1):
                _insert(state, "helpdesk.ticket.type", i, f"helpdesk.type_{name.lower()}", name=name, sequence=i)
    else:
        _insert(state, "helpdesk.ticket.team", 1, "helpdesk_mgmt.helpdesk_team_1", name="Customer Care",
                user_ids=(6, 7), user_id=2)
        for sid, xml, name, closed, fold, unattended in [
            (1, "new", "New", False, False, True), (2, "in_progress", "In Progress", False, False, False),
            (3, "awaiting", "Awaiting", False, False, False), (4, "done", "Done", True, True, False),
            (5, "cancelled", "Cancelled", True, True, False),
        ]:
            _insert(state, "helpdesk.ticket.stage", sid, f"helpdesk_mgmt.helpdesk_ticket_stage_{xml}", name=name,
                    sequence=sid, closed=closed, fold=fold, unattended=unattended, company_id=None)
        for i, name in enumerate(TAGS, start=1):
            _insert(state, "helpdesk.ticket.tag", i, None, name=name, company_id=None)
        for i, name in enumerate(["Web", "Email", "Phone", "Other"], start=1):
            _insert(state, "helpdesk.ticket.channel", i, f"helpdesk_mgmt.helpdesk_ticket_channel_{name.lower()}",
                    name=name, sequence=i)
        for i, name in enumerate(["Technical", "Billing", "Delivery"], start=1):
            _insert(state, "helpdesk.ticket.category", i, None, name=name, sequence=i, company_id=None)
    _reset_sequences(state)
