"""The runner's group commit of insurer results and completions (``ResultWriter``), both
databases."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from accelerator.infra.database import Database
from accelerator.quoting import repository
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.models import InsurerOutcomeRow, OfferRow, QuoteRequestRow
from accelerator.quoting.runner import ResultWriter
from tests.quoting.storage import ask, declined, offered

pytestmark = pytest.mark.anyio

# One store_results call as the writer made it: (request, provider) of each result, completions.
Write = tuple[list[tuple[str, str]], list[str]]


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[Write]:
    """Every write the writer sends, in order (each is still stored)."""
    sent: list[Write] = []
    store = repository.store_results

    async def recording(
        db: Database, results: Sequence[tuple[str, InsurerResult]], completed: Sequence[str] = ()
    ) -> dict[str, datetime]:
        sent.append(([(r, result.provider_id) for r, result in results], list(completed)))
        return await store(db, results, completed)

    monkeypatch.setattr(repository, "store_results", recording)
    return sent


async def _settled(writer: ResultWriter, futures: Sequence[asyncio.Future[Any]]) -> list[Any]:
    """What became of each write, once the writer is done (one left waiting fails the test)."""
    async with asyncio.timeout(5):
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        await writer.close()
    return outcomes


async def _statuses(db: Database) -> dict[str, Any]:
    async with db.reading() as session:
        requests = (await session.execute(select(QuoteRequestRow.id, QuoteRequestRow.status))).all()
        outcomes = (
            await session.execute(
                select(
                    InsurerOutcomeRow.request_id,
                    InsurerOutcomeRow.provider_id,
                    InsurerOutcomeRow.status,
                )
            )
        ).all()
        offers = (await session.execute(select(OfferRow.request_id, OfferRow.provider_id))).all()
    return {
        "requests": dict(requests),
        "outcomes": {(r, p): status for r, p, status in outcomes},
        "offers": sorted(tuple(o) for o in offers),
    }


async def test_results_of_concurrent_fan_outs_and_a_completion_share_one_write(
    database: Database, seller: str, writes: list[Write]
) -> None:
    await ask(database, "req-0", "harbor")
    await ask(database, "req-1", "harbor")
    await ask(database, "req-2", "acorn")
    writer = ResultWriter(database)
    first = writer.submit("req-0", declined("harbor"))
    await asyncio.sleep(0)  # the writer takes it and starts writing
    assert writes == [([("req-0", "harbor")], [])]
    # Landing while that write is in progress: two fan-outs' results, one's completion.
    queued = [
        writer.submit("req-1", offered("harbor")),
        writer.submit("req-2", offered("acorn")),
        writer.complete("req-1"),
    ]
    settled = await _settled(writer, [first, *queued])
    assert settled[:3] == [None, None, None]
    # Nothing but these writes touched req-1: its completion says when it was completed.
    assert isinstance(settled[3], datetime)

    assert writes == [
        ([("req-0", "harbor")], []),
        ([("req-1", "harbor"), ("req-2", "acorn")], ["req-1"]),
    ]
    stored = await _statuses(database)
    assert stored["requests"] == {"req-0": "collecting", "req-1": "complete", "req-2": "collecting"}
    assert stored["offers"] == [("req-1", "harbor"), ("req-2", "acorn")]


async def test_an_unstorable_result_does_not_fail_the_rest_of_its_batch(
    database: Database, seller: str, writes: list[Write]
) -> None:
    await ask(database, "req-1", "harbor", "acorn")
    writer = ResultWriter(database)
    futures = [
        writer.submit("req-1", offered("harbor")),
        # Its offer names a request that was never stored: the foreign key refuses it.
        writer.submit("req-lost", offered("acorn")),
        writer.submit("req-1", declined("acorn")),
        writer.complete("req-1"),
    ]
    outcomes = await _settled(writer, futures)

    assert outcomes[0] is None
    assert isinstance(outcomes[1], Exception)
    assert outcomes[2] is None
    assert isinstance(outcomes[3], datetime)
    # The batch as one write, then (that failing) each of its writes alone, in order.
    assert writes[0] == (
        [("req-1", "harbor"), ("req-lost", "acorn"), ("req-1", "acorn")],
        ["req-1"],
    )
    assert writes[1:] == [
        ([("req-1", "harbor")], []),
        ([("req-lost", "acorn")], []),
        ([("req-1", "acorn")], []),
        ([], ["req-1"]),
    ]
    stored = await _statuses(database)
    assert stored["requests"] == {"req-1": "complete"}
    assert stored["outcomes"] == {("req-1", "harbor"): "offered", ("req-1", "acorn"): "declined"}
    assert stored["offers"] == [("req-1", "harbor")]


async def test_a_completion_is_never_written_before_its_requests_results(
    database: Database, seller: str, writes: list[Write]
) -> None:
    await ask(database, "req-1", "harbor", "acorn", "meridian")
    writer = ResultWriter(database)
    futures = [writer.submit("req-1", offered("harbor"))]
    await asyncio.sleep(0)  # that one is being written
    futures += [
        writer.submit("req-1", declined("acorn")),
        writer.submit("req-lost", offered("acorn")),  # unstorable: its batch goes one by one
        writer.submit("req-1", offered("meridian")),
        writer.complete("req-1"),
    ]
    outcomes = await _settled(writer, futures)
    assert [isinstance(o, BaseException) for o in outcomes] == [False, False, True, False, False]

    # Each write is atomic: a completion may share one with its request's last results.
    written: set[tuple[str, str]] = set()
    for results, completed in writes:
        written.update(results)
        if "req-1" in completed:
            assert {("req-1", p) for p in ("harbor", "acorn", "meridian")} <= written
    assert writes[-1] == ([], ["req-1"])
    stored = await _statuses(database)
    assert stored["requests"] == {"req-1": "complete"}
    assert set(stored["outcomes"].values()) == {"offered", "declined"}


async def test_cancelling_the_writer_fails_its_writes_rather_than_leaving_them_waiting(
    database: Database, seller: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ask(database, "req-1", "harbor", "acorn")
    started = asyncio.Event()

    async def stuck(*_: Any) -> None:
        started.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(repository, "store_results", stuck)
    writer = ResultWriter(database)
    in_progress = writer.submit("req-1", offered("harbor"))
    await started.wait()
    queued = [writer.submit("req-1", declined("acorn")), writer.complete("req-1")]
    draining = writer._draining
    assert draining is not None
    draining.cancel()  # as at shutdown

    outcomes = await _settled(writer, [in_progress, *queued])
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes), outcomes

    # The writer still works afterwards.
    monkeypatch.undo()
    assert await _settled(writer, [writer.submit("req-1", declined("acorn"))]) == [None]
    assert (await _statuses(database))["outcomes"][("req-1", "acorn")] == "declined"
