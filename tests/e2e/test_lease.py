"""A claim outlives its lease on a slow helpdesk: the worker renews it (issue 10, lease renewal).

The sandbox answers kesu's PUT only after several leases have passed. Without a heartbeat, the
timer loop's reaper hands the events to the second worker thread, which finds the decided write
no longer held and sends it again: two notes. With it, the claim and the hold are renewed while
the first worker waits for the answer, and the write reaches the ticket once.
"""

from __future__ import annotations

from datetime import timedelta

from kesu.store import tickets as store
from kesu.store.db import as_utc, utcnow
from kesu.store.inbox import NewEvent
from kesu.store.tables import outbox
from kesu.worker import Lease
from tests.e2e.conftest import start_stack, wait_until

COMPLAINT = ("豆腐发霉", "今天买的盒装豆腐打开就发霉变质，批号 20261101。")
LEASE = 1.0


def short_lease(settings) -> None:
    settings.worker.lease_seconds = LEASE  # the PUT below takes 3 leases
    settings.worker.threads = 2
    settings.worker.timer_interval = 0.1  # the reaper looks often
    settings.helpdesk.timeout = 10  # slow, not failed: the answer comes, late


def test_a_slow_apply_keeps_its_claim_and_is_applied_once(sandbox, db_url):
    stack = start_stack(sandbox, db_url, configure=short_lease)
    try:
        sandbox.inject("PUT", r"^/api/v1/tickets/\d+$", status=None, delay=3 * LEASE, times=None)
        tid = sandbox.create_ticket(*COMPLAINT)["id"]
        stack.wait_processed(tid, timeout=30)
        stack.idle()
        assert len(stack.notes(tid)) == 1
        assert sandbox.count("PUT", "/tickets/") == 1  # nobody sent it a second time
        events = stack.services.inbox.list()
        assert all(e["status"] in ("done", "skipped") for e in events), events
        assert not any("lease expired" in (e["last_error"] or "") for e in events)
    finally:
        stack.stop()


def test_renewal_extends_the_claim_and_the_hold_and_stops_with_the_attempt(sandbox, db_url):
    """The heartbeat's own effect on the store, without timing: a renewal moves the lease and the
    hold forward; a released hold and an event claimed again by someone else are left alone."""
    stack = start_stack(sandbox, db_url, workers=False, wire=False)
    try:
        services = stack.services
        pipeline = services.pipeline
        now = utcnow()
        services.inbox.add(NewEvent(helpdesk=pipeline.helpdesk, ticket_id="7", kind="created",
                                    source="webhook", received_at=now, delivery_id="d-7"))
        (event,) = services.inbox.claim(now, LEASE)
        with pipeline.engine.begin() as conn:
            held = store.add_outbox(conn, key=event.ticket_key, event_id=event.id, marker="m1",
                                    writes={}, now=now, held_until=now + timedelta(seconds=LEASE))
            released = store.add_outbox(conn, key=event.ticket_key, event_id=event.id, marker="m2",
                                        writes={}, now=now, held_until=now + timedelta(seconds=LEASE))
        later = now + timedelta(seconds=30)
        lease = Lease(pipeline, [event], LEASE, clock=lambda: later)
        lease.hold(held)
        lease.hold(released)
        lease.release(released)
        lease.renew()

        def lease_until(event_id):
            return next(e["lease_until"] for e in services.inbox.list() if e["id"] == event_id)

        def hold_of(outbox_id):
            with pipeline.engine.connect() as conn:
                return conn.execute(outbox.select().where(outbox.c.id == outbox_id)).mappings().one()["applied_at"]

        expected = later + timedelta(seconds=LEASE)
        assert as_utc(lease_until(event.id)) == as_utc(expected)
        assert as_utc(hold_of(held)) == as_utc(expected)
        assert as_utc(hold_of(released)) == as_utc(now + timedelta(seconds=LEASE))
        # Reaped and claimed again by another worker: the old claim's renewal leaves it alone.
        lapsed = expected + timedelta(seconds=1)  # this worker stopped renewing (it died)
        assert services.inbox.reap(lapsed) == 1
        (again,) = services.inbox.claim(lapsed, LEASE)
        assert again.id == event.id and again.attempts == event.attempts + 1
        before = lease_until(event.id)
        lease.renew()
        assert lease_until(event.id) == before
        assert lease.renewals == 2
    finally:
        stack.stop()
