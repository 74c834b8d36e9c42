"""The canonical adapter against the sandbox's canonical-API insurer, ``keystone``, and its
configuration rules."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import msgspec
import pytest

from accelerator.server.services import configure
from accelerator.settings import Settings, SettingsError
from providers import (
    BindPending,
    BindRefused,
    BindRequest,
    Bound,
    Declined,
    HttpCall,
    HttpReply,
    Offered,
    Pending,
    ProviderSettings,
    Referred,
    build_adapters,
    verify,
)
from providers.canonical import CanonicalAdapter
from providers.sandbox import (
    DEFAULT_CALLBACK_SECRET,
    KEYSTONE_APPETITE,
    SandboxHandle,
    canonical_sandbox_provider_settings,
)
from schemas import PolicyBound, QuoteOffered, QuoteRequest
from tests.providers.conftest import CallbackReceiver
from tests.providers.factories import quote_request

pytestmark = pytest.mark.anyio

BIND = BindRequest("qr-1", "s-1", "Volt Goods LLC", "Amazon.com Services LLC")
ASYNC = {"Prefer": "respond-async"}


class Keystone:
    """The service's view of the sandbox's canonical insurer."""

    def __init__(self, sandbox: SandboxHandle, http: httpx.AsyncClient, callback_url: str):
        self.settings = canonical_sandbox_provider_settings(
            sandbox.url, callback_url, [DEFAULT_CALLBACK_SECRET]
        )["keystone"]
        adapter = build_adapters({"keystone": self.settings})["keystone"]
        assert isinstance(adapter, CanonicalAdapter)
        self.adapter = adapter
        self.http = http

    async def send(self, call: HttpCall, headers: dict[str, str] | None = None) -> HttpReply:
        response = await self.http.request(
            call.method,
            self.settings.base_url + call.path,
            headers={**call.headers, **(headers or {})},
            content=call.body,
        )
        return HttpReply(response.status_code, dict(response.headers), response.content)

    async def quote(self, request: QuoteRequest, headers: dict[str, str] | None = None) -> object:
        call = self.adapter.quote_call(request, self.settings)
        return self.adapter.parse_quote(request, await self.send(call, headers))


@pytest.fixture
def keystone(
    sandbox: SandboxHandle, http: httpx.AsyncClient, callback_receiver: CallbackReceiver
) -> Keystone:
    return Keystone(sandbox, http, callback_receiver.url)


async def test_keystone_offers_canonical_offers_under_our_provider_id(keystone: Keystone) -> None:
    result = await keystone.quote(quote_request())
    assert isinstance(result, Offered)
    assert {o.provider_id for o in result.offers} == {"keystone"}
    assert {o.insurer_name for o in result.offers} == {"Keystone Casualty Company"}
    for offer in result.offers:
        assert offer.total.amount == offer.premium.amount + offer.taxes.amount + offer.fees.amount


async def test_keystone_declines_vaping_and_refers_a_high_risk_score(keystone: Keystone) -> None:
    vaping = quote_request(
        categories=[{"category": "electronics/e-cigarettes", "revenue_share": "1"}]
    )
    declined = await keystone.quote(vaping)
    assert declined == Declined(
        "vaping_outside_appetite", "vaping products are outside our appetite"
    )
    referred = await keystone.quote(quote_request(risk_score=85))
    assert isinstance(referred, Referred)


async def test_a_keystone_bind_is_idempotent_and_a_quote_binds_once(keystone: Keystone) -> None:
    result = await keystone.quote(quote_request())
    assert isinstance(result, Offered)
    offer = result.offers[0]
    call = keystone.adapter.bind_call(offer, BIND, keystone.settings)
    first = await keystone.send(call, {"Idempotency-Key": "k-1"})
    again = await keystone.send(call, {"Idempotency-Key": "k-1"})
    assert again.body == first.body
    bound = keystone.adapter.parse_bind(offer, first)
    assert isinstance(bound, Bound)
    assert bound.policy.policy_number.startswith("KCC-GL-")
    assert bound.policy.named_insured == "Volt Goods LLC"
    other = keystone.adapter.parse_bind(offer, await keystone.send(call, {"Idempotency-Key": "2"}))
    assert isinstance(other, BindRefused)
    assert other.reason_code == "quote_already_bound"


async def test_a_pending_keystone_quote_is_pollable_and_calls_back_signed(
    keystone: Keystone, callback_receiver: CallbackReceiver
) -> None:
    request = quote_request()
    pending = await keystone.quote(request, ASYNC)
    assert isinstance(pending, Pending)
    provider_id, received = await asyncio.wait_for(callback_receiver.received.get(), 30)
    assert provider_id == "keystone"
    verify([DEFAULT_CALLBACK_SECRET], received.headers, received.body, now=int(time.time()))
    (event,) = keystone.adapter.parse_events(received.body, received.headers)
    assert isinstance(event, QuoteOffered)
    assert event.quote_reference == pending.quote_reference
    assert {o.provider_id for o in event.offers} == {"keystone"}
    poll = keystone.adapter.poll_call(pending.quote_reference, keystone.settings)
    assert poll is not None
    polled = keystone.adapter.parse_quote(request, await keystone.send(poll))
    assert isinstance(polled, Offered)
    assert [o.quote_reference for o in polled.offers] == [o.quote_reference for o in event.offers]


async def test_a_pending_keystone_bind_confirms_by_a_policy_bound_event(
    keystone: Keystone, callback_receiver: CallbackReceiver
) -> None:
    result = await keystone.quote(quote_request())
    assert isinstance(result, Offered)
    offer = result.offers[0]
    call = keystone.adapter.bind_call(offer, BIND, keystone.settings)
    pending = keystone.adapter.parse_bind(
        offer, await keystone.send(call, {**ASYNC, "Idempotency-Key": "b-1"})
    )
    assert isinstance(pending, BindPending)
    _, received = await asyncio.wait_for(callback_receiver.received.get(), 30)
    verify([DEFAULT_CALLBACK_SECRET], received.headers, received.body, now=int(time.time()))
    (event,) = keystone.adapter.parse_events(received.body, received.headers)
    assert isinstance(event, PolicyBound)
    assert event.bind_reference == pending.bind_reference
    assert event.policy.policy_number.startswith("KCC-GL-")


# --- configuration -----------------------------------------------------------------------


def test_a_canonical_provider_without_an_appetite_cannot_be_built() -> None:
    with pytest.raises(ValueError, match=r"set providers\.acme\.appetite"):
        build_adapters(
            {"acme": ProviderSettings(base_url="https://acme.test", adapter="canonical")}
        )


def test_configure_names_the_missing_appetite_setting_in_one_line() -> None:
    settings = Settings(
        sandbox_enabled=False,
        providers={"acme": {"adapter": "canonical", "base_url": "https://acme.test"}},
    )
    with pytest.raises(SettingsError) as raised:
        configure(settings)
    message = str(raised.value)
    assert "\n" not in message
    assert "provider 'acme'" in message
    assert "providers.acme.appetite" in message


def test_the_insurer_name_falls_back_to_the_provider_id() -> None:
    unnamed = CanonicalAdapter(
        "acme", ProviderSettings(base_url="https://acme.test", appetite=KEYSTONE_APPETITE)
    )
    named = CanonicalAdapter(
        "acme",
        ProviderSettings(
            base_url="https://acme.test", insurer_name="Acme Mutual", appetite=KEYSTONE_APPETITE
        ),
    )
    assert (unnamed.insurer_name, named.insurer_name) == ("acme", "Acme Mutual")
    assert unnamed.appetite is KEYSTONE_APPETITE


def test_canonical_sandbox_settings_decode_like_service_configuration() -> None:
    settings = canonical_sandbox_provider_settings(
        "http://127.0.0.1:8765", "http://api/hooks", ["s"]
    )
    assert set(settings) == {"keystone"}
    keystone = settings["keystone"]
    assert keystone.adapter == "canonical"
    assert keystone.callback_url == "http://api/hooks/keystone"
    round_trip = msgspec.convert(
        json.loads(msgspec.json.encode(keystone)), ProviderSettings, strict=False
    )
    assert round_trip == keystone
