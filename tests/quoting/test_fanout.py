"""The fan-out engine against respx-mocked insurers: deadlines, retries, breakers, isolation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import httpx
import pytest
import respx

from accelerator.infra.http import build_client
from accelerator.insurers.breaker import BreakerState, CircuitBreaker
from accelerator.insurers.caller import RetryPolicy, parse_retry_after
from accelerator.insurers.partners import Partner
from accelerator.quoting.fanout import FanOutPolicy, InsurerResult, fan_out
from providers import Appetite, ProviderSettings, RevenueBand
from tests.quoting.fakes import ExplodingAdapter, FakeAdapter, make_request

pytestmark = pytest.mark.anyio

# A fan-out must answer at its deadline, not when a hanging insurer would (HANG_SECONDS). The
# margin is wide on purpose: a busy 2-core machine can stall the event loop for a second, and
# what the tests tell apart is "at the deadline" from "a minute later".
DEADLINE_MARGIN_SECONDS = 5.0
HANG_SECONDS = 60.0


@pytest.fixture
async def router() -> AsyncIterator[respx.MockRouter]:
    async with respx.mock(assert_all_called=False) as mock:
        yield mock


def partner(
    router: respx.MockRouter,
    provider_id: str,
    adapter_class: type[FakeAdapter] = FakeAdapter,
    breaker: CircuitBreaker | None = None,
    **adapter_kwargs: object,
) -> Partner:
    settings = ProviderSettings(
        base_url=f"https://{provider_id}.test", api_key=f"secret-{provider_id}"
    )
    return Partner(
        adapter=adapter_class(provider_id, settings, **adapter_kwargs),  # type: ignore[arg-type]
        settings=settings,
        client=build_client(
            settings.base_url,
            timeout_seconds=30,
            transport=httpx.MockTransport(router.async_handler),
        ),
        breaker=breaker or CircuitBreaker(),
    )


async def run(
    partners: list[Partner], deadline: float = 2.0, retry: RetryPolicy | None = None
) -> tuple[dict[str, InsurerResult], float]:
    seen: list[InsurerResult] = []

    async def sink(result: InsurerResult) -> None:
        seen.append(result)

    policy = FanOutPolicy(
        deadline_seconds=deadline,
        insurer_timeout_seconds=deadline,
        retry=retry or RetryPolicy(backoff_base_seconds=0.01, backoff_max_seconds=0.05),
    )
    started = time.perf_counter()
    results = await fan_out(
        make_request(), {p.adapter.provider_id: p for p in partners}, policy, sink
    )
    elapsed = time.perf_counter() - started
    for p in partners:
        await p.client.aclose()
    assert [r.provider_id for r in seen] == [r.provider_id for r in results]
    return {r.provider_id: r for r in results}, elapsed


def respond_after(seconds: float, response: httpx.Response) -> Callable[[httpx.Request], object]:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(seconds)
        return response

    return handler


async def test_a_hanging_insurer_is_timed_out_at_the_deadline_and_others_still_offer(
    router: respx.MockRouter,
) -> None:
    router.post("https://slow.test/quote").mock(
        side_effect=respond_after(HANG_SECONDS, httpx.Response(200))
    )
    router.post("https://fast.test/quote").respond(200, json={"premium": "900.00"})
    results, elapsed = await run([partner(router, "slow"), partner(router, "fast")], deadline=0.5)
    assert results["slow"].status == "timed_out"
    assert results["slow"].reason_code == "insurer_timeout"
    assert results["fast"].status == "offered"
    assert elapsed < 0.5 + DEADLINE_MARGIN_SECONDS


async def test_transient_errors_are_retried_with_the_same_idempotency_key(
    router: respx.MockRouter,
) -> None:
    route = router.post("https://flaky.test/quote")
    route.side_effect = [
        httpx.Response(503),
        httpx.Response(502),
        httpx.Response(200, json={"premium": "1000"}),
    ]
    results, _ = await run([partner(router, "flaky")])
    assert results["flaky"].status == "offered"
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert route.call_count == 3
    assert keys == {"req-1.flaky.quote"}


async def test_retries_stop_when_the_budget_is_spent(router: respx.MockRouter) -> None:
    route = router.post("https://down.test/quote").mock(
        side_effect=respond_after(0.15, httpx.Response(503))
    )
    retry = RetryPolicy(max_attempts=50, backoff_base_seconds=0.01, backoff_max_seconds=0.02)
    results, elapsed = await run([partner(router, "down")], deadline=1.5, retry=retry)
    assert results["down"].status in {"error", "timed_out"}
    # ~0.17 s per attempt fits at most nine times in 1.5 s (fewer on a busy machine), never 50.
    assert 2 <= route.call_count <= 9
    assert elapsed < 1.5 + DEADLINE_MARGIN_SECONDS


async def test_retry_after_is_honoured(router: respx.MockRouter) -> None:
    route = router.post("https://busy.test/quote")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(200, json={"premium": "1000"}),
    ]
    results, elapsed = await run([partner(router, "busy")], deadline=3)
    assert results["busy"].status == "offered"
    assert elapsed >= 1.0
    assert route.call_count == 2


async def test_a_retry_after_beyond_the_deadline_ends_the_call_without_waiting(
    router: respx.MockRouter,
) -> None:
    router.post("https://busy.test/quote").respond(429, headers={"Retry-After": "600"})
    results, elapsed = await run([partner(router, "busy")], deadline=30)
    assert results["busy"].status == "error"
    assert results["busy"].reason_code == "rate_limited"
    assert elapsed < 10  # neither the Retry-After (600 s) nor the deadline (30 s) was waited for


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
async def test_a_4xx_on_the_first_attempt_is_not_retried(
    router: respx.MockRouter, status: int
) -> None:
    # The first attempt goes out before tenacity is involved: a refusal must end the call there.
    route = router.post("https://picky.test/quote")
    route.side_effect = [httpx.Response(status), httpx.Response(200, json={"premium": "1000"})]
    breaker = CircuitBreaker(failure_threshold=1)
    results, _ = await run([partner(router, "picky", breaker=breaker)])
    assert results["picky"].status == "error"
    assert results["picky"].reason_code == f"http_{status}"
    assert route.call_count == 1
    assert [a.response_status for a in results["picky"].attempts] == [status]
    assert breaker.state is BreakerState.CLOSED  # a refusal is not the insurer failing


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_an_error_not_followed(router: respx.MockRouter, status: int) -> None:
    moved = router.post("https://moved.test/quote")
    moved.side_effect = [
        httpx.Response(status, headers={"Location": "https://elsewhere.test/quote"}),
        httpx.Response(200, json={"premium": "1000"}),
    ]
    elsewhere = router.post("https://elsewhere.test/quote").respond(200, json={"premium": "1"})
    results, _ = await run([partner(router, "moved")])
    assert results["moved"].status == "error"
    assert results["moved"].reason_code == f"http_{status}"
    assert results["moved"].reason == "unexpected redirect from the insurer"
    assert moved.call_count == 1
    assert elsewhere.call_count == 0
    assert [a.response_status for a in results["moved"].attempts] == [status]


async def test_one_adapter_raising_does_not_affect_the_others(router: respx.MockRouter) -> None:
    router.post("https://good.test/quote").respond(200, json={"premium": "1000"})
    results, _ = await run([partner(router, "broken", ExplodingAdapter), partner(router, "good")])
    assert results["broken"].status == "error"
    assert results["broken"].reason_code == "adapter_failed"
    assert results["good"].status == "offered"


async def test_a_malformed_body_is_an_error_with_its_own_code(router: respx.MockRouter) -> None:
    router.post("https://odd.test/quote").respond(200, content=b"<html>oops")
    results, _ = await run([partner(router, "odd")])
    assert results["odd"].status == "error"
    assert results["odd"].reason_code == "malformed_response"


async def test_an_insurer_outside_its_appetite_is_skipped_unasked(router: respx.MockRouter) -> None:
    narrow = Appetite(
        marketplaces=frozenset({"UK"}),
        categories=("",),
        revenue_bands=(RevenueBand("GBP", 0, 10**9),),  # type: ignore[arg-type]
        max_per_occurrence=10**7,  # type: ignore[arg-type]
    )
    route = router.post("https://uk.test/quote").respond(200, json={"premium": "1"})
    results, _ = await run([partner(router, "uk", appetite=narrow)])
    assert results["uk"].status == "skipped"
    assert results["uk"].reason_code == "marketplace_not_written"
    assert route.call_count == 0


async def test_an_appetite_that_cannot_judge_the_request_fails_its_insurer_alone(
    router: respx.MockRouter,
) -> None:
    # Comparing a limit with NaN raises: so did a quote request's NaN limit, and it left every
    # insurer of the request awaiting for good.
    broken = Appetite(
        marketplaces=frozenset({"US"}),
        categories=("",),
        revenue_bands=(RevenueBand("USD", Decimal(0), Decimal(10**9)),),
        max_per_occurrence=Decimal("NaN"),
    )
    router.post("https://ok.test/quote").respond(200, json={"premium": "1"})
    broken_route = router.post("https://broken.test/quote").respond(200, json={"premium": "1"})

    results, _ = await run([partner(router, "broken", appetite=broken), partner(router, "ok")])

    assert (results["broken"].status, results["broken"].reason_code) == (
        "error",
        "eligibility_failed",
    )
    assert broken_route.call_count == 0
    assert results["ok"].status == "offered"


async def test_captured_attempts_hide_credentials(router: respx.MockRouter) -> None:
    router.post("https://p.test/quote").respond(200, json={"premium": "1"})
    results, _ = await run([partner(router, "p")])
    [attempt] = results["p"].attempts
    assert attempt.request.headers["x-partner-token"] == "[redacted]"
    assert "secret-p" not in str(attempt)


async def test_retried_attempts_are_captured_in_order_with_their_numbers(
    router: respx.MockRouter,
) -> None:
    router.post("https://flaky.test/quote").side_effect = [
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(200, json={"premium": "1000"}),
    ]
    router.post("https://steady.test/quote").respond(200, json={"premium": "900"})
    results, _ = await run([partner(router, "flaky"), partner(router, "steady")])
    assert [a.number for a in results["flaky"].attempts] == [1, 2, 3]
    assert [a.response_status for a in results["flaky"].attempts] == [503, 429, 200]
    assert [a.number for a in results["steady"].attempts] == [1]


async def test_a_cookie_an_insurer_sets_is_not_sent_on_later_calls(
    router: respx.MockRouter,
) -> None:
    # The partner's client is shared by every seller's requests: one seller's exchange must not
    # carry an insurer's cookie into the next.
    route = router.post("https://jar.test/quote")
    route.side_effect = [
        httpx.Response(200, json={"premium": "900"}, headers={"Set-Cookie": "seller=s-1; Path=/"}),
        httpx.Response(200, json={"premium": "900"}),
    ]
    jar = partner(router, "jar")
    first, _ = await run([jar])
    second, _ = await run([jar])
    assert first["jar"].status == second["jar"].status == "offered"
    assert "cookie" not in route.calls[1].request.headers


async def test_the_breaker_opens_after_repeated_failures_then_half_opens_and_closes(
    router: respx.MockRouter,
) -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=10, clock=lambda: now[0])
    route = router.post("https://wobbly.test/quote")
    route.respond(500)
    one_try = RetryPolicy(max_attempts=1)
    for _ in range(2):
        results, _ = await run([partner(router, "wobbly", breaker=breaker)], retry=one_try)
        assert results["wobbly"].status == "error"
    assert breaker.state is BreakerState.OPEN
    results, _ = await run([partner(router, "wobbly", breaker=breaker)], retry=one_try)
    assert results["wobbly"].status == "skipped"
    assert results["wobbly"].reason_code == "breaker_open"
    assert route.call_count == 2

    now[0] = 11.0
    assert breaker.state is BreakerState.HALF_OPEN
    route.respond(200, json={"premium": "1000"})
    results, _ = await run([partner(router, "wobbly", breaker=breaker)], retry=one_try)
    assert results["wobbly"].status == "offered"
    assert breaker.state is BreakerState.CLOSED


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None


async def test_an_insurer_an_operator_switched_off_is_skipped_unasked_with_the_reason(
    router: respx.MockRouter,
) -> None:
    off_route = router.post("https://off.test/quote").respond(200, json={"premium": "1"})
    router.post("https://on.test/quote").respond(200, json={"premium": "1"})
    partners = [partner(router, "off"), partner(router, "on")]
    seen: list[InsurerResult] = []

    async def sink(result: InsurerResult) -> None:
        seen.append(result)

    results = await fan_out(
        make_request(),
        {p.adapter.provider_id: p for p in partners},
        FanOutPolicy(deadline_seconds=2, insurer_timeout_seconds=2),
        sink,
        {"off": "an operator switched this insurer off: maintenance"},
    )
    for p in partners:
        await p.client.aclose()
    by_id = {r.provider_id: r for r in results}
    assert (by_id["off"].status, by_id["off"].reason_code, by_id["off"].reason) == (
        "skipped",
        "switched_off",
        "an operator switched this insurer off: maintenance",
    )
    assert off_route.call_count == 0
    assert by_id["on"].status == "offered"
