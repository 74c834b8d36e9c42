"""Baseline endpoints, added to the real app for a benchmark run only.

Each scenario is reported as a ratio against one of these, measured in the same run, on the same
server process, behind the same middleware (they skip only the API-key lookup, which is part of
what the scenarios measure):

- ``GET /bench/bare``: a bare JSON answer, the floor of any request.
- ``POST /bench/raw-lookup``: takes the coverage check's body and does one raw driver query for
  the same rows the check reads (the seller's policy events), with no SQLAlchemy at all.
- ``POST /bench/raw-webhook/{provider_id}``: checks the Standard Webhooks signature and inserts
  the raw body with one raw statement, nothing else.

And one diagnostic, no baseline: ``POST /bench/check-without-key`` runs the coverage check's own
handler without authenticating, which tells the check's work from the API-key lookup's.

The raw inserts go into the service's own inbox table, so they pay for the same indexes, with a
status no inbox worker ever claims.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aiosqlite
import asyncpg  # type: ignore[import-untyped]  # no stubs published
import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.engine import make_url

from accelerator.auth.guards import guarded_post, requires
from accelerator.auth.principal import Role
from accelerator.coverage.controller import batch_result
from accelerator.coverage.service import CoverageService, Decided
from accelerator.errors import InvalidInput
from accelerator.infra.bodies import BATCH_BODY_MAX_BYTES
from accelerator.infra.database import SQLITE_BUSY_TIMEOUT_MS, is_sqlite_url
from accelerator.infra.lookups import asyncpg_dsn, no_reset
from accelerator.settings import Settings
from providers import SignatureError, verify
from schemas import (
    CoverageBatchBody,
    CoverageBatchResult,
    CoverageCheckRequest,
    CoverageDecision,
)

RAW_STATUS = "bench-raw"
_POOL_SIZE = 10  # the service's own pool: 10 connections (plus overflow)
_MAX_BODY = 256 * 1024

_EVENTS_SQL = (
    "SELECT e.policy_id, p.source, e.event_id, e.kind, e.effective_at, e.recorded_at, e.data "
    "FROM policy_events e JOIN policies p ON p.id = e.policy_id WHERE e.seller_id = {}"
)
_INBOX_SQL = (
    "INSERT INTO webhook_inbox (provider_id, webhook_id, headers, body, status, attempts, "
    "received_at, next_attempt_at) VALUES ({}) ON CONFLICT (provider_id, webhook_id) DO NOTHING"
)


class _SellerOnly(msgspec.Struct):
    seller_id: str


_decode_seller = msgspec.json.Decoder(_SellerOnly).decode


class RawStore(Protocol):
    """The one raw statement of each database baseline."""

    async def policy_events(self, seller_id: str) -> int: ...

    async def insert_delivery(
        self, provider_id: str, webhook_id: str, headers: str, body: bytes
    ) -> None: ...

    async def close(self) -> None: ...


@dataclass
class PostgresStore:
    pool: asyncpg.Pool
    # The lookup's connections, handed out through a queue as the service's own lookups are
    # (accelerator.infra.lookups: an asyncpg Pool's acquire and release cost more CPU than
    # the statement), so the ratio measures the service's work, not a different set-up.
    lookups: asyncio.LifoQueue[asyncpg.Connection]

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        dsn = asyncpg_dsn(url)
        settings = {"plan_cache_mode": "force_generic_plan"}
        # The raw insert's pool is configured as the service's receive path's is
        # (accelerator.infra.driver_writes).
        pool = await asyncpg.create_pool(
            dsn, min_size=_POOL_SIZE, max_size=_POOL_SIZE, reset=no_reset, server_settings=settings
        )
        lookups: asyncio.LifoQueue[asyncpg.Connection] = asyncio.LifoQueue()
        for _ in range(_POOL_SIZE):
            lookups.put_nowait(await asyncpg.connect(dsn, server_settings=settings))
        return cls(pool, lookups)

    async def policy_events(self, seller_id: str) -> int:
        connection = await self.lookups.get()
        try:
            rows = await connection.fetch(_EVENTS_SQL.format("$1"), seller_id)
        finally:
            self.lookups.put_nowait(connection)
        return len(rows)

    async def insert_delivery(
        self, provider_id: str, webhook_id: str, headers: str, body: bytes
    ) -> None:
        now = datetime.now(UTC)
        await self.pool.execute(
            _INBOX_SQL.format("$1, $2, $3::json, $4, $5, 0, $6, $6"),
            provider_id,
            webhook_id,
            headers,
            body,
            RAW_STATUS,
            now,
        )

    async def close(self) -> None:
        await self.pool.close()
        while not self.lookups.empty():
            await self.lookups.get_nowait().close()


@dataclass
class SqliteStore:
    """A few aiosqlite connections with the service's pragmas (WAL, synchronous=NORMAL)."""

    path: str
    idle: asyncio.Queue[aiosqlite.Connection] = field(default_factory=asyncio.Queue)
    everyone: list[aiosqlite.Connection] = field(default_factory=list)

    @classmethod
    async def open(cls, url: str) -> SqliteStore:
        store = cls(str(make_url(url).database))
        for _ in range(_POOL_SIZE):
            connection = await aiosqlite.connect(store.path, isolation_level=None)
            for pragma in (
                "journal_mode=WAL",
                "synchronous=NORMAL",
                f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            ):
                await connection.execute(f"PRAGMA {pragma}")
            store.everyone.append(connection)
            store.idle.put_nowait(connection)
        return store

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiosqlite.Connection]:
        connection = await self.idle.get()
        try:
            yield connection
        finally:
            self.idle.put_nowait(connection)

    async def policy_events(self, seller_id: str) -> int:
        async with self._connection() as connection:
            rows = await connection.execute_fetchall(_EVENTS_SQL.format("?"), (seller_id,))
        return len(list(rows))

    async def insert_delivery(
        self, provider_id: str, webhook_id: str, headers: str, body: bytes
    ) -> None:
        # The service stores instants as naive UTC text on SQLite; so does this.
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        async with self._connection() as connection:
            await connection.execute(
                _INBOX_SQL.format("?, ?, ?, ?, ?, 0, ?, ?"),
                (provider_id, webhook_id, headers, body, RAW_STATUS, now, now),
            )

    async def close(self) -> None:
        for connection in self.everyone:
            await connection.close()


