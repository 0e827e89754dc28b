"""Server-rendered SVG charts for the console: a bar per day, readable without JavaScript
and without a stylesheet of their own (the console's CSS colours them by class).

The SVG scales to its container (``viewBox``, no fixed width), names itself for screen
readers (``role="img"`` with a title and a description summing the series), and gives
every bar a ``<title>`` (the day and its value) that browsers show on hover. Negative
values (a day the players won) hang below the zero line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup

WIDTH = 640
HEIGHT = 180
LEFT = 64  # room for the axis labels
BOTTOM = 22
TOP = 10


def _label(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def bar_chart(title: str, days: Sequence[date], values: Sequence[float],
              unit: str = "") -> Markup:
    """A bar chart of ``values`` over ``days`` as inline SVG markup (escaped text)."""
    if len(days) != len(values):
        raise ValueError("one value per day")
    count = max(len(values), 1)
    high = max([0.0, *values])
    low = min([0.0, *values])
    span = (high - low) or 1.0
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - 8
    zero_y = TOP + plot_h * high / span
    step = plot_w / count
    bar_w = max(step * 0.7, 1.0)
    suffix = f" {unit}" if unit else ""
    total = sum(values)
    chart_id = "chart-" + "".join(ch if ch.isalnum() else "-" for ch in title.lower())[:40]
    tick = Markup('<text class="tick" x="{x}" y="{y}" text-anchor="{anchor}">{text}</text>')
    parts = [
        Markup('<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
               'aria-labelledby="{id}-t {id}-d" preserveAspectRatio="none">'
               '<title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>'
               '<line class="axis" x1="{left}" y1="{zero}" x2="{right}" y2="{zero}"/>').format(
            w=WIDTH, h=HEIGHT, id=chart_id, title=title, left=LEFT, right=WIDTH - 8,
            zero=f"{zero_y:.1f}",
            desc=f"{len(values)} days from {days[0] if days else ''} to "
                 f"{days[-1] if days else ''}; total {_label(total)}{suffix}; "
                 f"highest day {_label(high)}{suffix}."),
        tick.format(x=LEFT - 6, y=TOP + 4, anchor="end", text=_label(high)),
        tick.format(x=LEFT - 6, y=f"{zero_y + 4:.1f}", anchor="end", text="0"),
    ]
    if low < 0:
        parts.append(tick.format(x=LEFT - 6, y=f"{TOP + plot_h:.1f}", anchor="end",
                                 text=_label(low)))
    bar = Markup('<rect class="{kind}" x="{x}" y="{y}" width="{w}" height="{h}">'
                 '<title>{label}</title></rect>')
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        height = plot_h * abs(value) / span
        parts.append(bar.format(
            kind="bar negative" if value < 0 else "bar",
            x=f"{LEFT + i * step + (step - bar_w) / 2:.1f}",
            y=f"{zero_y - height if value >= 0 else zero_y:.1f}", w=f"{bar_w:.1f}",
            h=f"{height:.1f}", label=f"{day.isoformat()}: {_label(value)}{suffix}"))
    if days:
        parts.append(tick.format(x=LEFT, y=HEIGHT - 6, anchor="start", text=f"{days[0]:%d %b}"))
        parts.append(tick.format(x=WIDTH - 8, y=HEIGHT - 6, anchor="end",
                                 text=f"{days[-1]:%d %b}"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
