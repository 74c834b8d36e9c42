"""Every plain statement the service runs on the driver still fits the migrated schema."""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs published
import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.engine import make_url

import accelerator
from accelerator.auth.models import ApiKey
from accelerator.infra import migrations
from accelerator.infra.lookups import asyncpg_dsn
from accelerator.infra.statements import REGISTERED, BatchWrite, Part, Statement


def _import_every_module() -> list[Statement]:
    """Statements are built at import: import all of the service to find them all."""
    for module in pkgutil.walk_packages(accelerator.__path__, "accelerator."):
        if ".migrations." not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    return list(REGISTERED)


STATEMENTS = _import_every_module()


def _named(dialect: str) -> Iterator[object]:
    for statement in STATEMENTS:
        if dialect in statement.dialects:
            yield pytest.param(statement, id=statement.name)


def test_the_hot_paths_statements_are_registered() -> None:
    names = {statement.name for statement in STATEMENTS}
    assert {"active_key", "sellers_with_events", "store_delivery", "store_insurer_results"} <= names


@pytest.mark.parametrize("statement", list(_named("sqlite")))
def test_statement_prepares_on_migrated_sqlite(sqlite_url: str, statement: Statement) -> None:
    compiled = statement.compiled("sqlite")
    with sqlite3.connect(str(make_url(sqlite_url).database)) as connection:
        # EXPLAIN compiles the statement against the schema without running it.
        connection.execute(f"EXPLAIN {compiled.sql}", [None] * len(compiled.names))


#: Tables small enough by design to scan: a row per configured insurer.
_SCANNED_BY_DESIGN = {"insurer_switches"}


@pytest.fixture(scope="module")
def unanalyzed_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database as migrated, which no test has written to or analyzed."""
    path: Path = tmp_path_factory.mktemp("unanalyzed") / "accelerator.db"
    migrations.upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.mark.parametrize("statement", list(_named("sqlite")))
def test_no_statement_walks_a_growing_table_on_an_unanalyzed_sqlite(
    unanalyzed_sqlite: str, statement: Statement
) -> None:
    # The service analyzes none of these tables (only the reminder markers, in the reminder
    # sweep), and without statistics SQLite's planner may walk a whole table (it walked every
    # chain head for each head a receipt flush moved). Every table a hot path's statement reads
    # must be searched by an index on a database as migrated.
    compiled = statement.compiled("sqlite")
    with sqlite3.connect(unanalyzed_sqlite) as connection:
        plan = connection.execute(
            f"EXPLAIN QUERY PLAN {compiled.sql}", ["[]"] * len(compiled.names)
        ).fetchall()
    steps = [row[3] for row in plan]
    walks = [
        step
        for step in steps
        if step.startswith("SCAN ")
        and "VIRTUAL TABLE" not in step
        and step.split()[1] not in _SCANNED_BY_DESIGN
    ]
    assert walks == [], steps


@pytest.mark.anyio
@pytest.mark.postgres
@pytest.mark.parametrize("statement", list(_named("postgresql")))
async def test_statement_prepares_on_migrated_postgres(
    postgres_url: str, statement: Statement
) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        await connection.prepare(statement.compiled("postgresql").sql)
    finally:
        await connection.close()


def test_a_statement_over_a_column_the_schema_lacks_fails_to_prepare(sqlite_url: str) -> None:
    drifted = Statement(
        "drifted",
        select(ApiKey.id).where(ApiKey.digest == bindparam("digest")),
        register=False,
    )
    sql = drifted.compiled("sqlite").sql.replace("api_keys.digest", "api_keys.fingerprint")
    with (
        sqlite3.connect(str(make_url(sqlite_url).database)) as connection,
        pytest.raises(sqlite3.OperationalError, match="fingerprint"),
    ):
        connection.execute(f"EXPLAIN {sql}", [None])


def test_parameters_are_bound_by_name_in_each_databases_order() -> None:
    statement = Statement(
        "ordered",
        select(ApiKey.id).where(
            ApiKey.name == bindparam("name"), ApiKey.digest == bindparam("digest")
        ),
        register=False,
    )
    for dialect in ("postgresql", "sqlite"):
        assert statement.compiled(dialect).args({"digest": "d", "name": "n"}) == ("n", "d")
    with pytest.raises(TypeError, match="takes 2 parameters"):
        statement.compiled("sqlite").args({"name": "n"})
    with pytest.raises(TypeError, match="digest"):
        statement.compiled("sqlite").args({"name": "n", "digests": "d"})
    with pytest.raises(TypeError, match="takes 2 parameters"):
        statement.compiled("sqlite").args({"name": "n", "digest": "d", "extra": 1})


def test_an_expanding_in_is_refused_when_the_statement_is_built() -> None:
    with pytest.raises(ValueError, match="expanding"):
        Statement("expanding", select(ApiKey.id).where(ApiKey.id.in_(["a", "b"])), register=False)


def test_a_batch_whose_postgres_statement_misses_a_column_is_refused_at_import() -> None:
    part = Part(
        "key",
        ("id", "name"),
        Statement.text(
            "k", sqlite="UPDATE api_keys SET name = :name WHERE id = :id", register=False
        ),
    )
    with pytest.raises(ValueError, match="key_id"):
        BatchWrite("k", [part], postgresql="SELECT CAST(:key_name AS text[])", register=False)
