"""When digests are due: the scheduled instants of a subscription and their periods (pure).

A daily subscription is due every day at `hour` in the reader's time zone; a weekly one on
`weekday` (0 = Monday) at `hour`. `due_period` gives the latest scheduled instant at or before
`now` and its key, which with the subscription id identifies one digest (the `digest_runs`
key). The window a digest covers starts where the reader's previous digest ended, so a period
missed while nothing was running is folded into the next digest instead of being skipped; the
first digest covers one nominal period. Called by `digest.send`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FREQUENCIES = ("daily", "weekly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FALLBACK_TZ = "UTC"


@dataclass(frozen=True, slots=True)
class Period:
    """One digest's period: `key` names it; the window is (start, end], naive UTC."""

    key: str
    start: datetime
    end: datetime


def zone(name: str | None, default: str = FALLBACK_TZ) -> ZoneInfo:
    """The named time zone, else `default` (an unknown name never stops a digest)."""
    for candidate in (name, default, FALLBACK_TZ):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo(FALLBACK_TZ)


def _at(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """`day` at `hour` local time, as naive UTC."""
    local = datetime.combine(day, time(hour), tzinfo=tz)
    return local.astimezone(UTC).replace(tzinfo=None)


def _step(frequency: str) -> int:
    return 7 if frequency == "weekly" else 1


def latest_instant(
    frequency: str, weekday: int, hour: int, tz: ZoneInfo, now: datetime
) -> tuple[date, datetime]:
    """The local day and naive-UTC instant of the latest schedule point at or before `now`
    (`now` is naive UTC or aware)."""
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    naive_now = aware.astimezone(UTC).replace(tzinfo=None)
    today = aware.astimezone(tz).date()
    back = (today.weekday() - weekday) % 7 if frequency == "weekly" else 0
    day = today - timedelta(days=back)
    instant = _at(day, hour, tz)
    if instant > naive_now:
        day -= timedelta(days=_step(frequency))
        instant = _at(day, hour, tz)
    return day, instant


def due_period(
    frequency: str,
    weekday: int,
    hour: int,
    tz: ZoneInfo,
    now: datetime,
    *,
    previous_end: datetime | None = None,
    max_lookback: timedelta = timedelta(days=31),
) -> Period:
    """The period whose digest is due at `now`.

    The window starts at `previous_end` (the end of the reader's last digest) when known,
    else one nominal period before the instant; never more than `max_lookback` back. A
    window with start >= end means nothing is due.
    """
    day, end = latest_instant(frequency, weekday, hour, tz, now)
    nominal = _at(day - timedelta(days=_step(frequency)), hour, tz)
    start = nominal if previous_end is None else max(previous_end, end - max_lookback)
    # start >= end: the reader's last digest already reaches this instant (nothing due).
    return Period(key=f"{frequency}:{end:%Y-%m-%dT%H:%MZ}", start=start, end=end)


def parse_weekday(value: str | int) -> int:
    """0-6 from 'mon'..'sun' (English or French abbreviations) or a number; ValueError else."""
    if isinstance(value, int):
        if 0 <= value <= 6:
            return value
        raise ValueError(f"weekday must be 0-6, not {value}")
    text = value.strip().lower()
    french = ("lun", "mar", "mer", "jeu", "ven", "sam", "dim")
    for names in (WEEKDAYS, french):
        for number, name in enumerate(names):
            if text[:3] == name and len(text) >= 3:
                return number
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    raise ValueError(f"unknown day {value!r} (mon, tue, wed, thu, fri, sat, sun)")
