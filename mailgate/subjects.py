"""Subject normalisation for threading and display (pure).

Strips reply and forward prefixes in the languages of the company's mail (Re:, RE :, AW:, Réf. :,
TR :, Fwd:, WG: ...), list tags such as `[rse-pilotes]`, counters (`Re[2]:`, `Re^3:`) and
trailing "(was: ...)" / "(était : ...)" notes. Called by `parse` for every message.
"""

from __future__ import annotations

import re
import unicodedata

from mailgate.models import SUBJECT_KEY_LENGTH

MAX_PREFIX_ROUNDS = 20
_SPACE = "[ \t\u00a0\u202f]"
_REPLY_WORDS = r"re|ré|réf\.?|ref\.?|aw|sv|antw|rif|rép|rep|odp|vs|ynt|atb|r"
_FORWARD_WORDS = r"fwd?|tr|wg|rv|enc|i|doorst|vl|trans"
_PREFIX = re.compile(
    rf"^{_SPACE}*(?:(?P<reply>{_REPLY_WORDS})|(?P<fwd>{_FORWARD_WORDS}))"
    rf"{_SPACE}*(?:\[\d+\]|\^\d+|\(\d+\))?{_SPACE}*[:：]{_SPACE}*",
    re.IGNORECASE,
)
_TAG = re.compile(rf"^{_SPACE}*\[[^\[\]]{{1,60}}\]{_SPACE}*")
_WAS = re.compile(r"\s*[\(\[](?:was|était|etait|war|anciennement)\s*:.*[\)\]]\s*$", re.IGNORECASE)
_WS = re.compile(r"\s+")


def strip_prefixes(subject: str) -> tuple[str, bool, bool]:
    """(subject without prefixes/tags, had a reply prefix, had a forward prefix)."""
    text = subject or ""
    reply = forward = False
    for _ in range(MAX_PREFIX_ROUNDS):
        match = _PREFIX.match(text)
        if match:
            reply = reply or bool(match.group("reply"))
            forward = forward or bool(match.group("fwd"))
            text = text[match.end() :]
            continue
        tag = _TAG.match(text)
        if tag and text[tag.end() :].strip():
            text = text[tag.end() :]
            continue
        break
    return text.strip(), reply, forward


def subject_key(subject: str) -> str:
    """The comparison key of a subject: no prefixes, tags or "(was: ...)", folded case."""
    text, _reply, _forward = strip_prefixes(subject)
    return stripped_key(text)


def stripped_key(text: str) -> str:
    """subject_key of a subject that went through strip_prefixes already."""
    text = _WAS.sub("", text)
    text = unicodedata.normalize("NFC", _WS.sub(" ", text)).strip().casefold()
    return text[:SUBJECT_KEY_LENGTH]


def display_subject(subject: str) -> str:
    """The subject to show in lists: prefixes and tags removed, whitespace collapsed."""
    text, _reply, _forward = strip_prefixes(subject)
    return _WS.sub(" ", text).strip() or _WS.sub(" ", subject or "").strip()
