"""Mail to `<list>-owner@<domain>`: handed to moderation, or forwarded to the list's moderators.

Moderation plugs in with `register_owner_handler(fn)`; `fn(conn, settings, request)` takes
over the message (sending its own mail through `mailgate.outbound`) and returns the outcome
recorded in the command inbox. Without a handler, the message is forwarded (as an attachment)
to the moderators configured for the list, and the sender is told; a list without moderators
refuses clearly. Called by `mailgate.commands.worker`.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from sqlalchemy import Connection

from mailgate import outbound
from mailgate.commands.context import Context, Reply
from mailgate.commands.request import Request
from mailgate.config import Settings

OwnerHandler = Callable[[Connection, Settings, Request], str]
MAX_LINE_BYTES = 998
_handler: list[OwnerHandler] = []


def register_owner_handler(handler: OwnerHandler) -> None:
    """Give `<list>-owner@` mail to `handler` (one handler; a later call replaces it)."""
    _handler[:] = [handler]


def unregister_owner_handler() -> None:
    _handler.clear()


def owner_handler() -> OwnerHandler | None:
    return _handler[0] if _handler else None


def _attach_original(msg: EmailMessage, raw: bytes) -> None:
    plain = raw.isascii() and all(len(line) <= MAX_LINE_BYTES for line in raw.splitlines())
    if plain:
        msg.add_attachment(raw, maintype="message", subtype="rfc822", cte="7bit")
    else:
        msg.add_attachment(
            raw, maintype="application", subtype="octet-stream", filename="original.eml"
        )


def forward_to_moderators(ctx: Context) -> tuple[Reply, bool]:
    """Forward an owner message to the list's moderators; (reply to the sender, forwarded)."""
    request = ctx.request
    lst = ctx.settings.list_by_name(request.list_name or "")
    name = request.list_name or "?"
    if lst is None or not lst.moderators:
        return Reply(ctx.t("owner_refused", address=request.recipient, name=name)), False
    note = (
        f"{request.sender_name} <{request.sender}> wrote to {request.recipient}.\n"
        f"{request.sender_name} <{request.sender}> a écrit à {request.recipient}.\n"
    )
    msg = outbound.build_message(
        ctx.settings,
        to=list(lst.moderators),
        subject=f"[{name}] {request.recipient}: {request.subject}",
        text=note,
        sender=request.recipient,
        headers={"Reply-To": request.sender},
    )
    _attach_original(msg, request.raw)
    outbound.enqueue(ctx.conn, msg, kind="notice", dedupe_key=f"owner-forward:{request.dedupe_key}")
    return Reply(ctx.t("owner_forwarded", address=request.recipient, name=name)), True
