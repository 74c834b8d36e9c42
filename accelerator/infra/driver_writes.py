"""One hot-path write straight on the database driver: the webhook inbox's insert.

Writes go through SQLAlchemy except on the hot paths (docs/architecture.md, "Storage"), and
this is one. Receiving a webhook is verify, store, answer, at thousands a second, and
SQLAlchemy's execution layer cost about as much CPU as the rest of the request put together
(docs/performance.md). So the receive path runs its single statement here, on a small pool of
the driver's own connections: asyncpg on PostgreSQL, aiosqlite on SQLite. The hot reads have
their own read-only pool (``accelerator.infra.lookups``); this one may write and is kept apart
from it.

Durability is the caller's promise to keep ("a 2xx only after the row is committed"), and this
module is how it is kept: every statement runs outside any transaction block, so the database
commits it before it answers. asyncpg has no implicit transactions; the aiosqlite connections
are in autocommit (``isolation_level=None``). Each connection is returned to the pool with no
transaction open and no session state to reset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiosqlite
from sqlalchemy.engine import make_url

from accelerator.infra.database import SQLITE_PRAGMAS
from accelerator.infra.lookups import LazyAsyncpgPool

Row = Sequence[Any]

# Enough connections that commits waiting on PostgreSQL's WAL flush overlap (the raw baseline
# uses ten too); few enough to stay small beside the SQLAlchemy pool (20) and the lookups (10).
POSTGRES_POOL_SIZE = 10


@dataclass(frozen=True)
class Statement:
    """One statement in each database's SQL: ``$1, $2 …`` on PostgreSQL, ``?`` on SQLite."""

    postgres: str
    sqlite: str


class DriverWrites(Protocol):
    async def fetch_one(self, statement: Statement, *args: Any) -> Row | None:
        """Run ``statement`` as its own committed transaction; its first row, if any."""
        ...

    async def close(self) -> None: ...


class PostgresWrites:
    def __init__(self, url: str, size: int) -> None:
        self._pool = LazyAsyncpgPool(url, size)

    async def fetch_one(self, statement: Statement, *args: Any) -> Row | None:
        pool = self._pool.ready or await self._pool.open()
        # Outside a transaction block: PostgreSQL commits (and, with the server's
        # synchronous_commit, flushes) the statement before it answers.
        row: Row | None = await pool.fetchrow(statement.postgres, *args)
        return row

    async def close(self) -> None:
        await self._pool.close()


class SqliteWrites:
    """One autocommit connection: SQLite takes one writer at a time, so more connections would
    only wait on each other in SQLite's busy handler (which sleeps whole milliseconds), while
    statements queued on one connection run back to back."""

    def __init__(self, url: str) -> None:
        self._path = str(make_url(url).database)
        self._connection: aiosqlite.Connection | None = None
        self._opening: asyncio.Lock | None = None

    async def _open(self) -> aiosqlite.Connection:
        self._opening = self._opening or asyncio.Lock()
        async with self._opening:
            if self._connection is None:
                connection = await aiosqlite.connect(self._path, isolation_level=None)
                for pragma in SQLITE_PRAGMAS:  # those of the service's own engines
                    await connection.execute(f"PRAGMA {pragma}")
                self._connection = connection
        return self._connection

    async def fetch_one(self, statement: Statement, *args: Any) -> Row | None:
        connection = self._connection or await self._open()
        # Every row fetched: the statement runs to its end, where SQLite commits it, in this
        # call (one hop to the connection's thread), and a failure to commit is raised here.
        rows = list(await connection.execute_fetchall(statement.sqlite, args))
        return rows[0] if rows else None

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


def open_driver_writes(url: str, *, size: int = POSTGRES_POOL_SIZE) -> DriverWrites:
    """Driver connections that write to ``url`` (none is opened until the first statement)."""
    if make_url(url).get_backend_name() == "sqlite":
        return SqliteWrites(url)
    return PostgresWrites(url, size)
