"""Hot-path reads straight on the database driver, without SQLAlchemy's execution layer.

Some reads run on nearly every request: the API-key lookup, the coverage check's one
statement, a quote request's read-back and the seller profile it is quoted for. SQLAlchemy's
execution layer cost them several times the driver's own work (figures in
docs/performance.md), which decided whether a coverage check keeps up with a bare driver
lookup. So those reads, and only reads, run here: on a small pool of the driver's own
connections (asyncpg on PostgreSQL, aiosqlite on SQLite), opened on first use and read-only
(``default_transaction_read_only`` / ``PRAGMA query_only``). The hot paths' writes have their
own connections (docs/architecture.md, "Storage").

Statements are :class:`~accelerator.infra.statements.Statement` objects, parameters passed by
name. Values come back as the driver gives them (JSON columns as their text);
``infra.codec`` turns them into what the SQLAlchemy column types would have returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import aiosqlite
from sqlalchemy.engine import make_url

from accelerator.infra.codec import json_text
from accelerator.infra.statements import Statement

Row = Sequence[Any]


class Lookups(Protocol):
    async def fetch(self, statement: Statement, **params: Any) -> list[Row]:
        """The rows of a read. A list parameter is a PostgreSQL array, and JSON text on SQLite
        (the statement reads it with json_each)."""
        ...

    async def close(self) -> None: ...


def asyncpg_dsn(url: str) -> str:
    """The asyncpg connection string of a SQLAlchemy ``postgresql+asyncpg://`` URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def no_reset(_: Any) -> None:
    """asyncpg's ``reset`` for pools whose statements leave no session state or open
    transaction behind: it skips the reset query (a round trip) asyncpg runs on each release."""
    return None


class LazyAsyncpgPool:
    """An asyncpg pool opened on first use, so that a service can start before its database
    answers (readiness says why it is not ready). ``ready`` is the open pool, or None."""

    def __init__(self, url: str, size: int, server_settings: dict[str, str] | None = None) -> None:
        self._dsn = asyncpg_dsn(url)
        self._size = size
        self._server_settings = server_settings
        self.ready: Any = None
        self._opening: asyncio.Lock | None = None

    async def open(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]  # no stubs published

        self._opening = self._opening or asyncio.Lock()
        async with self._opening:
            if self.ready is None:
                self.ready = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._size,
                    # The callers' statements leave no session state or open transaction.
                    reset=no_reset,
                    server_settings=self._server_settings,
                )
        return self.ready

    async def close(self) -> None:
        if self.ready is not None:
            await self.ready.close()
            self.ready = None


class PostgresLookups:
    """Read-only asyncpg connections handed out through a queue, each opened on first need.

    Not an asyncpg ``Pool``: its acquire (timeout machinery, a connection holder and proxy)
    and its release (a shielded task) cost about 35 µs of the service's CPU per statement,
    more than the statement itself (24 µs), and a single coverage check runs one statement
    (docs/performance.md, "Batch decisions' CPU"). These reads leave no session state or open
    transaction behind, so a connection needs no reset between uses; one that failed or was
    cancelled mid-statement is closed, and the next caller opens a fresh one in its place.
    """

    def __init__(self, url: str, size: int) -> None:
        import asyncpg

        self._asyncpg: Any = asyncpg
        self._dsn = asyncpg_dsn(url)
        self._size = size
        # Most recently returned first, so that a light load keeps few connections busy.
        self._idle: asyncio.LifoQueue[Any] | None = None
        self._open: set[Any] = set()

    async def _connect(self) -> Any:
        connection = await self._asyncpg.connect(
            self._dsn,
            server_settings={
                "default_transaction_read_only": "on",
                # These are index lookups whatever the parameters; without this,
                # PostgreSQL re-planned `= ANY($1)` at every call.
                "plan_cache_mode": "force_generic_plan",
                # Instants a statement renders as JSON text (the coverage check's) carry
                # this zone's offset; decoded, they are then UTC as the driver's own are.
                "TimeZone": "UTC",
            },
        )
        self._open.add(connection)
        return connection

    def _slots(self) -> asyncio.LifoQueue[Any]:
        idle: asyncio.LifoQueue[Any] = asyncio.LifoQueue()
        for _ in range(self._size):
            idle.put_nowait(None)  # a connection not opened yet
        self._idle = idle
        return idle

    async def fetch(self, statement: Statement, **params: Any) -> list[Row]:
        compiled = statement.compiled("postgresql")
        args = compiled.args(params)
        idle = self._idle or self._slots()
        connection = await idle.get()
        try:
            if connection is None or connection.is_closed():
                self._open.discard(connection)
                connection = None
                connection = await self._connect()
            rows: list[Row] = await connection.fetch(compiled.sql, *args)
        except self._asyncpg.PostgresError:
            raise  # the server refused the statement; the connection is as good as before
        except BaseException:
            # Cancelled or broken mid-statement: what the connection is doing is unknown.
            if connection is not None:
                self._open.discard(connection)
                connection.terminate()
                connection = None
            raise
        finally:
            idle.put_nowait(connection)
        return rows

    async def close(self) -> None:
        connections, self._open = self._open, set()
        self._idle = None
        for connection in connections:
            await connection.close()


class SqliteLookups:
    def __init__(self, url: str, size: int, busy_timeout_ms: int) -> None:
        self._path = str(make_url(url).database)
        self._size = size
        self._busy_timeout_ms = busy_timeout_ms
        self._idle: asyncio.Queue[aiosqlite.Connection] | None = None
        self._all: list[aiosqlite.Connection] = []
        self._opening: asyncio.Lock | None = None

    async def _open(self) -> asyncio.Queue[aiosqlite.Connection]:
        self._opening = self._opening or asyncio.Lock()
        async with self._opening:
            if self._idle is None:
                idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
                for _ in range(self._size):
                    connection = await aiosqlite.connect(self._path, isolation_level=None)
                    await connection.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
                    await connection.execute("PRAGMA query_only=ON")
                    self._all.append(connection)
                    idle.put_nowait(connection)
                self._idle = idle
        return self._idle

    async def fetch(self, statement: Statement, **params: Any) -> list[Row]:
        compiled = statement.compiled("sqlite")
        # A list (a PostgreSQL array parameter) travels as JSON text, for json_each().
        args = tuple(json_text(a) if isinstance(a, list) else a for a in compiled.args(params))
        idle = self._idle or await self._open()
        connection = await idle.get()
        try:
            return list(await connection.execute_fetchall(compiled.sql, args))
        finally:
            idle.put_nowait(connection)

    async def close(self) -> None:
        for connection in self._all:
            await connection.close()
        self._all.clear()
        self._idle = None


def open_lookups(url: str, *, size: int = 10, busy_timeout_ms: int = 10_000) -> Lookups:
    """Hot-path read connections for ``url`` (none is opened until the first read)."""
    if make_url(url).get_backend_name() == "sqlite":
        return SqliteLookups(url, size, busy_timeout_ms)
    return PostgresLookups(url, size)
