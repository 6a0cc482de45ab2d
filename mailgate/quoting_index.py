"""The lines of a mail body, and where the few lines worth a closer look are.

:func:`mailgate.quoting.split_body` must know which lines are blank or '>'-quoted, and where an
attribution, a history block or a mobile signature could start. Testing each line from Python
costs about a microsecond; a git patch has thousands of lines and none of those. One pattern
scans the whole text at C speed for them. It finds a superset: every line it returns is then
checked by the exact one-line tests of :mod:`mailgate.quoting_rules`, so a line found here that
is not what it looks like changes nothing, and a line it misses could not have passed them.
:class:`LineIndex` holds the result and the navigation helpers; ``quoting._Scan`` extends it.
"""

from __future__ import annotations

import re

from mailgate import quoting_rules as R

_OPENERS = "|".join(map(re.escape, R.ATTRIBUTION_OPENERS))
# White space but "\n": what str.isspace and str.strip accept, spelled out (faster than [^\S\n]).
_SPACE = "[\t\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# Quick tests that reject most lines before the slower alternatives that ignore case. They are
# spelled out with every character that matches when case is ignored ('İ' and 'ı' match 'i');
# tests/test_quoting_index.py checks them.
# How what follows the leading white space starts: "*From", "--", "__", an opener ("On", "Le",
# "Am", "El", "Il", "Op", "De(n)"), a field ("De", "Fr(om)", "Vo(n)"), an intro (below).
_STRIPPED = r"\*[DdFfVv]|[-_DdFfVvOLAEIBbaiİı][-_nmlpeErRoOÉéNn]"
_MOBILE = f"[{R.MOBILE_INITIALS}][NnEeÉéBbOo]"  # "En(voyé)", "Se(nt)", "Ob(tenir)"...
_FIELD = r"\*[DdFfVv]|[DdFfVv][EeRrOo]"  # "*D(e)", "De", "Fr(om)", "Vo(n)"
_INTRO = "[DdBbAaIiİı][ÉéEeNn]"  # "Dé(but)", "Be(gin)", "An(fang)", "In(icio)"
# Searched in "\n" + text, so that every line starts right after a "\n". The alternatives
# exclude each other (they need different first characters).
LINE_START_RE = re.compile(
    r"\n(?:"
    # a run of '>' lines: the same test as quoting_rules.is_gt ("*+": nothing to try again)
    r"(?P<quote> ?>[^\n]*+(?:\n ?>[^\n]*+)*+)|"
    # a line that may be a mobile signature (quoting_rules.is_mobile_signature)
    rf"(?P<mobile>(?={_MOBILE})(?i:{R.MOBILE_SIGNATURE}))|"
    # the other tests strip the line first; after leading white space:
    rf"{_SPACE}*+(?={_STRIPPED})(?:"
    # a line that starts like an attribution (quoting_rules.opens_attribution)
    rf"(?P<opener>{_OPENERS})|"
    # a "-- " signature delimiter (the signature pass wants it without the white space)
    r"(?P<dash>--[^\S\n]*(?=\n|\Z))|"
    # a "-----Original Message-----" or "---- Forwarded message ----" separator, a "_____"
    # rule, a "From:" / "De :" field, "Begin forwarded message:"
    r"(?P<block>--[^\n]*--[^\S\n]*(?=\n|\Z)|_{20}|"
    rf"(?={_FIELD})\*?(?i:de|from|von)\*?[^\S\n]*:|(?={_INTRO})(?i:{R.FORWARD_INTRO})))"
    r")"
)


