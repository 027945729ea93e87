"""UTC instants: the one helper every read goes through, and the column type that applies it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

from chartgate.adapters.storage.types import UtcDateTime
from chartgate.domain.utc import as_utc

NEW_YORK_WINTER = timezone(timedelta(hours=-5))


def test_a_naive_time_is_taken_to_be_utc() -> None:
    """SQLite's naive value gets the UTC zone, same wall-clock time."""
    naive = datetime(2026, 11, 24, 10, 0)  # noqa: DTZ001 - what SQLite hands back
    assert as_utc(naive) == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_an_aware_time_is_converted_to_utc() -> None:
    """A value in another zone is the same instant, expressed in UTC."""
    converted = as_utc(datetime(2026, 11, 24, 5, 0, tzinfo=NEW_YORK_WINTER))
    assert converted == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert converted.utcoffset() == timedelta(0)


def test_none_passes_through() -> None:
    """A nullable column's None stays None."""
    assert as_utc(None) is None


@pytest.fixture
def stamps() -> tuple[object, Table]:
    """An in-memory SQLite table with one UtcDateTime column."""
    engine = create_engine("sqlite://")
    table = Table(
        "stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime())
    )
    table.metadata.create_all(engine)
    return engine, table


def test_the_column_stores_utc_and_reads_back_aware_utc(stamps) -> None:
    """A time given in New York is stored as UTC wall-clock time and read back as aware UTC."""
    engine, table = stamps
    with engine.begin() as conn:
        conn.execute(
            insert(table).values(id=1, at=datetime(2026, 11, 24, 5, 0, tzinfo=NEW_YORK_WINTER))
        )
        stored = conn.exec_driver_sql("SELECT at FROM stamps").scalar_one()
        read = conn.execute(select(table.c.at)).scalar_one()
    assert str(stored).startswith("2026-11-24 10:00:00")
    assert read == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert read.tzinfo is not None


def test_the_column_refuses_a_naive_time(stamps) -> None:
    """Storing a naive datetime is an error, not a guess about its zone."""
    engine, table = stamps
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(table).values(id=1, at=datetime(2026, 11, 24, 10, 0)))  # noqa: DTZ001


EPOCH_SECONDS = {
    # The rate governor's token buckets (adapters/ehr/rate.py): arithmetic on the workers'
    # epoch seconds, not instants anyone reads back as dates (tables.py says so).
    ("ehr_rate_buckets", "updated_at"),
    ("ehr_rate_buckets", "blocked_until"),
}


def test_every_time_column_of_the_store_is_a_utc_datetime() -> None:
    """No store column holds a date or time in another type than UtcDateTime.

    A plain ``DateTime`` column would read back naive on SQLite and in the session zone on
    PostgreSQL; a time kept as text or a number would skip the conversion altogether. Only the
    rate governor's epoch-second floats are exempt, by name.
    """
    from sqlalchemy.types import Date, DateTime, Time  # noqa: PLC0415

    from chartgate.adapters.storage import tables  # noqa: PLC0415

    utc, other = [], []
    for table in tables.metadata.sorted_tables:
        for column in table.columns:
            where = (table.name, column.name)
            if isinstance(column.type, UtcDateTime):
                utc.append(where)
                continue
            looks_like_time = column.name == "at" or column.name.endswith(("_at", "_until"))
            if isinstance(column.type, (Date, DateTime, Time)) or looks_like_time:
                other.append(where)
    assert set(other) == EPOCH_SECONDS
    assert ("audit_events", "at") in utc
    assert len(utc) >= 30  # every table's created/updated/expires times, not a handful
