"""Read-only commands: help, search (optionally with an mbox of the top threads), who knows,
profile. They answer at once, only what the sender's address may read (`mailgate.access`).

The people API (`mailgate.people`) is imported when a command needs it; a server without it
answers that the command is not available. Called through `mailgate.commands.handlers`.
"""

from __future__ import annotations

import html
from datetime import UTC
from typing import Any

from mailgate.archive_reads import find_message
from mailgate.commands.context import Context, Reply
from mailgate.commands.grammar import Command, search_args
from mailgate.commands.texts import help_text
from mailgate.config import ConfigError
from mailgate.links import message_url, thread_url
from mailgate.mbox_export import entries, thread_keys
from mailgate.query import QueryError
from mailgate.search import Hit, search

SEARCH_HITS = 10
MBOX_THREADS = 3
MAX_MBOX_BYTES = 5 * 1024 * 1024
WHO_KNOWS_LIMIT = 8
EVIDENCE_LINKS = 3
PROFILE_ITEMS = 10
PROFILE_THREADS = 5
MBOX_NAME = "search.mbox"


def do_help(ctx: Context, command: Command) -> Reply:
    return Reply(help_text(ctx.language, ctx.bot, ctx.request_address))


def _hit_text(ctx: Context, rank: int, hit: Hit) -> str:
    when = hit.date.replace(tzinfo=UTC).strftime("%Y-%m-%d")
    sender = hit.from_name or hit.from_addr
    about = ctx.t("hit_line", date=when, sender=sender, lists=", ".join(hit.lists))
    lines = [f"{rank}. {hit.subject or '(no subject)'}", f"   {about}"]
    if hit.snippet.text:
        lines.append(f"   {hit.snippet.text}")
    lines.append(f"   {message_url(ctx.settings, hit.message_id)}")
    return "\n".join(lines)


def _hit_html(ctx: Context, hit: Hit) -> str:
    snippet = "".join(
        f"<b>{html.escape(part)}</b>" if marked else html.escape(part)
        for part, marked in hit.snippet.parts()
    )
    when = hit.date.replace(tzinfo=UTC).strftime("%Y-%m-%d")
    about = ctx.t(
        "hit_line", date=when, sender=hit.from_name or hit.from_addr, lists=", ".join(hit.lists)
    )
    link = html.escape(message_url(ctx.settings, hit.message_id), quote=True)
    subject = html.escape(hit.subject or "(no subject)")
    return (
        f'<li><a href="{link}">{subject}</a><br><small>{html.escape(about)}</small>'
        f"<br>{snippet}</li>"
    )


def _mbox(ctx: Context, hits: list[Hit]) -> tuple[bytes, int]:
    """The top threads as one mbox, stopping before MAX_MBOX_BYTES; (bytes, threads in it)."""
    out = bytearray()
    count = 0
    for hit in hits[:MBOX_THREADS]:
        chunk = b"".join(entries(ctx.conn, thread_keys(ctx.conn, hit.thread_id, ctx.list_ids)))
        if out and len(out) + len(chunk) > MAX_MBOX_BYTES:
            break
        out += chunk[:MAX_MBOX_BYTES]
        count += 1
    return bytes(out), count


def do_search(ctx: Context, command: Command) -> Reply:
    query, want_mbox = search_args(command.rest)
    if not query:
        return Reply(ctx.t("search_usage"))
    try:
        page = search(
            ctx.conn, ctx.settings, query, viewer=ctx.viewer, limit=SEARCH_HITS,
            group_by_thread=True, now=ctx.now.replace(tzinfo=UTC),
        )  # fmt: skip
    except (QueryError, ConfigError) as exc:
        return Reply(ctx.t("search_bad", query=query, error=exc))
    if not page.hits:
        return Reply(ctx.t("search_none", query=query))
    head = ctx.t("search_head", total=page.total, query=query)
    text = "\n\n".join([head, *(_hit_text(ctx, i, h) for i, h in enumerate(page.hits, 1))])
    items = "".join(_hit_html(ctx, h) for h in page.hits)
    markup = f"<p>{html.escape(head)}</p><ol>{items}</ol>"
    reply = Reply(text, markup)
    if want_mbox:
        data, count = _mbox(ctx, page.hits)
        note = ctx.t("search_mbox", count=count, name=MBOX_NAME)
        if count < min(MBOX_THREADS, len(page.hits)):
            note += "\n" + ctx.t("search_mbox_cut", count=count)
        reply = Reply(f"{text}\n\n{note}", f"{markup}<p>{html.escape(note)}</p>", (MBOX_NAME, data))
    return reply


