"""Storing quote requests and insurer results: plain statements on the database driver.

A request and an ``awaiting`` row per insurer are committed before any insurer is called, and
every insurer's result is committed as it lands (its outcome, its offers, the captured
exchange, and with a request's last result the request's completion). Unless many requests are
in flight, results land apart and each is its own transaction: through SQLAlchemy Core that
transaction cost 0.76 ms of CPU, 7.6 ms of a quote request with ten insurers and half of its
CPU at low load (docs/performance.md). The same statements on the driver's connection cost
about half of that, and the request's own transaction half of its 0.75 ms. The connection is
the write engine's own (checked out of its pool), so pool size and SQLite's pragmas stay the
engine's; only SQLAlchemy's execution layer is skipped.

Values are written as the SQLAlchemy column types write them, so the ORM reads them back
unchanged: instants as aware datetimes on PostgreSQL and as naive UTC text on SQLite
(``UtcDateTime``); JSON as text, encoded with msgspec (the engines' JSON serializer).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from accelerator.infra.database import Database
from accelerator.quoting.fanout import InsurerResult
from schemas import QuoteRequest


@dataclass(frozen=True)
class _Statement:
    postgres: str
    sqlite: str


def _statement(sql: str) -> _Statement:
    """``sql`` with ``{}`` for each parameter, in each database's style (``$n`` or ``?``)."""
    count = sql.count("{}")
    return _Statement(
        postgres=sql.format(*(f"${n}" for n in range(1, count + 1))),
        sqlite=sql.format(*("?" * count)),
    )


_INSERT_REQUEST = _statement(
    "INSERT INTO quote_requests (id, seller_id, status, request, created_at, deadline_at)"
    " VALUES ({}, {}, 'collecting', {}, {}, {})"
)
_INSERT_OUTCOME = _statement(
    "INSERT INTO insurer_outcomes (request_id, provider_id, insurer_name, status, attempts,"
    " updated_at) VALUES ({}, {}, {}, 'awaiting', 0, {})"
)
_SETTLE_OUTCOME = _statement(
    "UPDATE insurer_outcomes SET status = {}, reason_code = {}, reason = {},"
    " quote_reference = {}, attempts = {}, elapsed_ms = {}, updated_at = {}"
    " WHERE request_id = {} AND provider_id = {}"
)
_INSERT_OFFER = _statement(
    "INSERT INTO offers (id, request_id, provider_id, quote_reference, offer, bindable,"
    " valid_until, status, received_at) VALUES ({}, {}, {}, {}, {}, {}, {}, 'open', {})"
)
_INSERT_ATTEMPT = _statement(
    "INSERT INTO insurer_attempts (request_id, provider_id, capture) VALUES ({}, {}, {})"
)
_COMPLETE_REQUEST = _statement(
    "UPDATE quote_requests SET status = 'complete', completed_at = {}"
    " WHERE id = {} AND status = 'collecting'"
)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _instant(value: datetime, sqlite: bool) -> datetime | str:
    if not sqlite:
        return value
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


async def store_request(
    db: Database,
    request: QuoteRequest,
    insurers: Mapping[str, str],
    created_at: datetime,
    deadline_at: datetime,
) -> None:
    """Commit the request (``collecting``) and an ``awaiting`` outcome for each insurer
    (provider id: insurer name)."""
    sqlite = db.is_sqlite
    stamp = _instant(created_at, sqlite)
    request_id = request.request_id
    statements: list[tuple[_Statement, list[tuple[Any, ...]]]] = [
        (
            _INSERT_REQUEST,
            [
                (
                    request_id,
                    request.seller.seller_id,
                    _json(request),
                    stamp,
                    _instant(deadline_at, sqlite),
                )
            ],
        ),
        (
            _INSERT_OUTCOME,
            [(request_id, provider, name, stamp) for provider, name in insurers.items()],
        ),
    ]
    await _transaction(db, statements)


async def store_results(
    db: Database,
    results: Sequence[tuple[str, InsurerResult]],
    completed: Sequence[str] = (),
) -> None:
    """Store insurer results (outcome, offers, captured attempts) and mark the ``completed``
    requests complete, in one transaction, with one statement of each kind however many."""
    sqlite = db.is_sqlite
    stamp = _instant(datetime.now(UTC), sqlite)
    statements: list[tuple[_Statement, list[tuple[Any, ...]]]] = [
        (
            _SETTLE_OUTCOME,
            [
                (
                    result.status,
                    result.reason_code,
                    result.reason,
                    result.quote_reference,
                    len(result.attempts),
                    result.elapsed_ms,
                    stamp,
                    request_id,
                    result.provider_id,
                )
                for request_id, result in results
            ],
        ),
        (
            _INSERT_OFFER,
            [
                (
                    str(uuid.uuid4()),
                    request_id,
                    result.provider_id,
                    offer.quote_reference,
                    _json(offer),
                    offer.bindable,
                    _instant(offer.valid_until, sqlite),
                    stamp,
                )
                for request_id, result in results
                for offer in result.offers
            ],
        ),
        (
            _INSERT_ATTEMPT,
            [
                (request_id, result.provider_id, _json(attempt))
                for request_id, result in results
                for attempt in result.attempts
            ],
        ),
        (_COMPLETE_REQUEST, [(stamp, request_id) for request_id in completed]),
    ]
    await _transaction(db, statements)


async def _transaction(
    db: Database, statements: list[tuple[_Statement, list[tuple[Any, ...]]]]
) -> None:
    """Run each statement for each of its rows (none: skipped), in one transaction."""
    async with db.write_engine.connect() as connection:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        if db.is_sqlite:
            await _sqlite_transaction(driver, [(s.sqlite, rows) for s, rows in statements])
        else:
            async with driver.transaction():
                for statement, rows in statements:
                    if rows:
                        await driver.executemany(statement.postgres, rows)


async def _sqlite_transaction(
    driver: Any, statements: list[tuple[str, list[tuple[Any, ...]]]]
) -> None:
    # The engine's SQLite connections are in autocommit mode (transactions are begun
    # explicitly, see infra.database): begin as every write transaction there does.
    await driver.execute("BEGIN IMMEDIATE")
    try:
        for sql, rows in statements:
            if rows:
                await driver.executemany(sql, rows)
        await driver.execute("COMMIT")
    except BaseException:
        await driver.execute("ROLLBACK")
        raise
