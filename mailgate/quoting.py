"""Split a decoded plain-text mail body into zones: own text, quotes, signature, disclaimer...

The ingest pipeline calls :func:`split_body` once on every message's decoded text part; search,
people profiles and digests then use :attr:`Split.own_text` (the author's new text) so that quoted
history, signatures, legal disclaimers and list footers never make a search hit or an expertise
keyword. The function is pure (no I/O), linear in the size of the body and not recursive; the
patterns and one-line tests live in :mod:`mailgate.quoting_rules`. It runs on every imported
message, so the passes below only test the few candidate lines that
:mod:`mailgate.quoting_index` finds with whole-text patterns, not every line; pass 5 lives in
:mod:`mailgate.quoting_tail`.

Zones are half-open line ranges over ``text.split("\\n")``; blank lines between zones belong to
no zone. The passes, in order:

1. a mailing-list footer ending the body;
2. the first unmarked history block (Outlook/Exchange/Notes header block, "Original Message"
   separator, inline-forward marker, or an attribution line above text without '>'):
   everything below it is quote (or forwarded text);
3. '>' blocks above it and their attribution lines ('>' lines used as section markers and
   mboxrd-escaped "From " lines stay own text);
4. the legal disclaimer a mail transport appended at the very end;
5. in the last own block: disclaimers, mobile signatures, "-- " signatures and signatures
   without delimiter (a block of short lines opened by the author's name); finally mobile
   signature lines anywhere.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from mailgate import quoting_rules as R
from mailgate.quoting_tail import TailScan

ZONE_KINDS = ("own", "signature", "disclaimer", "attribution", "quote",
              "fwd-header", "forwarded", "footer")  # fmt: skip

_HISTORY_GROUPS = frozenset({"sent", "to", "subject"})


@dataclass(frozen=True, slots=True)
class Zone:
    kind: str  # one of ZONE_KINDS
    start: int  # first line index (0-based, over text.split("\n"))
    end: int  # one past the last line (half-open [start, end))


@dataclass(frozen=True, slots=True)
class Split:
    lines: tuple[str, ...]  # text.split("\n")
    zones: tuple[Zone, ...]  # ordered by start; blank separator lines belong to no zone

    @property
    def own_text(self) -> str:
        """The author's own lines (own zones joined with a newline), outer blank lines removed."""
        return self.text_of("own")

    def text_of(self, *kinds: str) -> str:
        """Lines of the zones of the given kinds, in order, outer blank lines removed."""
        parts = ["\n".join(self.lines[z.start : z.end]) for z in self.zones if z.kind in kinds]
        return "\n".join(parts).strip("\n")


def split_body(text: str, *, author_name: str = "", author_address: str = "") -> Split:
    """Split a decoded text/plain body into zones (see the module docstring).

    ``author_name`` / ``author_address`` (the message's From) help to find a signature that
    starts with the author's name.
    """
    lines = text.split("\n")
    scan = _Scan(text, lines, (author_name, author_address))
    end = scan.mark_footer()
    history = scan.mark_history(end)
    scan.mark_gt_blocks(history)
    scan.mark_trailing_disclaimer(end)
    scan.mark_tail()
    scan.mark_mobile_lines()
    return Split(tuple(lines), scan.zones())


