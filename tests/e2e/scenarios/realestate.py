"""Scenarios of the realestate profile."""

from __future__ import annotations

SCENARIOS: list = []
