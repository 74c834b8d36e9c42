"""Engines, sessions and the column types every table shares, for SQLite and PostgreSQL alike.

Writes and reads go through different session types: the coverage check only ever receives a
``ReadSession``, so it cannot write by accident. On SQLite, write transactions start with
``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout instead of failing when a
read lock would have to be upgraded.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from accelerator.infra.codec import json_text
from accelerator.infra.lookups import Lookups, open_lookups

# At run time, not only for type checkers: msgspec reads this dataclass's fields when the app
# is given it as a dependency.
from accelerator.infra.tracing import Tracing
from accelerator.settings import SqliteSynchronous

SQLITE_BUSY_TIMEOUT_MS = 10_000

# Stable constraint names, so migrations can address them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on both databases.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as naive
    UTC and given its zone back when read. Naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given where a timezone-aware instant is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ReadSession(AsyncSession):
    """A session for queries only; flushing it is a programming error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        event.listen(self.sync_session, "before_flush", _refuse_flush)


def _refuse_flush(*_: Any) -> None:
    raise RuntimeError("a ReadSession cannot write")


class WriteSession(AsyncSession):
    """A session that may write; commit explicitly where money or coverage is written."""


@functools.lru_cache(maxsize=64)
def is_sqlite_url(url: str) -> bool:
    # Cached: asked on request paths, and parsing the URL each time showed in the profiles.
    return make_url(url).get_backend_name() == "sqlite"


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def sqlite_pragmas(synchronous: SqliteSynchronous = "normal") -> tuple[str, ...]:
    """The pragmas of every SQLite connection that writes: the engines' and
    infra.driver_writes' own. ``synchronous`` is how far a commit goes before the service
    answers (docs/operations.md "Durability"): in WAL mode, ``normal`` commits to the
    write-ahead log without waiting for the disk, so a commit survives the service's crash
    (kill -9) but a power loss or a kernel panic may lose the last ones; ``full`` waits for
    the disk at every commit (an fsync)."""
    return (
        "journal_mode=WAL",
        "foreign_keys=ON",
        f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        f"synchronous={synchronous.upper()}",
    )


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool, pragmas: tuple[str, ...]) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see the "begin" hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(
    url: str,
    *,
    for_writes: bool = True,
    pool_size: int = 10,
    sqlite_synchronous: SqliteSynchronous = "normal",
) -> AsyncEngine:
    """An async engine for ``url`` with the pragmas and pool the service expects.

    At most ``2 * pool_size`` connections, all kept open once made: with overflow connections
    (closed as soon as they are returned), a steady load above the pool size kept opening and
    closing PostgreSQL connections, each a backend start, an SSL attempt and the driver's codec
    set-up (docs/performance.md).
    """
    # JSON columns through msgspec rather than the json module: several times faster, and the
    # captured insurer exchanges written with each quote are a few kilobytes each.
    options: dict[str, Any] = {
        "pool_size": 2 * pool_size,
        "max_overflow": 0,
        "json_serializer": json_text,
        "json_deserializer": msgspec.json.decode,
    }
    if is_sqlite_url(url):
        _prepare_sqlite_file(url)
        # Last in, first out: SQLite keeps a connection's page cache across transactions only
        # while no other connection has written since, so the write that just ended leaves
        # the warmest connection (its own) for the next one; first in, first out handed each
        # write the connection idle longest, whose cache the writes in between had made stale
        # (docs/performance.md, "CPU per quote request, round 4").
        engine = create_async_engine(url, pool_use_lifo=True, **options)
        _configure_sqlite(engine, immediate=for_writes, pragmas=sqlite_pragmas(sqlite_synchronous))
        return engine
    return create_async_engine(url, pool_pre_ping=False, **options)


@dataclass(frozen=True)
class Database:
    """The engines and session factories of one running service."""

    url: str
    write_engine: AsyncEngine
    read_engine: AsyncEngine
    write_sessions: async_sessionmaker[WriteSession]
    read_sessions: async_sessionmaker[ReadSession]
    # The hot paths' reads (API keys, the coverage check, the quote read-back, seller profiles),
    # on the driver's own connections (infra.lookups).
    lookups: Lookups
    # Set when tracing is on: the driver paths' statements become spans (infra.spans).
    tracing: Tracing | None = None
    # The pragmas of the SQLite connections that write (infra.driver_writes opens its own).
    sqlite_pragmas: tuple[str, ...] = sqlite_pragmas()

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite_url(self.url)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[WriteSession]:
        """A write session inside a transaction that commits on success and rolls back on error."""
        async with self.write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[ReadSession]:
        async with self.read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.lookups.close()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def open_database(
    url: str,
    *,
    tracing: Tracing | None = None,
    sqlite_synchronous: SqliteSynchronous = "normal",
) -> Database:
    """Engines and session factories for ``url``; on PostgreSQL one pool serves both. With
    ``tracing``, every statement (SQLAlchemy's and the driver paths') is a span.

    PostgreSQL reads run in autocommit: under READ COMMITTED every statement takes its own
    snapshot anyway, so wrapping reads in a transaction only added a BEGIN and a ROLLBACK round
    trip to each (two of the coverage check's round trips, see docs/performance.md).
    """
    write_engine = create_engine(url, for_writes=True, sqlite_synchronous=sqlite_synchronous)
    read_engine = (
        create_engine(url, for_writes=False, sqlite_synchronous=sqlite_synchronous)
        if is_sqlite_url(url)
        else write_engine.execution_options(isolation_level="AUTOCOMMIT")
    )
    lookups = open_lookups(url, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)
    if tracing is not None:
        tracing.instrument_engine(write_engine)
        if is_sqlite_url(url):
            # On PostgreSQL the read engine is the write engine with options, which fires the
            # write engine's hooks already: hooked again, each read would be two spans.
            tracing.instrument_engine(read_engine)
        lookups = tracing.lookups(lookups, sqlite=is_sqlite_url(url))
    return Database(
        url=url,
        write_engine=write_engine,
        read_engine=read_engine,
        write_sessions=async_sessionmaker(
            write_engine, class_=WriteSession, expire_on_commit=False
        ),
        read_sessions=async_sessionmaker(read_engine, class_=ReadSession, expire_on_commit=False),
        lookups=lookups,
        tracing=tracing,
        sqlite_pragmas=sqlite_pragmas(sqlite_synchronous),
    )
