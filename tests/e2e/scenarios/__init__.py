"""Scenario tables, one module per industry profile (see ``tests/e2e/scenario_kit.py``)."""

from __future__ import annotations

from tests.e2e.scenarios import food, insurance, realestate, retail, utility

ALL = [*food.SCENARIOS, *realestate.SCENARIOS, *insurance.SCENARIOS, *retail.SCENARIOS, *utility.SCENARIOS]
assert len({s.id for s in ALL}) == len(ALL), "scenario ids must be unique"
