"""Language analysis for search: turn text into normalised, stemmed *terms*.

Called by the ingest pipeline's indexing step (every message body, subject and address), by the
search backends (every query word, phrase and address filter) and by people/topics (ranking with
`is_stopword`). All linguistic work happens here, in Python, so that SQLite FTS5 (tokenizer
``unicode61 remove_diacritics 0``) and PostgreSQL (``to_tsvector('simple', ...)``) index the same
pre-analysed tokens and give the same answers.

Rules (index side and query side use the very same functions):

* A *word* is a maximal run of Unicode letters/digits (combining accents included), possibly
  joined by apostrophes (``' ’ ʼ ‘ ` ´``). Everything else separates words: ``extra-financier``
  is the two consecutive words ``extra financier``, ``802.11ax`` is ``802 11ax`` and
  ``jean.dupont@x.example`` in a body is ``jean dupont x example``; `mailgate.query` turns such
  query words into phrases, so they are still found. ``wifi6`` stays one word. Underscores
  separate words too (both backends split on them).
* One word gives exactly one term, in order, so phrase positions are kept. Stopwords are kept.
* A term is: the word case- and accent-folded (`fold`), French elisions removed (``l' d' j' m'
  n' s' t' c' qu' jusqu' lorsqu' puisqu' quoiqu'``, in every language), the remaining apostrophes
  dropped (``aujourd'hui`` -> ``aujourdhui``; in English a final ``'s`` is dropped), then stemmed
  with Snowball for the language. Folding comes *before* stemming: the French stemmer gives
  ``mobil`` for ``mobilité`` but ``mobilit`` for ``mobilite``, so only fold-then-stem makes
  accented and unaccented spellings equal.
* Terms only contain ``[a-z0-9]``: letters left after folding that are not ASCII (Greek,
  Cyrillic, CJK...) are written ``z`` + 4 base-36 digits of their code point and not stemmed.
  Terms longer than `MAX_TERM_LENGTH` are truncated (both sides alike). Nothing a user types can
  therefore inject FTS5 or tsquery syntax.
* Addresses and Message-IDs (`analyze_address`, `address_query_terms`) are folded and escaped
  into single alphanumeric terms: ``z`` -> ``zz``, ``.`` -> ``zd``, ``@`` -> ``za``, ``-`` ->
  ``zh``, ``_`` -> ``zu``, ``+`` -> ``zp``, other characters -> ``zx`` + 4 base-36 digits
  (injective). ``_`` is not usable as a joiner: FTS5 unicode61 and PostgreSQL both split on it.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TypeVar

import snowballstemmer

LANGUAGES = ("fr", "en")
MAX_TERM_LENGTH = 64
MAX_ADDRESS_TERM_LENGTH = 128
ADDRESS_CACHE_SIZE = 65_536
TERM_CACHE_SIZE = 262_144
MAX_CACHED_WORD_LENGTH = 256  # longer words (base64 debris...) are analysed but not cached
FOLD_CACHE_SIZE = 65_536
GUESS_SAMPLE_CHARS = 1_200
GUESS_MIN_EVIDENCE = 3
GUESS_MIN_RATIO = 1.5

APOSTROPHES = "'’ʼ‘`´"
ELISIONS = frozenset(
    {"l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"}
)
_WORD_CHARS = r"\w\u0300-\u036f"
_WORD_RE = re.compile(rf"\w[{_WORD_CHARS}]*(?:[{APOSTROPHES}][{_WORD_CHARS}]+)*")
# An apostrophe not between two ASCII letters or digits (it starts the pattern, so that the
# search skips to apostrophes quickly).
_LONE_APOSTROPHE_RE = re.compile(r"['`](?:(?<![0-9A-Za-z]['`])|(?![0-9A-Za-z]))")
_ASCII_WORD_BYTES = bytes(
    c if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "'`") else 0x20 for c in range(256)
)
_APOSTROPHE_RE = re.compile(f"[{APOSTROPHES}]")
_COMBINING_RE = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_ANGLE_RE = re.compile(r"<([^<>]*)>")
_LIGATURES = str.maketrans(
    {"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ı": "i", "þ": "th"}
)
_ADDRESS_ESCAPES = {"z": "zz", ".": "zd", "@": "za", "-": "zh", "_": "zu", "+": "zp"}
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_SNOWBALL_NAMES = {"fr": "french", "en": "english"}
V = TypeVar("V")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Stopwords, folded. "Distinctive" ones are rare in the other language and drive guess_language.
_FR_DISTINCTIVE = _word_set(
    "le la les une des du et est que qui dans pour pas sur au aux avec ce cette ces il elle ils"
    " elles nous vous je sont mais tres etre avoir aussi bien merci bonjour cordialement votre"
    " vos notre nos leur leurs ete fait peut comme tout tous sera avons avez mon ma mes"
)
_FR_OTHER = _word_set("a de en on un se sa son ses ne ou y tu me te lui eux ni donc par si")
_EN_DISTINCTIVE = _word_set(
    "the and of to is are was were be been with this that for not you it in have has had will"
    " would can could should from by at or but they we he she his her their our your which what"
    " there about thanks regards hi please do does did just also if than then"
)
_EN_OTHER = _word_set("a an as on i me my so no its him them us all any")
_STOPWORDS = {"fr": _FR_DISTINCTIVE | _FR_OTHER, "en": _EN_DISTINCTIVE | _EN_OTHER}

_stem_lock = threading.Lock()
_stemmers = {lang: snowballstemmer.stemmer(name) for lang, name in _SNOWBALL_NAMES.items()}


def fold(text: str) -> str:
    """Lowercase and strip diacritics: ``Réseau`` -> ``reseau``, ``Œuvre`` -> ``oeuvre``."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.casefold())
    # lower() again: compatibility forms may decompose to capitals (mathematical 𝔘 -> U).
    return _COMBINING_RE.sub("", text).lower().translate(_LIGATURES)


