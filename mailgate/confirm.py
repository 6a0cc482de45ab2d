"""Changes requested by e-mail take effect only when the requester replies with a one-time token.

A From line can be forged, so every state-changing e-mail command (digest settings, follow,
mute, moderation, removal of one's own messages) is stored here as a pending action and a
confirmation is mailed to the address it concerns. Only a reply from that same address carrying
the token applies it, once, before it expires. Subsystems declare their actions with
`register_action(name, handler)` at import time; the command worker calls `find_token` on
incoming mail and `confirm` when it finds one. Callers: the email-command worker, moderation.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from mailgate.config import Settings, register_keys
from mailgate.models import Confirmation
from mailgate.outbound import build_message, enqueue
from mailgate.store import utcnow

DEFAULT_CONFIRM_HOURS = 72
TOKEN_PREFIX = "mg-"
TOKEN_BYTES = 18
# A token may end with "-" or "_" (URL-safe base64): bound it by what cannot be part of it,
# not by \b, which would cut a trailing "-" off before "]".
TOKEN_RE = re.compile(r"(?<![A-Za-z0-9_-])mg-[A-Za-z0-9_-]{20,40}(?![A-Za-z0-9_-])")
SUMMARY_LIMIT = 200

Handler = Callable[[Connection, Settings, str, dict[str, Any]], str]
_ACTIONS: dict[str, Handler] = {}
confirmations_t = Confirmation.__table__

TEXTS = {
    "fr": (
        "Confirmez : {summary} [{token}]",
        "Bonjour,\n\nQuelqu'un (vous, sans doute) a demandé depuis cette adresse :\n\n"
        "    {summary}\n\nPour confirmer, répondez simplement à ce message (le code {token} "
        "doit rester dans l'objet). Sans réponse d'ici {hours} heures, rien ne sera fait.\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n-- mailgate\n",
    ),
    "en": (
        "Confirm: {summary} [{token}]",
        "Hello,\n\nSomeone (you, probably) asked from this address:\n\n    {summary}\n\n"
        "To confirm, just reply to this message (keep the code {token} in the subject). "
        "Without a reply within {hours} hours, nothing will be done.\n"
        "If you did not ask for this, ignore this message.\n\n-- mailgate\n",
    ),
}


class ActionError(Exception):
    """A handler refuses to apply an action; the message is shown to the requester."""


@dataclass(frozen=True)
class ConfirmResult:
    ok: bool
    message: str
    action: str | None = None


def register_action(name: str, handler: Handler) -> None:
    """Declare what confirming action `name` does: handler(conn, settings, address, params)."""
    _ACTIONS[name] = handler


def registered_actions() -> frozenset[str]:
    return frozenset(_ACTIONS)


def find_token(text: str) -> str | None:
    """The first confirmation token in a subject or body, if any."""
    match = TOKEN_RE.search(text or "")
    return match.group(0) if match else None


register_keys("commands", ["confirm_hours"])


def _hours(settings: Settings) -> int:
    return int(settings.section("commands").get("confirm_hours", DEFAULT_CONFIRM_HOURS))


def request_confirmation(
    conn: Connection,
    settings: Settings,
    *,
    action: str,
    address: str,
    params: dict[str, Any],
    summary: str,
    language: str = "fr",
    in_reply_to: str | None = None,
) -> str:
    """Store a pending action and queue its confirmation mail to `address`; returns the token."""
    if action not in _ACTIONS:
        raise ActionError(f"unknown action {action!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    hours = _hours(settings)
    summary = " ".join(summary.split())[:SUMMARY_LIMIT]
    conn.execute(
        insert(confirmations_t).values(
            token=token,
            action=action,
            address=address.strip().lower(),
            params=json.dumps(params, ensure_ascii=False),
            summary=summary,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
            outcome="",
        )
    )
    subject, body = TEXTS.get(language, TEXTS["fr"])
    fields = {"summary": summary, "token": token, "hours": hours}
    msg = build_message(
        settings,
        to=address,
        subject=subject.format(**fields),
        text=body.format(**fields),
        auto_reply=True,
        in_reply_to=in_reply_to,
    )
    enqueue(conn, msg, kind="confirm", recipients=[address])
    return token


def confirm(conn: Connection, settings: Settings, token: str, address: str) -> ConfirmResult:
    """Apply the action behind `token` if `address` is the one it was sent to; once only."""
    row = conn.execute(select(confirmations_t).where(confirmations_t.c.token == token)).first()
    address = address.strip().lower()
    if row is None or row.address != address:
        return ConfirmResult(False, "unknown token for this address")
    if row.used_at is not None:
        return ConfirmResult(False, "this confirmation was already used", row.action)
    if row.expires_at < utcnow():
        return ConfirmResult(False, "this confirmation has expired", row.action)
    handler = _ACTIONS.get(row.action)
    if handler is None:
        return ConfirmResult(False, f"action {row.action!r} is not available", row.action)
    claimed = conn.execute(
        update(confirmations_t)
        .where(confirmations_t.c.token == token, confirmations_t.c.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if claimed != 1:
        return ConfirmResult(False, "this confirmation was already used", row.action)
    try:
        with conn.begin_nested():
            outcome = handler(conn, settings, address, json.loads(row.params))
    except ActionError as exc:
        outcome = str(exc)
        _set_outcome(conn, token, f"refused: {outcome}")
        return ConfirmResult(False, outcome, row.action)
    _set_outcome(conn, token, outcome)
    return ConfirmResult(True, outcome, row.action)


def _set_outcome(conn: Connection, token: str, outcome: str) -> None:
    conn.execute(
        update(confirmations_t).where(confirmations_t.c.token == token).values(outcome=outcome)
    )
