"""Message-ID cleaning, reference extraction, stable hashes and synthetic ids (pure).

Called by `parse` for every message and by the readers when a Message-ID arrives from a URL,
a search query or an email command.
"""

from __future__ import annotations

import hashlib
import re

from mailgate.models import MID_LENGTH

MAX_REFERENCES = 100
SYNTHETIC_DOMAIN = "synthetic.mailgate.invalid"

_BRACKETED = re.compile(r"<([^<>\s]{1,998})>")
_BARE = re.compile(r"[^\s<>\"(),;:]+@[^\s<>\"(),;:]+")
_WS = re.compile(r"\s+")


def clean_mid(value: str | None) -> str:
    """The Message-ID without brackets or whitespace, '' when there is none.

    Tolerates junk around the id ("<id> (added by ...)"), missing brackets and folding.
    Ids longer than the schema allows are shortened to a stable hashed form.
    """
    if not value:
        return ""
    value = value.strip()
    found = _BRACKETED.search(value)
    if found:
        mid = found.group(1)
    else:
        bare = _BARE.search(value)
        mid = bare.group(0) if bare else _WS.sub("", value)
    mid = mid.strip().strip("<>")
    return shorten_mid(mid) if mid else ""


def shorten_mid(mid: str) -> str:
    """Fit an id into the schema: over-long ids keep a prefix plus a hash of the whole."""
    if len(mid) <= MID_LENGTH:
        return mid
    digest = hashlib.sha256(mid.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{mid[: MID_LENGTH - 34]}~{digest}"


def extract_mids(value: str | None) -> list[str]:
    """All bracketed ids in a References or In-Reply-To value, in order, without duplicates.

    Folding whitespace inside brackets is removed; quoted addresses such as
    `"Joe" <joe@example.org>` are ids syntactically and are kept (a later check against the
    sender's address drops them). When nothing is bracketed, a single bare id is accepted.
    """
    if not value:
        return []
    unfolded = _WS.sub(" ", value)
    ids = [m.replace(" ", "") for m in _BRACKETED.findall(unfolded)]
    if not ids:
        bare = _BARE.findall(unfolded)
        ids = bare[:1]
    seen: dict[str, None] = {}
    for mid in ids:
        mid = shorten_mid(mid)
        if mid and mid not in seen:
            seen[mid] = None
        if len(seen) >= MAX_REFERENCES:
            break
    return list(seen)


def parent_and_references(
    in_reply_to: str | None, references: str | None, own_mid: str, addresses: set[str]
) -> tuple[str | None, list[str]]:
    """The direct parent and the ancestor chain (oldest first, parent last).

    JWZ rules: In-Reply-To names the parent when it holds one usable id (preferring one that
    References also lists); otherwise the last id of References. The message's own id and ids
    that are really e-mail addresses of the people involved are ignored.
    """
    refs = [m for m in extract_mids(references) if m != own_mid and m.lower() not in addresses]
    irt = [m for m in extract_mids(in_reply_to) if m != own_mid and m.lower() not in addresses]
    parent = None
    if irt:
        in_refs = [m for m in irt if m in refs]
        parent = in_refs[-1] if in_refs else irt[0]
    elif refs:
        parent = refs[-1]
    if parent is not None:
        refs = [m for m in refs if m != parent] + [parent]
    return parent, refs[-MAX_REFERENCES:]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def synthetic_mid(raw: bytes) -> str:
    """A stable id for a message that has none: the same bytes always give the same id."""
    return f"{hashlib.sha256(raw).hexdigest()[:40]}@{SYNTHETIC_DOMAIN}"


def fingerprint(mid: str, from_addr: str, subject_key: str, body_key: str) -> str:
    """Identity of a message across list copies and re-sends.

    A list server changes a post (subject tag, footer, headers) without making it another
    message, and a re-send of a patch keeps its Message-ID and text under a new Date; a
    different message reusing a Message-ID differs in sender, subject or text. The body key
    hashes the author's text, which list footers and tags do not touch.
    """
    material = "\x1f".join((mid, from_addr.lower(), subject_key, body_key))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_mid(token: str) -> bool:
    """True for `<...@...>` tokens (a bare Message-ID typed in a search box or command)."""
    token = token.strip()
    return bool(token.startswith("<") and token.endswith(">") and "@" in token)
