"""Complaint reports (R-RPT-4.27, R-RPT-5.4.5.6, R-RPT-6.38.7).

``build_report`` computes a monthly, quarterly or yearly report once into data
(:class:`~kesu.report.model.PeriodReport`); ``build_major`` the special report of one major
complaint; ``render`` lays either out as JSON, Markdown, HTML (server-side SVG charts) or XLSX.
``kesu.report.runs`` produces the reports on schedule and on demand. Names are imported lazily,
so the command line starts fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names are, for type checkers
    from kesu.report.compute import build_report
    from kesu.report.major import MajorReport, NoComplaint, build_major
    from kesu.report.model import PeriodReport
    from kesu.report.period import PERIOD_KINDS, Period, PeriodError
    from kesu.report.formats import FORMATS, MEDIA_TYPES, file_name, render, to_document

_EXPORTS = {
    "build_report": "kesu.report.compute",
    "MajorReport": "kesu.report.major", "NoComplaint": "kesu.report.major", "build_major": "kesu.report.major",
    "PeriodReport": "kesu.report.model",
    "PERIOD_KINDS": "kesu.report.period", "Period": "kesu.report.period", "PeriodError": "kesu.report.period",
    "FORMATS": "kesu.report.formats", "MEDIA_TYPES": "kesu.report.formats", "file_name": "kesu.report.formats",
    "render": "kesu.report.formats", "to_document": "kesu.report.formats",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kesu.report' has no attribute {name!r}")
