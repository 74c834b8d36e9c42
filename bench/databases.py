"""The databases a run uses: its own PostgreSQL database and SQLite file, made fresh and migrated.

The PostgreSQL server is ``ACCELERATOR_BENCH_POSTGRES_URL`` (default: the local server the tests
use). Only databases whose names start with ``accelerator_bench`` are ever created or dropped.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

import asyncpg  # type: ignore[import-untyped]  # no stubs published
from sqlalchemy.engine import make_url

from accelerator.infra import migrations
from accelerator.infra.lookups import asyncpg_dsn

POSTGRES_SERVER_URL = os.environ.get(
    "ACCELERATOR_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
PREFIX = "accelerator_bench"
# The database a run's scenarios share; another name (starting with PREFIX) lets two runs, e.g.
# an A/B pair or two engineers' runs, use one PostgreSQL server at the same time.
RUN_DATABASE = os.environ.get("ACCELERATOR_BENCH_DATABASE", PREFIX)


def _dsn(url: str) -> str:
    return asyncpg_dsn(url)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_dsn(POSTGRES_SERVER_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_url(name: str) -> str:
    return make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(hide_password=False)


def _claim(name: str) -> None:
    """Hold a lock on ``name`` for the rest of this process, so that two runs on one machine
    cannot drop each other's database; fail at once if another process holds it."""
    if name in _CLAIMED:
        return
    lock = Path(tempfile.gettempdir()) / f"{name}.lock"
    handle = lock.open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(
            f"another benchmark or drill is using database {name!r} (lock {lock})"
        ) from None
    _CLAIMED[name] = handle


_CLAIMED: dict[str, IO[str]] = {}


def fresh_postgres(name: str = RUN_DATABASE) -> str:
    """Drop and re-create database ``name`` (which must start with ``accelerator_bench``),
    migrate it, and return its SQLAlchemy URL."""
    if not name.startswith(PREFIX) or not name.replace("_", "").isalnum():
        raise ValueError(f"refusing to manage database {name!r}: not one of the bench's")
    _claim(name)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = postgres_url(name)
    migrations.upgrade(url)
    return url


def drop_postgres(name: str = RUN_DATABASE) -> None:
    """Drop database ``name`` if this process claimed it: a run that could not claim it (another
    run holds it) must not drop it from under that run."""
    if not name.startswith(PREFIX):
        raise ValueError(f"refusing to drop database {name!r}: not one of the bench's")
    if name not in _CLAIMED:
        return
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_version() -> str:
    async def ask() -> str:
        connection = await asyncpg.connect(_dsn(POSTGRES_SERVER_URL))
        try:
            version: str = await connection.fetchval("SHOW server_version")
            return version
        finally:
            await connection.close()

    try:
        return asyncio.run(ask())
    except (OSError, asyncpg.PostgresError) as exc:
        return f"unreachable ({type(exc).__name__})"


def fresh_sqlite(path: Path) -> str:
    """Delete ``path`` (and its WAL files), migrate a new database there, return its URL."""
    _claim(f"{PREFIX}_sqlite_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    migrations.upgrade(url)
    return url


KINDS = ("postgresql", "sqlite")


def fresh(kind: str, workdir: Path) -> str:
    """A fresh, migrated database of ``kind`` (``postgresql`` or ``sqlite``) for one scenario."""
    if kind == "postgresql":
        return fresh_postgres()
    if kind == "sqlite":
        return fresh_sqlite(workdir / "bench.db")
    raise ValueError(f"unknown database kind {kind!r}; expected one of {KINDS}")


def beside(kind: str, workdir: Path, suffix: str) -> AbstractContextManager[str]:
    """Another fresh, migrated database of ``kind`` beside the run's own, for a scenario that
    compares two, and its URL: the run's database name with ``_<suffix>`` appended on
    PostgreSQL (so that two runs with their own ``ACCELERATOR_BENCH_DATABASE`` keep apart),
    dropped when the block ends; ``bench_<suffix>.db`` on SQLite, left with the run's files."""
    return _fresh_for_a_while(kind, f"{RUN_DATABASE}_{suffix}", workdir / f"bench_{suffix}.db")


def scratch(kind: str, name: str, directory: Path) -> AbstractContextManager[str]:
    """A fresh, migrated database of ``kind`` for one tool's or drill's run, and its URL:
    ``accelerator_bench_<name>`` on PostgreSQL, dropped when the block ends, or ``<name>.db``
    under ``directory`` on SQLite, left there with the run's other files."""
    return _fresh_for_a_while(kind, f"{PREFIX}_{name}", directory / f"{name}.db")


@contextmanager
def _fresh_for_a_while(kind: str, database: str, file: Path) -> Iterator[str]:
    """PostgreSQL's ``database`` made fresh and dropped when the block ends, or SQLite's
    ``file`` made fresh and kept."""
    if kind == "postgresql":
        url = fresh_postgres(database)
        try:
            yield url
        finally:
            drop_postgres(database)
    elif kind == "sqlite":
        yield fresh_sqlite(file)
    else:
        raise ValueError(f"unknown database kind {kind!r}; expected one of {KINDS}")
