"""``insert_many``: rows written through the driver read back exactly as a Core INSERT's."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Date, Integer, MetaData, String, Table, insert, select

from ipnsim.storage import UtcDateTime, create_engine, insert_many, sessionmaker

METADATA = MetaData()
THINGS = Table(
    "things",
    METADATA,
    Column("id", String(10), primary_key=True),
    Column("count", Integer, nullable=True),
    Column("day", Date, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Column("payload", JSON, nullable=True),
)
NOW = dt.datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 11, 28, 19, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def rows(prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}1",
            "count": 1,
            "day": dt.date(2026, 4, 1),
            "at": NOW,
            "payload": [{"a": "和"}],
        },
        {"id": f"{prefix}2", "count": None, "day": None, "at": NOW, "payload": None},
        {
            "id": f"{prefix}3",
            "count": 3,
            "day": dt.date(2025, 1, 1),
            "at": LATER,
            "payload": {"b": None},
        },
        {"id": f"{prefix}4", "count": 3, "day": dt.date(2025, 1, 1), "at": NOW, "payload": []},
    ]


def read_back(tmp_path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    async def scenario() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}")
        try:
            async with engine.begin() as connection:
                await connection.run_sync(METADATA.create_all)
            sessions = sessionmaker(engine)
            async with sessions.begin() as session:
                await insert_many(session, THINGS, rows("fast"))
                await insert_many(session, THINGS, [])
                await session.execute(insert(THINGS), rows("core"))
            async with sessions() as session:
                found = (await session.execute(select(THINGS).order_by(THINGS.c.id))).all()
        finally:
            await engine.dispose()
        fast = [tuple(row)[1:] for row in found if row.id.startswith("fast")]
        core = [tuple(row)[1:] for row in found if row.id.startswith("core")]
        return fast, core

    return asyncio.run(scenario())


def test_rows_read_back_as_those_of_a_core_insert(tmp_path: Path) -> None:
    fast, core = read_back(tmp_path)

    assert fast == core
    assert [row[2] for row in fast] == [NOW, NOW, LATER, NOW]
    assert all(row[2].tzinfo is not None for row in fast)
    assert fast[0][3] == [{"a": "和"}]
    assert fast[1] == (None, None, NOW, None)


def test_a_missing_column_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}")
        try:
            async with engine.begin() as connection:
                await connection.run_sync(METADATA.create_all)
            async with sessionmaker(engine).begin() as session:
                await insert_many(session, THINGS, [{"id": "x", "count": 1}])
        finally:
            await engine.dispose()

    with pytest.raises(KeyError, match="day"):
        asyncio.run(scenario())
