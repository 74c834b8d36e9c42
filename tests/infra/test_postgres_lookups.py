"""The hot-path reads' own PostgreSQL connections: a read that fails or is cancelled never
leaves a connection behind that the next read would trip over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]  # no stubs published
import pytest

from accelerator.infra.lookups import PostgresLookups
from accelerator.infra.statements import Statement

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

_BACKEND = Statement.text(
    "test_backend", postgresql="SELECT pg_backend_pid() AS pid", register=False
)
_SLEEP = Statement.text(
    "test_sleep", postgresql="SELECT pg_sleep(CAST(:seconds AS float8))", register=False
)
_DIVIDE = Statement.text(
    "test_divide", postgresql="SELECT 1 / CAST(:by AS integer) AS quotient", register=False
)
_WRITE = Statement.text(
    "test_write", postgresql="CREATE TABLE test_lookups (n int)", register=False
)


@asynccontextmanager
async def _opened(url: str, *, size: int) -> AsyncIterator[PostgresLookups]:
    lookups = PostgresLookups(url, size=size)
    try:
        yield lookups
    finally:
        await lookups.close()


async def _backend(lookups: PostgresLookups) -> int:
    [row] = await lookups.fetch(_BACKEND)
    return int(row["pid"])


async def test_one_reader_after_another_reuses_one_connection(postgres_url: str) -> None:
    async with _opened(postgres_url, size=3) as lookups:
        first = await _backend(lookups)
        assert await _backend(lookups) == first


async def test_concurrent_reads_use_at_most_the_given_number_of_connections(
    postgres_url: str,
) -> None:
    async with _opened(postgres_url, size=2) as lookups:
        pids = await asyncio.gather(
            *(lookups.fetch(_SLEEP, seconds=0.05) for _ in range(6)),
            *(_backend(lookups) for _ in range(6)),
        )
        assert len(set(pids[6:])) <= 2


async def test_a_statement_the_server_refuses_keeps_its_connection(postgres_url: str) -> None:
    async with _opened(postgres_url, size=1) as lookups:
        before = await _backend(lookups)
        with pytest.raises(asyncpg.DivisionByZeroError):
            await lookups.fetch(_DIVIDE, by=0)
        assert [tuple(row) for row in await lookups.fetch(_DIVIDE, by=1)] == [(1,)]
        assert await _backend(lookups) == before


async def test_the_connections_refuse_writes(postgres_url: str) -> None:
    async with _opened(postgres_url, size=1) as lookups:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await lookups.fetch(_WRITE)


async def test_a_read_cancelled_mid_statement_does_not_break_the_next_read(
    postgres_url: str,
) -> None:
    async with _opened(postgres_url, size=1) as lookups:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await lookups.fetch(_SLEEP, seconds=30)
        # The only slot's connection was in the middle of a statement: the next read must not
        # meet it ("another operation is in progress") nor wait for the sleep to end.
        async with asyncio.timeout(10):
            assert [tuple(row) for row in await lookups.fetch(_DIVIDE, by=1)] == [(1,)]


async def test_a_connection_the_server_closed_is_opened_again(postgres_url: str) -> None:
    async with _opened(postgres_url, size=1) as lookups:
        before = await _backend(lookups)
        admin = await asyncpg.connect(lookups._dsn)
        try:
            await admin.execute(f"SELECT pg_terminate_backend({before})")
        finally:
            await admin.close()
        # Had the client not yet seen the connection close, the read meeting it fails (and
        # closes it); either way the read after that runs on a new connection.
        try:
            after = await _backend(lookups)
        except Exception:  # the driver raises one of several types here
            after = await _backend(lookups)
        assert after != before
