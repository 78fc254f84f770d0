"""kesu (客诉): complaint-handling policies for existing helpdesks."""

from __future__ import annotations

__version__ = "0.1.0"
