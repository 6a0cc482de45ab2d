"""The preparing step of ingestion: everything about a message that needs no database.

`prepare` hashes and compresses the raw bytes, parses, splits own text from quotes and
signatures, guesses the language, analyses search and topic terms and computes the identity
fingerprint; mail that cannot be parsed becomes a quarantine entry with its reason. It is pure
and picklable both ways, so the bulk import and the gateway run it in worker processes.
`mailgate.pipeline` commits what it returns (and re-exports these names); `list_contexts` is
called by every entry point to know its lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from mailgate import analysis, ids, search_index
from mailgate.config import Settings
from mailgate.parse import ParsedMessage, ParseError, parse_message
from mailgate.people import config as people_config
from mailgate.people import terms as people_terms
from mailgate.quoting import split_body
from mailgate.store import compress, utcnow


@dataclass(frozen=True, slots=True)
class ListContext:
    """What preparing a message for one list needs (picklable, for worker processes)."""

    name: str
    list_id: int
    language: str
    timezone: str
    list_addresses: frozenset[str]
    domain_aliases: tuple[tuple[str, str], ...] = ()
    plus_separator: str = "+"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message ready to commit, or (parsed is None) a quarantine entry with its reason."""

    sha256: str
    size: int
    compressed: bytes
    arrival: datetime
    parsed: ParsedMessage | None = None
    reason: str = ""
    own_text: str = ""
    zones: str = "[]"
    language: str = "fr"
    fingerprint: str = ""
    search: dict[str, str] | None = None
    canonical: str = ""
    topics: tuple[tuple[str, str, int], ...] = ()


def prepare(
    raw: bytes, ctx: ListContext, arrival: datetime | None = None, sha256: str | None = None
) -> Prepared:
    """Everything about a message that needs no database (safe to run in another process);
    `sha256` is the hash of `raw` when the caller has it already."""
    sha = sha256 or ids.sha256_hex(raw)
    now = utcnow()
    base = {"sha256": sha, "size": len(raw), "compressed": compress(raw)}
    try:
        parsed = parse_message(
            raw,
            arrival=arrival or now,
            default_tz=ZoneInfo(ctx.timezone),
            list_addresses=ctx.list_addresses,
        )
        split = split_body(
            parsed.text, author_name=parsed.from_name, author_address=parsed.from_addr
        )
        own = split.own_text
        language = analysis.guess_language(own, ctx.language)
        search = search_index.terms(
            subject=parsed.subject,
            from_name=parsed.from_name,
            from_addr=parsed.from_addr,
            recipients=(*parsed.to, *parsed.cc),
            own_text=own,
            language=language,
            filenames=[a.filename for a in parsed.attachments if not a.content_id or not a.inline],
        )
    except ParseError as exc:
        return Prepared(**base, arrival=arrival or now, reason=str(exc))
    except Exception as exc:
        return Prepared(
            **base, arrival=arrival or now, reason=f"could not process: {type(exc).__name__}: {exc}"
        )
    zones = json.dumps([[z.kind, z.start, z.end] for z in split.zones])
    fingerprint = ids.fingerprint(
        parsed.message_id, parsed.from_addr, parsed.subject_key, parsed.body_key
    )
    canonical = people_config.canonical_address(
        parsed.from_addr, ctx.domain_aliases, ctx.plus_separator
    )
    return Prepared(
        **base,
        canonical=canonical,
        topics=people_terms.message_terms(people_terms.authored_text(parsed, own), language),
        arrival=arrival or parsed.received or parsed.date,
        parsed=parsed,
        own_text=own,
        zones=zones,
        language=language,
        fingerprint=fingerprint,
        search=search,
    )


def list_contexts(settings: Settings, list_ids: dict[str, int]) -> dict[str, ListContext]:
    """A ListContext per list in the database (ids from `store.sync_lists`); lists created by
    an import without configuration get the default language."""
    addresses = frozenset(lst.address.lower() for lst in settings.lists)
    people = people_config.people_settings(settings)
    return {
        name: ListContext(
            name=name,
            list_id=list_id,
            language=getattr(settings.list_by_name(name), "language", settings.language),
            timezone=settings.timezone,
            list_addresses=addresses,
            domain_aliases=people.domain_aliases,
            plus_separator=people.plus_separator,
        )
        for name, list_id in list_ids.items()
    }
