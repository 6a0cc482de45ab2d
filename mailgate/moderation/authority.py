"""Who may act on what: administrators, list moderators, authors; and what an action returns.

A list moderator may act on a message only when it moderates every list the message is on;
an author may ask for the erasure of their own messages; an administrator (the CLI) may do
everything. Used by the action handlers (`message_actions`, `other_actions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from mailgate.config import Settings
from mailgate.moderation.common import ModerationError, Target, find_targets


@dataclass(frozen=True)
class Authority:
    """Who acts: an administrator (the CLI), a list moderator or an author (by address)."""

    actor: str
    address: str | None = None
    admin: bool = False
    author_only: bool = False

    def moderates(self, settings: Settings, lists: tuple[str, ...] | list[str]) -> bool:
        if self.admin:
            return True
        if self.author_only or not self.address or not lists:
            return False
        who = self.address.lower()
        return all(who in (settings.list_by_name(n) or _NOBODY).moderators for n in lists)


class _Nobody:
    moderators: tuple[str, ...] = ()


_NOBODY = _Nobody()


@dataclass
class Outcome:
    summary: str
    target: str
    list_name: str = ""
    details: dict = field(default_factory=dict)
    people: set[int] = field(default_factory=set)


Handler = Callable[[Connection, Settings, Authority, dict], Outcome]


def arg(args: dict, name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ModerationError(f"missing argument: {name}")
    return value.strip()


def targets_for(conn: Connection, settings: Settings, who: Authority, mid: str) -> list[Target]:
    targets = find_targets(conn, mid)
    for target in targets:
        if who.author_only:
            if (who.address or "").lower() != target.from_addr.lower():
                raise ModerationError("only the author of a message may ask for its removal")
        elif not who.moderates(settings, target.lists):
            raise ModerationError(
                f"you do not moderate every list of <{target.message_id}> "
                f"({', '.join(target.lists) or 'no list'})"
            )
    return targets


def lists_of_targets(targets: list[Target]) -> str:
    return ",".join(sorted({n for t in targets for n in t.lists}))
