"""The search query language shared by `mailgate search`, the web search page and the email
``search`` command: `parse_query` turns what a user typed into a `Query` (an AST plus filters).

Syntax (position numbers in error messages count characters from 1):

* ``word`` ``"exact phrase"``; words side by side must all match (AND). ``a OR b`` (also
  ``OU``); ``AND``/``ET`` are accepted and ignored. OR binds tighter than the implicit AND:
  ``budget 2025 OR 2026`` is ``budget AND (2025 OR 2026)``. Parentheses group, up to `MAX_DEPTH`.
* ``-word``, ``-"phrase"``, ``-(group)``, ``-from:x`` exclude. Each side of an OR needs a word
  that is not excluded. A query whose only parts are exclusions (``-foo``, ``-list:x``) is
  rejected: "a query needs at least one word or filter that is not excluded". An empty query,
  or one with filters only (``list:innovation after:2025-03``), is valid.
* Words are the words of `mailgate.analysis`: ``extra-financier`` or ``802.11ax`` become the
  phrases ``extra financier`` and ``802 11ax``; punctuation alone is ignored.
* Text fields (Term/Phrase ``field``): ``from:`` (``de:`` ``par:`` ``expediteur:``), ``to:``
  (To or Cc; ``a:`` ``à:`` ``cc:`` ``pour:`` ``destinataire:``), ``subject:`` (``sujet:``
  ``objet:``), ``filename:`` (``file:`` ``fichier:``), each followed by a word or a ``"quoted
  phrase"``. An unquoted ``from:``/``to:`` value is kept whole as one Term (``from:dupont``,
  ``from:jean.dupont@x.example``, ``from:x.example``): the backend matches it with
  `analysis.address_query_terms` (one address term) or, as a name, with
  `analysis.phrase_terms`. A bare ``x@y`` (no ``<>``) is ``(from:x@y OR to:x@y)``.
* Filters (apply to the whole query, so not allowed inside parentheses or next to OR):
  ``list:name`` (``liste:``; several mean any of them), ``-list:name``; ``has:attachment``
  (``has:``/``avec:`` + ``attachment``/``pj``/``piece-jointe``; also ``a:pj``, French "has"),
  ``-has:attachment``;
  ``after:DATE`` (``apres:`` ``après:`` ``depuis:`` ``since:``) = on or after the start of DATE;
  ``before:DATE`` (``avant:``) = before the start of DATE; ``date:DATE`` = within DATE;
  ``date:FROM..TO`` = from the start of FROM to the end of TO, either side may be empty.
  ``<message-id>`` or ``mid:``/``id:``/``msgid:``/``message-id:`` finds one message.
* DATE: ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` (``/`` also accepted), ``DD/MM/YYYY``;
  ``today`` (``aujourdhui``), ``yesterday`` (``hier``), ``last-week`` (``semaine-derniere``),
  ``last-month`` (``mois-dernier``), ``last-year`` (``annee-derniere``), ``Nd``/``Nw``/
  ``Nm``/``Ny`` (French ``Nj``/``Ns``/``Nm``/``Na``): the last N days/weeks/months/years, from
  midnight N units ago to the end of today. Days are those of the reader's time zone ``tz``;
  the result is a half-open UTC range ``[after, before)``.

AST: `Term`/`Phrase` leaves (the user's words, `field` None = any text field), `Not`, and flat
`And`/`Or` tuples, in `Query.text`; the filters are `Query` fields. Invalid input raises
`QueryError` with a human message, and never any other exception.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from mailgate import analysis, query_dates

MAX_QUERY_LENGTH = 1_000
MAX_TERMS = 32
MAX_DEPTH = 8
SUGGESTION_CUTOFF = 0.75

FIELD_ALIASES = {
    "from": "from", "de": "from", "par": "from", "expediteur": "from",
    "to": "to", "a": "to", "cc": "to", "pour": "to", "destinataire": "to",
    "subject": "subject", "sujet": "subject", "objet": "subject",
    "filename": "filename", "file": "filename", "fichier": "filename",
    "list": "list", "liste": "list", "has": "has", "avec": "has",
    "after": "after", "apres": "after", "depuis": "after", "since": "after",
    "before": "before", "avant": "before", "date": "date",
    "mid": "mid", "id": "mid", "msgid": "mid", "message-id": "mid",
}  # fmt: skip
TEXT_FIELDS = frozenset({"from", "to", "subject", "filename"})
ATTACHMENT_VALUES = frozenset(
    {"attachment", "attachments", "pj", "piece-jointe", "pieces-jointes", "fichier"}
)
OR_WORDS = frozenset({"OR", "OU"})
AND_WORDS = frozenset({"AND", "ET"})
_FIELD_RE = re.compile(r"([^\W\d_][\w-]{0,30}):(.*)", re.DOTALL)
_BARE_WORD_RE = re.compile(r'<[^\s<>]+>|[^\s"()]+')  # a <message-id>, or up to a space " ( )


class QueryError(ValueError):
    """The query cannot be understood; the message says what is wrong and where."""


@dataclass(frozen=True)
class Term:
    """One word (as typed, no punctuation); `field` None means any text field."""

    text: str
    field: str | None = None


@dataclass(frozen=True)
class Phrase:
    """Consecutive words (two or more)."""

    words: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


Node = Term | Phrase | Not | And | Or


@dataclass(frozen=True)
class Query:
    """A parsed query: full-text tree plus filters; datetimes are UTC, `[after, before)`."""

    text: Node | None = None
    lists: tuple[str, ...] = ()
    exclude_lists: tuple[str, ...] = ()
    after: datetime | None = None
    before: datetime | None = None
    has_attachment: bool | None = None
    message_id: str | None = None


@dataclass
class _Token:
    kind: str  # "atom", "or", "lparen", "rparen", "filter"
    pos: int  # 1-based
    negated: bool = False
    node: Node | None = None
    name: str = ""  # filter name
    value: str = ""  # filter value


def parse_query(q: str, *, now: datetime, tz: ZoneInfo) -> Query:
    """Parse `q`; relative dates count from `now`, days are those of `tz`."""
    if len(q) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is too long: at most {MAX_QUERY_LENGTH} characters")
    tokens = _lex(q)
    query = _apply_filters(tokens, now, tz)
    atoms = [token for token in tokens if token.kind != "filter"]
    words = sum(len(t.node.words) if isinstance(t.node, Phrase) else 1 for t in atoms if t.node)
    if words > MAX_TERMS:
        raise QueryError(f"too many words in the query: at most {MAX_TERMS}")
    text = _build_tree(atoms)
    positive = (text is not None and _is_positive(text)) or query.has_attachment is not None
    positive = positive or bool(query.lists or query.after or query.before or query.message_id)
    if (text is not None or query.exclude_lists) and not positive:
        raise QueryError("a query needs at least one word or filter that is not excluded")
    return replace(query, text=text)


def _lex(q: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, length = 0, len(q)
    while i < length:
        if q[i].isspace():
            i += 1
            continue
        start, negated = i, False
        if q[i] == "-" and i + 1 < length and not q[i + 1].isspace():
            negated, i = True, i + 1
        char = q[i]
        if char in "()":
            kind = "lparen" if char == "(" else "rparen"
            tokens.append(_Token(kind, start + 1, negated=negated and char == "("))
            i += 1
            continue
        if char == '"':
            text, i = _read_quoted(q, i)
            tokens.append(_Token("atom", start + 1, negated, _text_node(text, None)))
            continue
        end = _BARE_WORD_RE.match(q, i).end()  # type: ignore[union-attr]  # always matches
        token, i = _classify(q, q[i:end], end, start + 1, negated)
        if token is not None:
            tokens.append(token)
    return [token for token in tokens if token.kind != "atom" or token.node is not None]


def _read_quoted(q: str, i: int) -> tuple[str, int]:
    """The text between the quote at `i` and the next one, and the index after it."""
    end = q.find('"', i + 1)
    if end < 0:
        raise QueryError(f"unclosed quote starting at position {i + 1}")
    return q[i + 1 : end], end + 1


def _classify(q: str, word: str, end: int, pos: int, negated: bool) -> tuple[_Token | None, int]:
    """The token for a bare word starting at `pos`, and the index where lexing goes on."""
    if not negated and word in OR_WORDS:
        return _Token("or", pos), end
    if not negated and word in AND_WORDS:
        return None, end
    match = _FIELD_RE.fullmatch(word)
    if match:
        name = _field_name(match.group(1), pos)
        if name is not None:
            return _field_token(q, name, match.group(1), match.group(2), end, pos, negated)
    if word.startswith("<"):
        if len(word) > 2 and word.endswith(">"):
            return _Token("filter", pos, negated, name="mid", value=word[1:-1]), end
        if "@" in word:
            raise QueryError(f"unclosed '<' starting at position {pos}")
    if "@" in word and analysis.tokenize(word):
        address = word.rstrip(".,;:!?'")
        node = Or((Term(address, "from"), Term(address, "to")))
        return _Token("atom", pos, negated, node), end
    return _Token("atom", pos, negated, _text_node(word, None)), end


def _field_name(prefix: str, pos: int) -> str | None:
    """The canonical field for `prefix`, None for plain text; raises on a likely typo."""
    folded = analysis.fold(prefix)
    if folded in FIELD_ALIASES:
        return FIELD_ALIASES[folded]
    close = difflib.get_close_matches(folded, FIELD_ALIASES, n=1, cutoff=SUGGESTION_CUTOFF)
    if close:
        raise QueryError(
            f'unknown operator "{prefix}:" at position {pos} — did you mean "{close[0]}:"? '
            "(put it in quotes to search for the text itself)"
        )
    return None


def _field_token(
    q: str, name: str, prefix: str, value: str, end: int, pos: int, negated: bool
) -> tuple[_Token, int]:
    quoted = not value and end < len(q) and q[end] == '"'
    if quoted:
        value, end = _read_quoted(q, end)
    value = value.strip()
    if not value:
        raise QueryError(f'missing value after "{prefix}:" at position {pos}')
    if name == "to" and analysis.fold(prefix) == "a" and analysis.fold(value) in ATTACHMENT_VALUES:
        name = "has"  # French "a:pj" ("has an attachment"), not "à:pj"
    if name not in TEXT_FIELDS:
        return _Token("filter", pos, negated, name=name, value=value), end
    if name in ("from", "to") and (not quoted or "@" in value):
        address = value.strip("<>").rstrip(".,;:!?'")
        node: Node | None = Term(address, name) if analysis.tokenize(address) else None
    else:
        node = _text_node(value, name)
    if node is None:
        raise QueryError(f'"{prefix}:" at position {pos} needs a word, not only punctuation')
    return _Token("atom", pos, negated, node), end


def _text_node(text: str, field_name: str | None) -> Term | Phrase | None:
    words = analysis.tokenize(text)
    if not words:
        return None
    if len(words) == 1:
        return Term(words[0], field_name)
    return Phrase(tuple(words), field_name)


def _apply_filters(tokens: list[_Token], now: datetime, tz: ZoneInfo) -> Query:
    filters, depth = Query(), 0
    for index, token in enumerate(tokens):
        depth += {"lparen": 1, "rparen": -1}.get(token.kind, 0)
        if token.kind != "filter":
            continue
        neighbours = tokens[max(index - 1, 0) : index + 2]
        if depth > 0 or any(other.kind == "or" for other in neighbours):
            raise QueryError(
                f'the filter "{token.name}:" at position {token.pos} applies to the whole query:'
                " it cannot be inside parentheses or next to OR (several list: already mean"
                " any of these lists)"
            )
        filters = _apply_filter(filters, token, now, tz)
    if filters.after and filters.before and filters.after >= filters.before:
        raise QueryError("the date filters leave no possible date (the range is empty)")
    return filters


def _apply_filter(filters: Query, token: _Token, now: datetime, tz: ZoneInfo) -> Query:
    name, value = token.name, token.value
    if name == "list" and token.negated:
        return replace(filters, exclude_lists=(*filters.exclude_lists, value))
    if name == "list":
        return replace(filters, lists=(*filters.lists, value))
    if name == "has":
        if analysis.fold(value) not in ATTACHMENT_VALUES:
            raise QueryError(f'unknown value "{value}" in has: — use has:attachment')
        return replace(filters, has_attachment=not token.negated)
    if name == "mid":
        return replace(filters, message_id=_message_id(filters, token))
    if token.negated:
        raise QueryError(f'"-{name}:" at position {token.pos}: dates cannot be excluded')
    try:
        after, before = query_dates.date_filter(name, value, now, tz)
    except query_dates.DateError as exc:
        raise QueryError(str(exc)) from None
    if after is not None and filters.after is not None:
        after = max(after, filters.after)
    if before is not None and filters.before is not None:
        before = min(before, filters.before)
    return replace(filters, after=after or filters.after, before=before or filters.before)


def _message_id(filters: Query, token: _Token) -> str:
    value = token.value.strip().strip("<>").strip()
    if token.negated:
        raise QueryError(f"a Message-ID cannot be excluded (position {token.pos})")
    if not value:
        raise QueryError(f"empty Message-ID at position {token.pos}")
    if filters.message_id not in (None, value):
        raise QueryError("a query can look for only one Message-ID")
    return value


_PRECEDENCE = {"and": 1, "or": 2}


def _build_tree(tokens: list[_Token]) -> Node | None:
    """Shunting-yard over the tokens (an explicit stack, no recursion)."""
    output: list[Node] = []
    ops: list[_Token] = []
    previous, depth = "", 0
    for token in tokens:
        _check_sequence(previous, token, depth)
        depth += {"lparen": 1, "rparen": -1}.get(token.kind, 0)
        if token.kind in ("atom", "lparen") and previous == "operand":
            _push_operator(ops, output, _Token("and", token.pos))
        if token.kind == "atom":
            assert token.node is not None
            output.append(Not(token.node) if token.negated else token.node)
        elif token.kind == "or":
            _push_operator(ops, output, token)
        elif token.kind == "lparen":
            ops.append(token)
        else:
            _close_group(ops, output)
        previous = "operand" if token.kind in ("atom", "rparen") else token.kind
    if previous == "or":
        raise QueryError(f"OR at position {ops[-1].pos} needs a word after it")
    while ops:
        op = ops.pop()
        if op.kind == "lparen":
            raise QueryError(f"unclosed '(' at position {op.pos}")
        _apply(op, output)
    return output[0] if output else None


def _is_positive(node: Node) -> bool:
    """Whether `node` needs some word to be present (ORs are checked to be, Ands are flat)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(not isinstance(child, Not) for child in node.nodes)
    return True