def _store(state: State) -> RawStore:
    store: RawStore = state.bench_store
    return store


@get("/bench/bare", opt={"exclude_from_auth": True}, include_in_schema=False)
async def bare() -> dict[str, str]:
    return {"status": "ok"}


@post(
    "/bench/raw-lookup", opt={"exclude_from_auth": True}, include_in_schema=False, status_code=200
)
async def raw_lookup(request: Request[Any, Any, Any]) -> dict[str, Any]:
    seller = _decode_seller(await request.body())
    count = await _store(request.app.state).policy_events(seller.seller_id)
    return {"seller_id": seller.seller_id, "events": count}


@post(
    "/bench/raw-webhook/{provider_id:str}",
    opt={"exclude_from_auth": True},
    include_in_schema=False,
    request_max_body_size=_MAX_BODY,
)
async def raw_webhook(
    request: Request[Any, Any, Any],
    provider_id: FromPath[str],
    settings: NamedDependency[Settings],
) -> Response[Any]:
    secrets = settings.providers.get(provider_id, {}).get("callback_secrets", [])
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        verify(secrets, headers, body, int(time.time()))
    except SignatureError as exc:
        return Response({"error": str(exc)}, status_code=401)
    signed = {k: v for k, v in headers.items() if k.startswith("webhook-")}
    await _store(request.app.state).insert_delivery(
        provider_id, headers["webhook-id"], msgspec.json.encode(signed).decode(), body
    )
    return Response({"stored": True}, status_code=200)


@post(
    "/bench/check-without-key",
    opt={"exclude_from_auth": True},
    include_in_schema=False,
    status_code=200,
)
async def check_without_key(
    coverage: NamedDependency[CoverageService], data: JSONBody[CoverageCheckRequest]
) -> CoverageDecision:
    return await coverage.check(data)


# The check and the batch as the service answers them, deciding the same way but keeping no
# receipt: what the receipts cost is the difference (docs/performance.md). Authenticated and
# authorized like the real endpoints, and their decisions counted in the metrics as theirs are,
# so that nothing but the receipt differs.
@guarded_post(
    "/bench/check-without-receipt",
    guards=[requires(Role.CLAIMS)],
    include_in_schema=False,
    status_code=200,
)
async def check_without_receipt(
    coverage: NamedDependency[CoverageService], data: JSONBody[CoverageCheckRequest]
) -> CoverageDecision:
    outcome = await coverage.decide(data)
    if isinstance(outcome, InvalidInput):
        raise outcome
    coverage.metrics.decisions([outcome.decision])
    return outcome.decision


@guarded_post(
    "/bench/batch-without-receipts",
    guards=[requires(Role.CLAIMS)],
    include_in_schema=False,
    status_code=200,
    request_max_body_size=BATCH_BODY_MAX_BYTES,
)
async def batch_without_receipts(
    coverage: NamedDependency[CoverageService], data: JSONBody[CoverageBatchBody]
) -> CoverageBatchResult:
    async def decide_all(
        claims: list[CoverageCheckRequest],
    ) -> list[CoverageDecision | InvalidInput]:
        decided = [
            o.decision if isinstance(o, Decided) else o for o in await coverage.decide_many(claims)
        ]
        coverage.metrics.decisions([o for o in decided if not isinstance(o, InvalidInput)])
        return decided

    return await batch_result(data, decide_all)


def add_baselines(app: Litestar, settings: Settings) -> None:
    """Register the baseline endpoints and the raw connections they use."""

    async def open_store(app: Litestar) -> None:
        opener = SqliteStore.open if is_sqlite_url(settings.database_url) else PostgresStore.open
        app.state.bench_store = await opener(settings.database_url)

    async def close_store(app: Litestar) -> None:
        store: RawStore | None = app.state.get("bench_store")
        if store is not None:
            await store.close()

    for handler in (
        bare,
        raw_lookup,
        raw_webhook,
        check_without_key,
        check_without_receipt,
        batch_without_receipts,
    ):
        app.register(handler)
    app.on_startup.append(open_store)
    app.on_shutdown.insert(0, close_store)
