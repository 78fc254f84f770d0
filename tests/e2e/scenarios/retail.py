"""Scenarios of the retail profile."""

from __future__ import annotations

SCENARIOS: list = []