class LineIndex:
    """Per line: blank, quoted with '>' (quoting_rules.is_gt); the candidate lines in order."""

    __slots__ = (
        "blank", "blocks", "dashes", "gt", "lines", "mobile", "n", "openers", "quote_runs",
    )  # fmt: skip

    def __init__(self, text: str, lines: list[str]) -> None:
        """`lines` is ``text.split("\\n")``."""
        self.lines = lines
        self.n = len(lines)
        # 1 for a blank line: bytes, so that walks over lines are searches in C (find, rfind)
        self.blank = bytes([not x or x.isspace() for x in lines])
        self.gt = [False] * self.n
        self.quote_runs: list[tuple[int, int]] = []  # maximal runs of '>' lines
        self.mobile: list[int] = []  # may be a "Sent from my iPhone" signature
        self.openers: list[int] = []  # start like an attribution ("On ", "Le "...)
        self.blocks: list[int] = []  # may open a history block (separator, rule, field...)
        self.dashes: list[int] = []  # may be a "-- " signature delimiter
        self._scan(text)

    def _scan(self, text: str) -> None:
        body = "\n" + text
        line, last = 0, 0  # line: the number of "\n" in body[:last]
        for match in LINE_START_RE.finditer(body):
            line += body.count("\n", last, match.start())
            last = match.start()
            kind = match.lastgroup
            if kind == "quote":
                stop = line + body.count("\n", last, match.end())
                self.gt[line:stop] = [True] * (stop - line)
                self.quote_runs.append((line, stop))
                line, last = stop, match.end()
            elif kind == "block":
                self.blocks.append(line)
            elif kind == "opener":
                self.openers.append(line)
            elif kind == "dash":
                self.dashes.append(line)
            else:
                self.mobile.append(line)

    def next_filled(self, i: int, end: int) -> int:
        """Index of the first non-blank line in [i, end), or end (i when i >= end)."""
        if i >= end or not self.blank[i]:
            return i
        found = self.blank.find(0, i, end)
        return end if found < 0 else found

    def prev_filled(self, i: int, start: int = 0) -> int:
        """Index of the last non-blank line in [start, i], or start - 1 (i when i < start)."""
        if i < start or not self.blank[i]:
            return i
        found = self.blank.rfind(0, start, i + 1)
        return start - 1 if found < 0 else found

    def paragraph_start(self, last: int, first: int = 0) -> int:
        """First line of the paragraph ending at line `last`, or `first` if it starts above
        (`last` when last <= first)."""
        if last <= first:
            return last
        return self.blank.rfind(1, first, last) + 1 or first

    def next_unquoted(self, i: int, end: int) -> int:
        """Index of the first line in [i, end) neither blank nor quoted, or end."""
        while i < end and (self.blank[i] or self.gt[i]):
            i += 1
        return i

    def gt_follows(self, i: int, end: int) -> bool:
        j = self.next_filled(i, end)
        return j < end and self.gt[j]

    def colon_end(self, i: int) -> bool:
        return i < self.n and self.lines[i].rstrip()[-1:] == ":"

    # -- candidates: supersets of the lines the exact tests of quoting._Scan can accept

    def opener_candidates(self) -> list[int]:
        """Lines that start like an attribution and end with ':' (or whose next line does)."""
        return [i for i in self.openers if self.colon_end(i) or self.colon_end(i + 1)]

    def history_candidates(self) -> list[int]:
        """Lines that may open a history block, in order: the separators, rules and fields,
        and dated attributions (see quoting._Scan._history_at)."""
        dated = (i for i in self.opener_candidates() if R.opens_dated_attribution(self.lines[i]))
        return sorted({*self.blocks, *dated})

    def attribution_candidates(self) -> list[int]:
        """Lines that may open an attribution, in order (see quoting._Scan._attribution_stop):
        lines that start like one and end with ':' (or whose next line does: "Le mar. 4 mars
        2025 à 09:12, X <"), and lines ending with ':' right above '>' lines."""
        found = set(self.opener_candidates())
        for start, _ in self.quote_runs:
            above = self.prev_filled(start - 1) if start and self.blank[start - 1] else start - 1
            if above >= 0 and not self.gt[above] and self.lines[above].rstrip()[-1:] == ":":
                found.add(above)
        return sorted(found)
