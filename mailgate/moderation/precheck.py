"""Checking a request before asking for its confirmation: a non-moderator must not even get
a confirmation mail for something they may not do. The same checks run again (inside the
action) when the confirmation comes back. Called by `mail`.
"""

from __future__ import annotations

from sqlalchemy import Connection

from mailgate.config import Settings
from mailgate.moderation import actions, blocks, other_actions
from mailgate.moderation.authority import Authority, targets_for
from mailgate.moderation.common import ModerationError, targets_from


def precheck(conn: Connection, settings: Settings, who: Authority, name: str, args: dict) -> None:
    """Raise `ModerationError` unless `who` may request action `name` with `args`."""
    if name not in actions.ACTIONS:
        raise ModerationError(f"unknown action {name!r}")
    if who.author_only and name != "erase":
        raise ModerationError(
            "only the list's moderators may do this; authors may ask to erase their own messages"
        )
    if name in actions.MESSAGE_ACTIONS:
        targets_for(conn, settings, who, args["message_id"])
        if "target" in args:
            targets_for(conn, settings, who, args["target"])
    elif name in ("ban", "unban"):
        blocks.ban_value(args["sender"])
        other_actions.check_ban_list(settings, who, args)
    elif name == "erase-person":
        found = targets_from(conn, [args["address"]])
        if not any(who.moderates(settings, t.lists) for t in found):
            raise ModerationError(f"no message from {args['address']} that you may erase")
    elif name in ("merge-people", "split-person"):
        other_actions.people_or_refuse(who, settings)
