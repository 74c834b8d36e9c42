"""The sandbox insurers, end to end over real sockets: quotes, binds, callbacks and faults."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from accelerator.risk.taxonomy import load_taxonomy
from providers import (
    BindRequest,
    Bound,
    Declined,
    HttpCall,
    HttpReply,
    InsurerAdapter,
    MalformedResponse,
    Offered,
    Pending,
    ProviderSettings,
    Referred,
    build_adapters,
    eligibility,
    verify,
)
from providers.sandbox import (
    DEFAULT_CALLBACK_SECRET,
    Faults,
    SandboxConfig,
    SandboxHandle,
    default_sandbox_provider_settings,
)
from schemas import Offer, QuoteOffered, QuoteRequest
from tests.providers.conftest import CallbackReceiver
from tests.providers.factories import quote_request

pytestmark = pytest.mark.anyio

BIND = BindRequest("qr-1", "s-1", "Volt Goods LLC", "Amazon.com Services LLC")


class Partners:
    """The service's view of the sandbox: adapters and settings from the defaults helper."""

    def __init__(self, sandbox: SandboxHandle, http: httpx.AsyncClient, callback_url: str):
        self.settings = default_sandbox_provider_settings(
            sandbox.url, callback_url, [DEFAULT_CALLBACK_SECRET]
        )
        self.adapters = build_adapters(self.settings)
        self.http = http

    async def send(
        self, provider_id: str, call: HttpCall, idempotency_key: str | None = None
    ) -> httpx.Response:
        headers = dict(call.headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        url = self.settings[provider_id].base_url + call.path
        return await self.http.request(call.method, url, headers=headers, content=call.body)

    def adapter(self, provider_id: str) -> tuple[InsurerAdapter, ProviderSettings]:
        return self.adapters[provider_id], self.settings[provider_id]

    async def quote(self, provider_id: str, request: QuoteRequest) -> Any:
        adapter, settings = self.adapter(provider_id)
        response = await self.send(provider_id, adapter.quote_call(request, settings))
        return adapter.parse_quote(request, _reply(response))


def _reply(response: httpx.Response) -> HttpReply:
    return HttpReply(response.status_code, dict(response.headers), response.content)


@pytest.fixture
def partners(
    sandbox: SandboxHandle, http: httpx.AsyncClient, callback_receiver: CallbackReceiver
) -> Partners:
    return Partners(sandbox, http, callback_receiver.url)


async def _set_faults(
    http: httpx.AsyncClient, sandbox: SandboxHandle, insurer: str, **faults: Any
) -> None:
    response = await http.put(f"{sandbox.url}/_control/{insurer}/faults", json=faults)
    assert response.status_code == 200, response.text


async def _poll_until_final(partners: Partners, reference: str, request: QuoteRequest) -> Any:
    adapter, settings = partners.adapter("meridian")
    for _ in range(100):
        call = adapter.poll_call(reference, settings)
        assert call is not None
        result = adapter.parse_quote(request, _reply(await partners.send("meridian", call)))
        if not isinstance(result, Pending):
            return result
        await asyncio.sleep(0.02)
    pytest.fail("meridian never finished underwriting")


# --- quotes ------------------------------------------------------------------------------


async def test_every_sandbox_insurer_answers_through_its_adapter(partners: Partners) -> None:
    request = quote_request()
    ratings = {}
    for provider_id in ("harbor", "summit", "acorn"):
        result = await partners.quote(provider_id, request)
        assert isinstance(result, Offered), provider_id
        ratings[provider_id] = {offer.insurer_rating for offer in result.offers}
    pending = await partners.quote("meridian", request)
    assert isinstance(pending, Pending)
    final = await _poll_until_final(partners, pending.quote_reference, request)
    assert isinstance(final, Offered)
    ratings["meridian"] = {offer.insurer_rating for offer in final.offers}
    assert ratings == {"harbor": {"A"}, "summit": {"B+"}, "acorn": {"A-"}, "meridian": {"A+"}}


async def test_offers_include_compliant_ones_and_each_kind_of_gap(partners: Partners) -> None:
    request = quote_request()
    harbor = await partners.quote("harbor", request)
    acorn = await partners.quote("acorn", request)
    pending = await partners.quote("meridian", request)
    meridian = await _poll_until_final(partners, pending.quote_reference, request)
    offers: list[Offer] = [*harbor.offers, *acorn.offers, *meridian.offers]
    wording = "Amazon.com Services LLC and its affiliates and assignees"
    compliant = [
        o.quote_reference
        for o in offers
        if o.policy_form == "occurrence"
        and o.deductible.amount <= 10_000
        and o.per_occurrence_limit.amount >= 1_000_000
        and o.aggregate_limit.amount >= 1_000_000
        and o.additional_insured is not None
        and o.additional_insured.wording == wording
        and o.cancellation_notice_days >= 30
        and "US" in o.territories
    ]
    assert {ref.rsplit("-", 1)[1] for ref in compliant} == {"STD", "AI", "OCC"}
    gaps = {o.quote_reference.rsplit("-", 1)[1]: o for o in offers}
    assert gaps["ECO"].deductible.amount == 25_000
    assert gaps["CH"].certificate_holder_only
    assert gaps["CH"].additional_insured is None
    assert gaps["CM"].policy_form == "claims_made"
    for offer in offers:
        assert offer.total.amount == offer.premium.amount + offer.taxes.amount + offer.fees.amount


async def test_premium_follows_the_rate_table(partners: Partners) -> None:
    # 2,400,000 / 1000 × (0.6 × 0.60 + 0.4 × 0.60) × tier C 1.00 = 1,440 at Harbor.
    result = await partners.quote("harbor", quote_request())
    standard = next(o for o in result.offers if o.quote_reference.endswith("STD"))
    assert standard.premium.amount == 1440
    assert standard.taxes.amount == Decimal("28.80")
    assert standard.fees.amount == 150


async def test_lithium_batteries_are_declined_with_a_reason(partners: Partners) -> None:
    request = quote_request(
        categories=[{"category": "electronics/batteries/lithium-ion", "revenue_share": "1"}]
    )
    result = await partners.quote("harbor", request)
    assert result == Declined(
        "lithium_batteries_outside_appetite", "lithium batteries and cells are outside our appetite"
    )


async def test_high_risk_score_is_referred(partners: Partners) -> None:
    result = await partners.quote("harbor", quote_request(risk_score=75, risk_tier="D"))
    assert isinstance(result, Referred)
    assert "75" in result.reason


async def test_wrong_credentials_are_refused(
    sandbox: SandboxHandle, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        f"{sandbox.url}/harbor/quotes", headers={"Authorization": "Bearer nope"}, content=b"{}"
    )
    assert response.status_code == 401


# --- binds -------------------------------------------------------------------------------


@pytest.mark.parametrize("provider_id", ["harbor", "acorn"])
async def test_bind_is_idempotent_on_the_idempotency_key(
    partners: Partners, provider_id: str
) -> None:
    result = await partners.quote(provider_id, quote_request())
    offer = result.offers[-1]
    adapter, settings = partners.adapter(provider_id)
    call = adapter.bind_call(offer, BIND, settings)
    first = await partners.send(provider_id, call, "bind-key-1")
    again = await partners.send(provider_id, call, "bind-key-1")
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    bound = adapter.parse_bind(offer, _reply(first))
    assert isinstance(bound, Bound)
    assert bound.policy.named_insured == "Volt Goods LLC"
    other_key = adapter.parse_bind(offer, _reply(await partners.send(provider_id, call, "k-2")))
    assert other_key.reason_code == "quote_already_bound"  # type: ignore[union-attr]


async def test_a_bind_answered_late_is_issued_first_and_a_repeat_gets_that_policy(
    partners: Partners, sandbox: SandboxHandle
) -> None:
    result = await partners.quote("harbor", quote_request())
    offer = result.offers[-1]
    adapter, settings = partners.adapter("harbor")
    call = adapter.bind_call(offer, BIND, settings)
    await _set_faults(partners.http, sandbox, "harbor", bind_latency={"fixed_ms": 60_000})

    async with httpx.AsyncClient(timeout=0.3) as impatient:  # gives up long before the answer
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(
                settings.base_url + call.path,
                headers={**call.headers, "Idempotency-Key": "late-1"},
                content=call.body,
            )
    for _ in range(200):
        issued = (await partners.http.get(f"{sandbox.url}/_control/harbor")).json()
        if issued["policies_issued"]:
            break
        await asyncio.sleep(0.05)
    await _set_faults(partners.http, sandbox, "harbor")
    again = adapter.parse_bind(offer, _reply(await partners.send("harbor", call, "late-1")))

    assert issued["policies_issued"] == 1
    assert isinstance(again, Bound)
    control = (await partners.http.get(f"{sandbox.url}/_control/harbor")).json()
    assert control["policies_issued"] == 1


# --- the asynchronous insurer ------------------------------------------------------------


async def test_meridian_calls_back_with_a_signed_event(
    partners: Partners, callback_receiver: CallbackReceiver
) -> None:
    request = quote_request()
    pending = await partners.quote("meridian", request)
    assert isinstance(pending, Pending)
    provider_id, received = await asyncio.wait_for(callback_receiver.received.get(), 30)
    assert provider_id == "meridian"
    verify([DEFAULT_CALLBACK_SECRET], received.headers, received.body, now=int(time.time()))
    events = partners.adapters["meridian"].parse_events(received.body, received.headers)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, QuoteOffered)
    assert event.quote_reference == pending.quote_reference
    assert {o.policy_form for o in event.offers} == {"occurrence", "claims_made"}


