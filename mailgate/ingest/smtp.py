"""The SMTP receiver (aiosmtpd) and what it shares with the LMTP one (`ingest.lmtp`).

RCPT is answered from `mailgate.routing.classify`: a list, a list's -request/-owner address or
the bot address is accepted, anything else gets 550 5.1.1 (mailgate never relays). A message
over `max_message_bytes` gets 552 5.3.4, at MAIL (declared SIZE) or after DATA. After DATA the
message goes to the durable writer (`ingest.writer`) and the sender gets 250 only once it is
committed; our own faults answer 451 4.3.0 so the sender retries, never 5xx. Each message is
logged on one line with its Message-ID and outcome. Started by `mailgate serve`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from mailgate.commands.service import wake_commands
from mailgate.config import ConfigError, Settings, register_keys
from mailgate.ingest.service import ServeContext
from mailgate.ingest.smtp_session import GatewaySMTP
from mailgate.ingest.writer import IngestWriter, ItemResult, Job, WriterBusy, WriterStopped
from mailgate.routing import Route, RouteKind, classify

log = logging.getLogger("mailgate.ingest")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_SMTP_PORT = 2525
DEFAULT_LMTP_PORT = 2424
DEFAULT_TIMEOUT_SECONDS = 300
MAX_RECIPIENTS = 100
MAX_PORT = 65535
SHUTDOWN_GRACE_SECONDS = 10.0
IDENT = "mailgate"
TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"
BUSY = "451 4.3.2 Too busy, please try again later"
_MID_RE = re.compile(rb"(?im)^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^>\r\n]{1,250}>)")
_SMTP_KEYS = {
    "enabled": bool,
    "host": str,
    "port": int,
    "lmtp": bool,
    "lmtp_host": str,
    "lmtp_port": int,
    "server_name": str,
    "tls_cert": str,
    "tls_key": str,
    "require_starttls": bool,
    "timeout": int,
    "max_recipients": int,
    "prepare_workers": int,
}
register_keys("smtp", _SMTP_KEYS)


def default_prepare_workers() -> int:
    """One parsing process beside the server on a multi-core host (measured faster), else 0."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


@dataclass(frozen=True)
class SmtpConfig:
    """The `[smtp]` table: the SMTP and LMTP receivers (see deploy/mailgate.example.toml)."""

    enabled: bool = True
    host: str = DEFAULT_HOST
    port: int = DEFAULT_SMTP_PORT
    lmtp: bool = False
    lmtp_host: str = DEFAULT_HOST
    lmtp_port: int = DEFAULT_LMTP_PORT
    server_name: str = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_starttls: bool = False
    timeout: int = DEFAULT_TIMEOUT_SECONDS
    max_recipients: int = MAX_RECIPIENTS
    prepare_workers: int = field(default_factory=default_prepare_workers)


