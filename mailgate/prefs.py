"""What each reader wants: digest subscriptions and the threads they follow or mute.

Set by e-mail commands (once confirmed), by the `mailgate digest` CLI and by one-click
unsubscribe; read by the digest builder. Addresses are stored lower-case; `list_name` ""
means every list the reader may see.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, delete, insert, select, update

from mailgate.config import LANGUAGES
from mailgate.models import Subscription as SubscriptionRow
from mailgate.models import ThreadPref
from mailgate.store import utcnow

FREQUENCIES = ("daily", "weekly", "off")
THREAD_STATES = ("follow", "mute")
DEFAULT_HOUR = 8
DEFAULT_WEEKDAY = 0  # Monday
DEFAULT_TIMEZONE = "Europe/Paris"
HOURS_PER_DAY = 24
DAYS_PER_WEEK = 7
TOKEN_BYTES = 24
IN_BATCH = 500  # addresses per query in thread_prefs_for

subs_t = SubscriptionRow.__table__
prefs_t = ThreadPref.__table__


class PrefsError(ValueError):
    """An invalid setting (unknown frequency, hour out of range, unknown time zone)."""


@dataclass(frozen=True)
class Subscription:
    id: int
    address: str
    list_name: str
    frequency: str
    weekday: int
    hour: int
    timezone: str
    token: str
    language: str | None = None  # None: the list's language, else the configured one


def _row(row: object) -> Subscription:
    return Subscription(
        id=row.id,  # type: ignore[attr-defined]
        address=row.address,  # type: ignore[attr-defined]
        list_name=row.list_name,  # type: ignore[attr-defined]
        frequency=row.frequency,  # type: ignore[attr-defined]
        weekday=row.weekday,  # type: ignore[attr-defined]
        hour=row.hour,  # type: ignore[attr-defined]
        timezone=row.timezone,  # type: ignore[attr-defined]
        token=row.token,  # type: ignore[attr-defined]
        language=row.language,  # type: ignore[attr-defined]
    )


def _validate(
    frequency: str, weekday: int | None, hour: int | None, tz: str | None, language: str | None
) -> None:
    if language is not None and language not in LANGUAGES:
        raise PrefsError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    if frequency not in FREQUENCIES:
        raise PrefsError(f"frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")
    if weekday is not None and not 0 <= weekday < DAYS_PER_WEEK:
        raise PrefsError(f"weekday must be 0 (Monday) to 6 (Sunday), not {weekday}")
    if hour is not None and not 0 <= hour < HOURS_PER_DAY:
        raise PrefsError(f"hour must be 0 to 23, not {hour}")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise PrefsError(f"unknown time zone {tz!r}") from None


def _find(conn: Connection, address: str, list_name: str) -> object | None:
    return conn.execute(
        select(subs_t).where(subs_t.c.address == address, subs_t.c.list_name == list_name)
    ).first()


def set_digest(
    conn: Connection,
    address: str,
    frequency: str,
    *,
    list_name: str = "",
    weekday: int | None = None,
    hour: int | None = None,
    timezone: str | None = None,
    language: str | None = None,
) -> Subscription:
    """Create or change a reader's digest setting; unspecified fields keep their value."""
    _validate(frequency, weekday, hour, timezone, language)
    address = address.strip().lower()
    now = utcnow()
    changes = {"frequency": frequency, "updated_at": now}
    given = {"weekday": weekday, "hour": hour, "timezone": timezone, "language": language}
    changes |= {key: value for key, value in given.items() if value is not None}
    if _find(conn, address, list_name) is None:
        conn.execute(
            insert(subs_t).values(
                {
                    "address": address,
                    "list_name": list_name,
                    "weekday": DEFAULT_WEEKDAY,
                    "hour": DEFAULT_HOUR,
                    "timezone": DEFAULT_TIMEZONE,
                    "token": secrets.token_urlsafe(TOKEN_BYTES),
                    "created_at": now,
                    **changes,
                }
            )
        )
    else:
        conn.execute(
            update(subs_t)
            .where(subs_t.c.address == address, subs_t.c.list_name == list_name)
            .values(**changes)
        )
    return _row(_find(conn, address, list_name))


def subscriptions_of(conn: Connection, address: str) -> list[Subscription]:
    rows = conn.execute(
        select(subs_t).where(subs_t.c.address == address.strip().lower()).order_by(subs_t.c.id)
    )
    return [_row(r) for r in rows]


def all_subscriptions(conn: Connection) -> Iterator[Subscription]:
    """Every active subscription (frequency not off), in id order."""
    rows = conn.execute(select(subs_t).where(subs_t.c.frequency != "off").order_by(subs_t.c.id))
    for row in rows:
        yield _row(row)


def unsubscribe_token(conn: Connection, token: str) -> Subscription | None:
    """One-click unsubscribe: turn off the subscription holding `token`."""
    row = conn.execute(select(subs_t).where(subs_t.c.token == token)).first()
    if row is None:
        return None
    conn.execute(
        update(subs_t).where(subs_t.c.id == row.id).values(frequency="off", updated_at=utcnow())
    )
    return _row(conn.execute(select(subs_t).where(subs_t.c.id == row.id)).first())


def set_thread_pref(conn: Connection, address: str, thread_id: int, state: str | None) -> None:
    """Follow or mute a thread (state None clears the preference)."""
    if state is not None and state not in THREAD_STATES:
        raise PrefsError(f"state must be follow or mute, not {state!r}")
    address = address.strip().lower()
    where = (prefs_t.c.address == address) & (prefs_t.c.thread_id == thread_id)
    conn.execute(delete(prefs_t).where(where))
    if state is not None:
        conn.execute(
            insert(prefs_t).values(
                address=address, thread_id=thread_id, state=state, updated_at=utcnow()
            )
        )


def thread_prefs_of(conn: Connection, address: str) -> dict[int, str]:
    rows = conn.execute(
        select(prefs_t.c.thread_id, prefs_t.c.state).where(
            prefs_t.c.address == address.strip().lower()
        )
    )
    return {tid: state for tid, state in rows}


def thread_prefs_for(conn: Connection, addresses: Sequence[str]) -> dict[str, dict[int, str]]:
    """`thread_prefs_of` for many readers in a few queries (digest runs): address -> choices."""
    found: dict[str, dict[int, str]] = {}
    wanted = sorted({a.strip().lower() for a in addresses})
    for offset in range(0, len(wanted), IN_BATCH):
        rows = conn.execute(
            select(prefs_t.c.address, prefs_t.c.thread_id, prefs_t.c.state).where(
                prefs_t.c.address.in_(wanted[offset : offset + IN_BATCH])
            )
        )
        for address, tid, state in rows:
            found.setdefault(address, {})[tid] = state
    return found


def subscription_for_token(conn: Connection, token: str) -> Subscription | None:
    """The subscription an unsubscribe token belongs to (read only: the confirm page)."""
    row = conn.execute(select(subs_t).where(subs_t.c.token == token)).first()
    return None if row is None else _row(row)