async def test_meridian_bind_completes_by_callback(
    partners: Partners, callback_receiver: CallbackReceiver
) -> None:
    request = quote_request()
    pending = await partners.quote("meridian", request)
    offered = await _poll_until_final(partners, pending.quote_reference, request)
    await asyncio.wait_for(callback_receiver.received.get(), 30)  # the quote's callback
    adapter, settings = partners.adapter("meridian")
    offer = offered.offers[0]
    result = adapter.parse_bind(
        offer,
        _reply(await partners.send("meridian", adapter.bind_call(offer, BIND, settings), "b1")),
    )
    _, received = await asyncio.wait_for(callback_receiver.received.get(), 30)
    verify([DEFAULT_CALLBACK_SECRET], received.headers, received.body, now=int(time.time()))
    (event,) = adapter.parse_events(received.body, received.headers)
    assert event.bind_reference == result.bind_reference  # type: ignore[union-attr]
    assert event.policy.policy_number.startswith("MSI-GL-")  # type: ignore[union-attr]


# --- faults ------------------------------------------------------------------------------


async def test_error_fault_answers_500(partners: Partners, sandbox: SandboxHandle) -> None:
    await _set_faults(partners.http, sandbox, "harbor", error_rate=1.0)
    adapter, settings = partners.adapter("harbor")
    response = await partners.send("harbor", adapter.quote_call(quote_request(), settings))
    assert response.status_code == 500


