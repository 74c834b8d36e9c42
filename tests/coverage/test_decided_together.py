"""Single checks that arrive together share one read (coverage.together): each is still decided,
answered and refused as it would be alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
import pytest

from accelerator.coverage.together import MOST_PER_READ, DecidedTogether
from schemas import CoverageCheckRequest
from tests.api.policies import claim

pytestmark = pytest.mark.anyio


def _claims(count: int) -> list[CoverageCheckRequest]:
    return [
        msgspec.convert(claim(seller_id=f"s-{n}"), CoverageCheckRequest, strict=False)
        for n in range(count)
    ]


class _Reads:
    """A ``decide`` that records each read's sellers and holds every read until released."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.reads: list[list[str]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()
        self._fail_first = fail_first

    async def __call__(self, claims: Sequence[CoverageCheckRequest]) -> list[str]:
        self.reads.append([c.seller_id for c in claims])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            if self._fail_first and len(self.reads) == 1:
                raise RuntimeError("the database went away")
            return [f"decided {c.seller_id}" for c in claims]
        finally:
            self.in_flight -= 1

    def queued_or_read(self, together: DecidedTogether[str]) -> int:
        return together.waiting + sum(len(read) for read in self.reads)


async def _until(condition: object) -> None:
    """Let the event loop run until ``condition()`` holds (no clock involved)."""
    for _ in range(10_000):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def test_a_lone_claim_is_read_at_once() -> None:
    reads = _Reads()
    reads.release.set()
    together = DecidedTogether(reads, most_in_flight=2)
    [lone] = _claims(1)
    assert await together.decide(lone) == "decided s-0"
    assert reads.reads == [["s-0"]]


async def test_claims_arriving_while_reads_are_in_flight_go_in_one_read() -> None:
    reads = _Reads()
    together = DecidedTogether(reads, most_in_flight=2)
    claims = _claims(12)
    answers = [asyncio.ensure_future(together.decide(c)) for c in claims]
    await _until(lambda: reads.queued_or_read(together) == 12)
    assert len(reads.reads) <= 2  # at most two in flight; the rest wait for one to end
    reads.release.set()
    assert await asyncio.gather(*answers) == [f"decided s-{n}" for n in range(12)]
    assert len(reads.reads) <= 3, reads.reads
    assert sorted(s for read in reads.reads for s in read) == sorted(c.seller_id for c in claims)
    assert reads.most_in_flight <= 2


async def test_a_read_takes_at_most_its_share_and_the_rest_follow() -> None:
    reads = _Reads()
    reads.release.set()
    together = DecidedTogether(reads, most_in_flight=1)
    claims = _claims(MOST_PER_READ + 5)
    answers = await asyncio.gather(*(together.decide(c) for c in claims))
    assert answers == [f"decided {c.seller_id}" for c in claims]
    assert max(len(read) for read in reads.reads) == MOST_PER_READ


async def test_a_failed_read_fails_its_own_claims_only_and_the_next_are_decided() -> None:
    reads = _Reads(fail_first=True)
    together = DecidedTogether(reads, most_in_flight=1)
    first, *others = _claims(4)
    failing = asyncio.ensure_future(together.decide(first))
    await _until(lambda: len(reads.reads) == 1)
    waiting = [asyncio.ensure_future(together.decide(c)) for c in others]
    reads.release.set()
    with pytest.raises(RuntimeError, match="went away"):
        await failing
    assert await asyncio.gather(*waiting) == ["decided s-1", "decided s-2", "decided s-3"]
    assert await together.decide(_claims(1)[0]) == "decided s-0"


async def test_a_caller_that_stops_waiting_leaves_the_others_their_answers() -> None:
    reads = _Reads()
    together = DecidedTogether(reads, most_in_flight=1)
    claims = _claims(3)
    answers = [asyncio.ensure_future(together.decide(c)) for c in claims]
    await _until(lambda: reads.queued_or_read(together) == 3)
    answers[1].cancel()
    reads.release.set()
    assert await answers[0] == "decided s-0"
    assert await answers[2] == "decided s-2"
    assert answers[1].cancelled()


async def test_a_claim_that_fails_a_shared_read_fails_alone() -> None:
    reads: list[list[str]] = []

    async def decide(claims: Sequence[CoverageCheckRequest]) -> list[str]:
        reads.append([c.seller_id for c in claims])
        if any(c.seller_id == "s-1" for c in claims):
            raise RuntimeError("no check alone ever met this")
        return [f"decided {c.seller_id}" for c in claims]

    together = DecidedTogether(decide, most_in_flight=1)
    outcomes = await asyncio.gather(
        *(together.decide(c) for c in _claims(3)), return_exceptions=True
    )
    assert outcomes[0] == "decided s-0"
    assert isinstance(outcomes[1], RuntimeError)
    assert outcomes[2] == "decided s-2"
    # The shared read failed, then each claim was decided alone.
    assert reads == [["s-0", "s-1", "s-2"], ["s-0"], ["s-1"], ["s-2"]]
