"""Preparing benchmark: messages/s of each step of `prepare` on the openwrt-devel archive.

Usage: python bench/parsing.py [--archive PATH] [--runs N]

The archive is read into memory once; each step is then timed over every message `--runs`
times with `time.process_time` (CPU time of this process, less sensitive to other load on the
machine) and the median run is printed with the spread and the cost per message. The steps
are those of `mailgate.prepared.prepare`, the work the import's worker processes do for each
message: parsing, splitting own text from quotes, the language guess, the search terms, the
topic terms and the compression of the raw bytes; then `prepare` as a whole, alone and in one
process per core at once (how much the machine's cores slow each other down).
`email.message_from_bytes` alone is timed too: it is the part of `parse_message` that mailgate
does not own.
"""

from __future__ import annotations

import argparse
import contextlib
import email
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate import analysis, search_index
from mailgate.ingest.mbox import read_archive
from mailgate.parse import ParseError, parse_message
from mailgate.people import terms as topic_terms
from mailgate.prepared import ListContext, prepare
from mailgate.quoting import split_body
from mailgate.store import compress

ARCHIVE = Path("shared", "corpus", "openwrt-devel", "openwrt-devel-2019-2020.mbox.gz")
# The first directory above the checkout that holds the shared corpus.
DEFAULT_ARCHIVE = next(
    (d / ARCHIVE for d in Path(__file__).resolve().parents if (d / ARCHIVE).exists()), ARCHIVE
)
ARRIVAL = datetime(2026, 1, 1)
DEFAULT_RUNS = 7
CONTEXT = ListContext(
    name="bench", list_id=1, language="en", timezone="UTC", list_addresses=frozenset()
)


def _timed(label: str, count: int, step: Callable[[], None], runs: int) -> float:
    """Time `step` `runs` times; print and return the median CPU seconds."""
    seconds = []
    for _ in range(runs):
        start = time.process_time()
        step()
        seconds.append(time.process_time() - start)
    median = statistics.median(seconds)
    print(
        f"{label}: {count / median:,.0f} msg/s, {median / count * 1e6:,.0f} µs/msg (median of "
        f"{runs} runs: {median:.3f} s; min {min(seconds):.3f} s, max {max(seconds):.3f} s)"
    )
    return median


_kept: list[bytes] = []  # the messages, in each process of the parallel test


def _keep(raws: list[bytes]) -> None:
    _kept[:] = raws


def _prepare_all(raws: list[bytes] | None = None) -> float:
    """CPU seconds to prepare every message once (`raws`, or those kept by `_keep`)."""
    start = time.process_time()
    for raw in _kept if raws is None else raws:
        prepare(raw, CONTEXT, ARRIVAL)
    return time.process_time() - start


def _parallel(raws: list[bytes], alone: float) -> None:
    """`prepare` in one process per core at once, against the same work alone."""
    cores = os.cpu_count() or 1
    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with context.Pool(cores, initializer=_keep, initargs=(raws,)) as pool:
        seconds = pool.map(_prepare_all, [None] * cores, chunksize=1)
    each = statistics.mean(seconds)
    print(
        f"prepare, {cores} processes at once: {len(raws) / each:,.0f} msg/s each, "
        f"{each / len(raws) * 1e6:,.0f} µs/msg ({each / alone:.2f}x the CPU time alone)"
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
    splits = [
        split_body(p.text, author_name=p.from_name, author_address=p.from_addr) for p in parsed
    ]
    own = [
        (p, s.own_text, analysis.guess_language(s.own_text, "en"))
        for p, s in zip(parsed, splits, strict=True)
    ]

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

    def language_all() -> None:
        for s in splits:
            analysis.guess_language(s.own_text, "en")

    def search_all() -> None:
        for p, text, language in own:
            search_index.terms(
                subject=p.subject,
                from_name=p.from_name,
                from_addr=p.from_addr,
                recipients=(*p.to, *p.cc),
                filenames=[a.filename for a in p.attachments],
                own_text=text,
                language=language,
            )

    def topics_all() -> None:
        for p, text, language in own:
            topic_terms.message_terms(topic_terms.authored_text(p, text), language)

    def compress_all() -> None:
        for raw in raws:
            compress(raw)

    _timed("split_body", len(parsed), split_all, args.runs)
    _timed("parse_message", len(raws), parse_all, args.runs)
    _timed("email.message_from_bytes alone", len(raws), stdlib_all, args.runs)
    _timed("language guess", len(parsed), language_all, args.runs)
    _timed("search terms", len(parsed), search_all, args.runs)
    _timed("topic terms", len(parsed), topics_all, args.runs)
    _timed("compression", len(raws), compress_all, args.runs)
    alone = _timed("prepare, whole", len(raws), lambda: _prepare_all(raws), args.runs)
    _parallel(raws, alone)


if __name__ == "__main__":
    main()