class _Scan(TailScan):
    """Passes 1 to 4 and the zones (pass 5 and the per-line kinds: quoting_tail).

    Line loops run over the few candidate lines of the index (see quoting_index), not over
    every line: a long patch without quotes costs a few whole-text scans.
    """

    __slots__ = ()

    # -- 1. list footer

    def mark_footer(self) -> int:
        """Mark a Mailman-style footer paragraph ending the body; return where content ends."""
        last = self.prev_filled(self.n - 1)
        start = self.paragraph_start(last, max(last - R.MAX_FOOTER_LINES - 1, 0))
        if last - start > R.MAX_FOOTER_LINES or last <= start:
            return self.n
        rule = self.lines[start].strip()
        if rule[:1] != "_" or not R.UNDERSCORE_RULE_RE.match(rule):
            return self.n
        body = self.lines[start + 1 : last + 1]
        if R.header_field(body[0]) is not None:
            return self.n  # an Outlook rule above a "From:" block, not a footer
        if not any(R.FOOTER_HINT_RE.search(x) for x in body):
            return self.n
        self.fill("footer", start, self.n)
        return start

    # -- 2. unmarked history (top-posting): everything below is quote or forwarded text

    def mark_history(self, end: int) -> int:
        """Find and mark the first unmarked history block; return its first line (or end).

        Only the candidate lines can open one; there is own text above a line ("own_above")
        when a line before it is neither blank nor quoted.
        """
        if not self.openers and (not self.blocks or self.blocks[0] >= end):
            return end  # (a list footer's rule is a candidate: it is past the end)
        candidates = self.history_candidates()
        if not candidates or candidates[0] >= end:
            return end
        first_own = self.next_unquoted(0, end)
        for i in candidates:
            if i >= end:
                break
            if not (self.blank[i] or self.gt[i]) and self._history_at(i, end, i > first_own):
                return i
        return end

    def _history_at(self, i: int, end: int, own_above: bool) -> bool:
        s = self.lines[i].strip()
        if s[-1] in "-:" and R.FORWARD_MARKER_RE.match(s):
            return self._mark_block(i, i + 1, end, forward=True)
        if s[0] == "-" and R.ORIGINAL_MESSAGE_RE.match(s):
            return self._mark_block(i, i + 1, end, forward=self._announces_forward())
        if s[0] == "_" and R.UNDERSCORE_RULE_RE.match(s):
            j = self.next_filled(i + 1, end)
            if j < end and self._header_stop(j, end):
                return self._mark_block(i, j, end, forward=self._announces_forward())
            return False
        if R.header_field(s) == "from" and self._header_stop(i, end):
            return self._mark_block(i, i, end, forward=self._announces_forward())
        return own_above and self._mark_unmarked_attribution(i, end)

    def _mark_block(self, start: int, fields: int, end: int, forward: bool) -> bool:
        """Mark start up to the end of the header fields as attribution, the rest as quote."""
        j = self.next_filled(fields, end)
        stop = max(self._field_run(j, end)[0], fields) if j < end else fields
        self.fill("fwd-header" if forward else "attribution", start, stop)
        self.fill("forwarded" if forward else "quote", stop, end)
        return True

    def _field_run(self, i: int, end: int) -> tuple[int, set[str], int]:
        """End, field groups and field count of the header lines starting at i."""
        groups: set[str] = set()
        count, stop = 0, i
        for j in range(i, min(end, i + R.MAX_HEADER_SCAN_LINES)):
            group = R.header_field(self.lines[j])
            if group is None:
                if self.blank[j] or j + 1 >= end or R.header_field(self.lines[j + 1]) is None:
                    break
                continue  # a wrapped To:/Cc: line, more fields follow
            groups.add(group)
            count, stop = count + 1, j + 1
        return stop, groups, count

    def _header_stop(self, i: int, end: int) -> int:
        """End of an Outlook/Notes header block (From + two of Sent, To, Subject), or 0."""
        stop, groups, count = self._field_run(i, end)
        if count < R.MIN_HEADER_FIELDS or "from" not in groups:
            return 0
        return stop if len(groups & _HISTORY_GROUPS) >= 2 else 0

    def _announces_forward(self) -> bool:
        """'Pour information.', 'FYI' in the first lines: the block below is forwarded."""
        filled = (x for x, blank in zip(self.lines, self.blank, strict=True) if not blank)
        head = itertools.islice(filled, R.MAX_FYI_LINES)
        return any(R.FYI_RE.search(x[: R.FYI_SCAN_CHARS]) for x in head)

    def _mark_unmarked_attribution(self, i: int, end: int) -> bool:
        """'Le ..., X a écrit :' below own text and above text without '>'."""
        if not R.opens_dated_attribution(self.lines[i]):
            return False
        stop = self._attribution_stop(i, end)
        j = self.next_filled(stop, end) if stop else end
        if j >= end or self.gt[j]:
            return False
        self.fill("attribution", i, stop)
        self.fill("quote", stop, end)
        return True

    # -- 3. '>' blocks and their attribution lines

    def _attribution_stop(self, i: int, end: int) -> int:
        """End of the (possibly wrapped) attribution starting at line i, or 0."""
        line = self.lines[i]
        if R.is_attribution_end(line):
            if R.opens_dated_attribution(line) or self.gt_follows(i + 1, end):
                return i + 1
            return 0
        if R.is_loose_attribution(line) and self.gt_follows(i + 1, end):
            return i + 1  # "* John <john@example.com> [2025-03-03 10:15]:" above '>' lines
        if i + 1 < end and R.opens_dated_attribution(line) and not self.gt[i + 1]:
            joined = f"{line.rstrip()} {self.lines[i + 1].strip()}"
            if R.is_attribution_end(joined):
                return i + 2  # "Le mar. 4 mars 2025 à 09:12, X <" / "x@y> a écrit :"
        return 0

    def _mark_attributions(self, end: int) -> int:
        """Mark unquoted attribution lines above end; return the first one's index (or end)."""
        first, after = end, 0
        for i in self.attribution_candidates():
            if i >= end:
                break
            if i < after or self.gt[i] or self.blank[i]:
                continue  # inside the attribution found above
            line = self.lines[i]
            if line.rstrip()[-1] == ":" or R.opens_attribution(line):
                stop = self._attribution_stop(i, end)
                if stop:
                    self.fill("attribution", i, stop)
                    first, after = min(first, i), stop
        return first

    def _gt_runs(self, end: int) -> list[tuple[int, int]]:
        """Maximal runs of '>' lines above end, skipping mboxrd-escaped "From " runs."""
        runs: list[tuple[int, int]] = []
        for start, stop in self.quote_runs:
            if start >= end:
                break
            stop = min(stop, end)
            mboxrd = R.is_mboxrd_from(self.lines[start])  # most runs: no, look no further
            if not mboxrd or not all(R.is_mboxrd_from(x) for x in self.lines[start:stop]):
                runs.append((start, stop))
        return runs

    def _gt_headings(self, runs: list[tuple[int, int]], end: int) -> bool:
        """True when every '>' run reads as a section marker directly followed by its text."""
        for start, stop in runs:
            if stop - start > R.MAX_GT_HEADING_LINES or stop >= end or self.blank[stop]:
                return False
            if not all(R.is_gt_heading(x) for x in self.lines[start:stop]):
                return False
        return len(runs) >= R.MIN_GT_HEADINGS

    def mark_gt_blocks(self, end: int) -> None:
        """Mark '>' blocks above end as quotes, with attribution lines; keep own '>' lines."""
        if not (self.quote_runs or self.openers):
            return
        first_attribution = self._mark_attributions(end)
        runs = self._gt_runs(end)
        if first_attribution >= end and self._gt_headings(runs, end):
            return  # '>' used as section markers in the author's own text
        for start, stop in runs:
            self.fill("quote", start, stop)
            inner = R.strip_gt(self.lines[start])
            if start < first_attribution and R.is_dated_attribution(inner):
                self.fill("attribution", start, start + 1)  # iPhone: it is inside the quote
        for (_, a_stop), (b_start, _) in itertools.pairwise(runs):
            if b_start == a_stop + 1 and self._lost_its_marker(a_stop):
                self.fill("quote", a_stop, a_stop + 1)

    def _lost_its_marker(self, i: int) -> bool:
        """A line between two '>' lines that continues the long quoted line above it."""
        line = self.lines[i].lstrip()
        above = self.lines[i - 1]
        return line[:1].islower() and len(above) >= R.MIN_WRAPPED_QUOTE_CHARS

    # -- 4. the legal disclaimer appended at the very end (also after the quoted history)

    def mark_trailing_disclaimer(self, end: int) -> None:
        last = self.prev_filled(end - 1)
        first = self.paragraph_start(last) if last >= 0 else 0
        if first == 0 or self.kinds[first] not in (None, "quote", "forwarded"):
            return
        if any(self.gt[first : last + 1]) or not R.is_disclaimer(self.lines[first]):
            return
        if self.kinds[first] is None or not self._own_disclaimer():
            self.fill("disclaimer", first, last + 1)

    def _own_disclaimer(self) -> bool:
        """A disclaimer paragraph in the own text: then one at the end is a quoted one."""
        for i in range(self.n):
            starts_paragraph = not self.blank[i] and (i == 0 or self.blank[i - 1])
            if starts_paragraph and self.kinds[i] is None and R.is_disclaimer(self.lines[i]):
                return True
        return False

    # -- zones

    def zones(self) -> tuple[Zone, ...]:
        """Group non-blank lines by kind; blank lines inside one kind join it.

        Works on the ranges between the ends of the filled ranges (one kind each): a range of
        blank lines only is skipped, so the ranges on either side of it join when they are of
        the same kind.
        """
        out: list[list] = []  # [kind, start, end]
        blank, kinds = self.blank, self.kinds
        points = sorted({0, self.n, *itertools.chain.from_iterable(self.filled)})
        for start, stop in itertools.pairwise(points):
            first = self.next_filled(start, stop) if blank[start] else start
            if first < stop:
                end = self.prev_filled(stop - 1, first) + 1 if blank[stop - 1] else stop
                kind = kinds[start] or "own"
                if out and out[-1][0] == kind:
                    out[-1][2] = end
                else:
                    out.append([kind, first, end])
        return tuple([Zone(kind, start, end) for kind, start, end in out])
