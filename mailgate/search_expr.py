"""Query tree -> full-text expressions: the FTS5 MATCH string and the PostgreSQL tsquery text.

Called by `mailgate.search` only. Each word or phrase of a parsed query (`mailgate.query`) is
resolved into a `Leaf`: the index columns it may match and its alternative term sequences (one
per language stemming, `analysis.query_terms` / `analysis.phrase_terms`; addresses through
`analysis.address_query_terms`). Terms are only ever ``[a-z0-9]``, and are quoted in both
syntaxes, so nothing a user types can inject FTS5 or tsquery operators.

Languages: a document's terms were stemmed in its own language (`messages.language`), so a
query is resolved once per language and each version only matches documents of that language
(English "mailing" -> ``mail`` must not match the French "mailer" -> ``mail``). When all
versions are the same (most queries) there is no language condition.

Field semantics (the same on both engines): a bare word matches subject, author text, author
names/addresses and attachment names (`TEXT_COLUMNS`), never recipients; ``from:`` the author's
name and address; ``to:`` recipients; ``subject:``; ``filename:``. On PostgreSQL a field filter
is a tagged lexeme (see `mailgate.search_index`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mailgate import analysis
from mailgate.query import And, Node, Not, Phrase, Term
from mailgate.search_index import META_ALL, META_ATTACHMENT, language_term, list_term

TEXT_COLUMNS = ("subject", "body", "people", "files")
FIELD_COLUMNS: dict[str | None, tuple[str, ...]] = {
    None: TEXT_COLUMNS,
    "from": ("people",),
    "to": ("recipients",),
    "subject": ("subject",),
    "filename": ("files",),
}
PG_TAGS = {"subject": "zqs", "people": "zqf", "files": "zqa", "recipients": "zqt"}
LANGUAGES = analysis.LANGUAGES

# An address -> every address of the same person (the address itself included).
AddressExpander = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class Leaf:
    """One word or phrase: where it may match and the term sequences that match it."""

    columns: tuple[str, ...]
    alternatives: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class LNot:
    node: LNode


@dataclass(frozen=True)
class LAnd:
    nodes: tuple[LNode, ...]


@dataclass(frozen=True)
class LOr:
    nodes: tuple[LNode, ...]


LNode = Leaf | LNot | LAnd | LOr


def _unique(items: Iterable[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(item for item in items if item))


def _address_leaf(value: str, field: str, expand: AddressExpander, language: str) -> Leaf:
    """``from:``/``to:`` with one value: the address term(s), and the words as a name."""
    addresses = list(expand(value)) if "@" in value else [value]
    terms = [(t,) for address in addresses for t in analysis.address_query_terms(address)]
    if "@" not in value:
        terms += analysis.phrase_terms(analysis.tokenize(value), [language])
    return Leaf(FIELD_COLUMNS[field], _unique(terms))


def leaf(node: Term | Phrase, expand: AddressExpander, language: str) -> Leaf:
    """Resolve one word or phrase of the query into the index terms of `language`."""
    if isinstance(node, Term) and node.field in ("from", "to"):
        return _address_leaf(node.text, node.field, expand, language)
    words = (node.text,) if isinstance(node, Term) else node.words
    alternatives = _unique(analysis.phrase_terms(words, [language]))
    return Leaf(FIELD_COLUMNS[node.field], alternatives)


def resolve(node: Node, expand: AddressExpander, language: str) -> LNode:
    """The query tree with every word resolved for documents in `language` (iterative: no
    recursion on user input)."""
    results: dict[int, LNode] = {}
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, visited = stack.pop()
        if isinstance(current, Term | Phrase):
            results[id(current)] = leaf(current, expand, language)
        elif isinstance(current, Not):
            if visited:
                results[id(current)] = LNot(results[id(current.node)])
            else:
                stack += [(current, True), (current.node, False)]
        elif visited:
            children = tuple(results[id(child)] for child in current.nodes)
            results[id(current)] = LAnd(children) if isinstance(current, And) else LOr(children)
        else:
            stack.append((current, True))
            stack += [(child, False) for child in current.nodes]
    return results[id(node)]


def _walk(node: LNode) -> Iterable[tuple[LNode, bool]]:
    """Every node with whether it is under a NOT."""
    stack = [(node, False)]
    while stack:
        current, negated = stack.pop()
        yield current, negated
        if isinstance(current, LNot):
            stack.append((current.node, not negated))
        elif isinstance(current, LAnd | LOr):
            stack += [(child, negated) for child in current.nodes]


def positive_leaves(node: LNode | None) -> list[Leaf]:
    """The leaves that make a document match (not under a NOT), for ranking and highlights."""
    if node is None:
        return []
    return [n for n, negated in _walk(node) if isinstance(n, Leaf) and not negated]


@dataclass(frozen=True)
class Markers:
    """Filters that are marker terms of the index (a speed-up; SQL checks them too)."""

    lists: tuple[int, ...] = ()
    has_attachment: bool | None = None


class _Renderer:
    """Renders a resolved tree; subclasses give the engine's operators and leaf syntax."""

    AND = OR = ""

    def leaf(self, node: Leaf) -> str:
        raise NotImplementedError

    def negate(self, positive: str, negatives: list[str]) -> str:
        raise NotImplementedError

    def render(self, node: LNode) -> str:
        out: dict[int, str] = {}
        stack: list[tuple[LNode, bool]] = [(node, False)]
        while stack:
            current, visited = stack.pop()
            if isinstance(current, Leaf):
                out[id(current)] = self.leaf(current)
            elif not visited:
                stack.append((current, True))
                children = (current.node,) if isinstance(current, LNot) else current.nodes
                stack += [(child, False) for child in children]
            else:
                out[id(current)] = self._combine(current, out)
        return out[id(node)]

    def _combine(self, node: LNode, out: dict[int, str]) -> str:
        if isinstance(node, LNot):
            return self.negate(self.match_all(), [out[id(node.node)]])
        assert isinstance(node, LAnd | LOr)
        if isinstance(node, LOr):
            return "(" + self.OR.join(out[id(child)] for child in node.nodes) + ")"
        positives = [out[id(c)] for c in node.nodes if not isinstance(c, LNot)]
        negatives = [out[id(c.node)] for c in node.nodes if isinstance(c, LNot)]
        positive = "(" + self.AND.join(positives) + ")" if positives else self.match_all()
        return self.negate(positive, negatives) if negatives else positive

    def match_all(self) -> str:
        raise NotImplementedError

    def markers(self, markers: Markers) -> list[str]:
        raise NotImplementedError

    def _and(self, parts: list[str]) -> str | None:
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + self.AND.join(parts) + ")"

    def by_language(self, trees: dict[str, LNode] | None) -> dict[str | None, str]:
        """The rendered text per language, or under None when every language agrees."""
        if not trees:
            return {}
        rendered = {language: self.render(tree) for language, tree in trees.items()}
        if len(set(rendered.values())) == 1:
            return {None: next(iter(rendered.values()))}
        return dict(rendered)


