"""Moderation by email: mail to `<list>-owner@<domain>` (or the bot address).

`handle_owner_mail(conn, settings, message, list_name)` is what the command worker calls for
mail to an owner address (`list_name` None for the bot address). One command per line:

    hide <message-id> [reason]        unhide <message-id>
    redact <message-id> "passage"     redact-attachment <message-id> <n>
    erase <message-id>                erase-person <address>
    ban <address|@domain> [list]      unban <address|@domain> [list]
    move <message-id> <target-id>     split <message-id>     merge <message-id> <target-id>
    merge-people <address> <address>  split-person <address>
    log                               help                   reason: <why, for what follows>

Nothing happens on the word of a From line: who may act is checked at once (a list's
moderators; an author may `erase` their own messages), then every change waits for a reply
carrying a one-time token mailed to that address (`mailgate.confirm`), and is checked again
when confirmed. The reply to a confirmation applies it. One answer per mail, never to
automated mail. Importing this module registers the "moderation" confirmation action.
"""

from __future__ import annotations

import shlex
from email.message import Message
from email.utils import getaddresses

from sqlalchemy import Connection

from mailgate import confirm, mime, outbound
from mailgate.config import Settings
from mailgate.headers import decode_header
from mailgate.moderation import actions
from mailgate.moderation.authority import Authority
from mailgate.moderation.common import MAIL_ACTOR_PREFIX, ModerationError, log_entries
from mailgate.moderation.precheck import precheck

CONFIRM_ACTION = "moderation"
MAX_COMMANDS = 20
MAX_LINE_CHARS = 2_000
LOG_LINES = 20
AUTHOR_WORDS = ("erase", "remove")


def sender_of(message: Message) -> str:
    found = getaddresses([str(message.get("From", ""))])
    return found[0][1].strip().lower() if found and "@" in found[0][1] else ""


def _body(message: Message) -> str:
    for _position, part in mime.iter_leaves(message):
        if part.get_content_type() == "text/plain":
            return mime.part_text(part)
    return ""


def command_lines(text: str) -> list[str]:
    """Command lines: before the signature, without quoted text or blank lines."""
    lines = []
    for line in text.splitlines():
        if line.rstrip() == "--" or line.startswith("-- "):
            break
        line = line.strip()
        if line and not line.startswith(">"):
            lines.append(line[:MAX_LINE_CHARS])
    return lines[:MAX_COMMANDS]


def authority_for(settings: Settings, address: str, list_name: str | None) -> Authority:
    """A moderator of some list acts as moderator; anyone else only as an author."""
    moderates = any(address in lst.moderators for lst in settings.lists)
    return Authority(actor=MAIL_ACTOR_PREFIX + address, address=address,
                     author_only=not moderates)  # fmt: skip


