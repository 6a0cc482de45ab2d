"""The mbox reader: the same messages whatever the size of the blocks it reads."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

from mailgate.ingest import mbox

DATA = Path(__file__).parent / "data"


def _messages(path: Path) -> list[tuple[bytes, object]]:
    return [(m.raw, m.arrival) for m in mbox.read_mbox(path)]


def test_block_boundaries_do_not_change_the_messages(tmp_path, monkeypatch) -> None:
    rng = random.Random(5)
    entries = []
    for i in range(60):
        lines = [
            rng.choice(["", "x", ">From here", ">>From there", "\r", "texte é"]) for _ in range(8)
        ]
        body = "\n".join(lines).encode()
        entries.append(
            b"From a@b Mon Dec  7 10:00:%02d 2026\nSubject: %d\n\n%s\n" % (i % 60, i, body)
        )
    path = tmp_path / "random.mbox"
    path.write_bytes(b"\n".join(entries) + b"\n")
    whole = _messages(path)
    for block in (8, 13, 64, 1000):
        monkeypatch.setattr(mbox, "READ_BLOCK", block)
        assert _messages(path) == whole, block
    assert len(whole) == sum(1 for raw, _ in whole if raw.startswith(b"Subject: "))
    sample = tmp_path / "openwrt.mbox"
    sample.write_bytes(gzip.decompress((DATA / "openwrt-sample.mbox.gz").read_bytes()))
    monkeypatch.setattr(mbox, "READ_BLOCK", 1 << 20)
    big = _messages(sample)
    monkeypatch.setattr(mbox, "READ_BLOCK", 999)
    assert _messages(sample) == big and len(big) == 169
