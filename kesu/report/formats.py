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
from kesu.report.document import Chart, Document, Table
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
.note{color:#555;font-size:.9em}.chart{margin:.5em 0}figure.chart{margin:.8em 0}
figure.chart figcaption{color:#555;font-size:.9em}
"""


def html(doc: Document) -> str:
    out = ['<!DOCTYPE html>', '<html lang="zh-CN">', '<head>', '<meta charset="utf-8">',
           f"<title>{escape(doc.title)}</title>", f"<style>{CSS.strip()}</style>", "</head>", "<body>",
           f"<h1>{escape(doc.title)}</h1>", f'<p class="en">{escape(doc.title_en)}</p>',
           f"<p>{escape(doc.subtitle)}</p>"]
    for t in doc.tables:
        out.append(f'<section id="{t.key}" data-key="{t.key}">')
        out.append(f"<h2>{escape(t.title)} <small>{escape(t.title_en)}</small></h2>")
        if t.rows:
            for chart in t.charts:
                title = chart.text(doc.lang)[0]
                out.append(f'<figure class="chart">{_chart(t, chart, doc.lang)}'
                           f"<figcaption>{escape(title)}</figcaption></figure>")
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


def _chart(t: Table, chart: Chart, lang: str) -> str:
    title, x_title, y_title = chart.text(lang)
    if chart.kind in ("bar", "pie"):
        items = []
        for row in t.rows:
            value = row[chart.value_cols[0]]
            if value.value is None:
                continue
            items.append((row[chart.label_col].text(), float(value.value), value.text()))
        draw = svg.pie_chart if chart.kind == "pie" else svg.bar_chart
        return draw(items, title=title)
    categories = [row[chart.label_col].text() for row in t.rows]
    series = [(t.columns[c].name, [None if row[c].value is None else float(row[c].value) for row in t.rows],
               [row[c].text() for row in t.rows]) for c in chart.value_cols]
    if chart.kind == "line":
        return svg.line_chart(categories, series, title=title, x_title=x_title, y_title=y_title, percent=chart.percent)
    return svg.column_chart(categories, series, title=title, x_title=x_title, y_title=y_title,
                            stacked=chart.kind == "stacked", percent=chart.percent)


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


def _xlsx_chart(ws: Any, t: Table, chart: Chart, lang: str) -> Any:
    """A native Excel chart over the sheet's own cells (header row 1, data rows 2..n+1)."""
    from openpyxl.chart import BarChart, LineChart, PieChart, Reference
    from openpyxl.chart.data_source import AxDataSource, StrRef
    from openpyxl.chart.label import DataLabelList
    from openpyxl.chart.marker import Marker

    last = len(t.rows) + 1
    title, x_title, y_title = chart.text(lang)
    made: Any
    if chart.kind == "pie":
        made = PieChart()
    elif chart.kind == "line":
        made = LineChart()
        made.display_blanks = "gap"  # a month without a figure is a gap, not 0
    else:
        made = BarChart()
        made.type = "bar" if chart.kind == "bar" else "col"
        if chart.kind == "stacked":
            made.grouping, made.overlap = "stacked", 100
    for col in chart.value_cols:
        made.add_data(Reference(ws, min_col=col + 1, min_row=1, max_row=last), titles_from_data=True)
    categories = Reference(ws, min_col=chart.label_col + 1, min_row=2, max_row=last)
    for series in made.series:  # the categories are text (months, units): a string reference
        series.cat = AxDataSource(strRef=StrRef(f=str(categories)))
    made.title = title
    made.dataLabels = DataLabelList()
    made.dataLabels.showVal = chart.kind != "pie"
    made.dataLabels.showPercent = chart.kind == "pie"
    for flag in ("showSerName", "showCatName", "showLegendKey", "showLeaderLines"):
        setattr(made.dataLabels, flag, False)
    if chart.kind == "line":
        for series in made.series:
            series.marker = Marker(symbol="circle", size=7)
            series.smooth = False
    if chart.kind != "pie":
        made.x_axis.title, made.y_axis.title = x_title or None, y_title or None
        made.x_axis.delete = made.y_axis.delete = False  # shown (openpyxl 3.1 would hide them)
        made.y_axis.scaling.min = 0
        if chart.percent:
            made.y_axis.number_format = "0%"
            made.y_axis.scaling.max = 1
        if chart.kind == "bar":
            made.x_axis.scaling.orientation = "maxMin"  # first row on top, as in the table
        if len(chart.value_cols) == 1:
            made.legend = None
    made.width = max(16.0, 2.2 * len(t.rows) + 6) if chart.kind in ("stacked", "column", "line") else 16.0
    made.height = 8.0
    return made


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
        if t.rows:
            anchor = get_column_letter(len(t.columns) + 2)
            for k, chart in enumerate(t.charts):
                ws.add_chart(_xlsx_chart(ws, t, chart, doc.lang), f"{anchor}{2 + 17 * k}")
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
