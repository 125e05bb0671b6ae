"""Points over time as an SVG drawn on the server: one cumulative line per series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

WIDTH, HEIGHT, PAD = 640, 220, 36
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline points>
    last: Decimal


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    lines: list[Line]
    y_max: Decimal
    y_min: Decimal
    first_day: date
    last_day: date
    zero_y: float


def points_chart(days_by_series: dict[str, list[tuple[date, Decimal]]]) -> Chart | None:
    """Cumulative points per series, on one shared time and points axis."""
    if not days_by_series:
        return None
    cumulative: dict[str, list[tuple[date, Decimal]]] = {}
    for name, days in days_by_series.items():
        total = Decimal(0)
        cumulative[name] = []
        for day, points in days:
            total += points
            cumulative[name].append((day, total))
    all_days = [d for line in cumulative.values() for d, _ in line]
    all_values = [v for line in cumulative.values() for _, v in line] + [Decimal(0)]
    first, last = min(all_days), max(all_days)
    low, high = min(all_values), max(all_values)
    span_days = max((last - first).days, 1)
    span_values = (high - low) or Decimal(1)

    def x(day: date) -> float:
        return PAD + (WIDTH - 2 * PAD) * (day - first).days / span_days

    def y(value: Decimal) -> float:
        return HEIGHT - PAD - float((value - low) / span_values) * (HEIGHT - 2 * PAD)

    lines = []
    for index, (name, values) in enumerate(sorted(cumulative.items(), key=lambda i: i[0].lower())):
        # A step line: the total holds until the next day with points.
        coords = []
        previous = None
        for day, value in values:
            if previous is not None:
                coords.append(f"{x(day):.1f},{y(previous):.1f}")
            coords.append(f"{x(day):.1f},{y(value):.1f}")
            previous = value
        if len(values) == 1:
            coords.append(f"{WIDTH - PAD:.1f},{y(values[0][1]):.1f}")
        lines.append(Line(name, COLOURS[index % len(COLOURS)], " ".join(coords), values[-1][1]))
    return Chart(WIDTH, HEIGHT, lines, high, low, first, last, y(Decimal(0)))
