"""Tests for mailgate.analysis: folding, elisions, stemming, tokenisation, addresses, language."""

from __future__ import annotations

import json
import random
import re
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailgate import analysis
from mailgate.analysis import (
    LANGUAGES,
    MAX_ADDRESS_TERM_LENGTH,
    MAX_TERM_LENGTH,
    address_query_terms,
    analyze,
    analyze_address,
    analyze_text,
    fold,
    guess_language,
    is_stopword,
    phrase_terms,
    query_terms,
    tokenize,
)
from mailgate.query import Phrase, Term, parse_query

DATA = Path(__file__).parent / "data" / "french-enterprise" / "expected.json"
TERM_RE = re.compile(r"[a-z0-9_]+")
TERM_LEVEL_KINDS = ("stemming", "accent-folding", "elision", "charset")


def one(word: str, language: str = "fr") -> str:
    terms = analyze(word, language)
    assert len(terms) == 1, terms
    return terms[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("réseau", "reseau"),
        ("RÉSEAU", "reseau"),
        ("Œuvre", "oeuvre"),
        ("vœux", "voeux"),
        ("Straße", "strasse"),
        ("Ærø", "aero"),
        ("ﬁn", "fin"),
        ("Crème Brûlée, naïve!", "creme brulee, naive!"),
        ("e\u0301te\u0301", "ete"),
        ("plain ascii", "plain ascii"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_case_and_accents_give_the_same_term() -> None:
    assert one("réseau") == one("reseau") == one("RÉSEAU") == one("Réseau")
    assert one("été") == one("ete") == one("ÉTÉ")
    assert one("mobilité") == one("mobilite") == one("MOBILITÉ")
    assert one("défi") == one("defi")
    assert one("œuvre") == one("oeuvre") and one("vœux") == one("voeux")


def test_decomposed_and_composed_text_agree() -> None:
    composed = "réseaux électriques"
    assert analyze(unicodedata.normalize("NFD", composed), "fr") == analyze(composed, "fr")


@pytest.mark.parametrize("apostrophe", ["'", "’", "ʼ", "‘", "`", "´"])
def test_elisions_with_any_apostrophe(apostrophe: str) -> None:
    text = f"l{apostrophe}entreprise d{apostrophe}innovation qu{apostrophe}ils"
    assert analyze(text, "fr") == [one("entreprise"), one("innovation"), one("ils")]


@pytest.mark.parametrize(
    "prefix", ["l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "L", "QU"]
)
def test_every_french_elision_is_removed(prefix: str) -> None:
    assert analyze(f"{prefix}'organisation", "fr") == [one("organisation")]


def test_elisions_removed_in_english_text_too_and_possessive_s() -> None:
    assert analyze("l'entreprise", "en") == analyze("entreprise", "en")
    assert analyze("John's reports", "en") == analyze("John reports", "en")


def test_aujourdhui_is_one_word() -> None:
    assert tokenize("aujourd’hui") == ["aujourd’hui"]
    assert analyze("aujourd’hui", "fr") == analyze("aujourd'hui", "fr") == ["aujourdhui"]
    assert analyze("jusqu'aujourd'hui", "fr") == ["aujourdhui"]


@pytest.mark.parametrize(
    "group",
    [
        "collaborer collaboration collaboratif collaboratifs collaborative collaborateurs",
        "innover innovation innovations innovante",
        "réunion reunion réunions REUNIONS",
        "réseau réseaux reseau reseaux RESEAUX",
        "social sociaux",
        "entreprise entreprises",
        "numérique numerique",
        "altération alteration",
    ],
)
def test_french_stemming_groups(group: str) -> None:
    assert len(set(analyze(group, "fr"))) == 1, analyze(group, "fr")


def test_english_stemming() -> None:
    assert len(set(analyze("running runs run", "en"))) == 1
    assert len(set(analyze("connection connected connecting", "en"))) == 1


def test_one_term_per_word_in_order() -> None:
    text = "Le jumeau numérique, l'extra-financier et le 802.11ax: wifi6 !"
    assert len(analyze(text, "fr")) == len(tokenize(text))
    assert analyze(text, "fr") == [analyze(word, "fr")[0] for word in tokenize(text)]


def test_tokenisation_rules() -> None:
    assert tokenize("wifi6 802.11ax extra-financier foo_bar") == [
        "wifi6", "802", "11ax", "extra", "financier", "foo", "bar"
    ]  # fmt: skip
    assert tokenize("« citation » — fin… (ok) 'quoted'") == ["citation", "fin", "ok", "quoted"]
    assert tokenize("") == [] and tokenize(" \n\t.,;") == []


def test_ascii_words_match_the_word_pattern() -> None:
    """ASCII text is split by a byte table, not the pattern: the words must be the same."""
    import random
    import re

    pattern = re.compile(r"\w+(?:['`]\w+)*", re.ASCII)
    rng = random.Random(7)
    alphabet = "ab9Z_'`'-. \t\n\x1c\x7f\"@"
    samples = ["don't 'quoted' l'homme a''b `x` it's_ok 'a' ''", "_a__b_ 9'9 a' 'a"]
    samples += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(5000)
    ]
    for text in samples:
        assert tokenize(text) == pattern.findall(text.replace("_", " ")), text


def test_accented_text_words_match_the_word_pattern() -> None:
    """Accented, mixed-script and oddly spaced text: the words are the pattern's on the
    NFC form, underscores separating words (a guard for any faster path added later)."""
    pattern = analysis._WORD_RE
    rng = random.Random(17)
    letters = list("aZ9éÉßçœ²日")
    others = [" ", "_", "'", "`", "-", ".", "«", "»", "—", "…", "’", "ʼ", "‘", "´", "\u00a0"]
    others += ["e\u0301", "\u0301", "😀", "\ud800", "\n", "''", "\u0130", "\u00b7", "ǅ"]
    others += [chr(c) for c in range(0x80, 0x3001) if chr(c).isspace()]
    samples = ["l'été d'après", "aujourd’hui", "«  citation »", "é'", "'é", "x\u0301y", "²'²"]
    for weights in ((20, 1), (5, 1), (1, 1)):
        alphabet = letters * weights[0] + others * weights[1]
        samples += [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(8000)
        ]
    for text in samples:
        expected = pattern.findall(unicodedata.normalize("NFC", text).replace("_", " "))
        assert tokenize(text) == expected, repr(text)


def test_plain_ascii_words_are_folded_then_stemmed() -> None:
    """Letters-and-digits words take a short path: lower case, digits as they are, long
    words truncated, the rest stemmed, as the general rule gives."""
    import snowballstemmer

    rng = random.Random(11)
    stemmers = {"fr": snowballstemmer.stemmer("french"), "en": snowballstemmer.stemmer("english")}
    words = ["Connected", "RÉSEAU".encode().decode("ascii", "ignore"), "12345", "0x1F", "A" * 80]
    words += ["".join(rng.choice("aeiouRSTNLC0123456789") for _ in range(rng.randint(1, 70)))
              for _ in range(3000)]  # fmt: skip
    words += [
        "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 70))) for _ in range(300)
    ]
    for word in words:
        for language, stemmer in stemmers.items():
            folded = word.lower()
            long = len(folded) > MAX_TERM_LENGTH
            expected = folded[:MAX_TERM_LENGTH] if long else stemmer.stemWord(folded) or folded
            assert analyze(word, language) == [expected], (word, language)


def test_hyphenated_and_dotted_words_are_consecutive_terms() -> None:
    assert analyze("extra-financier", "fr") == analyze("extra financier", "fr")
    assert analyze("802.11ax", "fr") == ["802", "11ax"]
    assert analyze("micro-réseaux", "fr")[1] == one("réseau")


def test_terms_are_safe_characters_only() -> None:
    text = "a\"b OR NEAR(x) * ^c: москва 東京 Ωmega ½ ² ℌ 𝔘 x\u0301 l'\u0301 ﻿zero\u200bwidth"
    for language in LANGUAGES:
        terms = analyze(text, language)
        assert terms and all(TERM_RE.fullmatch(term) for term in terms), terms
        assert analyze_text(text, language) == " ".join(terms)


def test_non_latin_words_are_searchable_and_distinct() -> None:
    assert one("Москва") == one("москва") != one("Киев")
    assert one("東京") != one("京都")


def test_long_tokens_are_truncated_consistently() -> None:
    word = "x" * 500
    assert analyze(word, "fr") == ["x" * MAX_TERM_LENGTH]
    assert query_terms(word, LANGUAGES) == ["x" * MAX_TERM_LENGTH]
    assert len(one("ж" * 100)) <= MAX_TERM_LENGTH


def test_query_terms_one_per_language_stem() -> None:
    assert query_terms("réseaux", ["fr"]) == ["reseau"]
    assert query_terms("réseaux", LANGUAGES) == ["reseau", "reseaux"]
    assert query_terms("wifi6", LANGUAGES) == ["wifi6"]
    assert query_terms("l'entreprise", ["fr"]) == query_terms("entreprise", ["fr"])
    assert query_terms("...", LANGUAGES) == []


def test_phrase_terms() -> None:
    assert phrase_terms(["réseaux", "sociaux", "d'entreprise"], ["fr"]) == [
        tuple(analyze("réseau social d’entreprise", "fr"))
    ]
    assert len(phrase_terms(["réseaux", "sociaux"], LANGUAGES)) == 2
    assert phrase_terms(["—"], LANGUAGES) == []


def test_unknown_language_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        analyze("texte", "de")


def test_address_terms() -> None:
    terms = analyze_address("Jean.Dupont@Groupe-Exemple.example")
    assert all(TERM_RE.fullmatch(term) for term in terms)
    for value in (
        "jean.dupont@groupe-exemple.example",
        "JEAN.DUPONT@groupe-exemple.example",
        "<jean.dupont@groupe-exemple.example>",
        "mailto:jean.dupont@groupe-exemple.example",
        "jean.dupont",
        "dupont",
        "jean",
        "groupe-exemple.example",
        "groupe",
    ):
        assert address_query_terms(value)[0] in terms, value
    assert address_query_terms("martin@groupe-exemple.example")[0] not in terms
    assert address_query_terms("exemple-ingenierie.example")[0] not in terms


def test_address_display_name_and_parent_domains() -> None:
    terms = analyze_address("Léa Mercier <lea.mercier@mail.courriel.example>")
    for value in ("lea.mercier@mail.courriel.example", "courriel.example", "mail.courriel.example"):
        assert address_query_terms(value)[0] in terms
    assert analyze_address("") == [] and address_query_terms("  ") == []


def test_address_encoding_is_injective_and_one_token() -> None:
    first = address_query_terms("jean.dupont@groupe-exemple.example")[0]
    second = address_query_terms("jean-dupont@groupe.exemple.example")[0]
    third = address_query_terms("jeanzddupont@groupe-exemple.example")[0]
    assert len({first, second, third}) == 3
    assert re.fullmatch(r"[a-z0-9]+", first)  # no "_": FTS5 and PostgreSQL split on it


def test_message_id_terms() -> None:
    mid = "<PAXP193MB8717A72299EF15C466101D6FEF2113428E61@PAXP193MB8717.eurp193.prod.example>"
    terms = analyze_address(mid)
    assert address_query_terms(mid)[0] == terms[0]
    assert all(len(term) <= MAX_ADDRESS_TERM_LENGTH for term in terms)
    assert analyze_address("CA/MEvX+o4p_U=Z@mail.example")[0].isalnum()


def test_stopwords() -> None:
    assert is_stopword("les", "fr") and is_stopword(one("les"), "fr")
    assert is_stopword("the", "en") and is_stopword(one("The", "en"), "en")
    assert not is_stopword(one("réseau"), "fr") and not is_stopword("network", "en")
    assert analyze("le la les", "fr")  # never removed at index time


def test_guess_language() -> None:
    french = "Bonjour à tous, je vous propose que la réunion de l'équipe soit déplacée."
    english = "Hi all, the meeting with the team is moved to Thursday; please confirm."
    assert guess_language(french, "en") == "fr"
    assert guess_language(english, "fr") == "en"
    assert guess_language("OK 2025", "en") == "en" and guess_language("", "fr") == "fr"
    assert guess_language(french + " " + english * 50, "fr") == "en"
    assert guess_language("x" * 5000 + french, "en") == "en"  # only the start is read


def test_fuzz_analyze_never_crashes_and_emits_safe_terms() -> None:
    rng = random.Random(20250315)
    alphabet = "aéÉœ’'`-._@\"()*:^ \n\t0123456789\u0301\u200b\ufeffßﬁ東Ж"
    for _ in range(2_000):
        if rng.random() < 0.5:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        else:
            text = "".join(chr(rng.randint(1, 0x10FFFF)) for _ in range(rng.randint(0, 30)))
            text = text.encode("utf-8", "replace").decode("utf-8", "replace")
        for language in LANGUAGES:
            terms = analyze(text, language)
            assert all(TERM_RE.fullmatch(term) for term in terms), (text, terms)
            assert len(terms) == len(tokenize(text))
        assert all(TERM_RE.fullmatch(term) for term in analyze_address(text))
        assert all(TERM_RE.fullmatch(term) for term in query_terms(text, LANGUAGES))
        assert guess_language(text, "fr") in LANGUAGES


def test_cached_throughput() -> None:
    words = ["le", "réseau", "social", "d'entreprise", "collabore", "avec", "l'innovation"]
    rng = random.Random(1)
    text = " ".join(rng.choice(words) + str(rng.randint(0, 500)) for _ in range(100_000))
    analyze(text, "fr")  # warm the cache
    start = time.perf_counter()
    analyze(text, "fr")
    rate = 100_000 / (time.perf_counter() - start)
    assert rate > 200_000, f"{rate:,.0f} words/s"  # about 4 million on a developer machine


def _expected() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def test_french_search_cases_match_at_term_level() -> None:
    data = _expected()
    messages = {message["message_id"]: message for message in data["messages"]}
    cases = [case for case in data["search_cases"] if case["kind"] in TERM_LEVEL_KINDS]
    assert len(cases) >= 10
    for case in cases:
        words = analysis.tokenize(case["query"])
        assert words, case["query"]
        for message_id in case["must_match"]:
            message = messages[message_id]
            text = f"{message['own_text'] or ''}\n{message['subject'] or ''}"
            terms = set(analyze(text, "fr"))
            for word in words:
                missing = set(query_terms(word, ["fr"])) - terms
                assert not missing, (case["query"], message["key"], missing)


def test_french_phrase_and_from_cases_match_at_term_level() -> None:
    data = _expected()
    messages = {message["message_id"]: message for message in data["messages"]}
    now, tz = datetime(2025, 6, 1, tzinfo=UTC), ZoneInfo("Europe/Paris")
    for case in data["search_cases"]:
        node = parse_query(case["query"], now=now, tz=tz).text
        for message_id in case["must_match"]:
            message = messages[message_id]
            if isinstance(node, Phrase):
                text = f"{message['own_text'] or ''}\n{message['subject'] or ''}"
                stored = f" {analyze_text(text, 'fr')} "
                assert f" {' '.join(phrase_terms(node.words, ['fr'])[0])} " in stored
            elif isinstance(node, Term) and node.field == "from":
                sender = message["from_address"]
                if sender.lower() == node.text.lower():  # other addresses: people merging's job
                    assert address_query_terms(node.text)[0] in analyze_address(sender)


@pytest.mark.parametrize(
    "text",
    [
        "l'entreprise d`accord aujourd'hui, it's the 802.11ax wifi6 jean.dupont@x.example",
        "snake_case and __dunder__ words' '' `` trailing' 'leading",
        "a'b'c x''y 12'34 _'_ ' ` a` `a",
    ],
)
def test_ascii_text_gives_the_words_of_the_unicode_pattern(text: str) -> None:
    assert text.isascii()
    # The same text with one non-ASCII word takes the general pattern: the words must agree.
    assert analysis.tokenize(text) == analysis.tokenize(text + " é")[:-1]


def test_language_guess_counts_each_word_once() -> None:
    """The guess counts stopwords set by set: that counts each word once only while the two
    sets share no word and hold no apostrophe. Random French and English word salads give
    what a word-by-word count gives."""
    fr, en = analysis._FR_DISTINCTIVE, analysis._EN_DISTINCTIVE
    assert not fr & en and all(word.isalnum() for word in fr | en)

    def reference(text: str, default: str) -> str:
        french = english = 0
        for word in tokenize(text[: analysis.GUESS_SAMPLE_CHARS]):
            folded = fold(word)
            if folded in fr:
                french += 1
            elif folded in en:
                english += 1
            elif not folded.isalnum() and "'" in folded.replace("’", "'"):
                french += re.split("['’]", folded, maxsplit=1)[0] in analysis.ELISIONS
        if french + english < analysis.GUESS_MIN_EVIDENCE:
            return default
        if french >= english * analysis.GUESS_MIN_RATIO:
            return "fr"
        return "en" if english >= french * analysis.GUESS_MIN_RATIO else default

    rng = random.Random(13)
    vocabulary = [*sorted(fr)[:30], *sorted(en)[:30], "l'équipe", "qu'il", "don't", "réseau", "x"]
    vocabulary += [*(w.upper() for w in sorted(fr)[:10]), *(w.title() for w in sorted(en)[:10])]
    vocabulary += ["L'Equipe", "QU'IL", "Don't", "it's", "'quoted'"]
    for _ in range(4000):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 12)))
        assert guess_language(text, "fr") == reference(text, "fr"), text
        assert guess_language(text, "en") == reference(text, "en"), text
