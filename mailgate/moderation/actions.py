"""The moderation actions by name, and `apply_action`: check, apply, write the audit log.

`apply_action(conn, settings, who, name, args)` is the one entry point: the CLI calls it
directly (an administrator, actor ``cli:<user>``), the mail interface calls it from the
confirmation handler once the moderator replied with the token (actor ``mail:<address>``).
Each action runs in the caller's transaction and writes one audit entry (who, what, when,
why); people profiles touched are recomputed when the people package is there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from mailgate.config import Settings
from mailgate.moderation import message_actions as m
from mailgate.moderation import other_actions as o
from mailgate.moderation.authority import Authority, Outcome
from mailgate.moderation.common import ModerationError, record, refresh_people

Handler = Callable[[Connection, Settings, Authority, dict], Outcome]


@dataclass(frozen=True)
class Spec:
    """One action: its positional arguments (by name), handler and one-line help."""

    name: str
    params: tuple[str, ...]
    handler: Handler
    help: str
    reversible: bool


SPECS = (
    Spec("hide", ("message_id",), m.do_hide, "hide a message (kept, shown nowhere)", True),
    Spec("unhide", ("message_id",), m.do_unhide, "show a hidden message again", True),
    Spec("redact", ("message_id", "text"), m.do_redact,
         "remove a passage of a message and of the replies quoting it, leaving a tombstone",
         False),
    Spec("redact-attachment", ("message_id", "position"), m.do_redact_attachment,
         "remove an attachment (its number on the message page), leaving a tombstone", False),
    Spec("erase", ("message_id",), m.do_erase, "erase a message from storage for good", False),
    Spec("erase-person", ("address",), m.do_erase_person,
         "erase every message of a person from storage for good", False),
    Spec("ban", ("sender",), o.do_ban,
         "quarantine future mail from an address or @domain", True),
    Spec("unban", ("sender",), o.do_unban, "lift a ban", True),
    Spec("move", ("message_id", "target"), o.do_move,
         "move a message (with its replies) under another message", True),
    Spec("split", ("message_id",), o.do_split,
         "split a thread: the message and its replies start their own", True),
    Spec("merge", ("message_id", "target"), o.do_merge,
         "merge the message's thread into the target's thread", True),
    Spec("merge-people", ("address", "other"), o.do_merge_people,
         "merge two people (their addresses become one person)", True),
    Spec("split-person", ("address",), o.do_split_person,
         "make an address a person of its own", True),
)  # fmt: skip
ACTIONS = {spec.name: spec for spec in SPECS}
MESSAGE_ACTIONS = frozenset(name for name, s in ACTIONS.items() if "message_id" in s.params)


def apply_action(
    conn: Connection,
    settings: Settings,
    who: Authority,
    name: str,
    args: dict,
    reason: str = "",
) -> str:
    """Apply one action as `who` and write its audit entry; returns a one-line summary.
    Raises `ModerationError` (nothing changed) when it may not or cannot be done."""
    spec = ACTIONS.get(name)
    if spec is None:
        raise ModerationError(f"unknown action {name!r} (known: {', '.join(ACTIONS)})")
    if who.author_only and name != "erase":
        raise ModerationError("authors may only ask for the removal of their own messages")
    outcome = spec.handler(conn, settings, who, {**args, "reason": reason})
    record(
        conn,
        actor=who.actor,
        action=name,
        target=outcome.target,
        reason=reason,
        list_name=outcome.list_name,
        details=outcome.details,
    )
    refresh_people(conn, settings, outcome.people)
    return outcome.summary


def describe(name: str, args: dict) -> str:
    """A short description of a requested action, for confirmation mail (no message text:
    a passage to remove is not repeated)."""
    spec = ACTIONS.get(name)
    if spec is None:
        return name
    shown = [
        f"<{args[p]}>" if p in ("message_id", "target") else str(args.get(p, ""))
        for p in spec.params
        if p != "text"
    ]
    return " ".join([name, *shown]).strip()
