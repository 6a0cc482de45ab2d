"""Hard messages from other projects' test suites (tests/data/tricky): each is stored or
quarantined with a reason, never a traceback; and what they test comes out right."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from sqlalchemy import select

from mailgate.bulk import import_messages
from mailgate.headers import decode_header
from mailgate.ingest.mbox import read_archive
from mailgate.mime import _leaf_headers, iter_leaves
from mailgate.models import Attachment, Body, Message
from mailgate.parse import ParseError, parse_message
from mailgate.pipeline import ListContext, prepare
from tests.conftest import TRICKY

FILES = sorted(p for p in TRICKY.rglob("*") if p.is_file() and p.name != "README.md")
CTX = ListContext(
    name="dev",
    list_id=1,
    language="en",
    timezone="Europe/Paris",
    list_addresses=frozenset({"dev@lists.example.org"}),
)
NOW = __import__("datetime").datetime(2026, 1, 1)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_prepare_never_raises(path: Path) -> None:
    for message in read_archive(path):
        prepared = prepare(message.raw, CTX, NOW)
        assert prepared.parsed is not None or prepared.reason


def test_all_tricky_messages_archived_or_quarantined(db, contexts) -> None:
    items = [(m.raw, m.arrival) for path in FILES for m in read_archive(path)]
    summary = import_messages(db, contexts["dev"], items, source="tricky", workers=1)
    assert summary.total == len(items)
    assert all(reason for reason in summary.reasons)
    # Several files are variants of one message (same id, sender and content): duplicates.
    assert summary.quarantined <= 2
    assert summary.imported > len(items) * 0.8


def _parse(relative: str):
    return parse_message((TRICKY / relative).read_bytes(), arrival=NOW)


def test_wrong_and_unknown_charsets_decode() -> None:
    for name in (
        "hyperkitty/payload-utf8-wrong.txt",
        "hyperkitty/unknown-charset.txt",
        "hyperkitty/another-wrong-encoding.txt",
        "public-inbox/x-unknown-alpine.eml",
    ):
        parsed = _parse(name)
        assert parsed.text.strip(), name
        if "utf8-wrong" not in name:  # that one is a diff of a PNG file: binary text
            assert "\ufffd" not in parsed.text[:2000] or name.endswith("alpine.eml"), name


def test_dates_without_date_header_fall_back() -> None:
    for name in (
        "hyperkitty/unixfrom-date.txt",
        "hyperkitty/resent-date.txt",
        "hyperkitty/bad_date_tz.txt",
        "hyperkitty/non-ascii-date-header.txt",
    ):
        parsed = _parse(name)
        assert parsed.date.year >= 1990, name


def test_odd_in_reply_to_headers() -> None:
    for name in (
        "hyperkitty/strange-in-reply-to-header.txt",
        "hyperkitty/wrong-in-reply-to-header.txt",
    ):
        parsed = _parse(name)
        assert parsed.parent is None or "@" in parsed.parent
        assert parsed.parent != parsed.message_id


def test_iso_2022_jp_and_utf7() -> None:
    assert _parse("public-inbox/iso-2202-jp.eml").text.strip()
    assert _parse("mailman-core/runners--ascii_in_utf7.eml").text.strip()


def test_deep_nesting_is_quarantined_or_bounded() -> None:
    raw = (TRICKY / "mimekit/stack-overflow.txt").read_bytes()
    try:
        parsed = parse_message(raw, arrival=NOW)
    except ParseError as exc:
        assert "nested" in str(exc)
    else:
        assert parsed.message_id


def test_attachment_names_and_html_only(db, contexts) -> None:
    items = [(p.read_bytes(), None) for p in (TRICKY / "hyperkitty").glob("attachment-*.txt")]
    import_messages(db, contexts["dev"], items, source="t", workers=1)
    with db.reader() as session:
        names = set(session.scalars(select(Attachment.filename)))
        texts = list(session.scalars(select(Body.text)))
        assert session.scalar(select(Message.id).limit(1)) is not None
    assert names and all(n and "=?" not in n for n in names)
    assert all(isinstance(t, str) for t in texts)


def test_leaf_headers_read_once_agree_with_the_message_methods() -> None:
    """extract_body reads a part's Content-Type and Content-Disposition once; the results
    are those of email.message's own methods on every part of the hard messages."""
    parts = 0
    for path in FILES:
        for message in read_archive(path):
            msg = email.message_from_bytes(message.raw)
            for _position, part in iter_leaves(msg):
                try:
                    name = part.get_filename()
                except (LookupError, UnicodeError, ValueError):
                    name = None
                expected = (
                    part.get_content_type(),
                    part.get_content_disposition(),
                    decode_header(name) if name else "",
                )
                assert _leaf_headers(part) == expected, path
                parts += 1
    assert parts > 150
