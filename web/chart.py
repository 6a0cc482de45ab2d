"""A small server-rendered SVG bar chart of messages per month (no JavaScript, no library).

Each bar links to its month page and carries a <title> for screen readers and tooltips; the
colours come from the stylesheet so the chart follows light and dark themes. Called by the
list page view.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

from web.i18n import Translator

WIDTH = 720
HEIGHT = 140
AXIS = 18
GAP = 2
MAX_BAR = 48


def _months(counts: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Every month from the first to the last of `counts`, zero-filled."""
    if not counts:
        return []
    by_month = {(y, m): n for y, m, n in counts}
    year, month = counts[0][0], counts[0][1]
    last = (counts[-1][0], counts[-1][1])
    months = []
    while (year, month) <= last:
        months.append((year, month, by_month.get((year, month), 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_chart(
    counts: list[tuple[int, int, int]],
    t: Translator,
    url_for: Callable[[int, int], str],
) -> Markup:
    """The SVG chart, or nothing when there are no messages."""
    months = _months(counts)
    if not months:
        return Markup("")
    peak = max(n for _y, _m, n in months) or 1
    slot = min(MAX_BAR, WIDTH / len(months))
    plot = HEIGHT - AXIS
    title = escape(t("activity"))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="xMinYMax meet" '
        'role="img" '
        f'aria-labelledby="chart-title"><title id="chart-title">{title}</title>'
    ]
    for i, (year, month, count) in enumerate(months):
        x = i * slot
        height = max(1.0, plot * count / peak) if count else 0
        label = escape(f"{t.month_name(year, month)} — {count} {t('messages')}")
        bar = (
            f'<rect class="bar" x="{x + GAP / 2:.1f}" y="{plot - height:.1f}" '
            f'width="{max(1.0, slot - GAP):.1f}" height="{height:.1f}">'
            f"<title>{label}</title></rect>"
        )
        parts.append(f'<a href="{escape(url_for(year, month))}">{bar}</a>' if count else bar)
        if month == 1 or i == 0:
            parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 4}">{year}</text>')
    parts.append(f'<line class="base" x1="0" y1="{plot}" x2="{WIDTH}" y2="{plot}"/></svg>')
    return Markup("".join(parts))
