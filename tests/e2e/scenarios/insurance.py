"""Scenarios of the insurance profile."""

from __future__ import annotations

SCENARIOS: list = []
