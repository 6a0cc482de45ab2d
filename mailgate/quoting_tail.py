"""The kind of every line of a mail body, and the passes over the end of the own text.

:class:`TailScan` extends :class:`mailgate.quoting_index.LineIndex` with one zone kind per
line (None for own text so far) and the last passes of :func:`mailgate.quoting.split_body`:
in the last block of own lines, disclaimers, mobile signatures ("Sent from my iPhone"), "-- "
signatures and signatures without delimiter (short lines opened by a name, the author's
ideally); then mobile signature lines anywhere in the own text. ``quoting._Scan`` extends it
with the passes before these.
"""

from __future__ import annotations

import bisect

from mailgate import quoting_rules as R
from mailgate.quoting_index import LineIndex


class TailScan(LineIndex):
    """Per-message state: one zone kind per line, None for (so far) own text."""

    __slots__ = ("_author", "filled", "from_", "kinds")

    def __init__(self, text: str, lines: list[str], from_: tuple[str, str]) -> None:
        """`lines` is ``text.split("\\n")``; `from_` the author's display name and address."""
        super().__init__(text, lines)
        self.kinds: list[str | None] = [None] * self.n
        self.filled: list[tuple[int, int]] = []  # every non-empty range given a kind
        self.from_ = from_  # (display name, address) of the author
        self._author: frozenset[str] | None = None

    @property
    def author(self) -> frozenset[str]:
        """Words of the author's name and address (computed when a signature needs them)."""
        if self._author is None:
            self._author = R.author_tokens(*self.from_)
        return self._author

    def fill(self, kind: str, start: int, end: int) -> None:
        if end > start:
            self.kinds[start:end] = [kind] * (end - start)
            self.filled.append((start, end))

    def mark_tail(self) -> None:
        """Find disclaimers and the signature at the end of the last block of own lines."""
        last = self._last_own_line()
        if last < 0:
            return
        first = self.next_filled(self._own_block_start(last), last + 1)
        end = self._strip_boilerplate(first, last + 1)
        sig = self._dash_signature(first, end)
        if sig < 0:
            sig = self._named_signature(first, end)
        if sig >= 0:
            self.fill("signature", sig, end)

    def _strip_boilerplate(self, first: int, end: int) -> int:
        """Mark disclaimer / mobile-signature paragraphs ending [first, end); return new end."""
        last = self.prev_filled(end - 1, first)
        while last >= first:
            start = self.paragraph_start(last, first)
            if R.is_disclaimer(self.lines[start]):
                self.fill("disclaimer", start, last + 1)
            elif last - start < 2 and R.is_mobile_signature(self.lines[start]):
                self.fill("signature", start, last + 1)
            else:
                return last + 1
            last = self.prev_filled(start - 1, first)
        return first

    def _last_own_line(self) -> int:
        """Index of the last line not blank and not marked, or -1."""
        i = self.n - 1
        while i >= 0 and (self.kinds[i] is not None or self.blank[i]):
            i -= 1
        return i

    def _own_block_start(self, last: int) -> int:
        """First line of the run of unmarked lines that ends at line `last` (unmarked)."""
        return max((end for _, end in self.filled if end <= last), default=0)

    def _dash_signature(self, first: int, end: int) -> int:
        """Index of the last "-- " delimiter in [first, end) with a short block below, or -1."""
        at = bisect.bisect_left(self.dashes, end) - 1
        while at >= 0 and self.dashes[at] >= first:
            i = self.dashes[at]
            if self.lines[i].rstrip() == "--":
                below = self.blank.count(0, i + 1, end)  # non-blank lines under it
                return i if below <= R.MAX_DASH_SIGNATURE_LINES else -1
            at -= 1
        return -1

    def _named_signature(self, first: int, end: int) -> int:
        """Start of a block of short lines opened by a name (the author's, ideally), or -1."""
        best, count, blank, lines = -1, 0, self.blank, self.lines
        for i in range(end - 1, first, -1):
            if blank[i]:
                continue
            count += 1
            if count > R.MAX_SIGNATURE_LINES:
                break
            line = lines[i].strip()
            if len(line) > R.MAX_SIGNATURE_LINE_CHARS and not R.is_disclaimer(line):
                break
            if R.may_start_name(line) and self._opens_signature(i, line, first, end):
                best = i
        return best

    def _opens_signature(self, i: int, line: str, first: int, end: int) -> bool:
        """Line i (`line`, stripped) opens a signature; may_start_name(line) is true."""
        if not self.blank[i - 1] and not R.is_closing(self.lines[i - 1]):
            return False  # a signature starts a paragraph or follows "Cordialement,"
        name = R.name_part(line)
        if not R.is_name_like(name):
            return False
        if R.is_author_name(name, self.author):
            return True
        if line[-1] in R.SENTENCE_END or R.is_closing(line):
            return False  # "Viele Grüße" is capitalised too
        below = [x.strip() for x in self.lines[i + 1 : end] if not R.is_blank(x)]
        if not below:
            return False
        if self._after_closing(i, first) or any(R.has_contact(x) for x in below):
            return True
        # name / job title / company: short plain lines, not all of them names (a list of people)
        return (
            len(below) <= R.MAX_BARE_SIGNATURE_LINES
            and all(len(x) <= R.MAX_NAME_CHARS and x[-1] not in R.SENTENCE_END for x in below)
            and not all(R.is_name_like(x) for x in below)
        )

    def _after_closing(self, i: int, first: int) -> bool:
        """Line i follows "Cordialement," (directly, or with blank lines between)."""
        if not self.blank[i - 1]:
            return True  # _opens_signature checked that the line above is a closing
        above = self.prev_filled(i - 1, first)
        return above >= first and R.is_closing(self.lines[above])

    def mark_mobile_lines(self) -> None:
        """'Sent from my iPhone' anywhere in the own text is a signature."""
        for i in self.mobile:
            line = self.lines[i]
            own = self.kinds[i] is None and line[:1] in R.MOBILE_INITIALS
            if own and R.is_mobile_signature(line):
                self.fill("signature", i, i + 1)
