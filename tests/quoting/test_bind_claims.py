"""Claims on a request's bind (``quoting.repository``): one process holds a bind at a time, and
only the latest claim settles it, on PostgreSQL and SQLite alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from accelerator.infra.database import Database, open_database
from accelerator.quoting import repository as quotes
from accelerator.quoting.models import OfferRow
from schemas import BindFailure
from tests.quoting.storage import ask, offered

pytestmark = pytest.mark.anyio


async def claimed(database: Database, ago: timedelta) -> quotes.BindClaim:
    """Request req-1 with harbor's offer, claimed for a bind ``ago``."""
    await ask(database, "req-1", "harbor")
    await quotes.store_results(database, [("req-1", offered("harbor"))], ["req-1"])
    async with database.reading() as session:
        offer_id = await session.scalar(select(OfferRow.id))
    assert offer_id is not None
    claim = await quotes.claim_for_bind(
        database,
        "req-1",
        offer_id,
        principal_id="key-1",
        idempotency_key="k-1",
        now=datetime.now(UTC) - ago,
    )
    assert claim is not None
    return claim


async def test_a_stale_bind_is_taken_over_once_and_its_claim_moves_forward(
    database: Database, seller: str
) -> None:
    first = await claimed(database, timedelta(minutes=5))
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=30)

    taken = await quotes.take_over_bind(database, "req-1", claimed_before=stale, now=now)
    again = await quotes.take_over_bind(database, "req-1", claimed_before=stale, now=now)

    assert taken == quotes.BindClaim("req-1", first.offer_id, now, 2, "key-1", "k-1")
    assert again is None
    assert await quotes.abandoned_binds(database, claimed_before=stale, limit=10) == []


async def test_processes_taking_over_a_stale_bind_at_once_get_it_once(
    database: Database, database_url: str, seller: str
) -> None:
    await claimed(database, timedelta(minutes=5))
    now = datetime.now(UTC)
    others = [open_database(database_url) for _ in range(4)]
    try:
        taken = await asyncio.gather(
            *(
                quotes.take_over_bind(
                    db, "req-1", claimed_before=now - timedelta(seconds=30), now=now
                )
                for db in others
            )
        )
    finally:
        for db in others:
            await db.dispose()
    assert sum(claim is not None for claim in taken) == 1


async def test_only_the_latest_claim_settles_a_bind(database: Database, seller: str) -> None:
    first = await claimed(database, timedelta(minutes=5))
    now = datetime.now(UTC)
    latest = await quotes.take_over_bind(
        database, "req-1", claimed_before=now - timedelta(seconds=30), now=now
    )
    assert latest is not None
    failure = BindFailure(offer_id=first.offer_id, code="bind_refused", reason="no", failed_at=now)

    async with database.writing() as session:
        held_by_first = await quotes.hold_bind(session, first)
    async with database.writing() as session:
        held_by_latest = await quotes.hold_bind(session, latest)
        await quotes.reopen_after_bind(session, "req-1", failure)
    stored = await quotes.read_request(database, "req-1")

    assert (held_by_first, held_by_latest) == (False, True)
    assert stored is not None
    assert (stored.row.status, stored.row.bind_failure) == ("complete", failure)
