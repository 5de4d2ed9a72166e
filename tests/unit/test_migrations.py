"""Models and Alembic migrations cannot drift: a migrated database matches the models."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, inspect
from sqlalchemy.engine import Connection

import intermediate_server.db
import network.db
from ipnsim.storage import create_engine, migrate

MODULES = [network.db, intermediate_server.db]


def differences(tmp_path: Path, module: ModuleType, metadata: MetaData | None = None) -> Any:
    target = metadata if metadata is not None else module.Base.metadata

    def compare(connection: Connection) -> Any:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, target)

    async def go() -> Any:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrated.sqlite3'}")
        try:
            await migrate(engine, module.MIGRATIONS)
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_migrated_schema_matches_the_models(tmp_path: Path, module: ModuleType) -> None:
    assert differences(tmp_path, module) == []


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_migrations_create_every_table(tmp_path: Path, module: ModuleType) -> None:
    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async def go() -> set[str]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tables.sqlite3'}")
        try:
            await migrate(engine, module.MIGRATIONS)
            await migrate(engine, module.MIGRATIONS)  # a second run is a no-op
            async with engine.connect() as connection:
                return await connection.run_sync(tables)
        finally:
            await engine.dispose()

    assert set(module.Base.metadata.tables) | {"alembic_version"} == asyncio.run(go())


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_the_comparison_detects_drift(tmp_path: Path, module: ModuleType) -> None:
    drifted = MetaData()
    for table in module.Base.metadata.tables.values():
        table.to_metadata(drifted)
    first = next(iter(drifted.tables.values()))
    first.append_column(Column("drift_column", String(10), nullable=True))
    found = differences(tmp_path, module, drifted)
    assert [diff[0] for diff in found] == ["add_column"]
    assert found[0][3].name == "drift_column"
