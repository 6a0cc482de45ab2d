"""Actions on messages: hide, unhide, redact a passage or an attachment, erase a message or
every message of a person. Each returns an `Outcome` for the audit log; `actions` registers
them.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from mailgate.config import Settings
from mailgate.models import Attachment
from mailgate.moderation import blocks, erasure, hiding, redaction
from mailgate.moderation.authority import Authority, Outcome, arg, lists_of_targets, targets_for
from mailgate.moderation.common import ModerationError, Target, people_api, targets_from


def do_hide(
    conn: Connection, settings: Settings, who: Authority, args: dict, hidden: bool = True
) -> Outcome:
    targets = targets_for(conn, settings, who, arg(args, "message_id"))
    changed = hiding.set_hidden(conn, targets, hidden)
    verb = "hidden" if hidden else "shown again"
    mid = targets[0].message_id
    return Outcome(
        f"<{mid}> {verb} ({changed} changed)",
        mid,
        lists_of_targets(targets),
        people={t.person_id for t in targets if t.person_id},
    )


def do_unhide(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    return do_hide(conn, settings, who, args, hidden=False)


def do_redact(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    targets = targets_for(conn, settings, who, arg(args, "message_id"))
    count, quoting = redaction.redact(
        conn,
        settings,
        targets,
        who.actor,
        passage=arg(args, "text"),
        # an author removes their own words wherever they are quoted
        quotes_allowed=lambda lists: who.author_only or who.moderates(settings, lists),
    )
    mid = targets[0].message_id
    details = {"chars": len(args["text"]), "quoting": quoting}
    return Outcome(
        f"text removed from <{mid}> ({count} message(s)) and from {quoting} message(s) quoting it",
        mid,
        lists_of_targets(targets),
        details,
        {t.person_id for t in targets if t.person_id},
    )


def do_redact_attachment(
    conn: Connection, settings: Settings, who: Authority, args: dict
) -> Outcome:
    targets = targets_for(conn, settings, who, arg(args, "message_id"))
    position = arg(args, "position")
    if not position.isdigit():
        raise ModerationError("the attachment number must be a number (see the message page)")
    att = Attachment.__table__
    known = conn.execute(
        select(att.c.message_pk).where(
            att.c.message_pk.in_([t.pk for t in targets]), att.c.position == int(position)
        )
    ).first()
    if known is None:
        raise ModerationError(f"the message has no attachment number {position}")
    redaction.redact(conn, settings, targets, who.actor, position=int(position))
    mid = targets[0].message_id
    return Outcome(f"attachment {position} removed from <{mid}>", mid, lists_of_targets(targets),
                   {"position": int(position)})  # fmt: skip


def _erased(targets: list[Target], result: erasure.Erased) -> dict:
    scrub = result.scrubbed
    return {
        "messages": result.messages,
        "raw_copies": result.raw_copies,
        "threads_removed": result.threads_removed,
        "outbox_deleted": scrub.outbox_deleted if scrub else 0,
        "outbox_blanked": scrub.outbox_blanked if scrub else 0,
    }


def do_erase(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    targets = targets_for(conn, settings, who, arg(args, "message_id"))
    result = erasure.erase(conn, targets, who.actor)
    mid = targets[0].message_id
    return Outcome(
        f"<{mid}> erased ({result.messages} message(s))",
        mid,
        lists_of_targets(targets),
        _erased(targets, result),
        {t.person_id for t in targets if t.person_id},
    )


def _person_addresses(conn: Connection, address: str) -> list[str]:
    api = people_api()
    if api is None:
        return [address]
    person = api.person_for_address(conn, address)
    return api.addresses_of(conn, person) if person is not None else [address]


def do_erase_person(conn: Connection, settings: Settings, who: Authority, args: dict) -> Outcome:
    address = blocks.ban_value(arg(args, "address"))
    if address.startswith("@"):
        raise ModerationError("erase-person needs an address, not a domain")
    found = targets_from(conn, _person_addresses(conn, address))
    targets = [t for t in found if who.moderates(settings, t.lists)]
    if not targets:
        raise ModerationError(f"no message from {address} that you may erase")
    result = erasure.erase(conn, targets, who.actor)
    details = _erased(targets, result) | {"skipped": len(found) - len(targets)}
    summary = f"{result.messages} message(s) of {address} erased"
    people = {t.person_id for t in targets if t.person_id}
    api = people_api()
    if api is not None:  # a person with nothing left is forgotten: name, addresses, topics
        people -= set(api.forget_people(conn, sorted(people)))
    return Outcome(summary, address, lists_of_targets(targets), details, people)
