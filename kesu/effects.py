"""Typed effects: what a policy wants done to a ticket.

Policies return effects; the host stamps each with the plugin it came from (``source``), merges
them into one :class:`~plugins.plan.Plan` and hands the plan to the connector. Every effect names
the rule that made it (``rule_id``, an ID from POLICY_SPEC.md such as ``R-TIER-1.9.1-A``), so
every change written to a ticket can say why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from kesu.models import Priority

RULE_ID_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Za-z0-9.]+)+$"


class BaseEffect(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str = Field(pattern=RULE_ID_PATTERN, description="Rule from POLICY_SPEC.md")
    reason: str = Field(default="", description="Short why, shown in the note (Simplified Chinese)")
    reason_en: str = Field(default="", description="The same in English, for English notes")
    source: str = Field(default="", description="Plugin name; stamped by the host")


class SetPriority(BaseEffect):
    type: Literal["set_priority"] = "set_priority"
    priority: Priority


class AssignGroup(BaseEffect):
    type: Literal["assign_group"] = "assign_group"
    group: str


class AssignOwner(BaseEffect):
    type: Literal["assign_owner"] = "assign_owner"
    owner: str  # login / email of the agent


class AddTags(BaseEffect):
    type: Literal["add_tags"] = "add_tags"
    tags: tuple[str, ...]


class RemoveTags(BaseEffect):
    type: Literal["remove_tags"] = "remove_tags"
    tags: tuple[str, ...]


class InternalNote(BaseEffect):
    """One line of the internal note; the host joins all lines of an event into one note."""

    type: Literal["internal_note"] = "internal_note"
    text: str  # Simplified Chinese
    text_en: str = ""


class SetField(BaseEffect):
    type: Literal["set_field"] = "set_field"
    name: str
    value: Any


class ScheduleTimer(BaseEffect):
    """Ask the host to send a ``timer_fired`` event for this ticket at ``due_at``.

    A timer is identified by ``key`` within its plugin; scheduling the same key again moves it.
    """

    type: Literal["schedule_timer"] = "schedule_timer"
    key: str
    due_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)


class CancelTimer(BaseEffect):
    type: Literal["cancel_timer"] = "cancel_timer"
    key: str


class FollowUpTodo(BaseEffect):
    """A to-do that shows in the agent's own UI (Zammad reminder, Odoo activity)."""

    type: Literal["follow_up_todo"] = "follow_up_todo"
    key: str
    summary: str
    due_at: datetime
    assignee: str | None = None


class Notify(BaseEffect):
    """Tell people about the ticket; delivered by the notifier hook (default: inside the helpdesk)."""

    type: Literal["notify"] = "notify"
    recipients: tuple[str, ...]
    message: str


class LedgerEntry(BaseEffect):
    """A penalty or reward entry (fixed amount) or proposal (range) for the append-only ledger."""

    type: Literal["ledger_entry"] = "ledger_entry"
    kind: Literal["penalty", "reward", "admonition", "score"]
    subject: str  # person or unit
    amount: float | None = None
    amount_min: float | None = None
    amount_max: float | None = None
    status: Literal["proposed", "confirmed"] = "proposed"
    # Entries with the same key are written once ever (e.g. the yearly admonition: R-PEN-5.6.2-admon).
    dedupe_key: str | None = None


class RecordComplaint(BaseEffect):
    """Update the ticket's complaint record (客户投诉记录表): the facts reports are built from.

    Keys are the columns of ``kesu.store.tables.complaints`` (tier, cause, units, channel, valid,
    ...); anything else goes to its ``extra`` JSON.
    """

    type: Literal["record_complaint"] = "record_complaint"
    values: dict[str, Any]


class SetState(BaseEffect):
    """Remember values in the plugin's own state for this ticket (never written to the helpdesk)."""

    type: Literal["set_state"] = "set_state"
    values: dict[str, Any]


Effect = Annotated[
    Union[
        SetPriority,
        AssignGroup,
        AssignOwner,
        AddTags,
        RemoveTags,
        InternalNote,
        SetField,
        ScheduleTimer,
        CancelTimer,
        FollowUpTodo,
        Notify,
        LedgerEntry,
        RecordComplaint,
        SetState,
    ],
    Field(discriminator="type"),
]

effect_adapter: TypeAdapter[Effect] = TypeAdapter(Effect)
effects_adapter: TypeAdapter[list[Effect]] = TypeAdapter(list[Effect])
