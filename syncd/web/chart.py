"""The dashboard's weekly chart: running minutes per week against the plan, as inline SVG
rendered on the server (no script, no build step, readable on a phone)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from syncd.progress import WeekSummary

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 40


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k (k >= 0) at or above ``value`` (at least 10)."""
    value = max(value, 10.0)
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def week_label(week: WeekSummary) -> str:
    """``W3`` for a plan week, the week's first day (``09-21``) outside the plan."""
    return f"W{week.plan_week}" if week.plan_week else week.start.strftime("%m-%d")


def weekly_chart(weeks: Sequence[WeekSummary]) -> str:
    """An ``<svg>`` with one bar per week (actual running minutes) and a plan mark (the
    prescribed weekly volume); bars above the plan are drawn in the warning colour."""
    if not weeks:
        return '<p class="muted">No weeks to show yet.</p>'
    top = nice_ceiling(max(max(w.run_min, w.prescribed_volume_min or 0) for w in weeks) * 1.1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(weeks)

    def y(minutes: float) -> float:
        return TOP + plot_h * (1 - minutes / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Weekly running minutes against the plan</title>',
        f'<desc id="chart-desc">{len(weeks)} weeks. Bars: minutes run; dark marks: the '
        'plan\'s weekly volume.</desc>',
        *_grid(top, y),
    ]
    for index, week in enumerate(weeks):
        parts.append(_week(week, index, slot, y, len(weeks)))
    parts.append("</svg>")
    return "\n".join(parts)


Scale = Callable[[float], float]


def _grid(top: float, y: Scale) -> list[str]:
    out = []
    for i in range(5):
        minutes = top * i / 4
        level = y(minutes)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{level:.1f}" '
                   f'y2="{level:.1f}"/>')
        out.append(f'<text class="axis" x="{LEFT - 6}" y="{level + 4:.1f}" '
                   f'text-anchor="end">{minutes:g}</text>')
    out.append(f'<text class="axis" x="{LEFT - 6}" y="{TOP - 14}" text-anchor="end">min</text>')
    return out


def _week(week: WeekSummary, index: int, slot: float, y: Scale, count: int) -> str:
    x = LEFT + index * slot
    plan = week.prescribed_volume_min
    over = plan is not None and week.run_min > plan
    bar_w = max(slot * 0.6, 2)
    bar_x = x + (slot - bar_w) / 2
    base = y(0)
    height = base - y(week.run_min)
    plan_text = f"{plan:g} min planned" if plan is not None else "outside the plan"
    tooltip = (f"{week_label(week)} ({week.start.isoformat()}): {week.run_min:.1f} min run, "
               f"{plan_text}, {week.sessions} sessions")
    parts = [
        f'<g class="week{" over" if over else ""}" data-week="{week.start.isoformat()}" '
        f'data-actual="{week.run_min:.1f}" data-plan="{"" if plan is None else f"{plan:g}"}">',
        f"<title>{escape(tooltip)}</title>",
        f'<rect class="actual" x="{bar_x:.1f}" y="{base - height:.1f}" width="{bar_w:.1f}" '
        f'height="{height:.1f}"/>',
    ]
    if plan is not None:
        mark = y(plan)
        parts.append(f'<line class="plan" x1="{x + slot * 0.1:.1f}" x2="{x + slot * 0.9:.1f}" '
                     f'y1="{mark:.1f}" y2="{mark:.1f}"/>')
    # Thin the labels on long histories so they never overlap (every 2nd, 3rd... week).
    every = max(1, math.ceil(count / 16))
    if (count - 1 - index) % every == 0:
        parts.append(f'<text class="axis" x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle">{escape(week_label(week))}</text>')
    parts.append("</g>")
    return "".join(parts)
