"""The fast structure parse builds exactly the standard library's tree, or declines."""

from __future__ import annotations

import email
import gzip
import mailbox
from email.message import Message
from pathlib import Path

import pytest

from mailgate import mimetree

DATA = Path(__file__).parent / "data"


def _shape(msg: Message) -> list:
    """Everything the archive reads from a tree, part by part (breadth first)."""
    shape, queue = [], [msg]
    while queue:
        part = queue.pop(0)
        shape.append(
            (
                part.get_unixfrom(),
                list(part.raw_items()),
                [type(d).__name__ for d in part.defects],
                part.preamble,
                part.epilogue,
                part.get_default_type(),
            )
        )
        if part.is_multipart():
            queue.extend(part.get_payload())
        else:
            shape.append(part.get_payload())
    return shape


def _samples() -> list[bytes]:
    raws = [
        path.read_bytes()
        for path in sorted(DATA.rglob("*"))
        if path.is_file() and path.suffix not in (".md", ".json", ".gz", ".mbox")
    ]
    for path in sorted(DATA.rglob("*.mbox")):
        raws += [m.as_bytes() for m in mailbox.mbox(path)]
    with gzip.open(DATA / "openwrt-sample.mbox.gz", "rb") as archive:
        chunks = archive.read().split(b"\nFrom ")
    raws += [chunk.split(b"\n", 1)[1] for chunk in chunks if b"\n" in chunk]
    return raws


def test_same_tree_as_the_standard_parser_on_every_sample() -> None:
    raws = _samples()
    fast = 0
    for raw in raws:
        tree = mimetree.parse(raw)
        if tree is not None:
            fast += 1
            assert _shape(tree) == _shape(email.message_from_bytes(raw))
    assert len(raws) > 100
    assert fast > len(raws) * 0.8  # most mail takes the fast path


def test_header_lookups_answer_as_the_standard_message() -> None:
    """Header blocks with many fields are looked up through an index; every name, in any
    case, gives what the standard `Message.get` gives, also after the fields change."""
    raw = b"".join(b"X-F%d: value %d\n" % (i % 7, i) for i in range(20))
    raw += b"Subject: s\nsubject: second\nContent-Type: text/plain; charset=latin-1\n\nbody\n"
    tree, standard = mimetree.parse(raw), email.message_from_bytes(raw)
    assert tree is not None and len(tree.keys()) >= mimetree.INDEXED_FIELDS
    names = {*standard.keys(), "SUBJECT", "x-f3", "absent"}

    def same() -> None:
        for name in names:
            assert tree.get(name, "-") == standard.get(name, "-"), name
            assert tree[name] == standard[name], name
            assert tree.get_all(name) == standard.get_all(name), name
        assert tree.get_content_charset() == standard.get_content_charset()

    same()
    for msg in (tree, standard):
        msg.replace_header("subject", "replaced")
    same()
    for msg in (tree, standard):
        del msg["x-f3"]
        msg["X-F3"] = "added"
        msg.set_param("charset", "utf-8")
        msg.add_header("X-Extra", "one")
    same()
    for raw in _samples()[:200]:
        tree, standard = mimetree.parse(raw), email.message_from_bytes(raw)
        if tree is not None:
            for name in {*standard.keys(), "content-type", "absent"}:
                assert tree.get(name) == standard.get(name)


NESTED = (
    b"From: a@x\r\nSubject: nested\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"
    b"preamble line\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
    b"--inner\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
    b"--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--inner--\r\n"
    b"inner epilogue\r\n--outer\r\n\r\nno headers here\r\n--outer--  \r\nepilogue\r\n"
)


@pytest.mark.parametrize(
    "raw",
    [
        NESTED,
        NESTED.replace(b"\r\n", b"\n"),
        b"Subject: x\n\nbody without final newline",
        b"Subject: folded\n value\n\tmore\nX-Empty:\n\n\nbody starts with a blank line\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nonly\n--b--",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n--b--\n\n\n",
    ],
)
def test_same_tree_on_structures(raw: bytes) -> None:
    tree = mimetree.parse(raw)
    assert tree is not None
    assert _shape(tree) == _shape(email.message_from_bytes(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: bare\rCR\n\nbody\n",  # bare CR line ends
        b"Subject: x\nnot a header line\n\nbody\n",  # no blank line after the headers
        b"Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n",  # no boundary parameter
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nnever closed\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b--\n",  # closes before opening
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nx\n--b--\n",  # repeated
        b"Content-Type: message/rfc822\n\nFrom: inner@x\n\nbody\n",
        b"Content-Type: multipart/digest; boundary=b\n\n--b\n\nx\n--b--\n",
    ],
)
def test_declines_what_only_the_standard_parser_handles(raw: bytes) -> None:
    assert mimetree.parse(raw) is None


def test_deep_nesting_is_left_to_the_standard_parser() -> None:
    depth = mimetree.MAX_DEPTH + 2
    raw = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth)
    )
    raw += b"\nleaf\n" + b"".join(b"--b%d--\n" % i for i in reversed(range(depth)))
    assert mimetree.parse(raw) is None


def test_boundaries_that_prefix_each_other_are_left_to_the_standard_parser() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
        b"Content-Type: multipart/mixed; boundary=bb\n\n--bb\n\nx\n--bb--\n--b--\n"
    )
    assert mimetree.parse(raw) is None