def tokenize(text: str) -> list[str]:
    """The words of `text`, unchanged (not folded), in order; see the module rules."""
    if text.isascii():
        return _ascii_words(text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if "_" in text:
        text = text.replace("_", " ")
    return _WORD_RE.findall(text)


def _ascii_words(text: str) -> list[str]:
    """`tokenize` of ASCII text: every byte but letters, digits and apostrophes becomes a
    space, then every apostrophe not between two letters or digits does too, so splitting
    gives the words (``don't`` is one word, ``'quoted'`` is ``quoted``); about twice as fast
    as the pattern."""
    spaced = text.encode("ascii").translate(_ASCII_WORD_BYTES).decode("ascii")
    if "'" in spaced or "`" in spaced:
        spaced = _LONE_APOSTROPHE_RE.sub(" ", spaced)
    return spaced.split()


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets in `text` of the words `tokenize` finds; `text` must already be
    NFC-normalised for the offsets to be those of `tokenize`'s words (used for snippets)."""
    return [match.span() for match in _WORD_RE.finditer(text.replace("_", " "))]


def _base36(code: int) -> str:
    digits = []
    for _ in range(4):
        code, digit = divmod(code, 36)
        digits.append(_BASE36[digit])
    return "".join(reversed(digits))


def _escape_non_ascii(folded: str) -> str:
    """Keep ASCII letters/digits, write other letters/digits as ``z`` + base 36, drop the rest."""
    out = []
    for char in folded:
        if char.isascii():
            if char.isalnum():
                out.append(char)
        elif char.isalnum():
            out.append("z" + _base36(ord(char)))
    return "".join(out)


def _escape_all(word: str) -> str:
    """Last resort for a word whose folded form keeps no letter or digit."""
    return "".join("z" + _base36(ord(char)) for char in word if char.isalnum())[:MAX_TERM_LENGTH]


def _word_term(word: str, language: str) -> str:
    """The term of one word (uncached; see `WordCache`)."""
    if word.isascii() and word.isalnum():  # most words: no apostrophe, nothing to fold
        folded = word.lower()
    else:
        parts = [fold(part) for part in _APOSTROPHE_RE.split(word)]
        while len(parts) > 1 and parts[0] in ELISIONS:
            del parts[0]
        if language == "en" and len(parts) > 1 and parts[-1] == "s":
            del parts[-1]
        folded = "".join(parts)
        if not (folded.isascii() and folded.isalnum()):
            return _escape_non_ascii(folded)[:MAX_TERM_LENGTH] or _escape_all(word)
    if folded.isdigit() or len(folded) > MAX_TERM_LENGTH:  # stemming keeps digits as is
        return folded[:MAX_TERM_LENGTH]
    with _stem_lock:
        return _stemmers[language].stemWord(folded) or folded


class WordCache(dict[str, V]):
    """word -> `compute(word)`, filled on first use. Looking a word up is a plain dict
    lookup, a third of what an `lru_cache` call costs; `analyze` does it for every word of
    every message. Words longer than `MAX_CACHED_WORD_LENGTH` (base64 debris...) are not
    kept, and the cache starts afresh once it holds `size` words."""

    def __init__(self, compute: Callable[[str], V], size: int) -> None:
        super().__init__()
        self.compute, self.size = compute, size

    def __missing__(self, word: str) -> V:
        value = self.compute(word)
        if len(word) <= MAX_CACHED_WORD_LENGTH:
            if len(self) >= self.size:
                self.clear()
            self[word] = value
        return value


_TERMS = {
    lang: WordCache(functools.partial(_word_term, language=lang), TERM_CACHE_SIZE)
    for lang in LANGUAGES
}


def _terms_of(language: str) -> WordCache[str]:
    try:
        return _TERMS[language]
    except KeyError:
        raise ValueError(
            f"unsupported language {language!r}; expected one of {LANGUAGES}"
        ) from None


def word_term(word: str, language: str) -> str:
    """The term of one word as `analyze` gives it (for callers that tokenized already)."""
    return _terms_of(language)[word]


def analyze(text: str, language: str) -> list[str]:
    """The terms of `text` in `language` ("fr" or "en"), one per word, in order."""
    return list(map(_terms_of(language).__getitem__, tokenize(text)))


def analyze_text(text: str, language: str) -> str:
    """`analyze` joined by spaces: the form stored in the full-text index."""
    return " ".join(analyze(text, language))


def query_terms(word: str, languages: Sequence[str]) -> list[str]:
    """Distinct terms a query word may match: its term in each language (stems may differ).

    `mailgate.query` only hands single words to this; if `word` holds several words, the terms
    of all of them are returned (any of them may match), which callers rarely want.
    """
    terms: list[str] = []
    for language in languages:
        for value in analyze(word, language):
            if value not in terms:
                terms.append(value)
    return terms


def phrase_terms(words: Sequence[str], languages: Sequence[str]) -> list[tuple[str, ...]]:
    """Distinct term sequences a phrase may match, one per language stemming."""
    phrases: list[tuple[str, ...]] = []
    for language in languages:
        phrase = tuple(term for word in words for term in analyze(word, language))
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return phrases


def _escape_address(folded: str) -> str:
    out = []
    for char in folded:
        if char in _ADDRESS_ESCAPES:
            out.append(_ADDRESS_ESCAPES[char])
        elif char.isascii() and char.isalnum():
            out.append(char)
        elif not char.isspace():
            out.append("zx" + _base36(ord(char)))
    return "".join(out)[:MAX_ADDRESS_TERM_LENGTH]


def _clean_address(addr: str) -> str:
    match = _ANGLE_RE.search(addr)
    value = fold(match.group(1) if match else addr).strip()
    if value.startswith("mailto:"):
        value = value[len("mailto:") :]
    return "".join(value.split())


def analyze_address(addr: str) -> list[str]:
    """Terms for an address or Message-ID: whole, local part, domain and its parent domains,
    and every alphanumeric piece, so ``dupont``, ``jean.dupont``, ``groupe-exemple.example``
    and the full address all find it through `address_query_terms`."""
    return list(_address_terms(addr))


@lru_cache(maxsize=ADDRESS_CACHE_SIZE)
def _address_terms(addr: str) -> tuple[str, ...]:
    value = _clean_address(addr)
    if not value:
        return ()
    local, _, domain = value.rpartition("@")
    candidates = [value, local]
    while domain:
        candidates.append(domain)
        domain = domain.partition(".")[2]
    candidates.extend(re.findall(r"[^\W_]+", value))
    terms: list[str] = []
    for candidate in candidates:
        term = _escape_address(candidate)
        if term and term not in terms:
            terms.append(term)
    return tuple(terms)


def address_query_terms(value: str) -> list[str]:
    """The term to look up in the address index for a `from:`/`to:` value or Message-ID."""
    term = _escape_address(_clean_address(value))
    return [term] if term else []


def is_stopword(term: str, language: str) -> bool:
    """Whether a term (output of `analyze`) or a plain word is a stopword of `language`."""
    stop_terms = _stop_terms(language)
    if term in stop_terms:
        return True
    words = [term] if term.isascii() and term.isalnum() else tokenize(term)
    return len(words) == 1 and _terms_of(language)[words[0]] in stop_terms


@lru_cache(maxsize=len(LANGUAGES))
def _stop_terms(language: str) -> frozenset[str]:
    terms = _terms_of(language)
    return frozenset(terms[word] for word in _STOPWORDS[language])


_FOLDED = WordCache(fold, FOLD_CACHE_SIZE)


def guess_language(text: str, default: str) -> str:
    """Guess "fr" or "en" from stopwords in the first `GUESS_SAMPLE_CHARS` characters;
    `default` when there is too little evidence or it is not clear enough. French elisions
    (``l'``, ``qu'``...) count as French. (The two stopword sets share no word, and hold
    letters and digits only: each word is counted once.)"""
    sample = text[:GUESS_SAMPLE_CHARS]
    if sample.isascii():  # folding ASCII is lower-casing: once for the sample, not per word
        folded = tokenize(sample.lower())
    else:
        folded = list(map(_FOLDED.__getitem__, tokenize(sample)))
    french = sum(map(_FR_DISTINCTIVE.__contains__, folded))
    english = sum(map(_EN_DISTINCTIVE.__contains__, folded))
    for word in itertools.filterfalse(str.isalnum, folded):
        if _APOSTROPHE_RE.search(word):
            french += _APOSTROPHE_RE.split(word, maxsplit=1)[0] in ELISIONS
    if french + english < GUESS_MIN_EVIDENCE:
        return default
    if french >= english * GUESS_MIN_RATIO:
        return "fr"
    if english >= french * GUESS_MIN_RATIO:
        return "en"
    return default
