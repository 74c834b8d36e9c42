"""Reading a quote request back on the driver's connections (``quoting.repository``), both
databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import select, update

from accelerator.infra.database import Database
from accelerator.infra.lookups import Row
from accelerator.infra.statements import Statement
from accelerator.quoting import repository
from accelerator.quoting.models import InsurerOutcomeRow, OfferRow, QuoteRequestRow
from accelerator.quoting.repository import OfferRecord, read_request, store_results
from schemas import InsurerOutcomeView, Offer, QuoteRequest, QuoteRequestStatus
from tests.quoting.fakes import make_request
from tests.quoting.storage import ask, declined, offered

pytestmark = pytest.mark.anyio


def _is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is UTC


async def test_read_back_matches_the_orm_rows(database: Database, seller: str) -> None:
    await ask(database, "req-1", "meridian", "acorn", "harbor")
    await store_results(
        database,
        [("req-1", offered("meridian", "1500.00", "990.00")), ("req-1", declined("harbor"))],
    )
    await store_results(database, [("req-1", offered("acorn", "1100.00"))], ["req-1"])

    back = await read_request(database, "req-1")
    async with database.reading() as session:
        request = await session.get_one(QuoteRequestRow, "req-1")
        outcomes = (
            await session.scalars(
                select(InsurerOutcomeRow)
                .where(InsurerOutcomeRow.request_id == "req-1")
                .order_by(InsurerOutcomeRow.provider_id)
            )
        ).all()
        offers = (
            await session.scalars(
                select(OfferRow).where(OfferRow.request_id == "req-1").order_by(OfferRow.id)
            )
        ).all()

    assert back is not None
    assert back.row == repository.RequestRecord(
        id=request.id,
        seller_id=request.seller_id,
        status=request.status,
        created_at=request.created_at,
        deadline_at=request.deadline_at,
        completed_at=request.completed_at,
        bound_offer_id=request.bound_offer_id,
        bind_reference=request.bind_reference,
    )
    assert back.row.status == "complete"
    assert all(map(_is_utc, [back.row.created_at, back.row.deadline_at, back.row.completed_at]))
    assert back.request == msgspec.convert(request.request, QuoteRequest)
    assert msgspec.to_builtins(back.request) == request.request
    assert back.outcomes == [
        InsurerOutcomeView(
            provider_id=row.provider_id,
            insurer_name=row.insurer_name,
            status=row.status,
            reason_code=row.reason_code,
            reason=row.reason,
            quote_reference=row.quote_reference,
            attempts=row.attempts,
            elapsed_ms=row.elapsed_ms,
        )
        for row in outcomes
    ]
    assert [o.provider_id for o in back.outcomes] == ["acorn", "harbor", "meridian"]
    assert back.offers == [
        (OfferRecord(row.id, row.status, row.valid_until), msgspec.convert(row.offer, Offer))
        for row in offers
    ]
    assert [record.id for record, _ in back.offers] == sorted(row.id for row in offers)
    assert len(back.offers) == 3
    assert all(_is_utc(record.valid_until) for record, _ in back.offers)
    assert [msgspec.to_builtins(offer) for _, offer in back.offers] == [row.offer for row in offers]


async def test_an_unknown_request_reads_back_as_none(database: Database) -> None:
    assert await read_request(database, "nowhere") is None


@pytest.mark.parametrize("commit_before", ["request", "outcomes", "offers"])
async def test_a_read_back_while_the_last_result_commits_is_never_complete_with_it_missing(
    database: Database, seller: str, monkeypatch: pytest.MonkeyPatch, commit_before: str
) -> None:
    # Harbor has offered; Acorn's offer and the request's completion commit together, at the
    # worst moment for the read of `commit_before`: after every read begun alongside it (were
    # they run at once) has been answered, and just before its own.
    await ask(database, "req-1", "harbor", "acorn")
    await store_results(database, [("req-1", offered("harbor"))])
    target = {
        "request": repository._READ_REQUEST,
        "outcomes": repository._READ_OUTCOMES,
        "offers": repository._READ_OFFERS,
    }
    real_fetch = database.lookups.fetch
    in_flight: list[asyncio.Future[None]] = []
    committed = False

    async def fetch(lookup: Statement, **params: Any) -> list[Row]:
        nonlocal committed
        if lookup is target[commit_before] and not committed:
            await asyncio.sleep(0)  # reads started together with this one begin meanwhile
            await asyncio.gather(*in_flight)
            await store_results(database, [("req-1", offered("acorn"))], ["req-1"])
            committed = True
            return await real_fetch(lookup, **params)
        answered = asyncio.get_running_loop().create_future()
        in_flight.append(answered)
        try:
            return await real_fetch(lookup, **params)
        finally:
            answered.set_result(None)

    monkeypatch.setattr(database.lookups, "fetch", fetch)
    back = await read_request(database, "req-1")

    assert committed
    assert back is not None
    if back.row.status == "complete":
        assert [(o.provider_id, o.status) for o in back.outcomes] == [
            ("acorn", "offered"),
            ("harbor", "offered"),
        ]
    offering = {offer.provider_id for _, offer in back.offers}
    for outcome in back.outcomes:
        assert outcome.status != "offered" or outcome.provider_id in offering, outcome


async def _asked(database: Database, request_id: str, *providers: str) -> tuple[Any, ...]:
    """Store a request as the service does; returns what its fan-out knows of it."""
    # Typed as the service builds it (the fake's cover holds plain Money).
    request = msgspec.convert(msgspec.to_builtins(make_request(request_id)), QuoteRequest)
    created_at = datetime.now(UTC)
    deadline_at = created_at + timedelta(minutes=1)
    insurers = {provider: f"{provider} insurance" for provider in providers}
    await repository.store_request(database, request, insurers, created_at, deadline_at)
    return request, created_at, deadline_at


async def test_a_request_stored_as_its_fan_out_wrote_it_is_answered_as_it_reads_back(
    database: Database, seller: str
) -> None:
    request, created_at, deadline_at = await _asked(
        database, "req-1", "meridian", "acorn", "harbor"
    )
    first = [offered("meridian", "1500.00", "990.00"), declined("harbor")]
    last = offered("acorn", "1100.00")
    assert await store_results(database, [("req-1", result) for result in first]) == {}
    answered = await store_results(database, [("req-1", last)], ["req-1"])

    assert set(answered) == {"req-1"}
    written = repository.written_request(
        request, created_at, deadline_at, [*first, last], answered["req-1"]
    )
    assert written == await read_request(database, "req-1")
    # Completing it again (as a sweep might) completes nothing: nothing to answer from.
    assert await store_results(database, [], ["req-1"]) == {}


async def test_a_request_an_insurer_event_changed_is_not_answered_from_what_was_written(
    database: Database, seller: str
) -> None:
    await _asked(database, "req-1", "harbor", "acorn")
    await store_results(database, [("req-1", offered("harbor"))])
    # Harbor's callback settles its quote again (withdrawing the offer) before the fan-out
    # completes: what the fan-out holds is no longer what is stored.
    async with database.writing() as session:
        outcome = await repository.lock_outcome(session, "harbor", "harbor-q1")
        assert outcome is not None
        await repository.withdraw_offers(session, "req-1", "harbor")
        now = datetime.now(UTC)
        repository.note_event(outcome, now, None, now)

    assert await store_results(database, [("req-1", declined("acorn"))], ["req-1"]) == {}
    back = await read_request(database, "req-1")
    assert back is not None
    assert back.row.status == "complete"
    assert [record.status for record, _ in back.offers] == ["withdrawn"]


async def test_a_request_claimed_for_a_bind_meanwhile_is_not_answered_from_what_was_written(
    database: Database, seller: str
) -> None:
    await _asked(database, "req-1", "harbor", "acorn")
    await store_results(database, [("req-1", offered("harbor"))])
    async with database.writing() as session:
        await session.execute(
            update(QuoteRequestRow)
            .where(QuoteRequestRow.id == "req-1")
            .values(status=QuoteRequestStatus.BINDING)
        )

    assert await store_results(database, [("req-1", declined("acorn"))], ["req-1"]) == {}
