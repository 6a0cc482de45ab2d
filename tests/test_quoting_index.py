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
from mailgate.quoting_index import _FIRST, LineIndex

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
    for text in _texts():
        lines = text.split("\n")
        index = LineIndex(text, lines)
        assert index.blank == [R.is_blank(x) for x in lines]
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


def test_first_character_guard_covers_every_code_point() -> None:
    """Every character that can start an opener, a separator, a rule, a From field or a
    forward marker (case ignored where the patterns ignore it) passes the guard."""
    exact = "".join(o[0] for o in R.ATTRIBUTION_OPENERS) + "-_*"
    intros = R.FORWARD_INTRO.removeprefix("(?:").removesuffix(")").split("|")
    words = ("de", "from", "von", *intros)
    first = re.compile(f"[{re.escape(exact)}]|(?i:[{''.join(w[0] for w in words)}])")
    guard = re.compile(_FIRST)
    for code in range(sys.maxunicode + 1):
        if first.match(chr(code)):
            assert guard.match(chr(code)), hex(code)
