"""The interface every helpdesk connector implements.

The pipeline never speaks a helpdesk's protocol itself. It asks a connector to:

* turn a webhook request into a :class:`WebhookHint` (``parse_webhook``), rejecting bad ones with
  :class:`~connector.errors.WebhookRejected`;
* read a fresh :class:`~kesu.models.Ticket` (``get_ticket``);
* write a :class:`WriteSet` back with the fewest calls (``apply``) -- the write set is already
  the *difference* between what the policies want and what the ticket holds, so an empty write
  set means no call at all;
* list tickets changed since a moment (``poll_updated``) for catch-up.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from kesu.models import EventKind, Priority, Ticket, TicketRef


class WebhookHint(BaseModel):
    """What one webhook delivery tells us: which ticket changed, and who changed it.

    Payloads are hints only (Zammad reloads records at delivery time); the pipeline always
    re-reads the ticket.
    """

    ref: TicketRef
    kind: EventKind = EventKind.updated
    delivery_id: str | None = None
    actor: str | None = None  # helpdesk user id that made the change
    self_caused: bool = False  # the connector recognised kesu's own bot as the author
    facts: dict[str, Any] = Field(default_factory=dict)  # a few connector-specific fields


class Todo(BaseModel):
    key: str
    summary: str
    due_at: datetime
    assignee: str | None = None
    rule_id: str


class WriteSet(BaseModel):
    """The changes to write to one ticket; ``None`` / empty means leave unchanged."""

    priority: Priority | None = None
    group: str | None = None
    owner: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)
    note: str | None = None  # internal note body (plain text, one line per decision)
    note_subject: str | None = None  # carries the plan marker so a re-applied plan is detected
    todos: list[Todo] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.priority is not None
            or self.group is not None
            or self.owner is not None
            or self.fields
            or self.add_tags
            or self.remove_tags
            or self.note
            or self.todos
        )


class ApplyResult(BaseModel):
    calls: int = 0  # HTTP calls made to the helpdesk


class TicketChange(BaseModel):
    """One row of a catch-up poll: a ticket and when it last changed."""

    ref: TicketRef
    updated_at: datetime
    updated_by: str | None = None


def change_delivery_id(ticket_id: str, updated_at: datetime) -> str:
    """The de-duplication key of "ticket X changed at T".

    Catch-up polling uses it, and so do webhooks of helpdesks that send no delivery id of their
    own (Odoo): a change seen by both is queued once.
    """
    return f"change:{ticket_id}:{updated_at.isoformat()}"


class Connector(abc.ABC):
    """Base class of helpdesk connectors; ``identifier`` is the ``[helpdesk] kind`` value."""

    identifier: ClassVar[str]
    #: Seconds between reconciliation polls when ``[worker] sync_interval`` is 0 (unset); 0 = none.
    #: Helpdesks whose webhooks are never retried (Odoo) need a continuous poll.
    reconcile_interval: ClassVar[float] = 0.0
    #: Whether writing a to-do takes the ticket out of its closed state (Zammad shows to-dos as a
    #: "pending reminder" state; Odoo's activities leave the stage alone). kesu then does not
    #: mistake its own reminder for the customer reopening the ticket.
    todo_reopens: ClassVar[bool] = False

    @property
    def todo_state(self) -> str | None:
        """The helpdesk state a to-do puts a closed ticket in (with ``todo_reopens``). While the
        ticket stays in it, kesu still treats the complaint as resolved; None = not known."""
        return None

    @abc.abstractmethod
    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str] | None = None
    ) -> WebhookHint:
        """Verify and parse one webhook request; raise ``WebhookRejected`` when it is not valid.

        ``headers`` keys are lower-case; ``query`` holds the URL's query parameters (helpdesks
        that cannot sign may carry a shared secret there). Must be fast and must not call the
        helpdesk.
        """

    @abc.abstractmethod
    def get_ticket(self, ticket_id: str) -> Ticket:
        """Read the ticket fresh from the helpdesk, with tags and articles."""

    @abc.abstractmethod
    def apply(self, ticket: Ticket, writes: WriteSet) -> ApplyResult:
        """Write the changes with the fewest calls; no call when ``writes.is_empty()``."""

    @abc.abstractmethod
    def note_marker_present(self, ticket: Ticket, subject: str) -> bool:
        """Whether a note with this subject (a plan marker) is already on the ticket."""

    def unapplied(self, ticket: Ticket, writes: WriteSet) -> WriteSet:
        """The part of ``writes`` that is not on the freshly read ``ticket`` yet.

        Used to finish a write an earlier attempt decided but did not confirm (its answer may
        have been lost after the helpdesk applied it): nothing is sent twice. The default
        compares the note marker, the values and the tags; connectors whose writes are
        transactional, or whose names are shared by several kesu values, refine it.
        """
        rest = writes.model_copy(deep=True)
        if rest.note_subject and self.note_marker_present(ticket, rest.note_subject):
            rest.note = None
            rest.note_subject = None
        if rest.priority is not None and ticket.priority == rest.priority:
            rest.priority = None
        if rest.group is not None and ticket.group == rest.group:
            rest.group = None
        if rest.owner is not None and ticket.owner == rest.owner:
            rest.owner = None
        rest.fields = {k: v for k, v in rest.fields.items() if ticket.fields.get(k) != v}
        rest.add_tags = [t for t in rest.add_tags if t not in ticket.tags]
        rest.remove_tags = [t for t in rest.remove_tags if t in ticket.tags]
        return rest

    @abc.abstractmethod
    def poll_updated(self, since: datetime) -> Iterator[TicketChange]:
        """Tickets updated at or after ``since``, oldest first, across all pages."""

    def ticket_field_names(self) -> set[str] | None:
        """The names of the ticket fields this helpdesk has and kesu may write (custom ticket
        attributes), or None when it cannot tell. kesu asks once per process: a tag it would
        write for a declared field's value (``TicketField.tag_values``) is written as that
        field's value, in the same call as the note, when the field is here. Default: None
        (tags are kept)."""
        return None

    def find_by_number(self, number: str) -> str | None:
        """The id of the ticket the helpdesk shows as ``number`` (the number agents see, e.g.
        Zammad's 31001 or Odoo's reference), or None when there is none. One search call; the
        default knows no numbers."""
        return None

    def close(self) -> None:
        """Release HTTP sessions."""