def _check_sequence(previous: str, token: _Token, depth: int) -> None:
    if token.kind == "or" and previous != "operand":
        raise QueryError(f"OR at position {token.pos} needs a word or group before it")
    if token.kind == "rparen":
        if previous == "or":
            raise QueryError(f"OR before ')' at position {token.pos} needs a word after it")
        if previous == "lparen":
            raise QueryError(f"empty parentheses at position {token.pos}")
        if depth == 0:
            raise QueryError(f"unmatched ')' at position {token.pos}")
    if token.kind == "lparen" and depth >= MAX_DEPTH:
        raise QueryError(f"parentheses nested too deeply (at most {MAX_DEPTH} levels)")


def _push_operator(ops: list[_Token], output: list[Node], op: _Token) -> None:
    while ops and ops[-1].kind != "lparen":
        if _PRECEDENCE[ops[-1].kind] < _PRECEDENCE[op.kind]:
            break
        _apply(ops.pop(), output)
    ops.append(op)


def _close_group(ops: list[_Token], output: list[Node]) -> None:
    while ops[-1].kind != "lparen":
        _apply(ops.pop(), output)
    if ops.pop().negated:
        node = output.pop()
        output.append(node.node if isinstance(node, Not) else Not(node))


def _apply(op: _Token, output: list[Node]) -> None:
    right, left = output.pop(), output.pop()
    if op.kind == "or" and not (_is_positive(left) and _is_positive(right)):
        raise QueryError(f"OR at position {op.pos}: each side needs a word that is not excluded")
    cls = Or if op.kind == "or" else And
    parts = (side.nodes if isinstance(side, cls) else (side,) for side in (left, right))
    output.append(cls(tuple(node for part in parts for node in part)))
