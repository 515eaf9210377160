"""Geometry of the desk's SVG charts, in whole pixels of the SVG's viewBox.

Amounts are integer cents and every length is computed with integers or Decimal and
rounded half up, never with binary floats: a bar is proportional to its amount to half a
pixel. Templates only place what these functions compute (`desk/charts.html`), and each
chart comes with a table of the exact figures for anyone who cannot read the picture.
Negative amounts (a day of reversals, a day of credit notes) are drawn from the zero
line the other way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

# Columns per day, then the amounts of the axis on the right: on a narrow screen the chart
# scrolls, and it opens on its right end (the latest days, with the axis).
COL_LEFT, COL_TOP, COL_PLOT, COL_BOTTOM, COL_AXIS = 8, 16, 200, 30, 96
COL_BAR, COL_GAP, COL_GROUP = 14, 2, 40
# Horizontal bars: each row has its name above its bar and the amount after the bar, so
# the chart stays narrow enough to read on a phone.
BAR_PLOT, BAR_AMOUNT, BAR_ROW, BAR_NAME, BAR_THICK = 200, 104, 50, 16, 22


def length(value: int, span: int, size: int) -> int:
    """Pixels for `value` cents on an axis where `span` cents take `size` pixels."""
    if span <= 0:
        return 0
    exact = Decimal(abs(value)) * Decimal(size) / Decimal(span)
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def nice_step(peak: int, most: int = 4) -> int:
    """The smallest round step (1, 2 or 5 × 10ⁿ euros, in cents) that reaches `peak`
    cents in at most `most` steps: the axis reads 0, 50 €, 100 €… not 0, 37,21 €."""
    step = 100
    while True:
        for factor in (1, 2, 5):
            if factor * step * most >= peak:
                return factor * step
        step *= 10


def _ceil(value: int, step: int) -> int:
    """`value` rounded up to a multiple of `step` (value ≥ 0)."""
    return int((Decimal(value) / Decimal(step)).to_integral_value(rounding=ROUND_CEILING)) * step


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Column:
    series: int  # index in the chart's series
    value: int  # cents
    rect: Rect


@dataclass(frozen=True, slots=True)
class Group:
    key: str  # e.g. the day, ISO
    label: str
    x: int  # the centre, for the label
    columns: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    value: int  # cents
    y: int


@dataclass(frozen=True, slots=True)
class ColumnChart:
    width: int
    height: int
    left: int  # the plot's left and right edges (the axis' amounts are after `right`)
    right: int
    zero: int  # y of the zero line
    label_y: int  # baseline of the group labels
    groups: tuple[Group, ...]
    ticks: tuple[Tick, ...]


def columns(groups: Sequence[tuple[str, str, Sequence[int]]]) -> ColumnChart:
    """Grouped columns: `groups` are (key, label, one value per series) in cents, e.g.
    a day with what was collected and what was invoiced."""
    values = [v for _, _, row in groups for v in row]
    high, low = max([0, *values]), min([0, *values])
    step = nice_step(max(high, -low))
    top, bottom = _ceil(high, step), _ceil(-low, step)
    if top == 0 and bottom == 0:
        top = step  # nothing to draw: an axis of one step still reads well
    span = top + bottom
    zero = COL_TOP + length(top, span, COL_PLOT)
    made = []
    for index, (key, label, row) in enumerate(groups):
        x = COL_LEFT + index * COL_GROUP
        inner = (COL_GROUP - len(row) * COL_BAR - (len(row) - 1) * COL_GAP) // 2
        cols = []
        for series, value in enumerate(row):
            size = length(value, span, COL_PLOT)
            left = x + inner + series * (COL_BAR + COL_GAP)
            y = zero - size if value >= 0 else zero
            cols.append(Column(series, value, Rect(left, y, COL_BAR, size)))
        made.append(Group(key, label, x + COL_GROUP // 2, tuple(cols)))
    ticks = [Tick(v, zero - length(v, span, COL_PLOT)) for v in range(step, top + 1, step)]
    ticks += [Tick(-v, zero + length(v, span, COL_PLOT)) for v in range(step, bottom + 1, step)]
    right = COL_LEFT + len(groups) * COL_GROUP
    height = COL_TOP + COL_PLOT + COL_BOTTOM
    return ColumnChart(
        right + COL_AXIS,
        height,
        COL_LEFT,
        right,
        zero,
        height - 10,
        tuple(made),
        tuple(sorted([Tick(0, zero), *ticks], key=lambda t: t.y)),  # top to bottom
    )


@dataclass(frozen=True, slots=True)
class Bar:
    key: str
    label: str
    value: int  # cents
    rect: Rect
    name_y: int  # baseline of the name, above the bar
    amount_x: int  # where the amount is written (after the bar, or after the zero line)
    amount_y: int


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    zero: int  # x of the zero line
    bars: tuple[Bar, ...]


def bars(rows: Sequence[tuple[str, str, int]]) -> BarChart:
    """Horizontal bars, one per (key, label, cents): the longest fills the plot."""
    values = [v for _, _, v in rows]
    high, low = max([0, *values]), min([0, *values])
    span = high - low
    zero = length(low, span, BAR_PLOT)
    made = []
    for index, (key, label, value) in enumerate(rows):
        size = length(value, span, BAR_PLOT)
        x = zero if value >= 0 else zero - size
        top = index * BAR_ROW
        bar_y = top + BAR_NAME + 4
        made.append(
            Bar(
                key,
                label,
                value,
                Rect(x, bar_y, size, BAR_THICK),
                top + BAR_NAME - 2,
                max(zero, x + size) + 6,
                bar_y + BAR_THICK // 2 + 5,
            )
        )
    return BarChart(BAR_PLOT + BAR_AMOUNT, max(len(rows), 1) * BAR_ROW, zero, tuple(made))