def parse_command(line: str, settings: Settings, list_name: str | None) -> tuple[str, dict, str]:
    """(action, args, reason) of one line; `ModerationError` when it cannot be read."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise ModerationError(f"cannot read the line ({exc})") from None
    name = words[0].lower()
    name = "erase" if name == "remove" else name
    spec = actions.ACTIONS.get(name)
    if spec is None:
        raise ModerationError(f"unknown command {words[0]!r} (send 'help')")
    values = words[1:]
    if len(values) < len(spec.params):
        raise ModerationError(f"{name} needs: {' '.join(spec.params)}")
    args = dict(zip(spec.params, values, strict=False))
    rest = values[len(spec.params) :]
    if name in ("ban", "unban"):
        if rest and settings.list_by_name(rest[0]):
            args["list"], rest = rest[0], rest[1:]
        else:
            args["list"] = list_name or ""
    return name, args, " ".join(rest)


def _request(conn, settings, who, line, list_name, reason) -> str:  # type: ignore[no-untyped-def]
    name, args, own_reason = parse_command(line, settings, list_name)
    precheck(conn, settings, who, name, args)
    summary = actions.describe(name, args)
    lst = settings.list_by_name(list_name or "")
    confirm.request_confirmation(
        conn,
        settings,
        action=CONFIRM_ACTION,
        address=who.address or "",
        params={"action": name, "args": args, "reason": own_reason or reason, "list": list_name},
        summary=f"moderation: {summary}",
        language=lst.language if lst else settings.language,
    )
    return f"{summary}: confirmation sent to {who.address}"


def _log(conn: Connection, settings: Settings, who: Authority, list_name: str | None) -> str:
    if who.author_only:
        raise ModerationError("only moderators may read the moderation log")
    names = [lst.name for lst in settings.lists if who.address in lst.moderators]
    if list_name:
        names = [n for n in names if n == list_name] or names
    entries = log_entries(conn, list_names=names, limit=LOG_LINES)
    lines = [
        f"{e.created_at:%Y-%m-%d %H:%M} {e.actor} {e.action} {e.target} {e.reason}".rstrip()
        for e in entries
    ]
    return "\n".join(lines) or "(the moderation log is empty)"


def help_text() -> str:
    return "\n".join(f"{s.name} {' '.join(s.params)}: {s.help}" for s in actions.SPECS)


def _answer_line(conn, settings, who, line, list_name, reason) -> str:  # type: ignore[no-untyped-def]
    word = line.split(maxsplit=1)[0].lower()
    if word == "help":
        return help_text()
    if word == "log":
        return _log(conn, settings, who, list_name)
    return _request(conn, settings, who, line, list_name, reason)


def _run_commands(conn, settings, who, lines, list_name) -> list[str]:  # type: ignore[no-untyped-def]
    answers, reason = [], ""
    for line in lines:
        if line.lower().startswith("reason:"):
            reason = line.split(":", 1)[1].strip()
            continue
        try:
            answers.append(
                f"> {line}\n{_answer_line(conn, settings, who, line, list_name, reason)}"
            )
        except (ModerationError, confirm.ActionError) as exc:
            answers.append(f"> {line}\nrefused: {exc}")
            if str(exc).startswith("unknown command"):
                break
    return answers


def _reply(conn: Connection, settings: Settings, message: Message, to: str, text: str) -> None:
    subject = decode_header(message.get("Subject")) or "moderation"
    reply = outbound.build_message(
        settings,
        to=to,
        subject=subject if subject.lower().startswith("re:") else f"Re: {subject}",
        text=text + "\n\n-- mailgate\n",
        in_reply_to=str(message.get("Message-ID", "")).strip() or None,
        auto_reply=True,
    )
    outbound.enqueue(conn, reply, kind="reply", recipients=[to])


def handle_owner_mail(
    conn: Connection, settings: Settings, message: Message, list_name: str | None
) -> str:
    """Handle one mail to an owner (or the bot) address; returns a one-line outcome for the
    command inbox. Replies are queued in the outbox in the caller's transaction."""
    sender = sender_of(message)
    if not sender or outbound.is_automated(message):
        return "ignored: automated or without sender"
    subject = decode_header(message.get("Subject"))
    body = _body(message)
    token = confirm.find_token(subject) or confirm.find_token(body)
    if token:
        result = confirm.confirm(conn, settings, token, sender)
        _reply(conn, settings, message, sender, ("done: " if result.ok else "not done: ")
               + result.message)  # fmt: skip
        return f"confirmation {'applied' if result.ok else 'refused'}: {result.message}"
    lines = command_lines(body) or [subject]
    who = authority_for(settings, sender, list_name)
    answers = _run_commands(conn, settings, who, lines, list_name)
    _reply(conn, settings, message, sender, "\n\n".join(answers) or help_text())
    return f"{len(answers)} command(s) answered"


def _confirmed(conn: Connection, settings: Settings, address: str, params: dict) -> str:
    """The confirmation handler: check again (rights may have changed) and apply."""
    try:
        name, args = str(params["action"]), dict(params["args"])
    except (KeyError, TypeError, ValueError):
        raise confirm.ActionError("this confirmation no longer holds a request") from None
    who = authority_for(settings, address, params.get("list"))
    try:
        return actions.apply_action(conn, settings, who, name, args, str(params.get("reason", "")))
    except ModerationError as exc:
        raise confirm.ActionError(str(exc)) from None


confirm.register_action(CONFIRM_ACTION, _confirmed)
