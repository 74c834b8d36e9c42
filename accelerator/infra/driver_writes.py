"""Hot-path writes straight on the database driver: the webhook inbox's insert, the quote
writes.

Writes go through SQLAlchemy except on the hot paths (docs/architecture.md, "Storage"), and this
is one (with the quote writes' :func:`write_batch`). Receiving a webhook is verify, store,
answer, at thousands a second, and SQLAlchemy's execution layer was a large share of that
request's CPU (docs/performance.md). So the receive path runs its single statement here, on a
small pool of the driver's own connections: asyncpg on PostgreSQL, aiosqlite on SQLite. The hot
reads have their own read-only pool (``accelerator.infra.lookups``); this one may write and is
kept apart from it.

Durability is the caller's promise to keep ("a 2xx only after the row is committed"), and this
module is how it is kept: every statement runs outside any transaction block, so the database
commits it before it answers. asyncpg has no implicit transactions; the aiosqlite connections
are in autocommit (``isolation_level=None``). Each connection is returned to the pool with no
transaction open and no session state to reset.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.util import greenlet_spawn

from accelerator.infra.database import Database, sqlite_pragmas
from accelerator.infra.lookups import LazyAsyncpgPool
from accelerator.infra.statements import BatchWrite, Statement

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from accelerator.infra.tracing import Tracing

Row = Sequence[Any]

# Enough connections that commits waiting on PostgreSQL's WAL flush overlap (the raw baseline
# uses ten too); few enough to stay small beside the SQLAlchemy pool (20) and the lookups (10).
POSTGRES_POOL_SIZE = 10


class DriverWrites(Protocol):
    async def fetch_one(self, statement: Statement, **params: Any) -> Row | None:
        """Run ``statement`` as its own committed transaction; its first row, if any."""
        ...

    async def close(self) -> None: ...


class PostgresWrites:
    def __init__(self, url: str, size: int) -> None:
        self._pool = LazyAsyncpgPool(url, size)

    async def fetch_one(self, statement: Statement, **params: Any) -> Row | None:
        compiled = statement.compiled("postgresql")
        pool = self._pool.ready or await self._pool.open()
        # Outside a transaction block: PostgreSQL commits (and, with the server's
        # synchronous_commit, flushes) the statement before it answers.
        row: Row | None = await pool.fetchrow(compiled.sql, *compiled.args(params))
        return row

    async def close(self) -> None:
        await self._pool.close()


class SqliteWrites:
    """One autocommit connection: SQLite takes one writer at a time, so more connections would
    only wait on each other in SQLite's busy handler (which sleeps whole milliseconds), while
    statements queued on one connection run back to back."""

    def __init__(self, url: str, pragmas: Sequence[str]) -> None:
        self._path = str(make_url(url).database)
        self._pragmas = pragmas
        self._connection: aiosqlite.Connection | None = None
        self._opening: asyncio.Lock | None = None

    async def _open(self) -> aiosqlite.Connection:
        self._opening = self._opening or asyncio.Lock()
        async with self._opening:
            if self._connection is None:
                connection = await aiosqlite.connect(self._path, isolation_level=None)
                for pragma in self._pragmas:  # those of the service's own engines
                    await connection.execute(f"PRAGMA {pragma}")
                self._connection = connection
        return self._connection

    async def fetch_one(self, statement: Statement, **params: Any) -> Row | None:
        compiled = statement.compiled("sqlite")
        connection = self._connection or await self._open()
        # Every row fetched: the statement runs to its end, where SQLite commits it, in this
        # call (one hop to the connection's thread), and a failure to commit is raised here.
        rows = list(await connection.execute_fetchall(compiled.sql, compiled.args(params)))
        return rows[0] if rows else None

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


def open_driver_writes(
    url: str,
    *,
    size: int = POSTGRES_POOL_SIZE,
    tracing: Tracing | None = None,
    sqlite_pragmas: Sequence[str] = sqlite_pragmas(),
) -> DriverWrites:
    """Driver connections that write to ``url`` (none is opened until the first statement);
    with ``tracing``, each statement is a span. ``sqlite_pragmas``: those of the database's
    own engines (``Database.sqlite_pragmas``)."""
    sqlite = make_url(url).get_backend_name() == "sqlite"
    writes: DriverWrites = (
        SqliteWrites(url, sqlite_pragmas) if sqlite else PostgresWrites(url, size)
    )
    return writes if tracing is None else tracing.driver_writes(writes, sqlite=sqlite)


# Per write engine (weakly, so that an engine's lock goes with it): see _writer_turn.
_WRITER_TURNS: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()


def _writer_turn(db: Database) -> asyncio.Lock:
    """The lock this process's driver write transactions on ``db``'s SQLite file take turns on.

    SQLite admits one writer at a time. Without the lock, concurrent quote writes each begin
    ``BEGIN IMMEDIATE`` on a connection of their own and all but one wait in SQLite's busy
    handler, which retries after sleeping whole milliseconds (1, 2, 5, 10, ... up to 100): every
    retry costs CPU on a connection thread, and the writer can sleep after the lock was freed
    (docs/performance.md, "CPU per quote request, round 4"). Waiting on an asyncio lock
    instead costs nothing and hands the turn over at once. Other writers (SQLAlchemy sessions,
    other processes) still meet these in the busy handler, as before."""
    turn = _WRITER_TURNS.get(db.write_engine)
    if turn is None:
        turn = _WRITER_TURNS[db.write_engine] = asyncio.Lock()
    return turn


@asynccontextmanager
async def write_connection(db: Database) -> AsyncIterator[Any]:
    """A driver connection (asyncpg's or aiosqlite's) of the write engine's own pool, so that
    its size and SQLite's pragmas stay the engine's and only SQLAlchemy's execution layer is
    skipped. The caller runs its statements and its transaction on it. On SQLite the block is
    this process's only driver write transaction on the database while it runs (_writer_turn):
    do not open another write connection on ``db`` inside it."""
    if db.is_sqlite:
        async with _writer_turn(db), _driver_connection(db) as driver:
            yield driver
    else:
        async with _driver_connection(db) as driver:
            yield driver


@asynccontextmanager
async def _driver_connection(db: Database) -> AsyncIterator[Any]:
    # The pool's own connection record, not an AsyncConnection around it: these writes use
    # nothing of SQLAlchemy's but its pool, and the AsyncConnection's set-up and two more
    # greenlet hops made a checkout and return cost about 58 µs of CPU against 40-48 (a quote
    # request writes up to a dozen times at low load; a flush of receipts once).
    record = await db.write_engine.raw_connection()
    driver: Any = record.driver_connection
    keep = True
    try:
        yield driver if db.tracing is None else db.tracing.driver(driver, sqlite=db.is_sqlite)
    except BaseException as exc:
        # SQLAlchemy did not run the statement, so it cannot notice a lost connection and
        # invalidate it as it would its own: unless the database itself refused the statement,
        # drop the connection rather than return it to the pool for the next write to fail on
        # as well.
        keep = _refused_by_database(exc, driver, db.is_sqlite)
        raise
    finally:
        await _to_completion(greenlet_spawn(_give_back, record, keep))


def _give_back(record: Any, keep: bool) -> None:
    """Return a pool record (in SQLAlchemy's greenlet: closing may await the driver)."""
    if not keep:
        record.invalidate()
    record.close()


async def _to_completion(work: Awaitable[None]) -> None:
    """Await ``work`` in a task of its own to its end even if the caller is cancelled
    meanwhile, then raise the cancellation: a record never returned is lost to the pool, and
    one returned after its caller went on could land in a pool disposed of meanwhile. (What
    SQLAlchemy's own context managers do on exit.)"""
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(task)
            break
        except asyncio.CancelledError as error:
            if task.done():
                raise
            cancelled = error
    if cancelled is not None:
        raise cancelled


#: More work in a batch's transaction, after its statements: given the driver connection.
Then = Callable[[Any], Awaitable[None]]
#: Run on the connection before the batch's transaction: the work to add to it, or None.
Prepare = Callable[[Any], Awaitable[Then | None]]


async def write_batch(
    db: Database,
    batch: BatchWrite,
    rows: Sequence[Sequence[tuple[Any, ...]]],
    *,
    prepare: Prepare | None = None,
) -> None:
    """Write each of ``batch``'s parts' ``rows`` (tuples laid out as the part's columns)
    atomically, on a connection of the write engine's own pool. ``prepare`` runs first on the
    same connection and may return more work for the batch's transaction, run after its
    statements (the events of what the batch wrote, notifications.outbox); when it returns None
    the batch is written as without it (on PostgreSQL one statement, no transaction block)."""
    async with write_connection(db) as driver:
        then = await prepare(driver) if prepare is not None else None
        if db.is_sqlite:
            async with sqlite_transaction(driver):
                await run_batch(driver, batch, rows, sqlite=True)
                if then is not None:
                    await then(driver)
        elif then is None:
            await run_batch(driver, batch, rows, sqlite=False)  # one statement: atomic by itself
        else:
            async with driver.transaction():
                await run_batch(driver, batch, rows, sqlite=False)
                await then(driver)


async def run_batch(
    driver: Any, batch: BatchWrite, rows: Sequence[Sequence[tuple[Any, ...]]], *, sqlite: bool
) -> None:
    """Run ``batch``'s statements for ``rows`` on ``driver``, in the caller's transaction if it
    has one: on PostgreSQL its one statement (atomic by itself), on SQLite each part's statement
    once per row (atomic only within the caller's transaction)."""
    if not sqlite:
        compiled = batch.postgresql.compiled("postgresql")
        await driver.execute(compiled.sql, *compiled.args(batch.postgresql_arrays(rows)))
        return
    for part, positions, part_rows in zip(batch.parts, batch.sqlite_positions, rows, strict=True):
        if part_rows:
            if positions != tuple(range(len(positions))):  # laid out as the SQL numbers them
                part_rows = [tuple(row[i] for i in positions) for row in part_rows]
            await driver.executemany(part.sqlite.compiled("sqlite").sql, part_rows)


def _refused_by_database(exc: BaseException, driver: Any, sqlite: bool) -> bool:
    """Whether ``exc`` is the database refusing a statement on a connection still usable: not a
    lost connection, a driver failure (OSError, InterfaceError) or a cancellation."""
    if sqlite:
        return isinstance(exc, sqlite3.DatabaseError)
    import asyncpg  # type: ignore[import-untyped]  # no stubs published

    # asyncpg raises its own ConnectionDoesNotExistError (a PostgresConnectionError, so a
    # PostgresError) when the connection drops mid-statement; a backend terminated during one
    # reports 57P01 (a PostgresError too) as it closes the connection.
    return (
        isinstance(exc, asyncpg.PostgresError)
        and not isinstance(exc, asyncpg.PostgresConnectionError)
        and not driver.is_closed()
    )


@asynccontextmanager
async def sqlite_transaction(driver: Any) -> AsyncIterator[None]:
    """A write transaction on an aiosqlite connection of the write engine, begun as every write
    transaction there is (``BEGIN IMMEDIATE``: the engine's connections are in autocommit mode,
    see infra.database), committed when the block ends, rolled back if it raises."""
    # A cancellation during BEGIN may leave the transaction begun: it is then ended with the
    # connection, which write_connection invalidates (or else by SQLAlchemy's rollback on
    # return to the pool).
    await driver.execute("BEGIN IMMEDIATE")
    try:
        yield
        await driver.execute("COMMIT")
    except BaseException:
        # After some errors (SQLITE_FULL, I/O errors) SQLite has rolled back already, and a
        # ROLLBACK would fail ("no transaction is active") in place of the error itself.
        if driver.in_transaction:
            await driver.execute("ROLLBACK")
        raise
