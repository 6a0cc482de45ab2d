"""Send the outbox through the configured SMTP relay, once, from any number of processes.

`deliver_due` claims due rows under a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite:
one writer at a time), sends them over one relay connection (with ESMTP PIPELINING when the
relay offers it: two round trips a message), and records each outcome in its
own short transaction: sent after the relay's 250; on a 4xx or a lost connection the row is
retried later with exponential backoff; on a 5xx (or after `MAX_ATTEMPTS`) it is marked failed
with the relay's answer (outcomes commit without waiting for the disk: see
`_outcome_transaction`). A process killed mid-run leaves leased rows that another run takes over
once the lease expires, or at once when its owner was a process of this host that is gone
(killed). `start_outbox` is the `outbox` service of `mailgate serve`;
`wake_outbox` nudges it after a commit that queued mail. Callers: `mailgate serve`, the
`mailgate outbox` CLI, tests.
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import socket
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, select, update

from mailgate.config import ConfigError, Settings, register_keys
from mailgate.db import Database
from mailgate.models import Outbox
from mailgate.polling import PollingService, Waker
from mailgate.smtp_pipeline import send_pipelined
from mailgate.store import utcnow

log = logging.getLogger("mailgate.outbox")
outbox_t = Outbox.__table__

LEASE_SECONDS = 300
MAX_ATTEMPTS = 12
BACKOFF_FIRST_SECONDS = 30
BACKOFF_MAX_SECONDS = 6 * 3600
DEFAULT_BATCH = 100
DEFAULT_POLL_SECONDS = 10.0
DEFAULT_RELAY_TIMEOUT = 30.0
ERROR_TEXT_LIMIT = 1000
ZLIB_LEVEL = 1
ZLIB_MAGIC = b"x\x01"


@dataclass(frozen=True)
class RelayConfig:
    """`[relay]`: where outbound mail goes (an MTA that relays for mailgate)."""

    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = DEFAULT_RELAY_TIMEOUT
    poll_seconds: float = DEFAULT_POLL_SECONDS
    enabled: bool = True


register_keys(
    "relay",
    (f.name for f in fields(RelayConfig) if f.name != "password"),
)
register_keys("relay", ("password_env", "password_file"))


def _password(table: dict) -> str:
    env = str(table.get("password_env", ""))
    path = str(table.get("password_file", ""))
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"[relay] password_env: environment variable {env} is not set")
        return value
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"[relay] password_file: cannot read {path}: {exc}") from None
    return ""


def relay_config(settings: Settings) -> RelayConfig:
    """The relay settings, validated (a clear `ConfigError` names the bad key)."""
    table = settings.section("relay")
    try:
        port = int(table.get("port", RelayConfig.port))
        timeout = float(table.get("timeout", DEFAULT_RELAY_TIMEOUT))
        poll = float(table.get("poll_seconds", DEFAULT_POLL_SECONDS))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"[relay]: port, timeout and poll_seconds must be numbers ({exc})"
        ) from None
    if not 0 < port < 65536:
        raise ConfigError(f"[relay] port: {port} is not a TCP port")
    return RelayConfig(
        host=str(table.get("host", RelayConfig.host)),
        port=port,
        starttls=bool(table.get("starttls", False)),
        username=str(table.get("username", "")),
        password=_password(table),
        timeout=timeout,
        poll_seconds=poll,
        enabled=bool(table.get("enabled", True)),
    )


def pack(data: bytes) -> bytes:
    """The outbox form of bulk mail: zlib level 1 (digests shrink ~6x: less to write, and
    SQLite rewrites a whole row when its state changes)."""
    return zlib.compress(data, ZLIB_LEVEL)


def unpack(data: bytes) -> bytes:
    """The message bytes of an outbox row (rows queued uncompressed pass through: a message
    starts with a header name, never with the zlib level-1 header b"x\\x01")."""
    return zlib.decompress(data) if data[:2] == ZLIB_MAGIC else data


@dataclass
class SendStats:
    """What one `deliver_due` run did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def worker_id() -> str:
    """A lease owner id unique to this process and run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _dead_local_owners(conn: Connection, now: datetime) -> list[str]:
    """Lease owners of this host (`worker_id` form) whose process is gone: a killed run's
    rows are taken over at once instead of after the lease expires."""
    host = socket.gethostname()
    owners = conn.scalars(
        select(outbox_t.c.lease_owner)
        .where(
            outbox_t.c.sent_at.is_(None),
            outbox_t.c.failed_at.is_(None),
            outbox_t.c.lease_until >= now,
        )
        .distinct()
    )
    dead = []
    for owner in owners:
        parts = (owner or "").split(":")
        local = len(parts) == 3 and parts[0] == host and parts[1].isdigit()
        if local and int(parts[1]) != os.getpid() and not _pid_alive(int(parts[1])):
            dead.append(owner)
    return dead


def _claim(db: Database, owner: str, now: datetime, limit: int) -> list[int]:
    """Lease up to `limit` due rows to `owner`; ids in queue order."""
    until = now + timedelta(seconds=LEASE_SECONDS)
    with db.engine.begin() as conn:
        free = (outbox_t.c.lease_until.is_(None)) | (outbox_t.c.lease_until < now)
        dead = _dead_local_owners(conn, now)
        if dead:
            free = free | outbox_t.c.lease_owner.in_(dead)
        due = (
            select(outbox_t.c.id)
            .where(
                outbox_t.c.sent_at.is_(None),
                outbox_t.c.failed_at.is_(None),
                outbox_t.c.next_attempt_at <= now,
                free,
            )
            .order_by(outbox_t.c.id)
            .limit(limit)
        )
        if db.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(conn.scalars(due))
        if ids:
            conn.execute(
                update(outbox_t)
                .where(outbox_t.c.id.in_(ids))
                .values(lease_owner=owner, lease_until=until, attempts=outbox_t.c.attempts + 1)
            )
    return ids


def _finish(conn: Connection, row_id: int, owner: str, **values: object) -> None:
    conn.execute(
        update(outbox_t)
        .where(outbox_t.c.id == row_id, outbox_t.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, **values)
    )


def _backoff(attempts: int) -> timedelta:
    seconds = BACKOFF_FIRST_SECONDS * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(seconds, BACKOFF_MAX_SECONDS))


def _connect(relay: RelayConfig) -> smtplib.SMTP:
    smtp = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
    try:
        smtp.ehlo()
        if relay.starttls:
            smtp.starttls()
            smtp.ehlo()
        if relay.username:
            smtp.login(relay.username, relay.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


@contextlib.contextmanager
def _outcome_transaction(db: Database) -> Iterator[Connection]:
    """A transaction whose commit survives the process being killed but does not wait for the
    disk (SQLite WAL synchronous=NORMAL, PostgreSQL synchronous_commit=off): a power failure
    can only forget that a row was sent (it goes again), never lose a message. One fsync per
    sent message would cap delivery at a few hundred messages a second."""
    with db.engine.connect() as conn:
        if db.dialect != "sqlite":
            with conn.begin():
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn
            return
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA synchronous=NORMAL")
        try:
            with conn.begin():
                yield conn
        finally:
            raw.execute("PRAGMA synchronous=FULL")


def _record(db: Database, owner: str, row: Outbox, error: tuple[int, str] | None) -> str:
    """Store the outcome of one send; returns 'sent', 'retried' or 'failed'."""
    now = utcnow()
    with _outcome_transaction(db) as conn:
        if error is None:
            _finish(conn, row.id, owner, sent_at=now, last_error="")
            return "sent"
        code, text = error
        text = f"{code} {text}"[:ERROR_TEXT_LIMIT]
        if 500 <= code < 600 or row.attempts >= MAX_ATTEMPTS:
            _finish(conn, row.id, owner, failed_at=now, last_error=text)
            return "failed"
        _finish(conn, row.id, owner, next_attempt_at=now + _backoff(row.attempts), last_error=text)
        return "retried"


def _send_one(smtp: smtplib.SMTP, row: Outbox) -> tuple[int, str] | None:
    """Hand one row to the relay; None on success, else (code, text) of the refusal."""
    rcpts = [r for r in row.recipients.split("\n") if r]
    try:
        if smtp.has_extn("pipelining"):
            refused = send_pipelined(smtp, row.envelope_from, rcpts, unpack(row.data))
        else:
            refused = smtp.sendmail(row.envelope_from, rcpts, unpack(row.data))
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return code, text.decode(errors="replace")
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code, exc.smtp_error.decode(errors="replace")
    if refused:  # some recipients refused: report the first (the others got it)
        code, text = next(iter(refused.values()))
        return code, text.decode(errors="replace")
    return None


def _rows(db: Database, ids: list[int]) -> list[Outbox]:
    with db.engine.connect() as conn:
        return list(
            conn.execute(select(outbox_t).where(outbox_t.c.id.in_(ids)).order_by(outbox_t.c.id))
        )


def deliver_due(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = DEFAULT_BATCH,
    worker: str | None = None,
) -> SendStats:
    """Send up to `limit` due messages through the relay; safe to run in several processes."""
    relay = relay_config(settings)
    owner = worker or worker_id()
    stats = SendStats()
    ids = _claim(db, owner, now or utcnow(), limit)
    if not ids:
        return stats
    rows = _rows(db, ids)
    try:
        smtp = _connect(relay)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("relay %s:%s unreachable: %s", relay.host, relay.port, exc)
        for row in rows:
            _count(stats, _record(db, owner, row, (451, f"relay unreachable: {exc}")))
        return stats
    try:
        for row in rows:
            try:
                error = _send_one(smtp, row)
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                _count(stats, _record(db, owner, row, (451, f"connection lost: {exc}")))
                smtp = _reconnect(smtp, relay)
                continue
            outcome = _record(db, owner, row, error)
            _count(stats, outcome)
            log.info("outbox %s id=%s %s to %s", outcome, row.id, row.message_id, row.recipients)
    finally:
        _quit(smtp)
    return stats


def _count(stats: SendStats, outcome: str) -> None:
    setattr(stats, outcome, getattr(stats, outcome) + 1)


def _reconnect(smtp: smtplib.SMTP, relay: RelayConfig) -> smtplib.SMTP:
    _quit(smtp)
    return _connect(relay)


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def pending_count(conn: Connection) -> int:
    """Messages waiting to be sent (queue depth)."""
    from sqlalchemy import func

    return (
        conn.scalar(
            select(func.count())
            .select_from(outbox_t)
            .where(outbox_t.c.sent_at.is_(None), outbox_t.c.failed_at.is_(None))
        )
        or 0
    )


# --- the `outbox` service of `mailgate serve` ---

_outbox_waker = Waker()


def wake_outbox() -> None:
    """Ask running outbox services of this process to send now (callable from any thread)."""
    _outbox_waker.wake()


class OutboxService(PollingService):
    """Drains the outbox every `poll_seconds`, or at once when woken."""

    name = "outbox"

    def __init__(self, db: Database, settings: Settings, relay: RelayConfig) -> None:
        super().__init__(relay.poll_seconds, _outbox_waker)
        self.db, self.settings, self.relay = db, settings, relay
        self.owner = worker_id()

    def describe(self) -> str:
        return f"outbox: relay {self.relay.host}:{self.relay.port}"

    def work(self) -> bool:
        stats = deliver_due(self.db, self.settings, worker=self.owner)
        return stats.sent + stats.retried + stats.failed >= DEFAULT_BATCH  # more may be due


async def start_outbox(ctx) -> OutboxService | None:  # type: ignore[no-untyped-def]
    """The `outbox` service (None when `[relay] enabled = false`)."""
    relay = relay_config(ctx.settings)
    if not relay.enabled:
        return None
    service = OutboxService(ctx.db, ctx.settings, relay)
    service.start()
    return service
