"""Zammad connector: signed trigger webhooks in, REST API writes out."""

from __future__ import annotations

from connector.zammad.connector import ZammadConnector

__all__ = ["ZammadConnector"]
