"""Ranking and snippets of search hits, computed in Python so both backends answer alike.

Called by `mailgate.search`. `score` ranks a window of candidate documents (their stored,
analysed columns) against the query's positive leaves: a BM25-style term-frequency weight per
column (subject above author names, attachment names and body; body length-normalised), an
inverse document frequency taken within the window, multiplied by a recency boost
``1 + weight * half_life / (half_life + age_days)``. `make_snippet` picks the part of a
message's own text with the most matched words and returns it as plain text with highlight
spans (callers escape it for HTML).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from mailgate import analysis
from mailgate.search_expr import Leaf
from mailgate.search_index import SORT_KEY_SHIFT

COLUMN_WEIGHTS = {"subject": 3.0, "people": 2.0, "files": 1.5, "body": 1.0, "recipients": 0.5}
BM25_K1 = 1.2
BM25_B = 0.75
SECONDS_PER_DAY = 86_400
SNIPPET_CHARS = 240
SNIPPET_LEAD_CHARS = 60
MAX_SNIPPET_SOURCE_CHARS = 50_000
MAX_SNIPPET_MATCHES = 200
ELLIPSIS = "…"
NEEDLE_CACHE_SIZE = 1_024


@dataclass(frozen=True, slots=True)
class Candidate:
    """A matching document: its sort key, message, thread, language, the analysed columns
    the query needs, and the length of its body terms (characters)."""

    sort_key: int
    message_pk: int
    thread_id: int
    language: str
    columns: dict[str, str]
    body_length: int = 0


@lru_cache(maxsize=NEEDLE_CACHE_SIZE)
def _needles(leaf: Leaf) -> tuple[tuple[str, str, str, str], ...]:
    """Each alternative as (inside, at start, at end, whole column) search strings."""
    out = []
    for seq in leaf.alternatives:
        text = " ".join(seq)
        out.append((f" {text} ", f"{text} ", f" {text}", text))
    return tuple(out)


def _occurrences(column: str, needles: tuple[tuple[str, str, str, str], ...]) -> int:
    """Whole-term occurrences of the needles in a column of space-separated terms."""
    total = 0
    for inside, start, end, whole in needles:
        if whole in column:
            total += column.count(inside)
            total += column.startswith(start) + column.endswith(end) + (column == whole)
    return total


def _leaf_weight(leaf: Leaf, columns: dict[str, str], norm: float) -> float:
    total = 0.0
    needles = _needles(leaf)
    for column in leaf.columns:
        tf = _occurrences(columns.get(column, ""), needles)
        if tf:
            scale = norm if column == "body" else 1.0
            total += COLUMN_WEIGHTS[column] * tf * (BM25_K1 + 1) / (tf + BM25_K1 * scale)
    return total


def relevance(candidates: Sequence[Candidate], leaves: dict[str, Sequence[Leaf]]) -> list[float]:
    """Relevance of each candidate against the leaves of its language (`leaves` holds the
    same tree's leaves per language); 0 when the query has no words (filters only)."""
    if not leaves or not candidates:
        return [0.0] * len(candidates)
    width = len(next(iter(leaves.values())))
    average = max(1.0, sum(c.body_length for c in candidates) / len(candidates))
    fallback = next(iter(leaves.values()))
    weights = []
    for candidate in candidates:
        norm = 1 - BM25_B + BM25_B * candidate.body_length / average
        group = leaves.get(candidate.language) or fallback
        weights.append([_leaf_weight(leaf, candidate.columns, norm) for leaf in group])
    count = len(candidates)
    total = [0.0] * count
    for index in range(width):
        df = sum(1 for row in weights if row[index])
        idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
        total = [t + idf * row[index] for t, row in zip(total, weights, strict=True)]
    return total


def recency(sort_key: int, now: datetime, half_life_days: float, weight: float) -> float:
    """The recency boost of a document from its sort key (its date in UTC seconds)."""
    seconds = sort_key >> SORT_KEY_SHIFT
    age_days = max(0.0, (now.timestamp() - seconds) / SECONDS_PER_DAY)
    return 1.0 + weight * half_life_days / (half_life_days + age_days)


def score(
    candidates: Sequence[Candidate],
    leaves: dict[str, Sequence[Leaf]],
    *,
    now: datetime,
    half_life_days: float,
    recency_weight: float,
) -> list[float]:
    """Relevance times recency; with no words, recency alone (newest first)."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    rel = relevance(candidates, leaves)
    boosts = [recency(c.sort_key, now, half_life_days, recency_weight) for c in candidates]
    if not leaves:
        return boosts
    return [r * b for r, b in zip(rel, boosts, strict=True)]


@dataclass(frozen=True, slots=True)
class Snippet:
    """Plain text with highlighted spans ``[start, end)``; escape `text` when rendering."""

    text: str
    highlights: tuple[tuple[int, int], ...] = ()

    def parts(self) -> list[tuple[str, bool]]:
        """The text cut into (piece, highlighted) runs, for templates."""
        out, position = [], 0
        for start, end in self.highlights:
            if start > position:
                out.append((self.text[position:start], False))
            out.append((self.text[start:end], True))
            position = end
        if position < len(self.text):
            out.append((self.text[position:], False))
        return out


def highlight_terms(leaves: Sequence[Leaf], column: str) -> frozenset[str]:
    """Terms whose words are highlighted in a column (phrase words one by one)."""
    return frozenset(
        term
        for leaf in leaves
        if column in leaf.columns
        for seq in leaf.alternatives
        for term in seq
    )


def _matches(text: str, language: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of the words of `text` (NFC) whose term is in `terms`."""
    spans = []
    words = analysis.analyze(text, language)
    for (start, end), term in zip(analysis.word_spans(text), words, strict=False):
        if term in terms:
            spans.append((start, end))
            if len(spans) >= MAX_SNIPPET_MATCHES:
                break
    return spans


def _window(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """The [start, end) of at most SNIPPET_CHARS holding the most matches."""
    if not spans:
        return 0, min(len(text), SNIPPET_CHARS)
    best, best_count = spans[0][0], 0
    for index, (start, _end) in enumerate(spans):
        count = sum(1 for s, e in spans[index:] if e <= start + SNIPPET_CHARS - SNIPPET_LEAD_CHARS)
        if count > best_count:
            best, best_count = start, count
    start = max(0, best - SNIPPET_LEAD_CHARS)
    if start:
        space = text.find(" ", start, best)
        start = space + 1 if space >= 0 else best
    return start, min(len(text), start + SNIPPET_CHARS)


def make_snippet(text: str, language: str, terms: frozenset[str]) -> Snippet:
    """The best part of `text` (own text or subject) with the words of `terms` highlighted."""
    text = unicodedata.normalize("NFC", text[:MAX_SNIPPET_SOURCE_CHARS])
    text = " ".join(text.split())
    spans = _matches(text, language, terms) if terms else []
    start, end = _window(text, spans)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    shift = len(prefix) - start
    inside = tuple((s + shift, e + shift) for s, e in spans if s >= start and e <= end)
    return Snippet(prefix + text[start:end] + suffix, inside)


def highlight_all(text: str, language: str, terms: frozenset[str]) -> Snippet:
    """`text` whole (a subject) with the words of `terms` highlighted."""
    text = unicodedata.normalize("NFC", text)
    return Snippet(text, tuple(_matches(text, language, terms)) if terms else ())
