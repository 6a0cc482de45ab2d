"""A part's charset, remembered per Content-Type value, is what the standard library reads
from that value, on every sample part and on random values (quotes, RFC 2231, junk)."""

from __future__ import annotations

import email
import random
from email.message import Message
from email.policy import compat32

from mailgate import mime, mimetree
from tests.test_mimetree import _samples


def test_every_sample_part_gives_the_standard_charset() -> None:
    parts = 0
    for raw in _samples():
        for tree in (mimetree.parse(raw), email.message_from_bytes(raw, policy=compat32)):
            for part in tree.walk() if tree is not None else ():
                for _ in range(2):  # computed, then remembered
                    assert mime.content_charset(part) == part.get_content_charset()
                parts += 1
    assert parts > 500


def test_random_content_types_give_the_standard_charset() -> None:
    rng = random.Random(5)
    pieces = [
        "text/plain", "; ", ";", " charset=", "charset=", "CHARSET=", '"', "utf-8", "UTF-8",
        "iso-8859-1", "us-ascii", "charset*=", "utf-8''", "%41", "'", " (comment)", "\\",
        "format=flowed", "name=x.txt", "\n\t", "é", "=", " ",
    ]  # fmt: skip
    for _ in range(20_000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        part = Message()
        part["Content-Type"] = value
        for _ in range(2):
            assert mime.content_charset(part) == part.get_content_charset(), value
    part = Message()
    assert mime.content_charset(part) is None  # no Content-Type at all