class Fts5(_Renderer):
    """SQLite FTS5 MATCH syntax: ``{cols} : ("a b" OR "c")``, ``x NOT y``."""

    AND, OR = " AND ", " OR "

    def leaf(self, node: Leaf) -> str:
        options = " OR ".join('"' + " ".join(seq) + '"' for seq in node.alternatives)
        return "({" + " ".join(node.columns) + "} : (" + options + "))"

    def negate(self, positive: str, negatives: list[str]) -> str:
        return "(" + positive + "".join(f" NOT {n}" for n in negatives) + ")"

    def match_all(self) -> str:
        return '({meta} : "' + META_ALL + '")'

    def markers(self, markers: Markers) -> list[str]:
        parts = []
        if markers.lists:
            terms = " OR ".join(f'"{list_term(lid)}"' for lid in markers.lists)
            parts.append("({meta} : (" + terms + "))")
        if markers.has_attachment:
            parts.append('({meta} : "' + META_ATTACHMENT + '")')
        if markers.has_attachment is False:
            base = parts.pop() if parts else self.match_all()
            parts.append(self.negate(base, ['({meta} : "' + META_ATTACHMENT + '")']))
        return parts

    def expression(self, trees: dict[str, LNode] | None, markers: Markers) -> str:
        """The MATCH text; per-language versions are tied to the language marker."""
        versions = self.by_language(trees)
        parts = []
        if None in versions:
            parts.append(versions[None])
        elif versions:
            options = [
                f'({text} AND ({{meta}} : "{language_term(language)}"))'
                for language, text in versions.items()
                if language is not None
            ]
            parts.append("(" + " OR ".join(options) + ")")
        return self._and(parts + self.markers(markers)) or self.match_all()


