"""Operational figures in the Prometheus text format, and the health check.

Called by the web archive's `/metrics` and `/healthz` routes (`web.ops`) and by `mailgate
check`. Every figure that lives in the database is counted there at scrape time, so it is the
same whichever of several mailgate processes sharing one database answers: messages archived
and received, quarantine, the outbox (sent, failed, queued, per kind: digest, reply,
confirm, notice), the command inbox and IMAP leases. Only `search_queries` is counted in the
process that ran the searches (Prometheus sums it over the scraped processes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, func, inspect, select, text

from mailgate.db import Database
from mailgate.models import CommandInbox, Delivery, ImapState, Message, Quarantine
from mailgate.store import utcnow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTBOX_TABLE = "outbox"


class _Counter:
    """A thread-safe in-process counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def inc(self, amount: int = 1) -> None:
        with self._lock:
            self.value += amount


SEARCH_QUERIES = _Counter()


@dataclass(frozen=True, slots=True)
class Sample:
    """One metric line: name, help text, type, value and labels."""

    name: str
    help: str
    kind: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


def _count(conn: Connection, query) -> int:  # type: ignore[no-untyped-def]
    return int(conn.execute(query).scalar() or 0)


def _archive_samples(conn: Connection) -> Iterator[Sample]:
    yield Sample(
        "mailgate_messages_archived", "Messages in the archive.", "gauge",
        _count(conn, select(func.count()).select_from(Message)),
    )  # fmt: skip
    yield Sample(
        "mailgate_messages_received_total", "Messages received and kept (one per list).",
        "counter", _count(conn, select(func.count()).select_from(Delivery)),
    )  # fmt: skip
    yield Sample(
        "mailgate_quarantined_total", "Messages ever put in quarantine.", "counter",
        _count(conn, select(func.count()).select_from(Quarantine)),
    )  # fmt: skip
    yield Sample(
        "mailgate_quarantine_depth", "Quarantined messages not yet resolved.", "gauge",
        _count(conn, select(func.count()).where(Quarantine.resolved_at.is_(None))),
    )  # fmt: skip
    yield Sample(
        "mailgate_command_inbox_depth", "Command mails waiting for the command worker.", "gauge",
        _count(conn, select(func.count()).where(CommandInbox.handled_at.is_(None))),
    )  # fmt: skip
    yield Sample(
        "mailgate_imap_leases_active", "IMAP sources polled by a live process now.", "gauge",
        _count(conn, select(func.count()).where(ImapState.lease_until > utcnow())),
    )  # fmt: skip


_OUTBOX_SQL = text(
    "SELECT kind, "
    "SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END) "
    "FROM outbox GROUP BY kind"
)
OUTBOX_KINDS = ("digest", "reply", "confirm", "notice")


def _outbox_samples(conn: Connection) -> Iterator[Sample]:
    """Sent, failed and queued outbound mail per kind (zeros before the outbox exists)."""
    rows: dict[str, tuple[int, int, int]] = dict.fromkeys(OUTBOX_KINDS, (0, 0, 0))
    if inspect(conn).has_table(OUTBOX_TABLE):
        for kind, sent, failed, queued in conn.execute(_OUTBOX_SQL):
            rows[kind] = (int(sent or 0), int(failed or 0), int(queued or 0))
    for kind, (sent, failed, queued) in sorted(rows.items()):
        labels = (("kind", kind),)
        yield Sample("mailgate_outbox_sent_total", "Outbound mail sent.", "counter", sent, labels)
        yield Sample(
            "mailgate_outbox_failed_total", "Outbound mail refused for good.", "counter",
            failed, labels,
        )  # fmt: skip
        yield Sample(
            "mailgate_outbox_queued", "Outbound mail waiting to be sent.", "gauge", queued, labels
        )


def collect(db: Database) -> list[Sample]:
    """Every figure, read in one database transaction, plus the in-process counters."""
    with db.engine.connect() as conn:
        samples = [*_archive_samples(conn), *_outbox_samples(conn)]
    samples.append(
        Sample(
            "mailgate_search_queries_total",
            "Searches run by this process.",
            "counter",
            SEARCH_QUERIES.value,
        )
    )
    return samples


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in labels)
    return "{" + inner + "}"


def render(samples: list[Sample]) -> str:
    """The Prometheus text exposition of `samples` (HELP and TYPE once per name)."""
    lines: list[str] = []
    seen: set[str] = set()
    for sample in samples:
        if sample.name not in seen:
            seen.add(sample.name)
            lines.append(f"# HELP {sample.name} {sample.help}")
            lines.append(f"# TYPE {sample.name} {sample.kind}")
        lines.append(f"{sample.name}{_labels(sample.labels)} {sample.value:g}")
    return "\n".join(lines) + "\n"


def database_ok(db: Database) -> str | None:
    """None when the database answers a trivial query, else the reason it does not."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{exc.__class__.__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
    return None
