"""A ticket named by the reference Odoo shows (``#<ticket_ref>``, OCA ``number``): the connector finds
its id with one ``search_read`` (issue 11, ticket numbers)."""

from __future__ import annotations

import pytest

from connector.odoo.connector import OdooConnector
from tests.odoo.test_lost_answers import connector_for


@pytest.mark.parametrize("flavour", ["enterprise", "oca"])
def test_find_by_the_reference_odoo_shows(make_sandbox, flavour):
    sandbox = make_sandbox(17, flavour)
    first = sandbox.create_ticket("第一张")
    second = sandbox.create_ticket("豆腐发霉")
    conn: OdooConnector = connector_for(sandbox, "jsonrpc")
    try:
        field = "ticket_ref" if flavour == "enterprise" else "number"
        ref = sandbox.ticket(second)[field]
        assert ref and ref != sandbox.ticket(first)[field]
        assert conn.find_by_number(str(ref)) == str(second)
        assert conn.get_ticket(str(second)).number == str(ref)  # the number kesu records is the one found
        assert conn.find_by_number("no-such-ref") is None
    finally:
        conn.close()
