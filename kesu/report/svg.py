"""Charts as inline SVG, drawn here (no JavaScript, no CDN; the HTML report works offline).

Output is a pure function of the numbers: coordinates are rounded to two decimals, so the same
report always gives the same bytes.
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


def bar_chart(items: Sequence[tuple[str, float, str]], *, title: str) -> str:
    """Horizontal bars: ``(label, value, value_text)``; values must be >= 0."""
    label_w = min(220.0, max([_text_width(label) for label, _, _ in items] + [40.0]) + 12)
    bar_w, row_h, top = 300.0, 22.0, 8.0
    width = label_w + bar_w + 70
    height = top * 2 + row_h * len(items)
    peak = max([v for _, v, _ in items] + [0.0])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_n(width)}" height="{_n(height)}" '
             f'viewBox="0 0 {_n(width)} {_n(height)}" {FONT}><title>{escape(title)}</title>']
    for i, (label, value, value_text) in enumerate(items):
        y = top + i * row_h
        length = bar_w * value / peak if peak > 0 else 0.0
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<text x="{_n(label_w - 6)}" y="{_n(y + 15)}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{_n(label_w)}" y="{_n(y + 3)}" width="{_n(length)}" height="16" fill="{color}"/>')
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
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_n(width)}" height="{_n(height)}" '
             f'viewBox="0 0 {_n(width)} {_n(height)}" {FONT}><title>{escape(title)}</title>']
    angle = 0.0
    for i, (label, value, text) in enumerate(items):
        color = PALETTE[i % len(PALETTE)]
        sweep = 2 * math.pi * value / total
        if len(items) == 1:
            parts.append(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}" fill="{color}"/>')
        else:
            x0, y0 = cx + r * math.sin(angle), cy - r * math.cos(angle)
            x1, y1 = cx + r * math.sin(angle + sweep), cy - r * math.cos(angle + sweep)
            large = 1 if sweep > math.pi else 0
            parts.append(f'<path d="M{_n(cx)},{_n(cy)} L{_n(x0)},{_n(y0)} A{_n(r)},{_n(r)} 0 {large} 1 '
                         f'{_n(x1)},{_n(y1)} Z" fill="{color}" stroke="#fff" stroke-width="1"/>')
        angle += sweep
        ly = 20.0 + 20 * i
        parts.append(f'<rect x="{_n(legend_x)}" y="{_n(ly - 10)}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{_n(legend_x + 18)}" y="{_n(ly)}">{escape(label)} {escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)
