"""Render a report four ways: ``json`` (the data), ``md``, ``html`` (with SVG charts), ``xlsx``.

Every renderer is a pure function of the report: no clock, no random ids, fixed ZIP entry times,
so identical input gives byte-identical files (a generation time appears only when passed in).
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from html import escape
from typing import Any, Literal, Union

from kesu.report import svg
from kesu.report.document import Document, Table
from kesu.report.major import MajorReport
from kesu.report.major import document as major_document
from kesu.report.model import PeriodReport
from kesu.report.tables import document as period_document

Format = Literal["xlsx", "html", "md", "json"]
FORMATS: tuple[Format, ...] = ("xlsx", "html", "md", "json")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}
AnyReport = Union[PeriodReport, MajorReport]


def to_document(report: AnyReport) -> Document:
    return period_document(report) if isinstance(report, PeriodReport) else major_document(report)


def render(report: AnyReport, fmt: str) -> bytes:
    if fmt == "json":
        return report.model_dump_json(indent=2).encode("utf-8") + b"\n"
    doc = to_document(report)
    if fmt == "md":
        return markdown(doc).encode("utf-8")
    if fmt == "html":
        return html(doc).encode("utf-8")
    if fmt == "xlsx":
        return xlsx(doc, _generated_at(report))
    raise ValueError(f"unknown report format {fmt!r}; allowed: {', '.join(FORMATS)}")


def file_name(report: AnyReport, fmt: str) -> str:
    return f"{to_document(report).file_stem}.{fmt}"


def _generated_at(report: AnyReport) -> datetime | None:
    return datetime.fromisoformat(report.generated_at) if report.generated_at else None


# -------------------------------------------------------------------------------------------------
# Markdown


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(doc: Document) -> str:
    out = [f"# {doc.title}", "", f"*{doc.title_en}*", "", doc.subtitle, ""]
    for t in doc.tables:
        out += [f"## {t.title} · {t.title_en}", ""]
        if not t.rows:
            out += ["（无 / none）", ""]
        else:
            out.append("| " + " | ".join(_md_cell(c.name) for c in t.columns) + " |")
            out.append("|" + "|".join("---:" if _numeric(t, i) else "---" for i in range(len(t.columns))) + "|")
            for row in t.rows:
                out.append("| " + " | ".join(_md_cell(c.text()) for c in row) + " |")
            out.append("")
        if t.note:
            out += [f"> {t.note}", ""]
    return "\n".join(out)


def _numeric(t: Table, col: int) -> bool:
    return bool(t.rows) and all(row[col].kind != "text" for row in t.rows)


# -------------------------------------------------------------------------------------------------
# HTML

CSS = """
body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;margin:2em auto;
max-width:1000px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.1em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ccc}
h2 small,.en{color:#777;font-weight:normal}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em}
th{background:#eef2f7;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:.9em}.chart{margin:.5em 0}
"""


def html(doc: Document) -> str:
    out = ['<!DOCTYPE html>', '<html lang="zh-CN">', '<head>', '<meta charset="utf-8">',
           f"<title>{escape(doc.title)}</title>", f"<style>{CSS.strip()}</style>", "</head>", "<body>",
           f"<h1>{escape(doc.title)}</h1>", f'<p class="en">{escape(doc.title_en)}</p>',
           f"<p>{escape(doc.subtitle)}</p>"]
    for t in doc.tables:
        out.append(f'<section id="{t.key}" data-key="{t.key}">')
        out.append(f"<h2>{escape(t.title)} <small>{escape(t.title_en)}</small></h2>")
        if t.chart is not None and t.rows:
            out.append(f'<div class="chart">{_chart(t)}</div>')
        if t.rows:
            out.append("<table><thead><tr>" + "".join(f"<th>{escape(c.name)}</th>" for c in t.columns)
                       + "</tr></thead><tbody>")
            for row in t.rows:
                out.append("<tr>" + "".join(
                    f'<td class="num">{escape(c.text())}</td>' if c.kind != "text" else f"<td>{escape(c.text())}</td>"
                    for c in row) + "</tr>")
            out.append("</tbody></table>")
        else:
            out.append("<p>（无 / none）</p>")
        if t.note:
            out.append(f'<p class="note">{escape(t.note)}</p>')
        out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _chart(t: Table) -> str:
    assert t.chart is not None
    items = []
    for row in t.rows:
        value = row[t.chart.value_col]
        if value.value is None:
            continue
        items.append((row[t.chart.label_col].text(), float(value.value), value.text()))
    draw = svg.pie_chart if t.chart.kind == "pie" else svg.bar_chart
    return draw(items, title=t.title)


# -------------------------------------------------------------------------------------------------
# XLSX

FIXED_TIME = datetime(2000, 1, 1)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class _FixedTimeZip(zipfile.ZipFile):
    """openpyxl stamps every ZIP entry with the current time; give them all one fixed time."""

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: Any = None,
                 compresslevel: Any = None) -> None:
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = zipfile.ZipInfo(zinfo_or_arcname, date_time=ZIP_TIME)
            zinfo_or_arcname.compress_type = zipfile.ZIP_DEFLATED
            zinfo_or_arcname.external_attr = 0o600 << 16
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename: Any, arcname: Any = None, compress_type: Any = None,
              compresslevel: Any = None) -> None:
        # Worksheets arrive as temporary files; the file's mtime would end up in the archive.
        with open(filename, "rb") as fh:
            self.writestr(str(arcname or filename), fh.read())


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def xlsx(doc: Document, generated_at: datetime | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    wb.remove(wb.active)
    head_font, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
    for t in doc.tables:
        ws = wb.create_sheet(t.title[:31])
        ws.append([c.name for c in t.columns])
        for cell in ws[1]:
            cell.font, cell.fill = head_font, head_fill
            cell.alignment = Alignment(vertical="center")
        for row in t.rows:
            ws.append([c.xlsx_value() for c in row])
            for col, c in enumerate(row, start=1):
                fmt = c.number_format()
                target = ws.cell(row=ws.max_row, column=col)
                if fmt:
                    target.number_format = fmt
                elif c.kind != "text":
                    target.alignment = Alignment(horizontal="right")
        for i, column in enumerate(t.columns):
            longest = max([_width(column.name)] + [_width(r[i].text()) for r in t.rows])
            ws.column_dimensions[get_column_letter(i + 1)].width = min(60, max(column.width, longest + 2))
        ws.freeze_panes = "A2"
        if t.note:
            ws.cell(row=ws.max_row + 2, column=1, value=f"注：{t.note}").font = Font(italic=True, color="666666")
    when = generated_at.astimezone(timezone.utc).replace(tzinfo=None) if generated_at else FIXED_TIME
    wb.properties.created = wb.properties.modified = when
    wb.properties.creator = "kesu"
    wb.properties.title = doc.title
    buf = io.BytesIO()
    with _FixedTimeZip(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
    return buf.getvalue()