def _people() -> Any | None:
    try:
        from mailgate import people
    except ImportError:
        return None
    return people


def do_who_knows(ctx: Context, command: Command) -> Reply:
    query = command.rest.strip()
    if not query:
        return Reply(ctx.t("who_usage"))
    people = _people()
    if people is None:
        return Reply(ctx.t("unavailable", command=command.keyword))
    try:
        experts = people.who_knows(
            ctx.conn, ctx.settings, query, scope=ctx.list_ids, limit=WHO_KNOWS_LIMIT
        )
    except QueryError as exc:
        return Reply(ctx.t("search_bad", query=query, error=exc))
    if not experts:
        return Reply(ctx.t("who_none", query=query))
    lines = [ctx.t("who_head", query=query)]
    for rank, expert in enumerate(experts, 1):
        score = f"{float(getattr(expert, 'score', 0.0)):.2f}"
        lines.append(ctx.t("who_line", rank=rank, name=expert.name, score=score))
        lines += [f"   {url}" for url in _evidence(ctx, getattr(expert, "evidence", ()))]
    return Reply("\n".join(lines))


def _evidence(ctx: Context, message_ids: Any) -> list[str]:
    """Links to the evidence messages the sender may read (checked again here)."""
    links = []
    for mid in list(message_ids or ())[: EVIDENCE_LINKS * 3]:
        if find_message(ctx.conn, str(mid), ctx.list_ids) is not None:
            links.append(message_url(ctx.settings, str(mid)))
        if len(links) == EVIDENCE_LINKS:
            break
    return links


def do_profile(ctx: Context, command: Command) -> Reply:
    address = command.rest.strip().strip("<>").lower()
    if "@" not in address or " " in address:
        return Reply(ctx.t("profile_usage"))
    people = _people()
    if people is None:
        return Reply(ctx.t("unavailable", command=command.keyword))
    person = people.person_for_address(ctx.conn, address)
    found = None
    if person is not None:
        found = people.profile(ctx.conn, ctx.settings, person, scope=ctx.list_ids)
    if found is None or not getattr(found, "messages", 0):  # nothing the sender may read
        return Reply(ctx.t("profile_none", address=address))
    return Reply("\n".join([ctx.t("profile_head", address=address), *_describe(ctx, found)]))


def _names(items: Any, *attributes: str) -> str:
    """The first present attribute of each item (or the item itself), comma separated."""
    out = []
    for item in list(items or ())[:PROFILE_ITEMS]:
        value = next((getattr(item, a) for a in attributes if getattr(item, a, None)), item)
        out.append(str(value))
    return ", ".join(out)


def _describe(ctx: Context, profile: Any) -> list[str]:
    """What the profile says, without addresses (they are not shown by mail)."""
    lines = [f"- {ctx.t('profile_name')}: {profile.name}"] if getattr(profile, "name", "") else []
    first, last = getattr(profile, "first_date", None), getattr(profile, "last_date", None)
    span = f" ({first:%Y-%m-%d} – {last:%Y-%m-%d})" if first and last else ""
    lines.append(f"- {ctx.t('profile_messages')}: {profile.messages}{span}")
    pairs = [
        ("profile_lists", _names(getattr(profile, "lists", ()))),
        ("profile_topics", _names(getattr(profile, "topics", ()), "display", "term")),
        ("profile_people", _names(getattr(profile, "correspondents", ()), "name")),
    ]
    lines += [f"- {ctx.t(key)}: {value}" for key, value in pairs if value]
    started = list(getattr(profile, "started", ()) or ())[:PROFILE_THREADS]
    if started:
        lines.append(f"- {ctx.t('profile_started')}:")
        lines += [f"  {t.subject} {thread_url(ctx.settings, t.thread_id)}" for t in started]
    return lines