class TsQuery(_Renderer):
    """PostgreSQL tsquery text for ``to_tsquery('simple', ...)``: ``'a' <-> 'b' | 'zqfc'``."""

    AND, OR = " & ", " | "

    def leaf(self, node: Leaf) -> str:
        options = " | ".join(
            "(" + " <-> ".join(f"'{lexeme}'" for lexeme in seq) + ")" for seq in self.lexemes(node)
        )
        return "(" + options + ")"

    def negate(self, positive: str, negatives: list[str]) -> str:
        inner = " & ".join(f"!{n}" for n in negatives)
        return f"({inner})" if positive == self.match_all() else f"({positive} & {inner})"

    def match_all(self) -> str:
        return ""

    def markers(self, markers: Markers) -> list[str]:
        parts = []
        if markers.lists:
            parts.append("(" + " | ".join(f"'{list_term(lid)}'" for lid in markers.lists) + ")")
        if markers.has_attachment is not None:
            parts.append(("" if markers.has_attachment else "!") + f"'{META_ATTACHMENT}'")
        return parts

    def expressions(
        self, trees: dict[str, LNode] | None, markers: Markers
    ) -> tuple[tuple[str | None, str | None], ...]:
        """(language or None for any, tsquery text or None for no condition) pairs; a
        document matches when one pair does."""
        versions = self.by_language(trees) or {None: None}
        marks = self.markers(markers)
        return tuple(
            (language, self._and(([text] if text else []) + marks))
            for language, text in versions.items()
        )

    def lexemes(self, node: Leaf) -> list[tuple[str, ...]]:
        """The lexeme sequences of a leaf, as they are in the tsvector."""
        tag = "" if node.columns == TEXT_COLUMNS else PG_TAGS[node.columns[0]]
        return [tuple(tag + term for term in seq) for seq in node.alternatives]

    def selectivity(self, node: LNode, freq: Callable[[str], float]) -> float:
        """An upper bound of the share of documents the tree matches, from lexeme
        frequencies: a phrase is as rare as its rarest word, AND as its rarest part, OR adds
        up, NOT does not narrow."""
        out: dict[int, float] = {}
        stack: list[tuple[LNode, bool]] = [(node, False)]
        while stack:
            current, visited = stack.pop()
            if isinstance(current, Leaf):
                found = sum(min(freq(t) for t in seq) for seq in self.lexemes(current))
                out[id(current)] = min(1.0, found)
            elif isinstance(current, LNot):
                out[id(current)] = 1.0
            elif not visited:
                stack.append((current, True))
                stack += [(child, False) for child in current.nodes]
            elif isinstance(current, LOr):
                out[id(current)] = min(1.0, sum(out[id(c)] for c in current.nodes))
            else:
                out[id(current)] = min([out[id(c)] for c in current.nodes] + [1.0])
        return out[id(node)]
