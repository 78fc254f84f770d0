"""Complaint reports (R-RPT-4.27, R-RPT-5.4.5.6, R-RPT-6.38.7).

``build_report`` computes a monthly, quarterly or yearly report once into data
(:class:`~kesu.report.model.PeriodReport`); ``build_major`` the special report of one major
complaint; ``render`` lays either out as JSON, Markdown, HTML (server-side SVG charts) or XLSX.
``kesu.report.schedule`` produces the previous month's report automatically.
"""

from __future__ import annotations

from kesu.report.compute import build_report
from kesu.report.major import MajorReport, NoComplaint, build_major
from kesu.report.model import PeriodReport
from kesu.report.period import PERIOD_KINDS, Period, PeriodError
from kesu.report.render import FORMATS, MEDIA_TYPES, file_name, render, to_document

__all__ = ["FORMATS", "MEDIA_TYPES", "PERIOD_KINDS", "MajorReport", "NoComplaint", "Period", "PeriodError",
           "PeriodReport", "build_major", "build_report", "file_name", "render", "to_document"]
