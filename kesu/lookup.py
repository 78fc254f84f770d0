"""Naming a ticket the way agents do: by the number their helpdesk shows.

Agents see Zammad's ``31001`` or Odoo's reference, never kesu's key (``zammad:12``). Every
command and admin form that takes a ticket passes what the person typed through
:func:`resolve_ticket`, which accepts, in this order:

1. kesu's key, ``<helpdesk>:<id>`` (as before);
2. the number the helpdesk shows (``31001``, ``#31001``), looked up in kesu's complaint records,
   where the number is recorded whenever kesu reads a ticket;
3. the helpdesk's own id (``12``) of a ticket kesu has a record of;
4. the number again, asked of the helpdesk (``Connector.find_by_number``) for a ticket kesu has
   not recorded yet.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, select

from kesu.store.tables import complaints, ticket_state

#: Longest text taken as a ticket name (a key is at most 140 characters in the store).
MAX_NAME = 140


class TicketLookupError(LookupError):
    """No ticket answers to the name; ``zh`` says so in Chinese, ``str()`` in English."""

    def __init__(self, en: str, zh: str, *, helpdesk_failed: bool = False) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh
        self.helpdesk_failed = helpdesk_failed

    def message(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


def clean_name(text: str) -> str:
    """What the person typed, without blanks and a leading ``#`` (``#31001`` is how Zammad and
    Odoo print numbers)."""
    return text.strip().removeprefix("#").strip()


def resolve_ticket(engine: Engine, helpdesk: str, text: str,
                   search: Callable[[str], str | None] | None = None) -> str:
    """kesu's key of the ticket ``text`` names (see the module docstring); ``search`` asks the
    helpdesk for a number kesu has not recorded (``connector.find_by_number``) and may raise the
    connector's errors, which are reported as a helpdesk failure."""
    name = clean_name(text)
    if not name:
        raise TicketLookupError("give a ticket: the number the helpdesk shows (31001) or kesu's key (zammad:12)",
                                "请填写工单：服务台显示的工单号（如 31001）或 kesu 的工单键（如 zammad:12）")
    if len(name) > MAX_NAME or any(not c.isprintable() for c in name):
        raise TicketLookupError(f"{name[:40]!r}… is no ticket number", f"「{name[:40]}」不是工单号")
    prefix, sep, rest = name.partition(":")
    if sep and prefix and rest:
        return name  # kesu's own key
    with engine.connect() as conn:
        rows = conn.execute(select(complaints.c.ticket_key).where(complaints.c.number == name)
                            .order_by(complaints.c.ticket_key)).scalars().all()
        own = [k for k in rows if k.startswith(f"{helpdesk}:")]
        if len(own) == 1 or (not own and len(rows) == 1):
            return (own or rows)[0]
        if len(own) > 1:
            raise TicketLookupError(f"several tickets show number {name}: {', '.join(own)}; give the key",
                                    f"编号 {name} 对应多张工单（{'、'.join(own)}），请填写工单键")
        key = f"{helpdesk}:{name}"
        known = conn.execute(select(complaints.c.ticket_key).where(complaints.c.ticket_key == key).union(
            select(ticket_state.c.ticket_key).where(ticket_state.c.ticket_key == key))).first()
        if known is not None:
            return key
    if search is not None:
        try:
            found = search(name)
        except Exception as exc:  # noqa: BLE001 -- the connector's errors, said in one line
            raise TicketLookupError(f"the helpdesk could not be asked for ticket {name}: {exc}",
                                    f"无法向服务台查询工单 {name}：{exc}", helpdesk_failed=True) from None
        if found:
            return f"{helpdesk}:{found}"
    raise TicketLookupError(
        f"no ticket {name}: kesu has no record with that number and the helpdesk shows none",
        f"找不到工单 {name}：kesu 没有这个工单号的记录，服务台也没有这个工单号")


def numbers_of(engine: Engine, keys: list[str]) -> dict[str, str]:
    """The numbers agents see for kesu's keys (those kesu has recorded)."""
    if not keys:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(complaints.c.ticket_key, complaints.c.number).where(
            complaints.c.ticket_key.in_(keys), complaints.c.number.is_not(None))).all()
    return {k: n for k, n in rows if n}
