"""Answer one accepted command message: confirmation replies, owner mail, commands.

`respond(conn, settings, request, now)` decides what the message is (a reply carrying a
confirmation token, mail to a list's owner address, or commands), runs it and queues at most
one reply in the outbox (plus the confirmation messages the changing commands send). It
returns (number of messages queued, outcome text). Replies go only to the sender's address,
`Auto-Submitted: auto-replied`, threaded under the command message. Called by
`mailgate.commands.worker` inside the message's transaction.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import datetime

from sqlalchemy import Connection, text

from mailgate import confirm, outbound
from mailgate.commands import changes, readonly
from mailgate.commands.context import Context, Handler, Reply
from mailgate.commands.grammar import MAX_COMMANDS, Command, language_of, parse_commands
from mailgate.commands.owner import forward_to_moderators, owner_handler
from mailgate.commands.request import Request
from mailgate.commands.texts import help_text
from mailgate.config import Settings
from mailgate.subjects import strip_prefixes

log = logging.getLogger("mailgate.commands")
CONFIRM_SCAN_CHARS = 4000
MAX_SKIPPED_SHOWN = 3
HANDLERS: dict[str, Handler] = {
    "help": readonly.do_help,
    "search": readonly.do_search,
    "who_knows": readonly.do_who_knows,
    "profile": readonly.do_profile,
    "follow": changes.do_thread,
    "mute": changes.do_thread,
    "unfollow": changes.do_thread,
    "digest": changes.do_digest,
    "subscribe": changes.do_subscribe,
    "unsubscribe": changes.do_subscribe,
}


def reply_language(settings: Settings, request: Request, commands: list[Command]) -> str:
    """The list's language, else the commands' language, else the configured language."""
    lst = settings.list_by_name(request.list_name or "")
    if lst is not None:
        return lst.language
    return language_of(commands) or settings.language


def _list_id(settings: Settings, list_name: str | None) -> str | None:
    lst = settings.list_by_name(list_name or "")
    if lst is None:
        return None
    local, _, domain = lst.address.rpartition("@")
    return f"<{local}.{domain}>"


def _bracket(mid: str) -> str | None:
    return f"<{mid}>" if mid else None


def send_reply(ctx: Context, replies: list[Reply]) -> int:
    """Queue the one reply to a command message (its sections joined); returns 1, or 0 when
    the outbox already holds it (a replayed message)."""
    request = ctx.request
    subject, is_reply, _ = strip_prefixes(request.subject)
    if subject:
        subject = request.subject if is_reply else ctx.t("subject", subject=subject)
    else:
        subject = ctx.t("subject_default", address=request.recipient)
    footer = ctx.t("footer", address=ctx.bot)
    body = "\n\n".join(r.text for r in replies) + "\n\n" + footer + "\n"
    markup = None
    if any(r.html for r in replies):
        parts = [r.html or f"<pre>{html.escape(r.text)}</pre>" for r in replies]
        markup = "".join(parts) + f"<hr><p><small>{html.escape(footer[3:])}</small></p>"
    msg = outbound.build_message(
        ctx.settings, to=request.sender, subject=subject, text=body, html=markup,
        sender=request.recipient, in_reply_to=_bracket(request.message_id),
        references=[f"<{mid}>" for mid in request.references],
        auto_reply=True, list_id=_list_id(ctx.settings, request.list_name),
    )  # fmt: skip
    for reply in replies:
        if reply.attachment is not None:
            name, data = reply.attachment
            msg.add_attachment(data, maintype="application", subtype="mbox", filename=name)
    queued = outbound.enqueue(
        ctx.conn, msg, kind="reply", dedupe_key=f"command-reply:{request.dedupe_key}",
        recipients=[request.sender],
    )  # fmt: skip
    return 0 if queued is None else 1


def _run(ctx: Context, command: Command) -> Reply:
    """One command in its own savepoint: a failing command does not undo the others."""
    try:
        with ctx.conn.begin_nested():
            return HANDLERS[command.name](ctx, command)
    except Exception:
        log.exception("command %r from %s failed", command.name, ctx.request.sender)
        return Reply(ctx.t("failed"))


def _section(command: Command, reply: Reply, several: bool) -> Reply:
    if not several:
        return reply
    quoted = f"> {command.line}\n"
    return Reply(
        quoted + reply.text,
        f"<p><b>{html.escape(command.line)}</b></p>{reply.html}" if reply.html else None,
        reply.attachment,
        reply.confirmation,
    )


def run_commands(ctx: Context, commands: list[Command], skipped: list[str]) -> tuple[int, str]:
    if not commands:
        lines = [ctx.t("not_understood")]
        if skipped:
            shown = " / ".join(skipped[:MAX_SKIPPED_SHOWN])
            lines.append(ctx.t("ignored_lines", lines=shown))
        text_ = "\n".join(lines) + "\n\n" + help_text(ctx.language, ctx.bot, ctx.request_address)
        return send_reply(ctx, [Reply(text_)]), "replied: no command found"
    replies = [(c, _run(ctx, c)) for c in commands]
    asked = sum(1 for _, r in replies if r.confirmation)
    names = ", ".join(c.name for c in commands)
    if asked == len(replies):  # the confirmation messages are the answer
        return asked, f"confirmation requested: {names}"
    sections = [_section(c, r, len(replies) > 1) for c, r in replies]
    if len(commands) == MAX_COMMANDS:
        sections.append(Reply(ctx.t("too_many", count=MAX_COMMANDS)))
    return asked + send_reply(ctx, sections), f"replied: {names}"


def _token_language(conn: Connection, token: str) -> str | None:
    """The language the confirmation was asked in (kept in its parameters by our actions)."""
    try:
        with conn.begin_nested():
            raw = conn.execute(
                text("SELECT params FROM confirmations WHERE token = :t"), {"t": token}
            ).scalar()
        language = json.loads(raw).get("language") if raw else None
    except Exception:
        return None
    return language if isinstance(language, str) else None


def confirm_reply(ctx: Context, token: str) -> tuple[int, str]:
    result = confirm.confirm(ctx.conn, ctx.settings, token, ctx.request.sender)
    ctx.language = _token_language(ctx.conn, token) or ctx.language
    key = "done" if result.ok else "not_done"
    sent = send_reply(ctx, [Reply(ctx.t(key, message=result.message))])
    status = "confirmed" if result.ok else "confirmation refused"
    return sent, f"{status}: {result.action or token}: {result.message}"


def respond(
    conn: Connection, settings: Settings, request: Request, now: datetime
) -> tuple[int, str]:
    """Handle one message that passed the loop, duplicate and rate checks."""
    if request.kind == "owner" and (handler := owner_handler()) is not None:
        return 0, f"moderation: {handler(conn, settings, request)}"
    commands, skipped = parse_commands(request.subject, request.body)
    ctx = Context(conn, settings, request, reply_language(settings, request, commands), now)
    if request.kind == "owner":
        reply, forwarded = forward_to_moderators(ctx)
        status = "forwarded to the moderators" if forwarded else "refused: no moderator"
        return send_reply(ctx, [reply]) + forwarded, f"owner mail {status}"
    token = confirm.find_token(request.subject) or confirm.find_token(
        request.body[:CONFIRM_SCAN_CHARS]
    )
    if token:
        return confirm_reply(ctx, token)
    return run_commands(ctx, commands, skipped)
