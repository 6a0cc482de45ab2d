"""Header decoding for real-world mail: encoded words, raw 8-bit bytes, dates (pure).

Called by `parse` for every message. Robust to what list archives really contain: encoded words
split in the middle of a character, Latin-1 bytes in headers, French month names in Date,
missing time zones, and folded values.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz

from mailgate.charsets import decode_bytes

MAX_HEADER_CHARS = 16_384
MAX_TZ_OFFSET_MINUTES = 14 * 60
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,40})\?([QqBb])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)[ \t\r\n]+(=\?)")
_FOLD = re.compile(r"\r?\n[ \t]*")
_WS = re.compile(r"[ \t]+")

FRENCH_DATE_WORDS = {
    "lun": "Mon",
    "mar": "Tue",
    "mer": "Wed",
    "jeu": "Thu",
    "ven": "Fri",
    "sam": "Sat",
    "dim": "Sun",
    "janv": "Jan",
    "janvier": "Jan",
    "févr": "Feb",
    "fevr": "Feb",
    "février": "Feb",
    "fevrier": "Feb",
    "mars": "Mar",
    "avr": "Apr",
    "avril": "Apr",
    "mai": "May",
    "juin": "Jun",
    "juil": "Jul",
    "juillet": "Jul",
    "août": "Aug",
    "aout": "Aug",
    "sept": "Sep",
    "septembre": "Sep",
    "octobre": "Oct",
    "nov": "Nov",
    "novembre": "Nov",
    "déc": "Dec",
    "dec": "Dec",
    "décembre": "Dec",
    "decembre": "Dec",
    "lundi": "Mon",
    "mardi": "Tue",
    "mercredi": "Wed",
    "jeudi": "Thu",
    "vendredi": "Fri",
    "samedi": "Sat",
    "dimanche": "Sun",
    "mär": "Mar",
    "mrz": "Mar",
    "okt": "Oct",
    "dez": "Dec",
    "mo": "Mon",
    "di": "Tue",
    "mi": "Wed",
    "do": "Thu",
    "fr": "Fri",
    "sa": "Sat",
    "so": "Sun",
}
_DATE_WORD = re.compile(r"[^\W\d_]+\.?", re.UNICODE)
# A time zone after the time: numeric offset or a named zone (GMT, UTC, CET, EST...).
_ZONE = re.compile(
    r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:[+-]\d{2}:?\d{2}|\(?[A-Za-z]{1,5}\)?)(?:\s|$|\()"
)


def safe_text(text: str) -> str:
    """Text any database accepts: no NUL characters, no lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def raw_to_text(value: object) -> str:
    """A header value as text: surrogate-escaped 8-bit bytes decoded as UTF-8 or windows-1252."""
    text = str(value)[:MAX_HEADER_CHARS]
    if text.isascii():
        return safe_text(text)
    try:
        raw = text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return safe_text(text)
    return safe_text(decode_bytes(raw, "utf-8"))


def _decode_word_payload(encoding: str, payload: str) -> bytes:
    if encoding in "Bb":
        padded = payload + "=" * (-len(payload) % 4)
        try:
            return base64.b64decode(padded)
        except (binascii.Error, ValueError):
            return payload.encode("ascii", "replace")
    return quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=True)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; adjacent words in one charset are joined before decoding
    (a character split across two words survives); text between words is kept."""
    text = _BETWEEN_WORDS.sub(r"\1\2", value)
    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset = ""
    pos = 0
    for match in _ENCODED_WORD.finditer(text):
        charset = match.group(1).split("*", 1)[0].lower()
        if match.start() > pos or charset != pending_charset:
            if pending:
                out.append(decode_bytes(bytes(pending), pending_charset))
                pending = bytearray()
            out.append(text[pos : match.start()])
        pending_charset = charset
        pending += _decode_word_payload(match.group(2), match.group(3))
        pos = match.end()
    if pending:
        out.append(decode_bytes(bytes(pending), pending_charset))
    out.append(text[pos:])
    return "".join(out)


def decode_header(value: object | None) -> str:
    """Unfold and fully decode one header value to clean text."""
    if value is None:
        return ""
    text = raw_to_text(value)
    if "\n" in text:  # the patterns below only change text that has these characters
        text = _FOLD.sub(" ", text)
    if "=?" in text:
        text = decode_words(text)
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    if "\t" in text or "  " in text:
        text = _WS.sub(" ", text)
    return safe_text(text.strip())


def _translate_date_words(value: str) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(0).rstrip(".").lower()
        return FRENCH_DATE_WORDS.get(word, match.group(0))

    return _DATE_WORD.sub(swap, value.replace(" à ", " ").replace(",", ", "))


def parse_date(
    value: str | None, default_tz: timezone | None = None
) -> tuple[datetime, int] | None:
    """(naive UTC datetime, original offset in minutes) or None when unreadable.

    A date without a time zone is read in `default_tz` (the list's configured zone).
    """
    if not value:
        return None
    text = _FOLD.sub(" ", value) if "\n" in value else value
    if "\t" in text or "  " in text:
        text = _WS.sub(" ", text)
    text = text.strip()
    parsed = parsedate_tz(text)
    if parsed is None or parsed[0] < 1:
        parsed = parsedate_tz(_translate_date_words(text))
    if parsed is None:
        return None
    try:
        local = datetime(*parsed[:6])
    except (ValueError, OverflowError):
        return None
    offset_s = parsed[9] if _ZONE.search(text) else None
    if offset_s is None or abs(offset_s) > MAX_TZ_OFFSET_MINUTES * 60:
        tz = default_tz or UTC
        offset = tz.utcoffset(local) if hasattr(tz, "utcoffset") else timedelta(0)
        offset_s = int((offset or timedelta(0)).total_seconds())
    utc = local - timedelta(seconds=offset_s)
    return utc, offset_s // 60


def plausible(date: datetime, reference: datetime, *, max_future: timedelta) -> bool:
    """A date is plausible when after 1985 and not too far after the reference time."""
    return datetime(1985, 1, 1) <= date <= reference + max_future


def received_date(received_values: list[str]) -> datetime | None:
    """The time the first hop (the top Received header) saw the message, naive UTC."""
    for value in received_values:
        text = raw_to_text(value)
        if ";" not in text:
            continue
        parsed = parse_date(text.rsplit(";", 1)[1])
        if parsed:
            return parsed[0]
    return None


def naive_utc(moment: datetime) -> datetime:
    """A naive UTC datetime (the form stored in the database)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
