"""The one tabular view every human format renders: titled tables of typed cells.

A report is computed once into data (``PeriodReport`` / ``MajorReport``), turned into a
``Document`` here-after, and the Markdown, HTML and XLSX renderers only lay the same cells out.
``Cell.text()`` is the single place a number becomes text; XLSX stores ``Cell.xlsx_value()`` with
``Cell.number_format()`` so Excel shows the same figure and still computes with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CellKind = Literal["text", "int", "pct", "yuan", "signed_int", "signed_yuan", "pp", "signed_pct", "dec2"]
DASH = "—"


@dataclass(frozen=True)
class Cell:
    value: Any
    kind: CellKind = "text"
    gap: bool = False  # a missing figure a chart plots: an empty XLSX cell (a "—" would be drawn as 0)

    def text(self) -> str:
        v = self.value
        if v is None:
            return DASH if self.kind != "text" else ""
        if self.kind == "int":
            return str(int(v))
        if self.kind == "signed_int":
            return f"{int(v):+d}"
        if self.kind == "pct":
            return f"{v * 100:.1f}%"
        if self.kind == "signed_pct":
            return f"{v * 100:+.1f}%"
        if self.kind == "pp":
            return f"{v * 100:+.1f} pp"
        if self.kind in ("yuan", "dec2"):
            return f"{v:,.2f}"
        if self.kind == "signed_yuan":
            return f"{v:+,.2f}"
        return str(v)

    def xlsx_value(self) -> Any:
        if self.value is None:
            return DASH if self.kind != "text" and not self.gap else None
        if self.kind in ("int", "signed_int"):
            return int(self.value)
        if self.kind == "pp":
            return round(self.value * 100, 10)
        if self.kind == "text":
            return str(self.value) or None  # an empty cell, as Excel keeps it
        # XLSX keeps 15-16 significant digits; rounded, what is read back equals what was written.
        return round(float(self.value), 10)

    def number_format(self) -> str | None:
        if self.value is None:
            return None
        return {
            "int": "0", "signed_int": "+0;-0;0", "pct": "0.0%", "signed_pct": "+0.0%;-0.0%;0.0%",
            "pp": '+0.0" pp";-0.0" pp";0.0" pp"', "yuan": "#,##0.00", "signed_yuan": "+#,##0.00;-#,##0.00;0.00",
            "dec2": "#,##0.00",
        }.get(self.kind)


@dataclass(frozen=True)
class Column:
    name: str  # Chinese, as the sheet's header
    width: int = 12  # XLSX column width in characters (a CJK character counts 2)


ChartKind = Literal["bar", "column", "stacked", "line", "pie"]


@dataclass(frozen=True)
class Chart:
    """A chart of the table's own cells, drawn as SVG in the HTML and as a native chart in the XLSX.

    ``label_col`` holds the categories (one per row); each of ``value_cols`` is a series named by
    its column header. ``bar``: horizontal bars (one series); ``column``: vertical bars side by
    side; ``stacked``: vertical bars stacked; ``line``: lines with points; ``pie``: one series.
    Titles and axis titles come in Chinese and English; the report's language picks one.
    """

    kind: ChartKind
    label_col: int
    value_cols: tuple[int, ...]
    title: str
    title_en: str
    x_title: str = ""
    x_title_en: str = ""
    y_title: str = ""
    y_title_en: str = ""
    percent: bool = False  # values are fractions, shown as percentages

    def text(self, lang: str) -> tuple[str, str, str]:
        """Title, category axis title, value axis title in ``lang`` (zh or en)."""
        if lang == "en":
            return self.title_en or self.title, self.x_title_en or self.x_title, self.y_title_en or self.y_title
        return self.title, self.x_title, self.y_title


@dataclass(frozen=True)
class Table:
    key: str
    title: str  # Chinese; also the XLSX sheet name (<= 31 characters)
    title_en: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    charts: tuple[Chart, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Document:
    title: str
    title_en: str
    subtitle: str
    tables: tuple[Table, ...] = field(default_factory=tuple)
    file_stem: str = "report"
    lang: str = "zh"  # of the charts' titles and axis titles


def cells(*values: Any, kinds: str = "") -> tuple[Cell, ...]:
    """A row: ``kinds`` gives one letter per value: t text, i int, p pct, y yuan, d two decimals."""
    codes = {"t": "text", "i": "int", "p": "pct", "y": "yuan", "d": "dec2"}
    return tuple(Cell(v, codes[k]) for v, k in zip(values, kinds or "t" * len(values), strict=True))  # type: ignore[arg-type]
