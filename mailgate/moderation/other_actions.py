"""Actions on senders, threads and people: ban and unban a sender address or domain, move a
message to another thread, split a thread, merge threads, merge or split people. Each
returns an `Outcome` for the audit log; `actions` registers them.
"""

from __future__ import annotations

from sqlalchemy import Connection

from mailgate.config import Settings
from mailgate.moderation import blocks, threadfix
from mailgate.moderation.authority import Authority, Outcome, arg, lists_of_targets, targets_for
from mailgate.moderation.common import ModerationError, people_api


def check_ban_list(settings: Settings, who: Authority, args: dict) -> str | None:
    """The list a ban applies to: a moderator bans from a list it moderates; an
    administrator may ban archive-wide (no list)."""
    name = (args.get("list") or "").strip() or None
    if name is not None and settings.list_by_name(name) is None:
        raise ModerationError(f"unknown list {name!r}")
    if name is None and not who.admin:
        raise ModerationError("name the list the ban applies to")
    if name is not None and not who.moderates(settings, [name]):
        raise ModerationError(f"you do not moderate {name}")
    return name


def do_ban(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    value = blocks.ban_value(arg(args, "sender"))
    name = check_ban_list(settings, who, args)
    added = blocks.add_ban(conn, value, name, who.actor, str(args.get("reason") or ""))
    where = name or "every list"
    state = "banned" if added else "was already banned"
    return Outcome(f"{value} {state} from {where}", value, name or "")


def do_unban(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    value = blocks.ban_value(arg(args, "sender"))
    name = check_ban_list(settings, who, args)
    if not blocks.remove_ban(conn, value, name):
        raise ModerationError(f"{value} is not banned from {name or 'every list'}")
    return Outcome(f"{value} no longer banned from {name or 'every list'}", value, name or "")


def _thread_fix(
    conn: Connection, settings: Settings, who: Authority, args: dict, kind: str
) -> Outcome:
    targets = targets_for(conn, settings, who, arg(args, "message_id"))
    mid = targets[0].message_id
    target_mid = None
    if kind != threadfix.SPLIT:
        others = targets_for(conn, settings, who, arg(args, "target"))
        target_mid = others[0].message_id
        targets = targets + others
    if target_mid == mid:
        raise ModerationError("a message cannot be moved or merged into itself")
    fix = threadfix.add_fix(conn, kind, mid, target_mid, who.actor)
    thread_id = threadfix.thread_of(conn, mid)
    what = {"move": "moved under", "merge": "thread merged into the thread of"}.get(kind, "")
    summary = f"<{mid}> {what} <{target_mid}>" if target_mid else f"thread split at <{mid}>"
    return Outcome(
        f"{summary} (thread {thread_id}, fix {fix.id})", mid, lists_of_targets(targets),
        {"fix": fix.id, "target": target_mid or ""},
    )  # fmt: skip


def do_move(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    return _thread_fix(conn, settings, who, args, threadfix.MOVE)


def do_split(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    return _thread_fix(conn, settings, who, args, threadfix.SPLIT)


def do_merge(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    return _thread_fix(conn, settings, who, args, threadfix.MERGE)


def people_or_refuse(who: Authority, settings: Settings):  # type: ignore[no-untyped-def]
    api = people_api()
    if api is None:
        raise ModerationError("merging or splitting people is not available in this installation")
    if not who.admin and not any(
        (who.address or "").lower() in lst.moderators for lst in settings.lists
    ):
        raise ModerationError("only moderators may merge or split people")
    return api


def do_merge_people(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    api = people_or_refuse(who, settings)
    keep, other = arg(args, "address"), arg(args, "other")
    keep_id, other_id = api.person_for_address(conn, keep), api.person_for_address(conn, other)
    if keep_id is None or other_id is None:
        raise ModerationError(f"unknown address: {keep if keep_id is None else other}")
    api.merge_people(conn, keep_id, other_id, actor=who.actor, reason=str(args.get("reason", "")))
    return Outcome(f"{other} merged into the person of {keep}", f"{keep} {other}",
                   people={keep_id})  # fmt: skip


def do_split_person(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    api = people_or_refuse(who, settings)
    address = arg(args, "address")
    person = api.split_address(conn, address, actor=who.actor, reason=str(args.get("reason", "")))
    return Outcome(f"{address} is now a person of its own ({person})", address, people={person})
