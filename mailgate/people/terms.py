"""Topic terms of one message's own text: stemmed words and two-word phrases (pure).

Called by the ingest pipeline's `prepare` step (in worker processes) and by
`mailgate.people.upkeep` when profiles are recomputed. Uses the search analyser
(`mailgate.analysis`: folding, elision, FR/EN stemming, stop words), so a topic term is the
same key a search query produces. Each term keeps a display form (the words as written).
A phrase is two content words side by side, or joined by one linking word ("contrôle de
gestion", "supply chain"); quoted text, signatures and footers never reach here.
"""

from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Iterable
from functools import lru_cache

from mailgate import analysis

MAX_TEXT_CHARS = 2_500
MAX_TERMS_PER_MESSAGE = 16
MIN_WORD_CHARS = 3
MAX_WORD_CHARS = 30
MAX_KEY_CHARS = 200
TERM_CACHE_SIZE = 65_536
# Punctuation that ends a phrase (a phrase never spans two sentences or list items).
_BREAK_RE = re.compile(r"[.!?;:,()\[\]{}<>\"«»|/=*#\n\t]+|\s[-–—]\s")
_BREAK_WORD = "qqbreakqq"  # stands for punctuation between words (never a content word)
_ELIDED_RE = re.compile(r"^(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu)['’]", re.I)


# Words that join the two halves of a phrase without being part of its key.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


LINK_WORDS = _words("de du des d la le les l à au aux en pour sur of the for on in")
# Mail chatter that says nothing about what someone knows (folded words).
CHATTER = _words(
    """
    bonjour bonsoir merci cordialement bien salut hello thanks thank regards best cheers dear
    oui non ok okay yes pas plus moins tres peu deja encore toujours alors donc ainsi aussi
    faire fait faut peux peut pouvons pourrait pourriez voir vois dire dis sais savoir
    avons avez ont etait etre avoir suis sommes etes serait sera seront vais va vont
    cela ceci celui celle ceux tout tous toute toutes autre autres meme chaque quelques
    comme quand pendant depuis avant apres entre sans sous vers chez mais car puis
    ici voici voila juste vraiment aupres bon bonne quoi devrait doit veux vrai exactement
    demain hier aujourd semaine mois annee jour jours fois chose choses point points besoin
    question questions idee suite retour prochain prochaine dernier derniere premier premiere
    gens monde tour place cote partie part temps heure heures minutes envoie envoye
    would could should will shall might must also just like really still even here there
    know think want need get got make made see sure let lets one two new use used using
    """
)


@lru_cache(maxsize=65_536)
def _content(term: str, word: str, language: str) -> bool:
    """Whether a word (and its term) can carry a topic."""
    if not MIN_WORD_CHARS <= len(word) <= MAX_WORD_CHARS or not term or word == _BREAK_WORD:
        return False
    folded = analysis.fold(word)
    if folded in CHATTER or folded.isdigit() or sum(c.isdigit() for c in folded) > 2:
        return False
    return not analysis.is_stopword(term, language)


@lru_cache(maxsize=65_536)
def _shown(word: str, stem: str, language: str) -> str | None:
    """The display form of a content word, None for a word that carries no topic: acronyms
    keep their capitals, other words are shown in lower case, without an elided article."""
    if not _content(stem, word, language):
        return None
    word = _ELIDED_RE.sub("", word)
    return word if word.isupper() and len(word) <= 6 else word.lower()


def _topic_word(word: str, language: str) -> tuple[str, str] | None:
    """(term, display form) of a word that can carry a topic, else None."""
    stem = analysis.word_term(word, language)
    display = _shown(word, stem, language)
    return None if display is None else (stem, display)


_TOPIC = {
    language: analysis.WordCache(functools.partial(_topic_word, language=language), TERM_CACHE_SIZE)
    for language in analysis.LANGUAGES
}


def _rank(item: tuple[str, int]) -> tuple[int, int, str]:
    return -item[1], -item[0].count(" "), item[0]


def _top(counts: dict[str, int]) -> list[tuple[str, int]]:
    """The `MAX_TERMS_PER_MESSAGE` first (key, count) by `_rank`; only keys counted at least
    as often as the last of them need sorting."""
    items: Iterable[tuple[str, int]] = counts.items()
    if len(counts) > MAX_TERMS_PER_MESSAGE:
        cutoff = heapq.nlargest(MAX_TERMS_PER_MESSAGE, counts.values())[-1]
        items = [(key, n) for key, n in counts.items() if n >= cutoff]
    return sorted(items, key=_rank)[:MAX_TERMS_PER_MESSAGE]


def message_terms(text: str, language: str) -> tuple[tuple[str, str, int], ...]:
    """(term key, display form, occurrences) of the topic terms of `text`, at most
    `MAX_TERMS_PER_MESSAGE` (the most frequent, phrases first on ties). Phrases never span
    punctuation (a sentence or list item end)."""
    words = analysis.tokenize(_BREAK_RE.sub(f" {_BREAK_WORD} ", text[:MAX_TEXT_CHARS]))
    counts: dict[str, int] = {}
    shown: dict[str, str] = {}  # the display form of a key where it first occurs
    previous: tuple[str, str] | None = None  # (stem, display) of the last content word
    link = ""
    for word, found in zip(words, map(_TOPIC[language].__getitem__, words), strict=True):
        if found is None:
            if previous is not None and not link and word.lower() in LINK_WORDS:
                link = word.lower()
            else:
                previous, link = None, ""
            continue
        stem, display = found
        counts[stem] = counts.get(stem, 0) + 1
        if stem not in shown:
            shown[stem] = display
        if previous is not None and previous[0] != stem:
            key = f"{previous[0]} {stem}"
            counts[key] = counts.get(key, 0) + 1
            if key not in shown:
                joiner = f" {link} " if link else " "
                shown[key] = f"{previous[1]}{joiner}{display}"
        previous, link = found, ""
    return tuple((key, shown[key][:MAX_KEY_CHARS], n) for key, n in _top(counts))


def authored_text(parsed: object, own_text: str) -> str:
    """What the author wrote: the subject of a thread they start, then their own text."""
    starts = getattr(parsed, "parent", None) is None and not getattr(parsed, "reply_like", True)
    subject = getattr(parsed, "subject", "") if starts else ""
    return f"{subject}.\n{own_text}" if subject else own_text


def fallback_query(query: str, language: str) -> str | None:
    """The content words of a plain multi-word query joined by OR (None when the query uses
    the query language or has fewer than two content words)."""
    if any(c in query for c in ':"()') or " OR " in query or " OU " in query:
        return None
    if query.lstrip().startswith("-") or " -" in query:  # an exclusion, not a hyphenated word
        return None
    words = analysis.tokenize(query)
    stems = analysis.analyze(query, language)
    kept = [w for w, s in zip(words, stems, strict=False) if _content(s, w, language)]
    return " OR ".join(kept) if len(kept) > 1 else None


def query_keys(text: str, language: str) -> list[str]:
    """The content term keys of a short text (a keyword), in order."""
    words = analysis.tokenize(text)
    stems = analysis.analyze(" ".join(words), language)
    return [s for w, s in zip(words, stems, strict=False) if _content(s, w, language)]
