"""The survival run (``bench/survival.py``) with 25 complaints, on both helpdesks and both stores.

30 % of kesu's write calls are applied by the sandbox and answered 504; 10 % more are slow
beyond kesu's read timeout (half applied late, half answered late). Everything is counted from
the sandbox's own state and kesu's recorded plan: no note, field value or to-do may reach a
ticket twice, and every complaint must end exactly as in a fault-free run of the same complaints.
"""

from __future__ import annotations

import pytest

from bench.survival import Timing, reference, survive

N = 25
# Slow answers land after the read timeout but well within timeout + settle (= 2 timeouts), so a
# busy machine still sees them land before kesu's second look.
TIMING = Timing(timeout=1.0, slow=1.3)
_expected: dict[str, list[dict]] = {}


def expected_for(helpdesk: str) -> list[dict]:
    """The fault-free reference, once per helpdesk for the module."""
    if helpdesk not in _expected:
        _expected[helpdesk] = reference(helpdesk, N, TIMING, timeout=120)
    return _expected[helpdesk]


@pytest.mark.slow
@pytest.mark.parametrize("helpdesk", ["zammad", "odoo"])
def test_lost_and_slow_answers_leave_nothing_twice_and_nothing_lost(helpdesk, db_url):
    result = survive(helpdesk, db_url, complaints_n=N, lost_rate=0.3, slow=True, slow_rate=0.1,
                     timing=TIMING, expected=expected_for(helpdesk), timeout=120, threads=4)
    assert result.faults_504 > 0 and result.faults_slow > 0, "the seed injects both kinds of fault"
    assert result.notes >= N
    assert result.duplicate_notes == 0
    assert result.duplicate_field_writes == 0
    assert result.duplicate_todos == 0
    assert result.lost_effects == 0, result.differences
    assert result.missing_marker_notes == 0 and result.pending_writes == 0
    assert result.dead_events == 0
