"""A ``?wait=true`` fan-out answers with what it stored, as reading the request back shows it,
both databases."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import respx

from accelerator.infra.database import Database
from accelerator.quoting.assessment import assess_offer
from accelerator.quoting.fanout import FanOutPolicy
from accelerator.quoting.repository import read_request
from accelerator.quoting.runner import QuoteRunner, record_request
from accelerator.quoting.views import request_view
from accelerator.ranking import WeightedScore
from accelerator.rulesets.loader import load_rulesets
from schemas import QuoteRequest
from tests.quoting.fakes import make_request
from tests.quoting.test_fanout import partner, router

pytestmark = pytest.mark.anyio
__all__ = ["router"]  # the fixture, for these tests

DEADLINE_SECONDS = 30.0
RULEBOOK = load_rulesets()


async def _ask(
    database: Database, router: respx.MockRouter, *, stamped: bool, assessing: bool = False
) -> tuple[QuoteRunner, QuoteRequest]:
    router.post("https://harbor.test/quote").respond(200, json={"premium": "900.00"})
    router.post("https://acorn.test/quote").respond(200, json={"premium": "1100.00"})
    router.post("https://summit.test/quote").respond(503)
    partners = {p: partner(router, p) for p in ("harbor", "acorn", "summit")}
    runner = QuoteRunner(
        database,
        partners,
        FanOutPolicy(DEADLINE_SECONDS, DEADLINE_SECONDS, poll_interval_seconds=1),
    )
    # Typed as the service builds it (the fake's cover holds plain Money).
    request = msgspec.convert(msgspec.to_builtins(make_request("req-1")), QuoteRequest)
    created_at = datetime.now(UTC)
    deadline_at = created_at + timedelta(seconds=DEADLINE_SECONDS)
    await record_request(database, request, partners, deadline_at, created_at=created_at)
    assess = functools.partial(assess_offer, RULEBOOK, request) if assessing else None
    if stamped:
        runner.start(
            request,
            DEADLINE_SECONDS,
            created_at=created_at,
            deadline_at=deadline_at,
            assess=assess,
        )
    else:
        runner.start(request, DEADLINE_SECONDS)
    return runner, request


async def test_a_waited_fan_out_answers_with_the_request_exactly_as_it_reads_back(
    database: Database, seller: str, router: respx.MockRouter
) -> None:
    runner, request = await _ask(database, router, stamped=True)
    written = await runner.wait(request.request_id, DEADLINE_SECONDS * 2)
    await runner.close()

    assert written is not None
    answer = written.stored
    assert answer == await read_request(database, request.request_id)
    assert answer.row.status == "complete"
    assert {o.provider_id: o.status for o in answer.outcomes} == {
        "acorn": "offered",
        "harbor": "offered",
        "summit": "error",
    }
    assert len(answer.offers) == 2


async def test_a_fan_out_started_without_its_stored_instants_leaves_the_caller_to_read_it(
    database: Database, seller: str, router: respx.MockRouter
) -> None:
    # As a renewal is started: its request was stored by another path.
    runner, request = await _ask(database, router, stamped=False)
    assert await runner.wait(request.request_id, DEADLINE_SECONDS * 2) is None
    await runner.close()
    stored = await read_request(database, request.request_id)
    assert stored is not None
    assert stored.row.status == "complete"


async def test_offers_assessed_as_they_land_give_the_answer_reading_back_would(
    database: Database, seller: str, router: respx.MockRouter
) -> None:
    runner, request = await _ask(database, router, stamped=True, assessing=True)
    written = await runner.wait(request.request_id, DEADLINE_SECONDS * 2)
    await runner.close()

    assert written is not None
    assert set(written.assessed) == {offer.id for offer, _ in written.stored.offers}
    read_back = await read_request(database, request.request_id)
    assert read_back is not None
    now = datetime.now(UTC)
    answer = request_view(written.stored, RULEBOOK, WeightedScore(), now, written.assessed)
    assert answer == request_view(read_back, RULEBOOK, WeightedScore(), now)
