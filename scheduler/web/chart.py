"""Coverage over time as an inline SVG, drawn on the server: no script, works under a strict
Content-Security-Policy, and every label is escaped (series names may come from feeds)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Final

from markupsafe import Markup, escape

from haitiwatch.db.search import CoveragePoint

WIDTH: Final = 720
HEIGHT: Final = 260
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 40, 10, 10, 30
MAX_SERIES: Final = 6
MAX_DAYS: Final = 400
#: Colour-blind-safe palette (Okabe-Ito), then grey for "other".
PALETTE: Final = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")


def series_of(points: Sequence[CoveragePoint]) -> tuple[list[date], dict[str, list[int]]]:
    """Every day from the first to the last (at most MAX_DAYS, the latest kept), and per
    series a count a day; the biggest series are kept, the rest summed as "other"."""
    if not points:
        return [], {}
    last = max(p.day for p in points)
    first = max(min(p.day for p in points), last - timedelta(days=MAX_DAYS - 1))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    index = {day: i for i, day in enumerate(days)}
    points = [p for p in points if p.day >= first]
    totals: dict[str, int] = defaultdict(int)
    for p in points:
        totals[p.key] += p.count
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    kept = set(ranked[:MAX_SERIES])
    names = ranked[:MAX_SERIES] + (["other"] if len(ranked) > MAX_SERIES else [])
    series = {name: [0] * len(days) for name in names}
    for p in points:
        series[p.key if p.key in kept else "other"][index[p.day]] += p.count
    return days, series


def coverage_svg(points: Sequence[CoveragePoint], title: str) -> Markup:
    """Stacked bars, one per day, with a y axis, first/last day labels and a legend."""
    days, series = series_of(points)
    label = escape(title)
    if not days:
        return Markup(  # noqa: S704  (constants and an escaped label)
            f'<svg class="chart" viewBox="0 0 {WIDTH} 60" role="img" aria-label="{label}">'
            '<text x="10" y="35">No articles in this period.</text></svg>'
        )
    stacks = [sum(values[i] for values in series.values()) for i in range(len(days))]
    top = max(1, max(stacks))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    bar_w = plot_w / len(days)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 24 * _legend_rows(series)}" '
        f'role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{label}</title>",
        _axes(top, plot_h),
    ]
    for i, day in enumerate(days):
        y: float = PAD_TOP + plot_h
        for n, (name, values) in enumerate(series.items()):
            if not values[i]:
                continue
            h = values[i] / top * plot_h
            y -= h
            parts.append(
                f'<rect class="bar" x="{PAD_LEFT + i * bar_w:.2f}" y="{y:.2f}" '
                f'width="{max(bar_w - 1, 0.5):.2f}" height="{h:.2f}" fill="{PALETTE[n]}">'
                f"<title>{day.isoformat()} {escape(name)}: {values[i]}</title></rect>"
            )
    parts.append(_day_labels(days))
    if len(days) == MAX_DAYS and min(p.day for p in points) < days[0]:
        parts.append(
            f'<text x="{WIDTH - PAD_RIGHT}" y="{PAD_TOP + 10}" text-anchor="end">'
            f"last {MAX_DAYS} days shown: set From/To for earlier ones</text>"
        )
    parts.append(_legend(series))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every label escaped above)


def _axes(top: int, plot_h: int) -> str:
    bottom = PAD_TOP + plot_h
    return (
        f'<line x1="{PAD_LEFT}" y1="{bottom}" x2="{WIDTH - PAD_RIGHT}" y2="{bottom}" '
        'stroke="#444"/>'
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{bottom}" stroke="#444"/>'
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 10}" text-anchor="end">{top}</text>'
        f'<text x="{PAD_LEFT - 4}" y="{bottom}" text-anchor="end">0</text>'
    )


def _day_labels(days: list[date]) -> str:
    y = HEIGHT - PAD_BOTTOM + 18
    out = f'<text x="{PAD_LEFT}" y="{y}">{days[0].isoformat()}</text>'
    if len(days) > 1:
        out += (
            f'<text x="{WIDTH - PAD_RIGHT}" y="{y}" text-anchor="end">{days[-1].isoformat()}</text>'
        )
    return out


def _legend_rows(series: dict[str, list[int]]) -> int:
    return (len(series) + 2) // 3


def _legend(series: dict[str, list[int]]) -> str:
    out = []
    for n, name in enumerate(series):
        x = PAD_LEFT + (n % 3) * 220
        y = HEIGHT + 4 + (n // 3) * 24
        out.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" fill="{PALETTE[n]}"/>'
            f'<text class="legend" x="{x + 20}" y="{y + 12}">{escape(name[:28])} '
            f"({sum(series[name])})</text>"
        )
    return "".join(out)
