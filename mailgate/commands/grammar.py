"""The email-command language, English and French (pure: no database, no network).

`parse_commands(subject, body)` finds the commands of one message: the subject (reply and
forward prefixes stripped) and the first lines of the body, up to the first line that is not a
command once one was found, `end`/`fin`, quoted text or a signature. Keywords are matched
without regard to case or accents (`résumé` = `resume`); each command remembers the language
its keyword belongs to, which decides the reply's language when the list has none.
`digest_args` and `search_args` read the arguments of those two commands.
Called by `mailgate.commands.worker`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from mailgate.subjects import strip_prefixes

MAX_COMMANDS = 5
MAX_BODY_LINES = 12
MAX_LINE_CHARS = 500

# keyword (folded, words separated by one space) -> (command, language or None when shared)
KEYWORDS: dict[str, tuple[str, str | None]] = {
    "help": ("help", "en"),
    "aide": ("help", "fr"),
    "?": ("help", None),
    "search": ("search", "en"),
    "find": ("search", "en"),
    "recherche": ("search", "fr"),
    "rechercher": ("search", "fr"),
    "chercher": ("search", "fr"),
    "who knows": ("who_knows", "en"),
    "qui connait": ("who_knows", "fr"),
    "qui sait": ("who_knows", "fr"),
    "profile": ("profile", "en"),
    "profil": ("profile", "fr"),
    "follow": ("follow", "en"),
    "suivre": ("follow", "fr"),
    "mute": ("mute", "en"),
    "ignorer": ("mute", "fr"),
    "unfollow": ("unfollow", "en"),
    "unmute": ("unfollow", "en"),
    "ne plus suivre": ("unfollow", "fr"),
    "ne plus ignorer": ("unfollow", "fr"),
    "digest": ("digest", None),
    "resume": ("digest", "fr"),
    "subscribe": ("subscribe", "en"),
    "abonner": ("subscribe", "fr"),
    "s'abonner": ("subscribe", "fr"),
    "abonnement": ("subscribe", "fr"),
    "unsubscribe": ("unsubscribe", "en"),
    "desabonner": ("unsubscribe", "fr"),
    "se desabonner": ("unsubscribe", "fr"),
    "desabonnement": ("unsubscribe", "fr"),
    "end": ("end", "en"),
    "fin": ("end", "fr"),
}
MAX_KEYWORD_WORDS = max(len(k.split()) for k in KEYWORDS)
FREQUENCIES: dict[str, tuple[str, str | None]] = {
    "daily": ("daily", "en"),
    "quotidien": ("daily", "fr"),
    "quotidienne": ("daily", "fr"),
    "weekly": ("weekly", "en"),
    "hebdo": ("weekly", "fr"),
    "hebdomadaire": ("weekly", "fr"),
    "off": ("off", None),
    "none": ("off", "en"),
    "stop": ("off", None),
    "aucun": ("off", "fr"),
    "arret": ("off", "fr"),
    "non": ("off", "fr"),
}
WEEKDAYS = {
    **{d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday"))},
    **{d: i for i, d in enumerate(("lundi", "mardi", "mercredi", "jeudi", "vendredi"))},
    "saturday": 5,
    "sunday": 6,
    "samedi": 5,
    "dimanche": 6,
}
_HOUR = re.compile(r"^(\d{1,2})(?:h(?:00)?|:00)?$")
HOURS_PER_DAY = 24
_SPACES = re.compile(r"\s+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "`": "'"})
MBOX_FLAGS = ("--mbox", "mbox")


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its name, the rest of the line and its keyword as written, the keyword's
    language."""

    name: str
    rest: str
    language: str | None
    line: str
    keyword: str = ""


@dataclass(frozen=True, slots=True)
class DigestArgs:
    frequency: str | None
    list_name: str | None = None
    weekday: int | None = None
    hour: int | None = None
    language: str | None = None


class ArgumentError(ValueError):
    """The arguments of a command cannot be understood; the message names the bad word."""


def fold(text: str) -> str:
    """Lowercase without accents, typographic apostrophes as ASCII, one space between words."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", bare).strip().casefold()


def parse_line(line: str) -> Command | None:
    """The command on one line, or None when the line does not start with a keyword."""
    line = line.strip()[:MAX_LINE_CHARS]
    words = line.split()
    for count in range(min(MAX_KEYWORD_WORDS, len(words)), 0, -1):
        key = fold(" ".join(words[:count])).rstrip(".!:;,")
        if key in KEYWORDS:
            name, language = KEYWORDS[key]
            rest = " ".join(words[count:]).strip()
            return Command(name, rest, language, line, " ".join(words[:count]))
    return None


def _is_stop_line(line: str) -> bool:
    return line.startswith(">") or line.rstrip() in ("--", "-- ", "__")


def parse_commands(subject: str, body: str) -> tuple[list[Command], list[str]]:
    """(commands found, body lines that were not understood before the first command)."""
    found: list[Command] = []
    skipped: list[str] = []
    subject_cmd = parse_line(strip_prefixes(subject or "")[0])
    if subject_cmd is not None and subject_cmd.name != "end":
        found.append(subject_cmd)
    body_found = False
    for line in [raw for raw in (body or "").splitlines() if raw.strip()][:MAX_BODY_LINES]:
        if _is_stop_line(line):
            break
        command = parse_line(line)
        if command is None:
            if body_found:
                break
            skipped.append(line.strip()[:MAX_LINE_CHARS])
            continue
        if command.name == "end":
            break
        body_found = True
        found.append(command)
    return _unique(found)[:MAX_COMMANDS], skipped


def _unique(commands: list[Command]) -> list[Command]:
    seen: set[tuple[str, str]] = set()
    out = []
    for command in commands:
        key = (command.name, fold(command.rest))
        if key not in seen:
            seen.add(key)
            out.append(command)
    return out


def language_of(commands: list[Command]) -> str | None:
    """The language of the first command whose keyword has one."""
    return next((c.language for c in commands if c.language), None)


def _hour(word: str) -> int | None:
    match = _HOUR.match(word)
    return int(match.group(1)) if match and int(match.group(1)) < HOURS_PER_DAY else None


def digest_args(rest: str) -> DigestArgs:
    """`daily|weekly|off [weekday] [hour] [list]` in either language; an empty `rest` asks
    for the current settings (frequency None)."""
    frequency = list_name = weekday = hour = language = None
    for word in rest.split():
        key = fold(word).rstrip(".,;")
        if key in FREQUENCIES and frequency is None:
            frequency, language = FREQUENCIES[key]
        elif key in WEEKDAYS and weekday is None:
            weekday = WEEKDAYS[key]
        elif _hour(key) is not None and hour is None:
            hour = _hour(key)
        elif list_name is None and not key.isdigit():
            list_name = word.strip(".,;")
        else:
            raise ArgumentError(word)
    if frequency is None and (weekday is not None or hour is not None or list_name is not None):
        raise ArgumentError(rest)
    return DigestArgs(frequency, list_name, weekday, hour, language)


def search_args(rest: str) -> tuple[str, bool]:
    """(query, mbox wanted): `--mbox` anywhere, or `mbox` as the first or last word."""
    words = rest.split()
    mbox = False
    if "--mbox" in words:
        words = [w for w in words if w != "--mbox"]
        mbox = True
    if len(words) > 1 and words[0].casefold() == "mbox":
        words, mbox = words[1:], True
    elif len(words) > 1 and words[-1].casefold() == "mbox":
        words, mbox = words[:-1], True
    return " ".join(words), mbox
