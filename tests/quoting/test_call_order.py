"""A fan-out asks the insurer usually slowest to answer first: the request waits for its slowest
insurer, and the calls leave one after another from one event loop, so the slowest one asked
last would wait for every other call's sending too (docs/performance.md, "A quote request's
critical path")."""

from __future__ import annotations

import httpx
import pytest
import respx

from accelerator.insurers.partners import Partner
from accelerator.quoting.fanout import FanOutPolicy, InsurerResult, call_order, fan_out
from tests.quoting.fakes import make_request
from tests.quoting.test_fanout import partner, router

pytestmark = pytest.mark.anyio
__all__ = ["router"]  # the fixture, for these tests

DEADLINE_SECONDS = 30.0


def _partner_answering_in(
    router: respx.MockRouter, provider_id: str, typical_ms: float | None, order: list[str]
) -> Partner:
    async def answer(request: httpx.Request) -> httpx.Response:
        order.append(provider_id)
        return httpx.Response(200, json={"premium": "900.00"})

    router.post(f"https://{provider_id}.test/quote").mock(side_effect=answer)
    asked = partner(router, provider_id)
    asked.typical_ms = typical_ms
    return asked


async def test_the_insurer_usually_slowest_to_answer_is_asked_first(
    router: respx.MockRouter,
) -> None:
    order: list[str] = []
    typical = {"fast": 50.0, "new": None, "slowest": 200.0, "slow": 150.0, "medium": 100.0}
    partners = {p: _partner_answering_in(router, p, ms, order) for p, ms in typical.items()}
    seen: list[InsurerResult] = []

    async def sink(result: InsurerResult) -> None:
        seen.append(result)

    policy = FanOutPolicy(DEADLINE_SECONDS, DEADLINE_SECONDS)
    await fan_out(make_request(), partners, policy, sink)
    for asked in partners.values():
        await asked.client.aclose()

    # One not yet heard from may be the slowest of all: it goes first.
    assert order == ["new", "slowest", "slow", "medium", "fast"]
    assert [r.status for r in seen] == ["offered"] * 5
    # Every call's time is taken into its insurer's typical time.
    assert all(p.typical_ms is not None for p in partners.values())


def test_a_partner_s_typical_time_follows_its_calls_a_fifth_of_the_way_each() -> None:
    asked = Partner.__new__(Partner)
    asked.typical_ms = None
    asked.note_elapsed(100.0)
    assert asked.typical_ms == 100.0
    asked.note_elapsed(200.0)
    assert asked.typical_ms == pytest.approx(120.0)


async def test_the_call_order_puts_the_slowest_first_and_keeps_ties_in_place(
    router: respx.MockRouter,
) -> None:
    made = {p: partner(router, p) for p in ("a", "b", "c", "d")}
    for provider_id, ms in (("a", 10.0), ("b", 30.0), ("c", 10.0), ("d", 30.0)):
        made[provider_id].typical_ms = ms
    assert [p.adapter.provider_id for p in call_order(list(made.values()))] == ["b", "d", "a", "c"]
