"""Dates in search queries: ``after:``, ``before:`` and ``date:`` values to UTC ranges.

`date_filter` turns a value (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, ``DD/MM/YYYY``,
``today``/``aujourdhui``, ``last-week``/``semaine-derniere``..., ``Nd``/``Nw``/``Nm``/``Ny``
and French ``Nj``/``Ns``/``Na``, ``FROM..TO`` for ``date:``) into a half-open UTC range of
the reader's local days; `DateError` says what is wrong. Called by `mailgate.query`, which
documents the syntax and turns `DateError` into its `QueryError`.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailgate import analysis

MIN_YEAR = 1900
MAX_YEAR = 2200
RELATIVE_NAMES = {
    "today": (0, "d"), "aujourdhui": (0, "d"), "aujourd'hui": (0, "d"),
    "yesterday": (-1, "d"), "hier": (-1, "d"),
    "last-week": (1, "w"), "semaine-derniere": (1, "w"),
    "last-month": (1, "m"), "mois-dernier": (1, "m"),
    "last-year": (1, "y"), "annee-derniere": (1, "y"),
}  # fmt: skip
UNIT_ALIASES = {"d": "d", "j": "d", "w": "w", "s": "w", "m": "m", "y": "y", "a": "y"}
_ISO_DATE_RE = re.compile(r"(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?")
_FRENCH_DATE_RE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_RELATIVE_RE = re.compile(r"(\d{1,5})([a-z])")


class DateError(ValueError):
    """A date value that cannot be understood; the message says why."""


def date_filter(
    name: str, value: str, now: datetime, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """(after, before) in UTC for after:/before:/date: and `value`."""
    try:
        today = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(tz).date()
    except (OverflowError, ValueError):
        raise DateError(f"dates cannot be computed from the current time {now}") from None
    if name == "date" and ".." in value:
        low, _, high = value.partition("..")
        if not low and not high:
            raise DateError('date:.. needs a date on at least one side, e.g. "date:2025-01.."')
        after = _local_range(low, name, today)[0] if low else None
        before = _local_range(high, name, today)[1] if high else None
        return _to_utc(after, tz), _to_utc(before, tz)
    start, end = _local_range(value, name, today)
    if name == "after":
        return _to_utc(start, tz), None
    if name == "before":
        return None, _to_utc(start, tz)
    return _to_utc(start, tz), _to_utc(end, tz)


def _to_utc(day: date | None, tz: ZoneInfo) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _local_range(value: str, name: str, today: date) -> tuple[date, date]:
    """The local days [start, end) that `value` designates."""
    folded = analysis.fold(value).replace("’", "'")
    try:
        result = _relative_range(folded, today) or _absolute_range(folded)
    except (ValueError, OverflowError):
        result = None
    if result is None or not MIN_YEAR <= result[0].year <= MAX_YEAR:
        raise DateError(
            f'invalid date "{value}" in {name}: — use YYYY, YYYY-MM, YYYY-MM-DD, today, '
            "yesterday, last-week, last-month, last-year or Nd/Nw/Nm/Ny (e.g. 7d)"
        )
    return result


def _relative_range(value: str, today: date) -> tuple[date, date] | None:
    tomorrow = today + timedelta(days=1)
    if value in RELATIVE_NAMES:
        amount, unit = RELATIVE_NAMES[value]
        if amount <= 0:
            day = today + timedelta(days=amount)
            return day, day + timedelta(days=1)
        return _units_ago(today, amount, unit), tomorrow
    match = _RELATIVE_RE.fullmatch(value)
    if match and match.group(2) in UNIT_ALIASES:
        unit = UNIT_ALIASES[match.group(2)]
        return _units_ago(today, int(match.group(1)), unit), tomorrow
    return None


def _units_ago(today: date, amount: int, unit: str) -> date:
    if unit in ("d", "w"):
        return today - timedelta(days=amount * (7 if unit == "w" else 1))
    months = today.year * 12 + today.month - 1 - amount * (12 if unit == "y" else 1)
    year, month = divmod(months, 12)
    return date(year, month + 1, min(today.day, calendar.monthrange(year, month + 1)[1]))


def _absolute_range(value: str) -> tuple[date, date] | None:
    match = _ISO_DATE_RE.fullmatch(value)
    if match:
        year, month, day = (int(part) if part else 0 for part in match.groups())
    elif match := _FRENCH_DATE_RE.fullmatch(value):
        day, month, year = (int(part) for part in match.groups())
    else:
        return None
    if not month:
        return date(year, 1, 1), date(year + 1, 1, 1)
    if not day:
        start = date(year, month, 1)
        return start, start + timedelta(days=calendar.monthrange(year, month)[1])
    start = date(year, month, day)
    return start, start + timedelta(days=1)
