"""Bulk-generated coverage registries: thousands to millions of policies in seconds to minutes.

Every seller holds two verified policies from the same insurer: last year's (expired) and this
year's, which qualifies under the US rule set, so a check for an incident ten days ago is decided
``exempt`` after reading four events. With ``ending_every=k``, every k-th seller's current policy
ends in :data:`ENDING_IN_DAYS` days instead (the reminder sweep's benchmark: that many
``policy.expiring`` reminders are due). Rows are written in passes (all sellers, then every seller's
old policy, then its verification, then the current policy, ...) so one seller's events lie far
apart on disk, as they do when they arrive over a year, not side by side.

PostgreSQL is filled with COPY (asyncpg ``copy_records_to_table``), SQLite with ``executemany``
in large transactions; both write exactly the columns the service's own code would.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs published
import msgspec
from sqlalchemy.engine import make_url

from accelerator.audit.chain import GENESIS, Chain, event_content, link
from accelerator.coverage.linking import insurer_key
from accelerator.infra.database import is_sqlite_url
from accelerator.infra.lookups import asyncpg_dsn
from schemas import Money, PolicyTerms

POLICIES_PER_SELLER = 2
OPERATOR = "Amazon.com Services LLC and its affiliates and assignees"
INSURER = "Harbor Mutual Insurance Company"
INSURER_KEY = insurer_key(INSURER)
_CHUNK = 50_000
#: Days until the current policy of an ``ending_every`` seller ends: inside the 30-day reminder.
ENDING_IN_DAYS = 25

_SELLER_COLUMNS = ("id", "legal_name", "marketplace", "latest_profile_version")
_SELLER_TIMES = ("created_at", "updated_at")
_POLICY_COLUMNS = (
    "id",
    "seller_id",
    "insurer_name",
    "insurer_key",
    "policy_number",
    "provider_id",
    "source",
    "offer_id",
    "quote_request_id",
    "created_at",
)
_EVENT_COLUMNS = ("event_id", "policy_id", "seller_id", "kind", "effective_at", "recorded_at")
_CHAIN_COLUMNS = ("chain_position", "prev_hash", "row_hash")
_HEAD_COLUMNS = ("chain", "seller_id", "position", "row_hash")


def seller_id(number: int) -> str:
    return f"bench-{number:07d}"


def legal_name(number: int) -> str:
    return f"Bench Goods {number} LLC"


def policy_id(number: int, year: int) -> str:
    return f"pol-{number:07d}-{year}"


def check_body(number: int, now: datetime) -> dict[str, Any]:
    """A coverage check the registry decides ``exempt``: an incident ten days ago, in scope."""
    return {
        "seller_id": seller_id(number),
        "incident_at": (now - timedelta(days=10)).isoformat(),
        "product_category": "electronics/power-banks",
        "marketplace": "US",
        "claim_amount": {"amount": "400.00", "currency": "USD"},
    }


def _usd(amount: int) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def _terms(number: int, year: int, start: datetime) -> dict[str, Any]:
    terms = PolicyTerms(
        insurer_name=INSURER,
        insurer_rating="A",
        policy_number=f"BENCH-{number:07d}-{year}",
        named_insured=legal_name(number),
        policy_form="occurrence",
        per_occurrence_limit=_usd(1_000_000),
        aggregate_limit=_usd(2_000_000),
        products_completed_operations_aggregate=_usd(2_000_000),
        deductible=_usd(5_000),
        additional_insureds=[OPERATOR],
        territories=["US"],
        covered_categories=["electronics"],
        effective_at=start,
        expires_at=start + timedelta(days=365),
        cancellation_notice_days=30,
    )
    built: dict[str, Any] = msgspec.to_builtins(terms)
    return built


@dataclass(frozen=True)
class _Rows:
    """The rows of sellers ``first .. first+count-1``, pass by pass."""

    first: int
    count: int
    now: datetime
    # Every ending_every-th seller's current policy ends in ENDING_IN_DAYS days (0: none).
    ending_every: int = 0
    # Each seller's chain of events so far (audit.chain): position and last hash.
    chains: dict[str, tuple[int, str]] = field(default_factory=dict)

    def numbers(self) -> range:
        return range(self.first, self.first + self.count)

    def sellers(self) -> Iterator[tuple[Any, ...]]:
        for n in self.numbers():
            yield (seller_id(n), legal_name(n), "US", 0, self.now, self.now)

    def _start(self, year: int, number: int) -> datetime:
        # year 0: last year's policy (ended 100 days ago); year 1: in force until 265 days on,
        # or until ENDING_IN_DAYS on for every ending_every-th seller.
        if year == 1 and self.ending_every and number % self.ending_every == 0:
            return self.now - timedelta(days=365 - ENDING_IN_DAYS)
        return self.now - timedelta(days=100 + 365 * (1 - year))

    def policies(self, year: int) -> Iterator[tuple[Any, ...]]:
        for n in self.numbers():
            start = self._start(year, n)
            yield (
                policy_id(n, year),
                seller_id(n),
                INSURER,
                INSURER_KEY,
                f"BENCH-{n:07d}-{year}",
                "harbor",
                "bound",
                None,
                None,
                start - timedelta(days=5),
            )

    def events(self, year: int, kind: str) -> Iterator[tuple[Any, ...]]:
        for n in self.numbers():
            start = self._start(year, n)
            recorded = start - timedelta(days=5) if kind == "issued" else start - timedelta(days=4)
            data = {"terms": _terms(n, year, start)} if kind == "issued" else {}
            row = (
                f"bench.{policy_id(n, year)}.{kind}",
                policy_id(n, year),
                seller_id(n),
                kind,
                start if kind == "issued" else recorded,
                recorded,
            )
            # Chained as the service chains what it records (coverage.repository.add_event).
            position, prev = self.chains.get(row[2], (0, GENESIS))
            content = event_content(
                event_id=row[0],
                policy_id=row[1],
                seller_id=row[2],
                kind=kind,
                effective_at=row[4],
                recorded_at=recorded,
                data=data,
            )
            row_hash = link(prev, content)
            self.chains[row[2]] = (position + 1, row_hash)
            yield (*row, json.dumps(data), position + 1, prev, row_hash)

    def heads(self) -> Iterator[tuple[Any, ...]]:
        for seller, (position, row_hash) in self.chains.items():
            yield (Chain.EVENTS.value, seller, position, row_hash)

    def passes(self) -> Iterator[tuple[str, Sequence[str], Iterator[tuple[Any, ...]]]]:
        yield "sellers", (*_SELLER_COLUMNS, *_SELLER_TIMES), self.sellers()
        for year in (0, 1):
            yield "policies", _POLICY_COLUMNS, self.policies(year)
            for kind in ("issued", "verified"):
                columns = (*_EVENT_COLUMNS, "data", *_CHAIN_COLUMNS)
                yield "policy_events", columns, self.events(year, kind)
        yield "audit_heads", _HEAD_COLUMNS, self.heads()


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _fill_postgres(url: str, rows: _Rows) -> None:
    dsn = asyncpg_dsn(url)
    connection = await asyncpg.connect(dsn)
    try:
        for table, columns, records in rows.passes():
            for chunk in _chunks(records):
                await connection.copy_records_to_table(table, records=chunk, columns=columns)
        # Fresh statistics, as autovacuum would eventually gather them in production.
        await connection.execute("ANALYZE sellers, policies, policy_events")
    finally:
        await connection.close()


def _sqlite_value(value: Any) -> Any:
    # The service stores instants as naive UTC text in SQLAlchemy's format.
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )
    return value


def _fill_sqlite(url: str, rows: _Rows) -> None:
    connection = sqlite3.connect(str(make_url(url).database))
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        for table, columns, records in rows.passes():
            statement = (
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - our own names
                f"VALUES ({', '.join('?' for _ in columns)})"
            )
            for chunk in _chunks(records):
                with connection:
                    connection.executemany(
                        statement, [tuple(map(_sqlite_value, row)) for row in chunk]
                    )
        connection.execute("ANALYZE")
    finally:
        connection.close()


def grow_registry(
    url: str, *, first_seller: int, sellers: int, now: datetime, ending_every: int = 0
) -> int:
    """Add sellers ``first_seller ..`` with their policies; returns the policies added."""
    rows = _Rows(first_seller, sellers, now, ending_every)
    if is_sqlite_url(url):
        _fill_sqlite(url, rows)
    else:
        asyncio.run(_fill_postgres(url, rows))
    return sellers * POLICIES_PER_SELLER
