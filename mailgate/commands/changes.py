"""Commands that change a reader's preferences: follow / mute a thread, digest settings.

None of them changes anything directly: each asks for a confirmation
(`confirm.request_confirmation`, sent to the sender's own address with a one-time token) and
the change is made by the action registered here when the token comes back from that same
address. The actions check access again when they run (a list may have become private).
`digest` without arguments only shows the current settings. Importing this module registers
the actions "commands.thread" and "commands.digest" with `mailgate.confirm`.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, select

from mailgate import confirm, prefs
from mailgate.access import Viewer, can_see_list, visible_list_ids
from mailgate.archive_reads import find_message
from mailgate.commands.context import Context, Reply
from mailgate.commands.grammar import ArgumentError, Command, DigestArgs, digest_args
from mailgate.commands.texts import text, weekday_name
from mailgate.config import Settings
from mailgate.links import mid_from_segment
from mailgate.models import Message, MessageList, Thread
from mailgate.threadview import resolve_thread_id

THREAD_ACTION = "commands.thread"
DIGEST_ACTION = "commands.digest"
SUBSCRIBE_FREQUENCY = "daily"
STATES = {"follow": "follow", "mute": "mute", "unfollow": None}
_THREAD_PATH = re.compile(r"/t/(\d{1,18})(?:/|\b)")
_MESSAGE_PATH = re.compile(r"/m/([^/\s?#<>]+)")
_BRACKETED_MID = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
msgs_t = Message.__table__
mlists_t = MessageList.__table__


def _thread_visible(conn: Connection, thread_id: int, list_ids: list[int]) -> bool:
    if not list_ids:
        return False
    query = (
        select(msgs_t.c.id)
        .join(mlists_t, mlists_t.c.message_pk == msgs_t.c.id)
        .where(
            msgs_t.c.thread_id == thread_id,
            msgs_t.c.hidden.is_(False),
            mlists_t.c.list_id.in_(list_ids),
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def _thread_from_text(ctx: Context, rest: str) -> int | None:
    """A thread named by a permalink (/t/ID/ or /m/MESSAGE-ID) or a <message-id>."""
    found = _THREAD_PATH.search(rest)
    if found:
        return resolve_thread_id(ctx.conn, int(found.group(1)))
    mids = [mid_from_segment(m) for m in _MESSAGE_PATH.findall(rest)]
    mids += _BRACKETED_MID.findall(rest)
    for mid in mids:
        row = find_message(ctx.conn, mid, ctx.list_ids)
        if row is not None:
            return row.thread_id
    return None


def thread_of(ctx: Context, rest: str) -> int | None:
    """The thread a follow/mute command means, if the sender may read it: from a link or id
    in the command, else from the message it replies to (In-Reply-To, then References)."""
    names_one = any(p.search(rest) for p in (_THREAD_PATH, _MESSAGE_PATH, _BRACKETED_MID))
    thread_id = _thread_from_text(ctx, rest) if names_one else None
    if not names_one:
        for mid in ctx.request.thread_hints:
            row = find_message(ctx.conn, mid, ctx.list_ids)
            if row is not None:
                thread_id = row.thread_id
                break
    if thread_id is None or not _thread_visible(ctx.conn, thread_id, ctx.list_ids):
        return None
    return thread_id


def _thread_subject(conn: Connection, thread_id: int) -> str:
    return conn.execute(select(Thread.subject).where(Thread.id == thread_id)).scalar() or "?"


def _ask(ctx: Context, action: str, params: dict[str, Any], summary: str) -> Reply:
    confirm.request_confirmation(
        ctx.conn, ctx.settings, action=action, address=ctx.request.sender,
        params={**params, "language": ctx.language}, summary=summary, language=ctx.language,
        in_reply_to=f"<{ctx.request.message_id}>" if ctx.request.message_id else None,
    )  # fmt: skip
    return Reply(ctx.t("confirm_sent", summary=summary), confirmation=True)


def do_thread(ctx: Context, command: Command) -> Reply:
    """follow / mute / unfollow."""
    thread_id = thread_of(ctx, command.rest.strip())
    if thread_id is None:
        return Reply(ctx.t("thread_unknown", command=command.keyword))
    summary = ctx.t(command.name, subject=_thread_subject(ctx.conn, thread_id))
    params = {"thread_id": thread_id, "state": STATES[command.name]}
    return _ask(ctx, THREAD_ACTION, params, summary)


def _list_name(ctx: Context, wanted: str | None) -> str | None:
    """The list a digest command is about ('' = all lists); None when it is not readable."""
    name = wanted if wanted is not None else (ctx.request.list_name or "")
    if name and not can_see_list(ctx.settings, ctx.viewer, name):
        return None
    return name


def describe_digest(language: str, frequency: str, list_name: str, when: dict) -> str:
    """'weekly digest of the list dev on Monday at 8:00' in the reply language."""
    scope = (
        text(language, "digest_list", name=list_name) if list_name else text(language, "digest_all")
    )
    if frequency == "off":
        return text(language, "digest_off", scope=scope)
    out = text(language, "digest_set", frequency=text(language, frequency), scope=scope)
    if when.get("weekday") is not None and frequency == "weekly":
        out += text(language, "when_weekday", weekday=weekday_name(language, when["weekday"]))
    if when.get("hour") is not None:
        out += text(language, "when_hour", hour=when["hour"])
    return out


def _show_digests(ctx: Context) -> Reply:
    subs = [s for s in prefs.subscriptions_of(ctx.conn, ctx.request.sender) if s.frequency != "off"]
    if not subs:
        return Reply(ctx.t("digest_none") + "\n" + ctx.t("digest_usage"))
    lines = [ctx.t("digest_head")]
    for sub in subs:
        when = {"weekday": sub.weekday, "hour": sub.hour}
        lines.append("- " + describe_digest(ctx.language, sub.frequency, sub.list_name, when))
    return Reply("\n".join(lines))


def _ask_digest(ctx: Context, args: DigestArgs, frequency: str) -> Reply:
    name = _list_name(ctx, args.list_name)
    if name is None:
        return Reply(ctx.t("unknown_list", name=args.list_name or ctx.request.list_name))
    params = {"list_name": name, "frequency": frequency, "weekday": args.weekday, "hour": args.hour,
              "digest_language": args.language}  # fmt: skip
    summary = describe_digest(ctx.language, frequency, name, params)
    return _ask(ctx, DIGEST_ACTION, params, summary)


def do_digest(ctx: Context, command: Command) -> Reply:
    try:
        args = digest_args(command.rest)
    except ArgumentError as exc:
        return Reply(ctx.t("bad_args", word=str(exc), line=command.line))
    if args.frequency is None:
        return _show_digests(ctx)
    return _ask_digest(ctx, args, args.frequency)


def do_subscribe(ctx: Context, command: Command) -> Reply:
    """subscribe / unsubscribe [LIST]: a daily digest on, or the digest off."""
    words = command.rest.split()
    if len(words) > 1:
        return Reply(ctx.t("bad_args", word=words[1], line=command.line))
    frequency = SUBSCRIBE_FREQUENCY if command.name == "subscribe" else "off"
    args = DigestArgs(frequency, words[0] if words else None, language=command.language)
    return _ask_digest(ctx, args, frequency)


# --- the actions run by confirm.confirm once the token comes back ---


def apply_thread(conn: Connection, settings: Settings, address: str, params: dict) -> str:
    language = params.get("language") or settings.language
    thread_id = resolve_thread_id(conn, int(params["thread_id"])) or int(params["thread_id"])
    if not _thread_visible(conn, thread_id, visible_list_ids(conn, settings, Viewer(address))):
        raise confirm.ActionError(text(language, "thread_unknown", command="follow"))
    prefs.set_thread_pref(conn, address, thread_id, params.get("state"))
    key = {"follow": "follow", "mute": "mute", None: "unfollow"}[params.get("state")]
    return text(language, key, subject=_thread_subject(conn, thread_id))


def apply_digest(conn: Connection, settings: Settings, address: str, params: dict) -> str:
    language = params.get("language") or settings.language
    name = params.get("list_name") or ""
    if name and not can_see_list(settings, Viewer(address), name):
        raise confirm.ActionError(text(language, "unknown_list", name=name))
    prefs.set_digest(
        conn, address, params["frequency"], list_name=name,
        weekday=params.get("weekday"), hour=params.get("hour"),
        language=params.get("digest_language"),  # the language the reader asked in
    )  # fmt: skip
    return describe_digest(language, params["frequency"], name, params)


confirm.register_action(THREAD_ACTION, apply_thread)
confirm.register_action(DIGEST_ACTION, apply_digest)
