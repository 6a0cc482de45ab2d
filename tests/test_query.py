"""Tests for mailgate.query: the search query language (syntax, filters, dates, errors, fuzz)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailgate import analysis
from mailgate.query import (
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    And,
    Not,
    Or,
    Phrase,
    Query,
    QueryError,
    Term,
    parse_query,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2025, 3, 15, 10, 30, tzinfo=UTC)  # a Saturday, winter time in Paris (UTC+1)
DATA = Path(__file__).parent / "data" / "french-enterprise" / "expected.json"


def parse(q: str, now: datetime = NOW, tz: ZoneInfo = PARIS) -> Query:
    return parse_query(q, now=now, tz=tz)


def error(q: str) -> str:
    with pytest.raises(QueryError) as info:
        parse(q)
    return str(info.value)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- words, phrases, boolean structure --------------------------------------------------------


def test_words_are_anded() -> None:
    assert parse("réseau social").text == And((Term("réseau"), Term("social")))
    assert parse("collaborer").text == Term("collaborer")


def test_empty_query_and_filters_only_are_valid() -> None:
    assert parse("") == Query() and parse("   ") == Query()
    query = parse("list:innovation after:2025-03")
    assert query.text is None and query.lists == ("innovation",)
    assert query.after == utc(2025, 2, 28, 23)


def test_phrases() -> None:
    assert parse('"jumeau numérique"').text == Phrase(("jumeau", "numérique"))
    assert parse('"appel d\'offres"').text == Phrase(("appel", "d'offres"))
    assert parse('"réseau"').text == Term("réseau")
    assert parse('"" ok').text == Term("ok")


def test_words_are_cleaned_and_split_like_the_index() -> None:
    assert parse("réseau,").text == Term("réseau")
    assert parse("extra-financier").text == Phrase(("extra", "financier"))
    assert parse("802.11ax").text == Phrase(("802", "11ax"))
    assert parse("l'entreprise").text == Term("l'entreprise")
    assert parse("a - b").text == And((Term("a"), Term("b")))


def test_exclusions() -> None:
    assert parse("budget -brouillon").text == And((Term("budget"), Not(Term("brouillon"))))
    assert parse('budget -"appel d\'offres"').text == And(
        (Term("budget"), Not(Phrase(("appel", "d'offres"))))
    )
    assert parse("budget -from:dupont").text == And((Term("budget"), Not(Term("dupont", "from"))))
    assert parse("a -(b c)").text == And((Term("a"), Not(And((Term("b"), Term("c"))))))
    assert parse("-(-a)").text == Term("a")


def test_or_binds_tighter_than_implicit_and() -> None:
    assert parse("budget 2025 OR 2026").text == And(
        (Term("budget"), Or((Term("2025"), Term("2026"))))
    )
    assert parse("a OR b OR c").text == Or((Term("a"), Term("b"), Term("c")))
    assert parse("a OU b").text == Or((Term("a"), Term("b")))
    assert parse("a or b").text == And((Term("a"), Term("or"), Term("b")))
    assert parse("a AND b ET c").text == And((Term("a"), Term("b"), Term("c")))


def test_parentheses() -> None:
    assert parse("(a OR b) c").text == And((Or((Term("a"), Term("b"))), Term("c")))
    assert parse("(a b) OR c").text == Or((And((Term("a"), Term("b"))), Term("c")))
    assert parse("((a))").text == Term("a")
    nested = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse(nested).text == Term("a")
    assert "nested too deeply" in error("(" + nested + ")")


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ('budget "appel', "unclosed quote starting at position 8"),
        ("OR a", "OR at position 1 needs a word or group before it"),
        ("a OR", "OR at position 3 needs a word after it"),
        ("a OR OR b", "OR at position 6 needs a word or group before it"),
        ("(a OR) b", "needs a word after it"),
        ("a ()", "empty parentheses at position 4"),
        ("a)", "unmatched ')' at position 2"),
        ("(a", "unclosed '(' at position 1"),
        ("a OR -b", "each side needs a word that is not excluded"),
        ("(-a -b) OR c", "each side needs a word that is not excluded"),
    ],
)
def test_structure_errors(q: str, message: str) -> None:
    assert message in error(q)


def test_negation_only_is_rejected() -> None:
    for q in ("-foo", '-"a b"', "-foo -bar", "-list:x", "-(a b)"):
        assert error(q) == "a query needs at least one word or filter that is not excluded"
    assert parse("-foo list:x").text == Not(Term("foo"))
    assert parse("-foo after:2025").text == Not(Term("foo"))
    assert parse("-has:attachment").has_attachment is False


def test_limits() -> None:
    assert "too long" in error("a" * (MAX_QUERY_LENGTH + 1))
    assert "too many words" in error(" ".join(["mot"] * (MAX_TERMS + 1)))
    assert "too many words" in error('"' + " ".join(["mot"] * (MAX_TERMS + 1)) + '"')
    parse(" ".join(["mot"] * MAX_TERMS))


# --- fields and filters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "node"),
    [
        ("from:dupont", Term("dupont", "from")),
        ("de:dupont", Term("dupont", "from")),
        ("FROM:jean.dupont@exemple.example", Term("jean.dupont@exemple.example", "from")),
        ("from:<jean@x.example>", Term("jean@x.example", "from")),
        ("from:groupe-exemple.example", Term("groupe-exemple.example", "from")),
        ('from:"Jean Dupont"', Phrase(("Jean", "Dupont"), "from")),
        ("to:claire", Term("claire", "to")),
        ("à:claire", Term("claire", "to")),
        ("a:claire", Term("claire", "to")),
        ("cc:claire", Term("claire", "to")),
        ("subject:budget", Term("budget", "subject")),
        ("sujet:réunion", Term("réunion", "subject")),
        ('subject:"comité de direction"', Phrase(("comité", "de", "direction"), "subject")),
        ("objet:extra-financier", Phrase(("extra", "financier"), "subject")),
        ("filename:rapport.pdf", Phrase(("rapport", "pdf"), "filename")),
        ("fichier:budget", Term("budget", "filename")),
    ],
)  # fmt: skip
def test_text_fields(q: str, node: Term | Phrase) -> None:
    assert parse(q).text == node


def test_bare_address_searches_senders_and_recipients() -> None:
    address = "jean.dupont@groupe-exemple.example"
    expected = Or((Term(address, "from"), Term(address, "to")))
    assert parse(address).text == expected
    assert parse(address + ",").text == expected


def test_fields_combine_with_words_and_or() -> None:
    query = parse("from:nicolas.martin@groupe-exemple.example astreinte")
    assert query.text == And(
        (Term("nicolas.martin@groupe-exemple.example", "from"), Term("astreinte"))
    )
    assert parse("(from:a OR from:b) budget").text == And(
        (Or((Term("a", "from"), Term("b", "from"))), Term("budget"))
    )


def test_list_filters() -> None:
    query = parse("list:innovation liste:rse-pilotes -list:support budget")
    assert query.lists == ("innovation", "rse-pilotes")
    assert query.exclude_lists == ("support",)
    assert query.text == Term("budget")


@pytest.mark.parametrize(
    "q", ["has:attachment", "has:attachments", "has:pj", "avec:pièce-jointe", "a:pj", "HAS:PJ"]
)
def test_attachment_filter(q: str) -> None:
    assert parse(q).has_attachment is True
    assert parse("budget -" + q).has_attachment is False


@pytest.mark.parametrize(
    "q",
    [
        "<abc.123@example.com>",
        "mid:abc.123@example.com",
        "id:<abc.123@example.com>",
        "message-id:abc.123@example.com",
        'mid:"<abc.123@example.com>"',
    ],
)
def test_message_id(q: str) -> None:
    query = parse(q)
    assert query.message_id == "abc.123@example.com" and query.text is None


def test_message_id_with_parentheses_and_errors() -> None:
    assert parse("<a(b)c@x>").message_id == "a(b)c@x"
    assert "unclosed '<'" in error("<abc@example.com")
    assert "cannot be excluded" in error("-<abc@example.com>")
    assert "only one Message-ID" in error("<a@x> <b@x>")
    assert parse("<a@x> mid:a@x").message_id == "a@x"


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("form:dupont", 'unknown operator "form:" at position 1 — did you mean "from:"?'),
        ("budget subjet:x", 'unknown operator "subjet:" at position 8 — did you mean "subject:"?'),
        ("sujt:x", 'did you mean "sujet:"?'),
        ("befor:2025", 'did you mean "before:"?'),
        ("from:", 'missing value after "from:" at position 1'),
        ("a from: dupont", 'missing value after "from:" at position 3'),
        ('subject:""', 'missing value after "subject:"'),
        ("subject:...", "needs a word"),
        ("has:photo", 'unknown value "photo" in has:'),
        ("list:a OR b", 'the filter "list:" at position 1 applies to the whole query'),
        ("b OR list:a", "cannot be inside parentheses or next to OR"),
        ("(a after:2025)", "cannot be inside parentheses"),
        ("-after:2025", "dates cannot be excluded"),
    ],
)
def test_field_errors(q: str, message: str) -> None:
    assert message in error(q)


def test_colons_that_are_not_operators_are_text() -> None:
    assert parse("Re: budget").text == And((Term("Re"), Term("budget")))
    assert parse("10:30").text == Phrase(("10", "30"))
    assert parse("https://exemple.example/page").text == Phrase(
        ("https", "exemple", "example", "page")
    )
    assert parse('"form:x"').text == Phrase(("form", "x"))


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "after", "before"),
    [
        ("date:2025", utc(2024, 12, 31, 23), utc(2025, 12, 31, 23)),
        ("date:2025-03", utc(2025, 2, 28, 23), utc(2025, 3, 31, 22)),  # DST starts 30 March
        ("date:2025-03-30", utc(2025, 3, 29, 23), utc(2025, 3, 30, 22)),
        ("date:2025/3/5", utc(2025, 3, 4, 23), utc(2025, 3, 5, 23)),
        ("date:05/03/2025", utc(2025, 3, 4, 23), utc(2025, 3, 5, 23)),
        ("date:2024-02", utc(2024, 1, 31, 23), utc(2024, 2, 29, 23)),
        ("after:2025-03", utc(2025, 2, 28, 23), None),
        ("après:2025-03", utc(2025, 2, 28, 23), None),
        ("before:2025-03", None, utc(2025, 2, 28, 23)),
        ("avant:2025", None, utc(2024, 12, 31, 23)),
        ("date:2025-01..2025-02", utc(2024, 12, 31, 23), utc(2025, 2, 28, 23)),
        ("date:2025-01..", utc(2024, 12, 31, 23), None),
        ("date:..2024", None, utc(2024, 12, 31, 23)),
        ("after:2024 before:2025-06 date:2025", utc(2024, 12, 31, 23), utc(2025, 5, 31, 22)),
    ],
)
def test_absolute_dates(q: str, after: datetime | None, before: datetime | None) -> None:
    query = parse(q)
    assert (query.after, query.before) == (after, before)


@pytest.mark.parametrize(
    ("q", "after", "before"),
    [
        ("date:today", utc(2025, 3, 14, 23), utc(2025, 3, 15, 23)),
        ("date:aujourd'hui", utc(2025, 3, 14, 23), utc(2025, 3, 15, 23)),
        ("date:yesterday", utc(2025, 3, 13, 23), utc(2025, 3, 14, 23)),
        ("date:hier", utc(2025, 3, 13, 23), utc(2025, 3, 14, 23)),
        ("after:7d", utc(2025, 3, 7, 23), None),
        ("after:7j", utc(2025, 3, 7, 23), None),
        ("after:2w", utc(2025, 2, 28, 23), None),
        ("date:last-week", utc(2025, 3, 7, 23), utc(2025, 3, 15, 23)),
        ("date:semaine-dernière", utc(2025, 3, 7, 23), utc(2025, 3, 15, 23)),
        ("after:last-month", utc(2025, 2, 14, 23), None),
        ("after:1m", utc(2025, 2, 14, 23), None),
        ("after:mois-dernier", utc(2025, 2, 14, 23), None),
        ("after:last-year", utc(2024, 3, 14, 23), None),
        ("after:2y", utc(2023, 3, 14, 23), None),
        ("after:2a", utc(2023, 3, 14, 23), None),
        ("before:30d", None, utc(2025, 2, 12, 23)),
        ("date:7d..yesterday", utc(2025, 3, 7, 23), utc(2025, 3, 14, 23)),
    ],
)
def test_relative_dates(q: str, after: datetime | None, before: datetime | None) -> None:
    query = parse(q)
    assert (query.after, query.before) == (after, before)


def test_relative_dates_use_the_reader_time_zone() -> None:
    late = datetime(2025, 3, 15, 23, 30, tzinfo=UTC)  # already the 16th in Paris
    assert parse("date:today", now=late).after == utc(2025, 3, 15, 23)
    assert parse("date:today", now=late, tz=ZoneInfo("UTC")).after == utc(2025, 3, 15)
    tokyo = parse("date:today", now=late, tz=ZoneInfo("Asia/Tokyo"))
    assert (tokyo.after, tokyo.before) == (utc(2025, 3, 15, 15), utc(2025, 3, 16, 15))
    naive = parse("date:today", now=datetime(2025, 3, 15, 12), tz=ZoneInfo("UTC"))
    assert naive.after == utc(2025, 3, 15)


def test_month_arithmetic_clamps_the_day() -> None:
    query = parse("after:1m", now=datetime(2025, 3, 31, 12, tzinfo=UTC), tz=ZoneInfo("UTC"))
    assert query.after == utc(2025, 2, 28)
    query = parse("after:1y", now=datetime(2024, 2, 29, 12, tzinfo=UTC), tz=ZoneInfo("UTC"))
    assert query.after == utc(2023, 2, 28)


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("before:2025-13", 'invalid date "2025-13" in before:'),
        ("after:2025-02-30", 'invalid date "2025-02-30" in after:'),
        ("date:tomorrow", 'invalid date "tomorrow" in date:'),
        ("date:0000", 'invalid date "0000" in date:'),
        ("after:99999y", 'invalid date "99999y" in after:'),
        ("after:7x", 'invalid date "7x" in after:'),
        ("date:2025-01..2025-13", 'invalid date "2025-13" in date:'),
        ("date:..", "needs a date on at least one side"),
        ("after:2025 before:2024", "the date filters leave no possible date"),
        ("date:2025-03..2025-01", "the date filters leave no possible date"),
    ],
)
def test_date_errors(q: str, message: str) -> None:
    assert message in error(q)


# --- the test corpus's queries and fuzzing --------------------------------------------------


def test_search_cases_of_the_french_corpus_parse() -> None:
    cases = json.loads(DATA.read_text(encoding="utf-8"))["search_cases"]
    for case in cases:
        query = parse(case["query"])
        assert query.text is not None, case["query"]
        if case["kind"] in ("stemming", "accent-folding", "elision", "charset"):
            leaves = _leaves(query.text)
            assert all(isinstance(leaf, Term) and leaf.field is None for leaf in leaves)
    assert parse("from:jean.dupont@groupe-exemple.example").text == Term(
        "jean.dupont@groupe-exemple.example", "from"
    )


def _leaves(node: object) -> list[Term | Phrase]:
    """Term and Phrase leaves of a parsed tree, walked with an explicit stack."""
    stack, leaves = [node], []
    while stack:
        current = stack.pop()
        if isinstance(current, (And, Or)):
            stack.extend(current.nodes)
        elif isinstance(current, Not):
            stack.append(current.node)
        elif isinstance(current, (Term, Phrase)):
            leaves.append(current)
        else:
            raise AssertionError(current)
    return leaves


def _random_query(rng: random.Random) -> str:
    pieces = [
        "a", "réseau", "OR", "OU", "AND", "(", ")", "-", '"', "from:", "to:", "list:", "sujet:",
        "after:", "before:", "date:", "has:", "mid:", "<", ">", "@", "2025", "-03", "..", "7d",
        "today", ":", " ", " ", " ", "l'", "’", "extra-", ".", "x@y.example", "\u0301", "東",
    ]  # fmt: skip
    if rng.random() < 0.3:
        return "".join(chr(rng.randint(1, 0x10FFFF)) for _ in range(rng.randint(0, 40)))
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 25)))


def test_fuzz_only_query_errors() -> None:
    rng = random.Random(20250315)
    zones = [PARIS, ZoneInfo("UTC"), ZoneInfo("Pacific/Kiritimati"), ZoneInfo("America/Santiago")]
    for _ in range(5_000):
        q = _random_query(rng)
        try:
            query = parse(q, tz=rng.choice(zones))
        except QueryError as exc:
            assert str(exc)
            continue
        for leaf in _leaves(query.text) if query.text is not None else []:
            words = leaf.words if isinstance(leaf, Phrase) else (leaf.text,)
            assert all(words) and len(words) <= MAX_TERMS
            if isinstance(leaf, Term) and leaf.field not in ("from", "to"):
                assert analysis.tokenize(leaf.text) == [leaf.text], leaf
        if query.after and query.before:
            assert query.after < query.before
