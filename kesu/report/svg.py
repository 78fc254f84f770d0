"""Charts as inline SVG, drawn here (no JavaScript, no CDN; the HTML report works offline).

Output is a pure function of the numbers: coordinates are rounded to two decimals, so the same
report always gives the same bytes. Every chart is an image with a name (``<title>``) and a text
description of its figures (``<desc>``); every bar, slice and point carries its value as text
(printed next to it, and as its own ``<title>``), so a screen reader gets the numbers too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#2f6db5", "#e07b39", "#3a9d5d", "#c8423b", "#8a5fbf", "#b8902a", "#3aa1a8", "#7a7a7a",
           "#d35d8f", "#5b7f2b")
FONT = "font-family=\"'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif\" font-size=\"12\""


def _n(x: float) -> str:
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text_width(text: str) -> float:
    """Rough width at 12 px: CJK characters are square, others about half as wide."""
    return sum(12.0 if ord(ch) > 0x2E80 else 6.6 for ch in text)


def _open(width: float, height: float, title: str, desc: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" {FONT}><title>{escape(title)}</title>'
            f"<desc>{escape(desc)}</desc>")


def _desc(items: Sequence[tuple[str, float, str]]) -> str:
    return "；".join(f"{label}：{text}" for label, _, text in items)


def bar_chart(items: Sequence[tuple[str, float, str]], *, title: str) -> str:
    """Horizontal bars: ``(label, value, value_text)``; values must be >= 0."""
    label_w = min(220.0, max([_text_width(label) for label, _, _ in items] + [40.0]) + 12)
    bar_w, row_h, top = 300.0, 22.0, 8.0
    width = label_w + bar_w + 70
    height = top * 2 + row_h * len(items)
    peak = max([v for _, v, _ in items] + [0.0])
    parts = [_open(width, height, title, _desc(items))]
    for i, (label, value, value_text) in enumerate(items):
        y = top + i * row_h
        length = bar_w * value / peak if peak > 0 else 0.0
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<text x="{_n(label_w - 6)}" y="{_n(y + 15)}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{_n(label_w)}" y="{_n(y + 3)}" width="{_n(length)}" height="16" fill="{color}">'
                     f"<title>{escape(label)}：{escape(value_text)}</title></rect>")
        parts.append(f'<text x="{_n(label_w + length + 4)}" y="{_n(y + 15)}">{escape(value_text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def pie_chart(items: Sequence[tuple[str, float, str]], *, title: str) -> str:
    """A pie with a legend: ``(label, value, value_text)``; slices in the given order from 12 o'clock."""
    items = [i for i in items if i[1] > 0]
    total = sum(v for _, v, _ in items)
    r, cx, cy = 80.0, 95.0, 95.0
    legend_x = 200.0
    height = max(190.0, 20.0 + 20 * len(items))
    width = legend_x + max([_text_width(f"{label} {text}") for label, _, text in items] + [60.0]) + 30
    parts = [_open(width, height, title, _desc(items))]
    angle = 0.0
    for i, (label, value, text) in enumerate(items):
        color = PALETTE[i % len(PALETTE)]
        sweep = 2 * math.pi * value / total
        tip = f"<title>{escape(label)}：{escape(text)}</title>"
        if len(items) == 1:
            parts.append(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}" fill="{color}">{tip}</circle>')
        else:
            x0, y0 = cx + r * math.sin(angle), cy - r * math.cos(angle)
            x1, y1 = cx + r * math.sin(angle + sweep), cy - r * math.cos(angle + sweep)
            large = 1 if sweep > math.pi else 0
            parts.append(f'<path d="M{_n(cx)},{_n(cy)} L{_n(x0)},{_n(y0)} A{_n(r)},{_n(r)} 0 {large} 1 '
                         f'{_n(x1)},{_n(y1)} Z" fill="{color}" stroke="#fff" stroke-width="1">{tip}</path>')
        angle += sweep
        ly = 20.0 + 20 * i
        parts.append(f'<rect x="{_n(legend_x)}" y="{_n(ly - 10)}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{_n(legend_x + 18)}" y="{_n(ly)}">{escape(label)} {escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- charts over categories (months): vertical bars, stacked bars, lines ---------------------------

# One series: its name, and per category a value (None: no figure) with the text shown for it.
SeriesData = tuple[str, Sequence[float | None], Sequence[str]]


def _nice_top(peak: float, percent: bool) -> tuple[float, float]:
    """The value axis' top and step: 1-2-5 steps, at most about 5 gridlines (percent: up to 100 %)."""
    if percent:
        top = 1.0 if peak <= 1 else math.ceil(peak * 5) / 5
        return top, top / 4
    if peak <= 0:
        return 1.0, 1.0
    raw = peak / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    step = max(step, 1.0)  # counts are whole
    return step * math.ceil(peak / step), step


def _axis_text(value: float, percent: bool) -> str:
    return f"{value * 100:.0f}%" if percent else _n(value)


def _describe(categories: Sequence[str], series: Sequence[SeriesData]) -> str:
    out = []
    for i, cat in enumerate(categories):
        figures = "，".join(f"{name} {texts[i]}" for name, values, texts in series if values[i] is not None)
        out.append(f"{cat}：{figures or '无数据'}")
    return "；".join(out)


def _frame(categories: Sequence[str], series: Sequence[SeriesData], top: float, step: float, *, percent: bool,
           title: str, x_title: str, y_title: str, slot: float) -> tuple[list[str], float, float, float]:
    """Opens the SVG and draws gridlines, value axis, categories, axis titles and the legend.
    Returns the parts, the plot's left x, bottom y and height."""
    left, top_y, plot_h = 62.0, 24.0, 200.0
    bottom = top_y + plot_h
    plot_w = slot * len(categories)
    legend_x = left + plot_w + 20
    legend_w = max([_text_width(name) for name, _, _ in series] + [40.0]) + 30
    width = legend_x + legend_w
    height = bottom + 52
    parts = [_open(width, height, title, _describe(categories, series))]
    ticks = int(round(top / step))
    for k in range(ticks + 1):
        v = step * k
        y = bottom - plot_h * v / top
        parts.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" stroke="#ddd"/>')
        parts.append(f'<text x="{_n(left - 6)}" y="{_n(y + 4)}" text-anchor="end">{_axis_text(v, percent)}</text>')
    parts.append(f'<line x1="{_n(left)}" y1="{_n(bottom)}" x2="{_n(left + plot_w)}" y2="{_n(bottom)}" stroke="#888"/>')
    for i, cat in enumerate(categories):
        parts.append(f'<text x="{_n(left + slot * (i + 0.5))}" y="{_n(bottom + 16)}" text-anchor="middle">'
                     f"{escape(cat)}</text>")
    if x_title:
        parts.append(f'<text x="{_n(left + plot_w / 2)}" y="{_n(bottom + 40)}" text-anchor="middle">'
                     f"{escape(x_title)}</text>")
    if y_title:
        cy = top_y + plot_h / 2
        parts.append(f'<text x="14" y="{_n(cy)}" text-anchor="middle" transform="rotate(-90 14 {_n(cy)})">'
                     f"{escape(y_title)}</text>")
    for j, (name, _, _) in enumerate(series):
        ly = top_y + 6 + 20 * j
        parts.append(f'<rect x="{_n(legend_x)}" y="{_n(ly)}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>')
        parts.append(f'<text x="{_n(legend_x + 18)}" y="{_n(ly + 10)}">{escape(name)}</text>')
    return parts, left, bottom, plot_h


def column_chart(categories: Sequence[str], series: Sequence[SeriesData], *, title: str, x_title: str = "",
                 y_title: str = "", stacked: bool = False, percent: bool = False) -> str:
    """Vertical bars per category: side by side, or stacked with the total above the stack."""
    if stacked:
        peak = max([sum(v[i] or 0.0 for _, v, _ in series) for i in range(len(categories))] + [0.0])
    else:
        peak = max([x or 0.0 for _, v, _ in series for x in v] + [0.0])
    top, step = _nice_top(peak, percent)
    slot = max(56.0, max([_text_width(c) for c in categories] + [0.0]) + 12,
               0.0 if stacked else 22.0 * len(series) + 16)
    parts, left, bottom, plot_h = _frame(categories, series, top, step, percent=percent, title=title,
                                         x_title=x_title, y_title=y_title, slot=slot)
    scale = plot_h / top
    for i, cat in enumerate(categories):
        x0 = left + slot * i + 8
        inner = slot - 16
        base = bottom
        for j, (name, values, texts) in enumerate(series):
            v = values[i]
            if v is None or v <= 0:
                continue
            h = v * scale
            color = PALETTE[j % len(PALETTE)]
            tip = f"<title>{escape(cat)} {escape(name)}：{escape(texts[i])}</title>"
            if stacked:
                base -= h
                parts.append(f'<rect x="{_n(x0)}" y="{_n(base)}" width="{_n(inner)}" height="{_n(h)}" '
                             f'fill="{color}" stroke="#fff" stroke-width="0.5">{tip}</rect>')
                if h >= 14:
                    parts.append(f'<text x="{_n(x0 + inner / 2)}" y="{_n(base + h / 2 + 4)}" text-anchor="middle" '
                                 f'fill="#fff">{escape(texts[i])}</text>')
            else:
                w = inner / len(series)
                x = x0 + w * j
                parts.append(f'<rect x="{_n(x)}" y="{_n(bottom - h)}" width="{_n(w)}" height="{_n(h)}" '
                             f'fill="{color}">{tip}</rect>')
                parts.append(f'<text x="{_n(x + w / 2)}" y="{_n(bottom - h - 3)}" text-anchor="middle">'
                             f"{escape(texts[i])}</text>")
        if stacked and base < bottom:
            total = sum(values[i] or 0.0 for _, values, _ in series)
            parts.append(f'<text x="{_n(x0 + inner / 2)}" y="{_n(base - 3)}" text-anchor="middle" font-weight="bold">'
                         f"{_axis_text(total, percent) if percent else _n(total)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def line_chart(categories: Sequence[str], series: Sequence[SeriesData], *, title: str, x_title: str = "",
               y_title: str = "", percent: bool = False) -> str:
    """Lines through each series' points; a category without a figure leaves a gap in its line."""
    peak = max([x or 0.0 for _, v, _ in series for x in v] + [0.0])
    top, step = _nice_top(peak, percent)
    slot = max(56.0, max([_text_width(c) for c in categories] + [0.0]) + 12)
    parts, left, bottom, plot_h = _frame(categories, series, top, step, percent=percent, title=title,
                                         x_title=x_title, y_title=y_title, slot=slot)
    for j, (name, values, texts) in enumerate(series):
        color = PALETTE[j % len(PALETTE)]
        points = [(left + slot * (i + 0.5), bottom - plot_h * v / top) if v is not None else None
                  for i, v in enumerate(values)]
        run: list[tuple[float, float]] = []
        for p in [*points, None]:
            if p is not None:
                run.append(p)
                continue
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(f"{_n(x)},{_n(y)}" for x, y in run)}" fill="none" '
                             f'stroke="{color}" stroke-width="2"/>')
            run = []
        for i, p in enumerate(points):
            if p is None:
                continue
            x, y = p
            parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3.5" fill="{color}">'
                         f"<title>{escape(categories[i])} {escape(name)}：{escape(texts[i])}</title></circle>")
            parts.append(f'<text x="{_n(x)}" y="{_n(y - 7)}" text-anchor="middle">{escape(texts[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)
