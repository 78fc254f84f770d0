"""Tags written as field values (issue 12): the tier tag becomes the tier field in the same write
where the helpdesk has the field, decided once per process; tags stay where it has not."""

from __future__ import annotations

from typing import Any

from connector.base import ApplyResult, WriteSet
from connector.errors import ConnectorUnavailable
from kesu.effects import AddTags, SetField
from kesu.models import Priority, Ticket
from kesu.pipeline import Pipeline, _tags_as_fields
from kesu.settings import WorkerSettings
from kesu.store.inbox import Inbox, NewEvent
from kesu.ticket_fields import TicketField, field_tags, select
from kesu.worker import Worker
from plugins.manager import PluginHost, build_plugin_manager
from plugins.plan import NoteRenderer
from tests.test_pipeline import T0, MemoryConnector


class FieldConnector(MemoryConnector):
    """The in-memory helpdesk with ticket fields: the fields it lists, and what it was written."""

    def __init__(self, tickets: dict[str, Ticket], fields: set[str] | Exception) -> None:
        super().__init__(tickets)
        self.fields = fields
        self.listed = 0
        self.written: list[WriteSet] = []

    def ticket_field_names(self) -> set[str] | None:
        self.listed += 1
        if isinstance(self.fields, Exception):
            raise self.fields
        return self.fields

    def apply(self, ticket: Ticket, writes: WriteSet) -> ApplyResult:
        self.written.append(writes.model_copy(deep=True))
        self.tickets[ticket.ref.id].fields.update(writes.fields)
        return super().apply(ticket, writes)


def tier_field(**kw: Any) -> TicketField:
    return select("complaint_tier", "客诉等级", "Complaint tier",
                  [("A", "A类（重大）", "A"), ("B", "B类（一般）", "B")], ("[policies.severity] category_field",),
                  tag_values=[("客诉-A类", "A"), ("客诉-B类", "B"), ("客诉-X类", "X")], **kw)


def test_field_tags_only_for_fields_present_single_selects_and_known_values():
    multi = tier_field(multi=True).model_copy(update={"name": "tiers"})
    got = field_tags([tier_field(), multi], {"complaint_tier", "tiers"})
    # X is not an option of the field: its tag stays a tag; a multiselect keeps its tags.
    assert got == {"客诉-A类": ("complaint_tier", "A"), "客诉-B类": ("complaint_tier", "B")}
    assert field_tags([tier_field()], {"other"}) == {}


def test_tags_as_fields_keeps_rule_plugin_and_other_tags():
    effect = AddTags(rule_id="R-TIER-1.9.1-A", tags=("客诉-A类", "特殊客诉"), reason="依据", source="severity")
    out = _tags_as_fields([effect], {"客诉-A类": ("complaint_tier", "A")})
    assert out == [SetField(rule_id="R-TIER-1.9.1-A", name="complaint_tier", value="A", reason="依据",
                            source="severity"),
                   AddTags(rule_id="R-TIER-1.9.1-A", tags=("特殊客诉",), reason="依据", source="severity")]
    assert _tags_as_fields([effect], {}) == [effect]


def _run(engine, make_ticket, fields: set[str] | Exception, n: int = 2) -> FieldConnector:
    conn = FieldConnector({str(i): make_ticket(id=str(i)) for i in range(1, n + 1)}, fields)
    pipeline = Pipeline(engine=engine, connector=conn, host=PluginHost(build_plugin_manager(load_entrypoints=False)),
                        renderer=NoteRenderer("zh"), clock=lambda: T0)
    worker = Worker(pipeline, WorkerSettings(), clock=lambda: T0)
    for i in range(1, n + 1):
        Inbox(engine).add(NewEvent(helpdesk="zammad", ticket_id=str(i), kind="created", source="webhook",
                                   received_at=T0, delivery_id=f"d{i}"))
    assert worker.drain() == n
    return conn


def test_with_the_field_the_tier_is_written_in_the_same_write_and_the_list_asked_once(engine, make_ticket):
    conn = _run(engine, make_ticket, {"complaint_tier", "complaint_cause"})
    assert conn.listed == 1, "asked once per process"
    assert conn.calls == ["GET", "PUT", "GET", "PUT"], "no tag call"
    for writes in conn.written:
        assert writes.fields.get("complaint_tier") == "A" and "客诉-A类" not in writes.add_tags
        assert "• 客诉等级 → A类（重大）" in (writes.note or "")
    assert conn.tickets["1"].priority is Priority.urgent


def test_without_the_field_or_its_list_the_tier_stays_a_tag(engine, make_ticket):
    conn = _run(engine, make_ticket, {"complaint_cause"}, n=1)
    assert conn.calls == ["GET", "PUT", "TAG"] and "客诉-A类" in conn.tickets["1"].tags
    assert "complaint_tier" not in conn.written[0].fields


def test_a_failed_field_list_keeps_the_tags_and_is_not_asked_on_every_event(engine, make_ticket):
    conn = _run(engine, make_ticket, ConnectorUnavailable("no right to list attributes", method="GET",
                                                          url="/object_manager_attributes"))
    assert conn.listed == 1, "a failure is asked again only after a pause, not per event"
    assert all("客诉-A类" in w.add_tags for w in conn.written)
