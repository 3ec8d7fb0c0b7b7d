"""A bar chart as server-rendered SVG: no script, no inline style (the CSP forbids both).

Colours come from classes in switchyard.css; each bar carries a <title> so hovering
shows the exact number, and the legend names the series in words, not only colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 44, 28, 24


def nice_max(value: int) -> int:
    """A round axis top at or above `value`: 1, 2, 5, 10, 20, 50, ..."""
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            if multiple * magnitude >= value:
                return multiple * magnitude
        magnitude *= 10


def bar_chart(labels: Sequence[str], series: Mapping[str, Sequence[int]], *, title: str) -> Markup:
    """Grouped bars, one group per label, one bar per series (e.g. legacy / new)."""
    names = list(series)
    top = nice_max(max((v for values in series.values() for v in values), default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w * 0.8 / max(len(names), 1), 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        _axis(top, plot_h),
    ]
    for index, label in enumerate(labels):
        x0 = LEFT + index * group_w + group_w * 0.1
        for position, name in enumerate(names):
            value = series[name][index]
            height = plot_h * value / top
            parts.append(
                f'<rect class="bar bar-{escape(name)}" x="{x0 + position * bar_w:.1f}" '
                f'y="{TOP + plot_h - height:.1f}" width="{bar_w:.1f}" height="{height:.1f}">'
                f"<title>{escape(label)}: {value} {escape(name)}</title></rect>"
            )
        if index % max(len(labels) // 8, 1) == 0:
            parts.append(f'<text class="tick" x="{x0:.1f}" y="{HEIGHT - 8}">{escape(label)}</text>')
    parts.append(_legend(names))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def _axis(top: int, plot_h: float) -> str:
    lines = []
    # A middle line only where it names a whole number.
    for fraction in (0, 0.5, 1) if top % 2 == 0 else (0, 1):
        y = TOP + plot_h * (1 - fraction)
        lines.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="4" y="{y + 4:.1f}">{int(top * fraction)}</text>'
        )
    return "".join(lines)


def _legend(names: list[str]) -> str:
    items = []
    for position, name in enumerate(names):
        x = LEFT + position * 120
        items.append(
            f'<rect class="bar bar-{escape(name)}" x="{x}" y="4" width="12" height="12"/>'
            f'<text class="legend" x="{x + 16}" y="15">{escape(name)}</text>'
        )
    return "".join(items)
