"""Parsing benchmark: messages/s of `parse_message` and `split_body` on the openwrt-devel archive.

Usage: python bench/parsing.py [--archive PATH] [--runs N]

The archive is read into memory once; each step is then timed over every message `--runs`
times with `time.process_time` (CPU time of this process, less sensitive to other load on the
machine) and the median run is printed with the spread. `email.message_from_bytes` alone is
timed too: it is the part of `parse_message` that mailgate does not own.
"""

from __future__ import annotations

import argparse
import contextlib
import email
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate.ingest.mbox import read_archive
from mailgate.parse import ParseError, parse_message
from mailgate.quoting import split_body

ARCHIVE = Path("shared", "corpus", "openwrt-devel", "openwrt-devel-2019-2020.mbox.gz")
# The first directory above the checkout that holds the shared corpus.
DEFAULT_ARCHIVE = next(
    (d / ARCHIVE for d in Path(__file__).resolve().parents if (d / ARCHIVE).exists()), ARCHIVE
)
ARRIVAL = datetime(2026, 1, 1)
DEFAULT_RUNS = 7


def _timed(label: str, count: int, step: Callable[[], None], runs: int) -> None:
    seconds = []
    for _ in range(runs):
        start = time.process_time()
        step()
        seconds.append(time.process_time() - start)
    median = statistics.median(seconds)
    print(
        f"{label}: {count / median:,.0f} msg/s (median of {runs} runs: {median:.3f} s; "
        f"min {min(seconds):.3f} s, max {max(seconds):.3f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    args = parser.parse_args()
    if not args.archive.exists():
        sys.exit(f"archive not found: {args.archive}")
    raws = [m.raw for m in read_archive(args.archive)]
    parsed = []
    for raw in raws:
        with contextlib.suppress(ParseError):
            parsed.append(parse_message(raw, arrival=ARRIVAL))
    print(f"{len(raws)} messages, {len(parsed)} parsed")

    def split_all() -> None:
        for p in parsed:
            split_body(p.text, author_name=p.from_name, author_address=p.from_addr)

    def parse_all() -> None:
        for raw in raws:
            with contextlib.suppress(ParseError):
                parse_message(raw, arrival=ARRIVAL)

    def stdlib_all() -> None:
        for raw in raws:
            email.message_from_bytes(raw)

    _timed("split_body", len(parsed), split_all, args.runs)
    _timed("parse_message", len(raws), parse_all, args.runs)
    _timed("email.message_from_bytes alone", len(raws), stdlib_all, args.runs)


if __name__ == "__main__":
    main()