def _typed(table: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(table) - set(_SMTP_KEYS))
    if unknown:
        raise ConfigError(f"[smtp]: unknown setting(s): {', '.join(unknown)}")
    for key, value in table.items():
        kind = _SMTP_KEYS[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(
                f"[smtp] {key} must be {'an' if kind is int else 'a'} {kind.__name__}"
            )
    return dict(table)


def smtp_config(settings: Settings) -> SmtpConfig:
    """Validate `[smtp]`; paths are relative to the configuration file."""
    values = _typed(settings.section("smtp"))
    base = settings.path.parent if settings.path else Path.cwd()
    for key in ("tls_cert", "tls_key"):
        if values.get(key):
            values[key] = base / values[key]
        else:
            values.pop(key, None)
    config = SmtpConfig(**values)
    for key in ("port", "lmtp_port"):
        if not 0 <= getattr(config, key) <= MAX_PORT:
            raise ConfigError(f"[smtp] {key} must be between 0 and {MAX_PORT}")
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ConfigError("[smtp] tls_cert and tls_key go together (set both or neither)")
    if config.require_starttls and not config.tls_cert:
        raise ConfigError("[smtp] require_starttls needs tls_cert and tls_key")
    if config.timeout <= 0 or config.max_recipients <= 0 or config.prepare_workers < 0:
        raise ConfigError("[smtp] timeout, max_recipients must be > 0; prepare_workers >= 0")
    return config


def tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    """The STARTTLS context from the configured certificate and key, or None (no STARTTLS)."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[smtp] cannot load tls_cert/tls_key: {exc}") from None
    return context


def header_message_id(raw: bytes) -> str:
    """The Message-ID header of `raw` (for the log line), or '-'."""
    end = raw.find(b"\r\n\r\n")
    head = raw[: end if end != -1 else len(raw)]
    match = _MID_RE.search(head)
    return match.group(1).decode("ascii", "replace") if match else "-"


def describe_results(results: Sequence[ItemResult]) -> str:
    """'stored:dev queued:request:dev' for the log line."""
    return " ".join(
        f"{r.outcome}:{r.route.list_name or r.route.address}"
        + (f" ({r.detail})" if r.detail else "")
        for r in results
    )


class GatewayHandler:
    """aiosmtpd handler of the SMTP receiver; `LmtpHandler` answers per recipient instead."""

    protocol = "smtp"
    atomic = True

    def __init__(self, settings: Settings, writer: IngestWriter, max_recipients: int) -> None:
        self.settings = settings
        self.writer = writer
        self.max_recipients = max_recipients
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if classify(self.settings, address) is None:
            return f"550 5.1.1 <{address}>: no such list or address here"
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        self.in_flight += 1
        self.idle.clear()
        try:
            return await self._receive(envelope)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self.idle.set()

    async def handle_exception(self, error: Exception) -> str:
        log.error("%s session error: %s: %s", self.protocol, type(error).__name__, error)
        return TEMPFAIL

    async def _receive(self, envelope: Any) -> str:
        started = time.monotonic()
        raw: bytes = envelope.original_content or b""
        routes: dict[str, Route] = {}
        for address in envelope.rcpt_tos:
            route = classify(self.settings, address)
            if route is not None:
                routes.setdefault(route.address, route)
        job = Job(
            raw, tuple(routes.values()), source=self.protocol, atomic=self.atomic,
            mail_from=envelope.mail_from or "",
        )  # fmt: skip
        results: list[ItemResult] | None = None
        fault = ""
        envelope_info = (envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        try:
            submitted = self.writer.submit(job)
            results = await asyncio.shield(asyncio.wrap_future(submitted))
        except asyncio.CancelledError:  # the client went away: log the outcome when known
            submitted.add_done_callback(
                lambda f: self._log(
                    envelope_info, _results_or_none(f), "", started, " (sender gone)"
                )
            )
            raise
        except WriterBusy as exc:
            fault = f"busy: {exc}"
        except WriterStopped as exc:
            fault = f"stopping: {exc}"
        except Exception as exc:
            fault = f"{type(exc).__name__}: {exc}"
        self._log(envelope_info, results, fault, started)
        if results and any(r.ok and r.route.kind is not RouteKind.LIST for r in results):
            wake_commands()  # command mail was queued: the worker answers now, not at its poll
        return self.reply(envelope.rcpt_tos, routes, results, fault)

    def reply(
        self,
        rcpt_tos: list[str],
        routes: dict[str, Route],
        results: list[ItemResult] | None,
        fault: str,
    ) -> str:
        if results is not None and all(r.ok for r in results):
            return "250 2.0.0 OK: message archived"
        return BUSY if fault.startswith("busy") else TEMPFAIL

    def _log(
        self,
        envelope_info: tuple[str, list[str], bytes],
        results: list[ItemResult] | None,
        fault: str,
        started: float,
        note: str = "",
    ) -> None:
        sender, recipients, raw = envelope_info
        mid = next((r.message_id for r in results or () if r.message_id), None)
        outcome = describe_results(results) if results is not None else f"failed ({fault})"
        kept = results is not None and all(r.ok for r in results)
        log.log(
            logging.INFO if kept else logging.ERROR,
            "%s message_id=%s from=<%s> to=%s size=%d %s in %.0f ms%s",
            self.protocol,
            f"<{mid}>" if mid else header_message_id(raw),
            sender,
            ",".join(recipients),
            len(raw),
            outcome,
            (time.monotonic() - started) * 1000,
            note,
        )


def _results_or_none(future: Future[list[ItemResult]]) -> list[ItemResult] | None:
    return None if future.exception() is not None else future.result()


class Receiver:
    """A listening SMTP or LMTP server on the running event loop."""

    def __init__(self, name: str, handler: GatewayHandler, server: asyncio.Server) -> None:
        self.name = name
        self.handler = handler
        self.server = server
        self.sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.sockets[0].getsockname()[:2]
        return host, port

    def describe(self) -> str:
        host, port = self.address
        return f"{self.name} listening on {host}:{port}"

    async def stop(self) -> None:
        """Stop accepting, let messages being committed get their answer, close sessions."""
        self.server.close()
        try:
            await asyncio.wait_for(self.handler.idle.wait(), SHUTDOWN_GRACE_SECONDS)
        except TimeoutError:
            log.warning("%s: %d message(s) still unanswered", self.name, self.handler.in_flight)
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        await self.server.wait_closed()


async def start_receiver(
    name: str,
    session_class: type[SMTP],
    handler: GatewayHandler,
    config: SmtpConfig,
    settings: Settings,
    address: tuple[str, int],
) -> Receiver:
    """Listen on `address` with one `session_class` instance per connection."""
    loop = asyncio.get_running_loop()
    context = tls_context(config)
    receiver_box: list[Receiver] = []

    def factory() -> SMTP:
        session = session_class(
            handler,
            data_size_limit=settings.max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=config.server_name or settings.domain,
            ident=IDENT,
            tls_context=context,
            require_starttls=config.require_starttls,
            timeout=config.timeout,
            loop=loop,
        )
        receiver_box[0].sessions.add(session)
        return session

    try:
        server = await loop.create_server(factory, host=address[0], port=address[1])
    except OSError as exc:
        raise ConfigError(f"{name}: cannot listen on {address[0]}:{address[1]}: {exc}") from None
    receiver_box.append(Receiver(name, handler, server))
    return receiver_box[0]


async def start_smtp(ctx: ServeContext) -> Receiver | None:
    """Service starter of the SMTP receiver (None when `[smtp] enabled = false`)."""
    config = smtp_config(ctx.settings)
    if not config.enabled:
        return None
    handler = GatewayHandler(ctx.settings, ctx.writer, config.max_recipients)
    return await start_receiver(
        "smtp", GatewaySMTP, handler, config, ctx.settings, (config.host, config.port)
    )


def quiet_aiosmtpd_logs() -> None:
    """aiosmtpd logs every command at INFO; keep its warnings only (our own line suffices)."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)
