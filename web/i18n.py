"""The interface in French and English: a small message catalogue, language choice, dates.

The language comes from the request's Accept-Language (best q-value among fr and en), else
the configured `language`. Dates are shown in the configured time zone with French or English
month names. Called by `web.views` and the templates (through `Translator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("fr", "en")
MAX_ACCEPT_ITEMS = 20

MONTHS = {
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "en": "January February March April May June July August September October November December",
}
SHORT_MONTHS = {
    "fr": "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.",
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
}

CATALOGUE: dict[str, tuple[str, str]] = {
    # key: (French, English)
    "archive": ("Archives des listes", "Mailing list archives"),
    "lists": ("Listes", "Lists"),
    "list": ("Liste", "List"),
    "search": ("Rechercher", "Search"),
    "search_label": ("Rechercher dans les archives", "Search the archives"),
    "skip": ("Aller au contenu", "Skip to content"),
    "last_activity": ("Dernière activité", "Last activity"),
    "no_activity": ("Aucun message", "No messages"),
    "recent_threads": ("Discussions récentes", "Recent threads"),
    "threads": ("Discussions", "Threads"),
    "thread": ("Discussion", "Thread"),
    "messages": ("messages", "messages"),
    "message": ("Message", "Message"),
    "replies": ("Réponses", "Replies"),
    "older": ("Discussions plus anciennes", "Older threads"),
    "newest": ("Les plus récentes", "Newest"),
    "older_messages": ("Messages plus anciens", "Older messages"),
    "by_month": ("Archives par mois", "Archives by month"),
    "activity": ("Messages par mois", "Messages per month"),
    "year": ("Année", "Year"),
    "nested": ("Arborescence", "Nested"),
    "flat": ("Chronologique", "Flat"),
    "monospace": ("Police à chasse fixe", "Monospace"),
    "proportional": ("Police proportionnelle", "Proportional font"),
    "view": ("Affichage", "View"),
    "from": ("De", "From"),
    "to": ("À", "To"),
    "cc": ("Cc", "Cc"),
    "date": ("Date", "Date"),
    "subject": ("Objet", "Subject"),
    "in_reply_to": ("En réponse à", "In reply to"),
    "attachments": ("Pièces jointes", "Attachments"),
    "permalink": ("Lien permanent", "Permalink"),
    "raw": ("Source brute", "Raw source"),
    "thread_mbox": ("mbox de la discussion", "Thread mbox"),
    "mbox": ("Télécharger (mbox.gz)", "Download (mbox.gz)"),
    "feed": ("Flux Atom", "Atom feed"),
    "quote": ("Citation", "Quoted text"),
    "attribution": ("Citation", "Quoted text"),
    "signature": ("Signature", "Signature"),
    "disclaimer": ("Mention légale", "Disclaimer"),
    "footer": ("Pied de liste", "List footer"),
    "fwd-header": ("Message transféré", "Forwarded message"),
    "forwarded": ("Message transféré", "Forwarded message"),
    "lines": ("lignes", "lines"),
    "html_version": ("Version HTML (nettoyée)", "HTML version (sanitized)"),
    "not_found": ("Page introuvable", "Page not found"),
    "not_found_text": (
        "Rien ici : le lien est peut-être erroné, ou la page n'existe plus.",
        "Nothing here: the link may be wrong, or the page no longer exists.",
    ),
    "bad_query": ("Requête incomprise", "Query not understood"),
    "results": ("Résultats", "Results"),
    "no_results": ("Aucun résultat.", "No results."),
    "more_results": ("Plus de résultats", "More results"),
    "search_help": (
        "Exemples : réunion from:jean list:rse-pilotes after:2025-01 has:attachment",
        "Examples: meeting from:jean list:rse-pilotes after:2025-01 has:attachment",
    ),
    "search_unavailable": ("La recherche n'est pas disponible.", "Search is not available."),
    "person": ("Auteur", "Author"),
    "posts": ("Messages envoyés", "Messages sent"),
    "profile_names": ("Noms", "Names"),
    "profile_addresses": ("Adresses", "Addresses"),
    "profile_lists": ("Listes", "Lists"),
    "profile_activity": ("Activité", "Activity"),
    "profile_summary": (
        "{messages} messages, {started} discussions lancées, {replies} réponses",
        "{messages} messages, {started} threads started, {replies} replies",
    ),
    "profile_period": ("Du {first} au {last}", "From {first} to {last}"),
    "profile_topics": ("Sujets", "Topics"),
    "profile_correspondents": ("Échange le plus avec", "Exchanges most with"),
    "profile_started": ("Discussions lancées", "Threads started"),
    "profile_joined": ("A participé à", "Joined"),
    "profile_files": ("Fichiers partagés", "Files shared"),
    "profile_related": ("Sur les mêmes sujets ailleurs", "Same topics elsewhere"),
    "sign_in": ("Se connecter", "Sign in"),
    "signed_in_as": ("Connecté :", "Signed in as"),
    "private": ("privée", "private"),
    "in_lists": ("Listes", "Lists"),
    "back_to_thread": ("Voir la discussion", "View the thread"),
    "error": ("Erreur", "Error"),
    "auth_required": ("Identification requise", "Authentication required"),
    "show_all": ("Tout afficher", "Show all"),
    "digest_unsubscribe": ("Se désabonner du résumé", "Unsubscribe from the digest"),
    "digest_unsubscribe_ask": (
        "Ne plus envoyer de résumé à",
        "Stop sending digests to",
    ),
    "digest_unsubscribe_button": ("Confirmer le désabonnement", "Confirm: unsubscribe"),
    "digest_unsubscribed": ("Désabonnement effectué :", "Unsubscribed:"),
    "digest_all_lists": ("toutes les listes", "all lists"),
}


def choose_language(accept: str | None, default: str) -> str:
    """The best supported language of an Accept-Language header, else `default`."""
    best, best_q = None, 0.0
    for item in (accept or "").split(",")[:MAX_ACCEPT_ITEMS]:
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best or (default if default in LANGUAGES else LANGUAGES[0])


@dataclass(frozen=True)
class Translator:
    """Messages and date formats in one language and time zone."""

    language: str
    tz: ZoneInfo

    def __call__(self, key: str) -> str:
        pair = CATALOGUE.get(key)
        if pair is None:
            return key
        return pair[0] if self.language == "fr" else pair[1]

    def local(self, moment: datetime) -> datetime:
        return moment.replace(tzinfo=UTC).astimezone(self.tz)

    def datetime(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        t = self.local(moment)
        month = SHORT_MONTHS[self.language].split()[t.month - 1]
        if self.language == "fr":
            return f"{t.day} {month} {t.year} à {t:%H:%M}"
        return f"{month} {t.day}, {t.year}, {t:%H:%M}"

    def date(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        t = self.local(moment)
        month = SHORT_MONTHS[self.language].split()[t.month - 1]
        return (
            f"{t.day} {month} {t.year}" if self.language == "fr" else f"{month} {t.day}, {t.year}"
        )

    def iso(self, moment: datetime) -> str:
        return self.local(moment).isoformat(timespec="seconds")

    def month_name(self, year: int, month: int) -> str:
        return f"{MONTHS[self.language].split()[month - 1]} {year}"

    def short_month(self, month: int) -> str:
        return SHORT_MONTHS[self.language].split()[month - 1]
