"""Where mail addressed to mailgate goes: a list, a list's command or owner address, the bot.

`classify` is asked by every receiver at RCPT time: a list address is archived through the
ingest pipeline; `<list>-request@<domain>` (commands), `<list>-owner@<domain>` (moderation)
and the bot address (everything else) are queued durably in the command inbox, where the
email-command worker picks them up. Anything else is not ours (the receiver answers 550).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert

from mailgate.config import Settings, register_keys
from mailgate.models import CommandInbox
from mailgate.store import compress

REQUEST_SUFFIX = "-request"
OWNER_SUFFIX = "-owner"
DEFAULT_BOT_LOCAL_PART = "mailgate"
register_keys("commands", ["bot_address"])


class RouteKind(enum.StrEnum):
    LIST = "list"
    REQUEST = "request"
    OWNER = "owner"
    BOT = "bot"


@dataclass(frozen=True, slots=True)
class Route:
    kind: RouteKind
    list_name: str | None
    address: str


def bot_address(settings: Settings) -> str:
    """The bot's address: `[commands] bot_address`, else mailgate@<domain>."""
    configured = settings.section("commands").get("bot_address")
    return str(configured or f"{DEFAULT_BOT_LOCAL_PART}@{settings.domain}").lower()


def classify(settings: Settings, address: str) -> Route | None:
    """The route for a recipient address, or None when mailgate does not handle it."""
    address = address.strip().strip("<>").lower()
    if address == bot_address(settings):
        return Route(RouteKind.BOT, None, address)
    lst = settings.list_by_address(address)
    if lst is not None:
        return Route(RouteKind.LIST, lst.name, address)
    local, _, domain = address.rpartition("@")
    for suffix, kind in ((REQUEST_SUFFIX, RouteKind.REQUEST), (OWNER_SUFFIX, RouteKind.OWNER)):
        if local.endswith(suffix):
            base = settings.list_by_address(f"{local[: -len(suffix)]}@{domain}")
            if base is not None:
                return Route(kind, base.name, address)
    return None


def return_path(raw: bytes, mail_from: str) -> bytes:
    """`raw` with a Return-Path header naming the envelope sender first, as the final delivery
    adds it (RFC 5321, 4.4): an empty one (`<>`) marks a bounce the worker never answers."""
    sender = mail_from.strip().strip("<>").replace("\r", "").replace("\n", "")
    newline = b"\r\n" if raw.split(b"\n", 1)[0].endswith(b"\r") else b"\n"
    line = b"Return-Path: <" + sender.encode("utf-8", "surrogateescape") + b">" + newline
    return line + raw


def enqueue_command(
    conn: Connection, raw: bytes, route: Route, when: datetime, mail_from: str | None = None
) -> int:
    """Keep a message for the command worker, in the caller's transaction (durable on commit).
    `mail_from`, the SMTP envelope sender when known, is recorded as a Return-Path header."""
    if mail_from is not None:
        raw = return_path(raw, mail_from)
    return conn.execute(
        insert(CommandInbox.__table__).values(
            data=compress(raw),
            size=len(raw),
            kind=route.kind.value,
            list_name=route.list_name,
            recipient=route.address,
            received_at=when,
        )
    ).inserted_primary_key[0]