async def test_rate_limit_fault_answers_429_with_retry_after(
    partners: Partners, sandbox: SandboxHandle
) -> None:
    await _set_faults(partners.http, sandbox, "summit", rate_limit_rate=1.0, retry_after_seconds=7)
    adapter, settings = partners.adapter("summit")
    response = await partners.send("summit", adapter.quote_call(quote_request(), settings))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


@pytest.mark.parametrize("provider_id", ["harbor", "acorn", "meridian"])
async def test_malformed_fault_makes_the_adapter_report_an_error(
    partners: Partners, sandbox: SandboxHandle, provider_id: str
) -> None:
    await _set_faults(partners.http, sandbox, provider_id, malformed_rate=1.0)
    with pytest.raises(MalformedResponse):
        await partners.quote(provider_id, quote_request())


async def test_hang_fault_never_answers(partners: Partners, sandbox: SandboxHandle) -> None:
    await _set_faults(partners.http, sandbox, "acorn", hang_rate=1.0)
    adapter, settings = partners.adapter("acorn")
    call = adapter.quote_call(quote_request(), settings)
    async with httpx.AsyncClient(timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(
                settings.base_url + call.path, headers=dict(call.headers), content=call.body
            )


async def test_reset_fault_aborts_the_connection(
    partners: Partners, sandbox: SandboxHandle
) -> None:
    await _set_faults(partners.http, sandbox, "harbor", reset_rate=1.0)
    adapter, settings = partners.adapter("harbor")
    with pytest.raises(httpx.TransportError):
        await partners.send("harbor", adapter.quote_call(quote_request(), settings))


async def test_trickle_fault_dribbles_a_complete_body(
    partners: Partners, sandbox: SandboxHandle
) -> None:
    await _set_faults(partners.http, sandbox, "harbor", trickle_rate=1.0, trickle_seconds=0.4)
    started = time.monotonic()
    result = await partners.quote("harbor", quote_request())
    assert time.monotonic() - started >= 0.35
    assert isinstance(result, Offered)


async def test_latency_fault_delays_the_answer(partners: Partners, sandbox: SandboxHandle) -> None:
    await _set_faults(partners.http, sandbox, "harbor", latency={"min_ms": 150, "max_ms": 200})
    started = time.monotonic()
    assert isinstance(await partners.quote("harbor", quote_request()), Offered)
    assert time.monotonic() - started >= 0.15


async def test_faults_only_touch_their_insurer(partners: Partners, sandbox: SandboxHandle) -> None:
    await _set_faults(partners.http, sandbox, "harbor", error_rate=1.0)
    assert isinstance(await partners.quote("summit", quote_request()), Offered)


async def test_control_api_reads_and_resets_faults(
    sandbox: SandboxHandle, http: httpx.AsyncClient
) -> None:
    await _set_faults(http, sandbox, "harbor", error_rate=0.25)
    state = (await http.get(f"{sandbox.url}/_control")).json()
    assert state["insurers"]["harbor"]["faults"]["error_rate"] == 0.25
    assert set(state["insurers"]) == {"harbor", "summit", "meridian", "acorn", "keystone"}
    reset = await http.delete(f"{sandbox.url}/_control/harbor/faults")
    assert reset.json()["faults"]["error_rate"] == 0.0
    await _set_faults(http, sandbox, "acorn", hang_rate=1.0)
    await http.delete(f"{sandbox.url}/_control")
    assert (await http.get(f"{sandbox.url}/_control/acorn")).json()["faults"]["hang_rate"] == 0.0


async def test_control_api_rejects_bad_faults_and_unknown_insurers(
    sandbox: SandboxHandle, http: httpx.AsyncClient
) -> None:
    bad = await http.put(f"{sandbox.url}/_control/harbor/faults", json={"error_rate": 2})
    assert bad.status_code == 400
    typo = await http.put(f"{sandbox.url}/_control/harbor/faults", json={"eror_rate": 1})
    assert typo.status_code == 400
    unknown = await http.put(f"{sandbox.url}/_control/nobody/faults", json={})
    assert unknown.status_code == 404


async def test_seeded_faults_repeat_exactly(partners: Partners, sandbox: SandboxHandle) -> None:
    adapter, settings = partners.adapter("harbor")
    call = adapter.quote_call(quote_request(), settings)

    async def statuses() -> list[int]:
        await _set_faults(partners.http, sandbox, "harbor", error_rate=0.5)
        return [(await partners.send("harbor", call)).status_code for _ in range(12)]

    first = await statuses()
    assert {200, 500} <= set(first)
    assert await statuses() == first


@pytest.fixture
def faulty_config(callback_receiver: CallbackReceiver) -> SandboxConfig:
    return SandboxConfig(
        faults={"summit": Faults(error_rate=1.0)}, callback_url=callback_receiver.url
    )


async def test_faults_can_be_configured_at_start(
    faulty_config: SandboxConfig, http: httpx.AsyncClient
) -> None:
    from providers.sandbox import start_sandbox

    handle = await start_sandbox("127.0.0.1", 0, faulty_config)
    try:
        response = await http.post(f"{handle.url}/summit/quotes", content=b"{}")
        assert response.status_code == 500
        state = (await http.get(f"{handle.url}/_control/summit")).json()
        assert state["faults"]["error_rate"] == 1.0
    finally:
        await handle.stop()


def test_default_settings_decode_like_service_configuration() -> None:
    settings = default_sandbox_provider_settings("http://127.0.0.1:8765", "http://api/hooks", ["s"])
    assert settings["meridian"].callback_url == "http://api/hooks/meridian"
    assert settings["summit"].adapter == "harbor"
    assert settings["acorn"].adapter == "acord"
    round_trip = {
        key: msgspec.convert(json.loads(msgspec.json.encode(value)), ProviderSettings, strict=False)
        for key, value in settings.items()
    }
    assert round_trip == settings


TOP_LEVEL = sorted({c.path.split("/")[0] for c in load_taxonomy()})


@pytest.mark.parametrize("category", TOP_LEVEL)
async def test_every_top_level_category_gets_an_offer_from_the_sandbox_panel(
    partners: Partners, category: str
) -> None:
    # A plain US seller wholly in the category: some insurer of the panel must want it and
    # offer, as a real panel would (a seller of books or pet food was once asked by nobody).
    request = quote_request(
        categories=[{"category": category, "revenue_share": "1"}],
        annual_sales={"amount": "1000000", "currency": "USD"},
        risk_score=40,
        years_in_business=5,
    )
    offered_by = []
    for provider_id, adapter in sorted(partners.adapters.items()):
        if eligibility(adapter.appetite, request) is not None:
            continue
        answer = await partners.quote(provider_id, request)
        for _ in range(300):  # an asynchronous insurer is polled until it has answered
            if not isinstance(answer, Pending):
                break
            await asyncio.sleep(0.1)
            adapter_, settings = partners.adapter(provider_id)
            poll = adapter_.poll_call(answer.quote_reference, settings)
            assert poll is not None
            answer = adapter_.parse_quote(request, _reply(await partners.send(provider_id, poll)))
        if isinstance(answer, Offered):
            offered_by.append(provider_id)
    assert offered_by, f"no sandbox insurer offers for {category!r}"
