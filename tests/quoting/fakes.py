"""A minimal adapter for engine tests: JSON in, one offer out. Not a partner's API."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from providers import (
    Appetite,
    BindRequest,
    BindResult,
    HttpCall,
    HttpReply,
    MalformedResponse,
    Offered,
    ProviderSettings,
    QuoteResult,
    RevenueBand,
)
from schemas import (
    CategoryShare,
    DesiredCover,
    InsurerEvent,
    Money,
    Offer,
    QuoteRequest,
    SellerSnapshot,
)

WIDE_APPETITE = Appetite(
    marketplaces=frozenset({"US"}),
    categories=("",),
    revenue_bands=(RevenueBand("USD", Decimal(0), Decimal(10**9)),),
    max_per_occurrence=Decimal(10_000_000),
)


def usd(amount: str | int) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def make_request(request_id: str = "req-1", category: str = "home/furniture") -> QuoteRequest:
    return QuoteRequest(
        request_id=request_id,
        seller=SellerSnapshot(
            seller_id="s-1",
            legal_name="Volt Goods LLC",
            marketplace="US",
            categories=[CategoryShare(category=category, revenue_share=Decimal(1))],
            annual_sales=usd(168_000),
            business_model="importer",
            risk_tier="D",
            risk_score=62,
            years_in_business=2,
        ),
        cover=DesiredCover(
            per_occurrence=usd(1_000_000),
            aggregate=usd(1_000_000),
            max_deductible=usd(10_000),
            effective_date=date(2026, 12, 1),
        ),
    )


def make_offer(provider_id: str, premium: str = "1200.00") -> Offer:
    return Offer(
        provider_id=provider_id,
        insurer_name=f"{provider_id} insurance",
        insurer_rating="A",
        quote_reference=f"{provider_id}-q1",
        premium=usd(premium),
        taxes=usd("0"),
        fees=usd("0"),
        total=usd(premium),
        policy_form="occurrence",
        per_occurrence_limit=usd(1_000_000),
        aggregate_limit=usd(1_000_000),
        products_completed_operations_aggregate=usd(1_000_000),
        deductible=usd(1_000),
        territories=["US"],
        covered_categories=["home"],
        cancellation_notice_days=30,
        effective_date=date(2026, 12, 1),
        expiry_date=date(2027, 12, 1),
        valid_until=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=1),
        bindable=True,
    )


class FakeAdapter:
    """POST /quote with the request id; a 200 body {"premium": "..."} becomes one offer."""

    signature_scheme = "standard-webhooks"
    secret_headers = frozenset({"x-partner-token"})

    def __init__(
        self, provider_id: str, settings: ProviderSettings, appetite: Appetite = WIDE_APPETITE
    ) -> None:
        self.provider_id = provider_id
        self.insurer_name = f"{provider_id} insurance"
        self.appetite = appetite

    def quote_call(self, request: QuoteRequest, settings: ProviderSettings) -> HttpCall:
        body = json.dumps({"ref": request.request_id}).encode()
        return HttpCall("POST", "/quote", {"x-partner-token": settings.api_key}, body)

    def parse_quote(self, request: QuoteRequest, reply: HttpReply) -> QuoteResult:
        try:
            premium = json.loads(reply.body)["premium"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedResponse(str(exc)) from exc
        return Offered([make_offer(self.provider_id, premium)])

    def poll_call(self, quote_reference: str, settings: ProviderSettings) -> HttpCall | None:
        return None

    def bind_call(self, offer: Offer, bind: BindRequest, settings: ProviderSettings) -> HttpCall:
        raise NotImplementedError

    def parse_bind(self, offer: Offer, reply: HttpReply) -> BindResult:
        raise NotImplementedError

    def parse_events(self, body: bytes, headers: Mapping[str, str]) -> Sequence[InsurerEvent]:
        return []


class ExplodingAdapter(FakeAdapter):
    def quote_call(self, request: QuoteRequest, settings: ProviderSettings) -> HttpCall:
        raise RuntimeError("adapter bug")
