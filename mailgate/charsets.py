"""Decoding bytes whose declared charset may be wrong, unknown or missing (pure).

The order of attempts: the declared charset (strictly), UTF-8 (strictly), then windows-1252,
which is what French mail mislabelled as UTF-8 or ASCII almost always is. Nothing is dropped:
the last resort replaces undecodable bytes with U+FFFD. Used by `headers` and `mime`.
"""

from __future__ import annotations

import codecs
import functools

FALLBACK_CHARSET = "windows-1252"
CHARSET_ALIASES = {
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "iso-8859-8-i": "iso-8859-8",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-mac-roman": "mac-roman",
    "latin1": "iso-8859-1",
    "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252",
}


SINGLE_BYTE_FAMILY = frozenset(
    {"ascii", "cp1252", "iso8859-1", "iso8859-15", "cp1250", "iso8859-2", "mac-roman"}
)


@functools.lru_cache(maxsize=256)
def normalize_charset(charset: str | None) -> str:
    """A Python codec name for a declared charset, or '' when unknown or absent."""
    if not charset:
        return ""
    name = charset.strip().strip('"').strip("'").lower()
    name = CHARSET_ALIASES.get(name, name)
    if not name:
        return ""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return ""


def decode_bytes(raw: bytes, charset: str | None) -> str:
    """Decode `raw`, trusting the declared charset only when the bytes agree with it.

    ISO-8859-1 is read as windows-1252 (its superset in practice: curly quotes, euro sign).
    Bytes declared as a single-byte charset that are valid UTF-8 with non-ASCII sequences are
    UTF-8 (a Latin-1 text almost never is valid UTF-8 by chance); ASCII-declared text with 8-bit
    bytes falls through to UTF-8 and windows-1252.
    """
    codec = normalize_charset(charset)
    order = ("utf-8", codec) if codec in SINGLE_BYTE_FAMILY else (codec, "utf-8")
    for attempt in order:
        if not attempt:
            continue
        try:
            return raw.decode(attempt)
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        return raw.decode(FALLBACK_CHARSET)
    except UnicodeDecodeError:
        return raw.decode(FALLBACK_CHARSET, errors="replace")
