"""How raw mail and large texts are stored: Zstandard frames (zlib rows from earlier versions
still read) and, on PostgreSQL, LZ4 for large text columns with raw mail not compressed twice."""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy import select, text

from mailgate import store
from mailgate.models import RawMessage
from mailgate.pipeline import Where, ingest
from tests.mailfactory import make_mail


def test_raw_mail_is_a_zstandard_frame_and_zlib_rows_still_read(db, contexts) -> None:
    raw = make_mail("z1@example.org", "Compression", body="Le même texte.\n" * 200)
    with db.engine.begin() as conn:
        ingest(conn, raw, contexts["dev"], Where("dev", "test"))
        data = conn.execute(select(RawMessage.data)).scalar_one()
    assert data.startswith(store.ZSTD_MAGIC) and len(data) < len(raw) / 5
    assert store.decompress(data) == raw
    assert store.decompress(zlib.compress(raw, 1)) == raw


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_large_columns_use_lz4_and_raw_mail_is_stored_as_is(db) -> None:
    with db.engine.connect() as conn:
        lz4 = conn.execute(
            text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        ).scalar()
        rows = conn.execute(
            text(
                "SELECT attrelid::regclass::text || '.' || attname, attcompression, attstorage "
                "FROM pg_attribute WHERE attnum > 0 AND attrelid IN "
                "('bodies'::regclass, 'search_docs'::regclass, 'raw_messages'::regclass)"
            )
        ).all()
    columns = {name: (compression, storage) for name, compression, storage in rows}
    assert columns["raw_messages.data"][1] == "e"  # out of line, not compressed again
    if "lz4" in (lz4 or []):
        for name in ("bodies.text", "bodies.own_text", "search_docs.body", "search_docs.tsv"):
            assert columns[name][0] == "l", name
