"""Helpdesk-neutral domain model.

Connectors translate their helpdesk's records into these types and back; policies only ever see
these. A ticket is identified by ``TicketRef`` (helpdesk name + id) so one kesu can serve several
helpdesks.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Priority(enum.IntEnum):
    """kesu's neutral priority scale; each connector maps it to its helpdesk's values."""

    low = 1
    normal = 2
    high = 3
    urgent = 4

    @classmethod
    def _missing_(cls, value: object) -> Priority | None:
        # Configuration names priorities ("urgent"); accept names wherever a Priority is parsed.
        if isinstance(value, str) and value.strip().lower() in cls.__members__:
            return cls[value.strip().lower()]
        return None


class TicketRef(BaseModel):
    """Identifies one ticket in one helpdesk: ``zammad:123``."""

    model_config = ConfigDict(frozen=True)

    helpdesk: str
    id: str

    @property
    def key(self) -> str:
        return f"{self.helpdesk}:{self.id}"

    @classmethod
    def parse(cls, key: str) -> TicketRef:
        helpdesk, _, ticket_id = key.partition(":")
        if not helpdesk or not ticket_id:
            raise ValueError(f"ticket key must look like 'zammad:123', got {key!r}")
        return cls(helpdesk=helpdesk, id=ticket_id)

    def __str__(self) -> str:
        return self.key


class Party(BaseModel):
    """A customer or agent as the helpdesk knows them."""

    id: str | None = None
    name: str | None = None
    login: str | None = None
    email: str | None = None
    phone: str | None = None


class Article(BaseModel):
    """One message on a ticket: customer mail, phone note, internal note."""

    id: str
    subject: str | None = None
    body: str = ""
    content_type: str = "text/plain"
    internal: bool = False
    sender: str | None = None  # Customer / Agent / System
    type: str | None = None  # email, phone, note, web ...
    created_by: str | None = None  # helpdesk user id of the author
    created_at: datetime | None = None


class Ticket(BaseModel):
    """A fresh read of one ticket, as policies see it."""

    ref: TicketRef
    number: str | None = None
    title: str = ""
    articles: list[Article] = Field(default_factory=list)
    customer: Party | None = None
    group: str | None = None
    owner: str | None = None  # login of the owner, None when unassigned
    priority: Priority | None = None
    state: str | None = None
    closed: bool = False  # the helpdesk counts the state as closed (Zammad: closed, merged, removed)
    tags: list[str] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict)  # custom attributes
    created_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None  # helpdesk user id of the last writer

    @property
    def customer_key(self) -> str | None:
        """The customer across helpdesks: ``zammad:7`` (ids of two helpdesks may collide)."""
        if self.customer is None or self.customer.id is None:
            return None
        return f"{self.ref.helpdesk}:{self.customer.id}"

    def text(self) -> str:
        """Title and every customer-visible article body, for keyword rules."""
        parts = [self.title]
        parts.extend(a.body for a in self.articles if not a.internal)
        return "\n".join(p for p in parts if p)


class EventKind(str, enum.Enum):
    created = "created"
    updated = "updated"
    article_added = "article_added"
    closed = "closed"
    reopened = "reopened"
    timer_fired = "timer_fired"


class TicketEvent(BaseModel):
    """Something happened to a ticket; the pipeline re-reads the ticket before deciding."""

    kind: EventKind
    ref: TicketRef
    delivery_id: str | None = None
    received_at: datetime
    actor: str | None = None  # helpdesk user id that caused the event, when known
    timer_key: str | None = None  # for timer_fired
    timer_payload: dict[str, Any] = Field(default_factory=dict)
    hint: dict[str, Any] = Field(default_factory=dict)  # connector-specific facts from the webhook
