"""mailgate.quoting_index finds every line the exact one-line tests of quoting_rules accept.

The index is a prefilter: split_body only looks at the lines it returns, so a line it missed
would change the zones. These tests check the superset property line by line on the corpus
lines, on lines made tricky on purpose (leading Unicode white space, case, letters that match
other letters when case is ignored), and the first-character guard on every code point.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from mailgate import quoting_rules as R
from mailgate.quoting_index import _FIELD, _INTRO, _MOBILE, _SPACE, _STRIPPED, LineIndex

DATA = Path(__file__).parent / "data"
SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and chr(c) != "\n"]
TRICKY_LINES = [
    "From: Anne Leroy",
    "FROM : Anne",
    "*De :* Paul",
    "De\u00a0: Paul Durand",
    "Von: Hans",
    "-----Original Message-----",
    "-----Message d'origine-----",
    "---------- Forwarded message ---------",
    "----- Paul Durand/ACME a écrit : -----",
    "________________________________",
    "Begin forwarded message:",
    "İnicio del mensaje reenviado:",
    "ınicio del mensaje reenviado:",
    "Début du message réexpédié :",
    "On Mon, 3 Mar 2025 at 10:15, John <john@example.com> wrote:",
    "Le 12/03/2025 à 10:15, Hugo a écrit :",
    "Den 3. mars 2025 skrev Ola:",
    "Sent from my iPhone",
    "ſent from my iPhone",
    "Envoyé de mon iPhone",
    "Von meinem iPhone gesendet",
    "Get Outlook for Android",
    "Télécharger Outlook pour Android",
    "Sent via ",
    "> quoted",
    " > quoted",
    "  > not quoted",
    ">From the start",
    "-- ",
    "--",
]


def _corpus_lines() -> list[str]:
    messages = json.loads((DATA / "french-enterprise" / "expected.json").read_text())["messages"]
    lines = [x for m in messages if m["text"] for x in m["text"].split("\n")]
    for path in sorted((DATA / "tricky").rglob("*")):
        if path.is_file() and path.name != "README.md":
            lines += path.read_bytes().decode("utf-8", "replace").split("\n")
    return lines


def _variants(line: str, rng: random.Random) -> list[str]:
    out = [line, line.upper(), line.lower(), line + ":", line + "  ", line + "\r"]
    for _ in range(3):
        pad = "".join(rng.choice(SPACES) for _ in range(rng.randint(1, 3)))
        out += [pad + line, line + pad]
    return out


def _texts() -> list[str]:
    rng = random.Random(7)
    lines = _corpus_lines()
    tricky = [v for line in TRICKY_LINES for v in _variants(line, rng)]
    pool = lines + tricky * 20
    texts = ["\n".join(rng.choice(pool) for _ in range(rng.randint(1, 40))) for _ in range(3000)]
    return [*texts, "\n".join(tricky), "\n".join(lines)]


def _is_block(line: str) -> bool:
    s = line.strip()
    return bool(
        (s[-1:] in ("-", ":") and R.FORWARD_MARKER_RE.match(s))
        or (s[:1] == "-" and R.ORIGINAL_MESSAGE_RE.match(s))
        or (s[:1] == "_" and R.UNDERSCORE_RULE_RE.match(s))
        or R.header_field(s) == "from"
    )


def test_index_is_a_superset_of_the_exact_tests() -> None:
    tricky = LineIndex("\n".join(TRICKY_LINES), TRICKY_LINES)
    assert tricky.mobile and tricky.openers and tricky.blocks and tricky.quote_runs
    assert tricky.dashes
    for text in _texts():
        lines = text.split("\n")
        index = LineIndex(text, lines)
        assert list(index.blank) == [R.is_blank(x) for x in lines]
        assert index.gt == [R.is_gt(x) for x in lines]
        runs = [i for start, stop in index.quote_runs for i in range(start, stop)]
        assert runs == [i for i, x in enumerate(lines) if R.is_gt(x)]
        mobile, openers, blocks = set(index.mobile), set(index.openers), set(index.blocks)
        for i, line in enumerate(lines):
            if line[:1] in R.MOBILE_INITIALS and R.is_mobile_signature(line):
                assert i in mobile, line
            if R.opens_attribution(line):
                assert i in openers, line
            if line.strip() and _is_block(line):
                assert i in blocks, line
            if line.rstrip() == "--":
                assert i in index.dashes, line


def _alternatives(group: str) -> list[str]:
    """The top-level alternatives of a "(?:a|b|c)" pattern (no escapes, no '|' in classes)."""
    out, depth, current = [], 0, ""
    for char in group.removeprefix("(?:").removesuffix(")"):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            out.append(current)
            current = ""
        else:
            current += char
    return [*out, current]


def _covers(samples: list[str], group: str) -> bool:
    """Every alternative of `group` matches one of the samples (case ignored)."""
    return all(
        any(re.match(f"(?i:{alt})", sample) for sample in samples) for alt in _alternatives(group)
    )


MOBILE_SAMPLES = [
    "Envoyé de mon iPhone", "Envoye à partir d'Outlook", "Sent from my", "Sent via ",
    "Get Outlook for", "Télécharger Outlook", "Telecharger Outlook", "Obtenir Outlook pour",
    "Von meinem X gesendet", "Gesendet von Mail", "Holen Sie sich Outlook",
]  # fmt: skip
INTRO_SAMPLES = [
    "Début du message réexpédié", "Debut du message reexpedie", "Begin forwarded message",
    "Anfang der weitergeleiteten Nachricht", "Inicio del mensaje reenviado",
]  # fmt: skip
FIELD_SAMPLES = ["De :", "From:", "Von:", "*From:"]


def test_guards_cover_every_character_that_matches() -> None:
    """The quick tests in front of the patterns accept every character the patterns accept,
    case ignored where they ignore it: the first two characters of every alternative."""
    assert _covers(MOBILE_SAMPLES, R.MOBILE_SIGNATURE)
    assert _covers(INTRO_SAMPLES, R.FORWARD_INTRO)
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    samples = MOBILE_SAMPLES + INTRO_SAMPLES + FIELD_SAMPLES
    equivalents = {
        c: set(re.findall(f"(?i:{re.escape(c)})", every))
        for c in {s[i] for s in samples for i in (0, 1)}
    }
    exact = [*R.ATTRIBUTION_OPENERS, "--", "__"]  # matched with case
    checks = [
        (_MOBILE, MOBILE_SAMPLES, True), (_INTRO, INTRO_SAMPLES, True),
        (_FIELD, FIELD_SAMPLES, True), (_STRIPPED, INTRO_SAMPLES + FIELD_SAMPLES, True),
        (_STRIPPED, exact, False),
    ]  # fmt: skip
    for guard, words, ignore_case in checks:
        for word in words:
            first, second = ({c} for c in word[:2])
            if ignore_case:
                first, second = equivalents[word[0]], equivalents[word[1]]
            if guard == _MOBILE:  # split_body only tests lines that start with these
                first &= set(R.MOBILE_INITIALS)
            assert all(re.match(guard, a + b) for a in first for b in second), (guard, word)


def test_space_is_what_strip_removes() -> None:
    space = re.compile(_SPACE)
    assert [c for c in map(chr, range(sys.maxunicode + 1)) if space.match(c)] == SPACES


NAMES = [
    "Jane Doe", "Paul DURAND", "Anne de la Tour", "de la Tour Anne", "Jean-Pierre O'Neil",
    "Élodie Martin", "Jane Doe | Senior Engineer", "Jane Doe – Data team", "Jane·Doe", "Jane|Doe",
    "Jane Doe|Acme", "van Dijk Jan", "  Jane   Doe  ", "Jane d'Arc", "J. R. R. Tolkien",
]  # fmt: skip


def test_quick_name_test_accepts_every_name() -> None:
    """may_start_name is false only for lines that do not start with a name."""
    rng = random.Random(3)
    lines = _corpus_lines() + NAMES + [" ".join(rng.sample(NAMES, 2)) for _ in range(200)]
    checked = 0
    for line in lines:
        stripped = line.strip()
        if stripped and R.is_name_like(R.name_part(stripped)):
            checked += 1
            assert R.may_start_name(stripped), line
    assert checked > 50
