"""fastsql's SQLite datetime binding writes exactly the text SQLAlchemy writes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.dialects import sqlite
from sqlalchemy.types import DateTime

from mailgate import fastsql


def test_sqlite_datetimes_are_bound_as_sqlalchemy_binds_them() -> None:
    dialect = sqlite.dialect()
    impl = DateTime().dialect_impl(dialect)
    fast = fastsql._bind_processor(impl, dialect)
    reference = impl.bind_processor(dialect)
    assert fast is not reference  # the short path is in use
    rng = random.Random(7)
    values: list[object] = [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)]
    values += [datetime(2020, 5, 17, 8, 3, 9), datetime(999, 1, 2, 3, 4, 5, 6)]
    for _ in range(20_000):
        values.append(datetime(1, 1, 1) + timedelta(microseconds=rng.randrange(3 * 10**17)))
        values.append(datetime(1970, 1, 1) + timedelta(seconds=rng.randrange(5 * 10**9)))
    values += [datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC), date(2021, 3, 4), None]
    for value in values:
        assert fast(value) == reference(value), value


def test_other_storage_formats_keep_their_processor() -> None:
    dialect = sqlite.dialect()
    impl = sqlite.DATETIME(truncate_microseconds=True)
    assert fastsql._bind_processor(impl, dialect)(datetime(2021, 3, 4, 5, 6, 7, 8)) == (
        "2021-03-04 05:06:07"
    )
