"""Digest wording in French and English, and dates in the reader's time zone (pure).

Templates call `t("key")` for fixed text and `t.n(count, "key")` for counted text; the
language is the reader's own (the one they asked for their digest in), else the list's for a
one-list digest, else the configured `language`. Called by
`digest.render` and `digest.compose`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("fr", "en")


def _words(text: str) -> list[str]:
    return text.split()


MONTHS = {
    "fr": _words("janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc."),
    "en": _words("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"),
}
CATALOGUE: dict[str, tuple[str, str]] = {
    # key: (French, English)
    "daily": ("Résumé quotidien", "Daily digest"),
    "weekly": ("Résumé hebdomadaire", "Weekly digest"),
    "all_lists": ("toutes vos listes", "all your lists"),
    "intro": ("Les discussions nouvelles et actives", "New and active threads"),
    "from_to": ("du {start} au {end}", "from {start} to {end}"),
    "your_thread": ("Votre discussion", "Your thread"),
    "replies_to_you": ("Réponses à vos messages", "Replies to you"),
    "followed": ("Suivie", "Followed"),
    "read": ("Lire", "Read"),
    "reply": ("Répondre", "Reply"),
    "with": ("avec", "with"),
    "others": ("autres", "others"),
    "list": ("Liste", "List"),
    "more_threads": ("Et {n} autres discussions :", "And {n} more threads:"),
    "related": ("Ailleurs dans les archives", "Related elsewhere"),
    "related_people": ("Personnes à suivre sur ces sujets", "People on these topics"),
    "archive": ("Archives", "Archive"),
    "unsubscribe": ("Se désabonner de ce résumé", "Unsubscribe from this digest"),
    "why": (
        "Vous recevez ce résumé parce que {address} y est abonné.",
        "You receive this digest because {address} subscribed to it.",
    ),
    "colon": (" :", ":"),
    "lquote": ("« ", "“"),
    "rquote": (" »", "”"),
    "reply_hint": (
        "« Répondre » ouvre un message qui s'insère dans la discussion.",
        "“Reply” opens a message that joins the thread.",
    ),
}
COUNTED: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    # key: ((French singular, plural), (English singular, plural))
    "new": (("{n} nouveau", "{n} nouveaux"), ("{n} new", "{n} new")),
    "messages": (("{n} message", "{n} messages"), ("{n} message", "{n} messages")),
    "threads": (("{n} discussion", "{n} discussions"), ("{n} thread", "{n} threads")),
    "replies_to_you": (
        ("{n} réponse pour vous", "{n} réponses pour vous"),
        ("{n} reply to you", "{n} replies to you"),
    ),
}


@dataclass(frozen=True)
class Translator:
    """Text and dates in one language and time zone."""

    language: str
    tz: ZoneInfo

    def _pick(self, pair: tuple) -> object:
        return pair[0] if self.language == "fr" else pair[1]

    def __call__(self, key: str, **values: object) -> str:
        pair = CATALOGUE.get(key)
        text = key if pair is None else str(self._pick(pair))
        return text.format(**values) if values else text

    def n(self, count: int, key: str) -> str:
        forms = self._pick(COUNTED[key])
        singular = count == 1 or (self.language == "fr" and count == 0)
        return forms[0 if singular else 1].format(n=count)  # type: ignore[index]

    def local(self, moment: datetime) -> datetime:
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(self.tz)

    def day(self, moment: datetime) -> str:
        t = self.local(moment)
        month = MONTHS["fr" if self.language == "fr" else "en"][t.month - 1]
        if self.language == "fr":
            return f"{t.day} {month} {t.year}"
        return f"{month} {t.day}, {t.year}"

    def time(self, moment: datetime) -> str:
        return self.local(moment).strftime("%H:%M")


def translator(language: str, tz: ZoneInfo) -> Translator:
    return Translator(language if language in LANGUAGES else LANGUAGES[0], tz)
