"""The plugin host: hook specs, the plugin-manager factory and effect merging.

Policy authors write ``from plugins import hookimpl``.
"""

from __future__ import annotations

from plugins.hookspecs import PROJECT, hookimpl, hookspec

__all__ = ["PROJECT", "hookimpl", "hookspec"]
