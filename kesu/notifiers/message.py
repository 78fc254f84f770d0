"""The text a group bot posts: ticket number, tier, cause, units, what to do, the rule, a link.

Composed once, when kesu records the notification (the complaint record as it stands after the
write), in Chinese unless ``[policies.notifiers] language = "en"``; each channel renders it in its
own format (text, markdown, Feishu post or card). Values are labels agents read (``A类（重大）``,
``产品发酸、发霉变质、发红``), never kesu's internal keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel

from kesu import i18n
from kesu.effects import Notify
from kesu.i18n.labels import Labels
from kesu.models import Ticket

class Message(BaseModel):
    """A channel-neutral message: a title, labelled lines and an optional link."""

    title: str
    lines: list[tuple[str, str]]  # (label, value)
    link: str | None = None
    link_text: str = ""
    sep: str = "："

    def plain_lines(self) -> list[str]:
        return [f"{label}{self.sep}{value}" for label, value in self.lines]

    def text(self, limit: int | None = None) -> str:
        """Plain text; ``limit`` in UTF-8 bytes (the message line is shortened, never the rest)."""
        tail = [f"{self.link_text}{self.sep}{self.link}"] if self.link else []
        return _fit(self.title, self.plain_lines(), tail, limit)

    def markdown(self, limit: int | None = None, *, heading: str = "**{}**", bullet: str = "> ",
                 bold_labels: bool = False) -> str:
        lines = [f"{bullet}{'**' + label + '**' if bold_labels else label}{self.sep}{_md(value)}"
                 for label, value in self.lines]
        tail = [f"[{self.link_text}]({self.link})"] if self.link else []
        return _fit(heading.format(_md(self.title)), lines, tail, limit, joiner="\n")


def _md(value: str) -> str:
    """Markdown characters in values (a customer's words) shown as written."""
    for ch in ("\\", "*", "_", "[", "]", "`", "#"):
        value = value.replace(ch, "\\" + ch)
    return value


def _fit(head: str, lines: list[str], tail: list[str], limit: int | None, joiner: str = "\n") -> str:
    text = joiner.join([head, *lines, *tail])
    if limit is None or len(text.encode()) <= limit:
        return text
    # Shorten the longest line (the notification's own words) until it fits.
    longest = max(range(len(lines)), key=lambda i: len(lines[i]), default=None)
    if longest is None:
        return text.encode()[:limit].decode(errors="ignore")
    over = len(text.encode()) - limit + len("…".encode())
    raw = lines[longest].encode()
    lines = [*lines]
    lines[longest] = raw[:max(0, len(raw) - over)].decode(errors="ignore") + "…"
    return joiner.join([head, *lines, *tail]).encode()[:limit].decode(errors="ignore")


def ticket_link(ticket: Ticket, template: str, base: str, kind: str) -> str | None:
    """The helpdesk page of the ticket: ``template`` with {base} {id} {number}, else the page of
    the helpdesk ``kind`` (Zammad ``#ticket/zoom/<id>``, Odoo's helpdesk ticket form)."""
    if ticket.ref.helpdesk == "kesu":  # a report's announcement has no helpdesk ticket
        return None
    base = base.rstrip("/")
    if not template:
        template = {"zammad": "{base}/#ticket/zoom/{id}",
                    "odoo": "{base}/web#id={id}&model=helpdesk.ticket&view_type=form"}.get(kind, "")
    if not template:
        return None
    return template.format(base=base, id=ticket.ref.id, number=ticket.number or ticket.ref.id)


def compose(ticket: Ticket, notification: Notify, record: Mapping[str, Any], *,
            language: Literal["zh", "en"], link: str | None, labels: Labels | None = None,
            cause_label: Callable[[str], str | None] | None = None) -> Message:
    """The message for one notification of one ticket; values by the labels of the configuration
    (``labels``; a cause by ``cause_label`` first when given), words from kesu's catalogue."""
    w = i18n.words("bot", language)
    shown = (labels or Labels()).in_lang(language)
    number = ticket.number or ticket.ref.id
    is_ticket = ticket.ref.helpdesk != "kesu"
    title = f"{w['title']} · {w['ticket']} {number}" if is_ticket else f"{w['title']} · {ticket.title}"
    lines: list[tuple[str, str]] = []
    if is_ticket and ticket.title:
        lines.append((w["ticket"], f"{number} {ticket.title}"))
    tier = record.get("tier")
    if tier:
        lines.append((w["tier"], shown.tier(str(tier))))
    cause = record.get("cause")
    if cause:
        lines.append((w["cause"], (cause_label(str(cause)) if cause_label else None) or shown.cause(str(cause))))
    units: Sequence[str] = record.get("units") or ()
    if units:
        lines.append((w["units"], shown.units(units)))
    if notification.recipients:
        lines.append((w["to"], ("、" if language == "zh" else ", ").join(notification.recipients)))
    lines.append((w["what"], notification.message))
    reason = notification.reason_en if language == "en" and notification.reason_en else notification.reason
    if reason:
        lines.append((w["why"], reason))
    lines.append((w["rule"], notification.rule_id))
    return Message(title=title, lines=lines, link=link, link_text=w["link"], sep=w["sep"])
