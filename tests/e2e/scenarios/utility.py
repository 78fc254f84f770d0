"""Scenarios of the utility profile."""

from __future__ import annotations

SCENARIOS: list = []
