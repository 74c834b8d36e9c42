"""Harbor-style partners: a synchronous JSON API.

``POST /quotes`` answers at once with quotes, a decline or a referral; ``POST /binds`` issues
the policy at once. Amounts are decimal strings with one ``currency`` per quote. Authentication
is ``Authorization: Bearer <api_key>``. Policy lifecycle events arrive as Standard-Webhooks-signed
JSON callbacks in Harbor's own shape (``kind``/``data``), translated here to canonical events.

One adapter class serves every partner with this API style (the sandbox's ``summit`` too): the
insurer's name and rating come from each quote, and ``ProviderSettings.appetite`` may narrow the
appetite declared here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import msgspec

from providers._protocol import (
    Appetite,
    BindRefused,
    BindRequest,
    BindResult,
    Bound,
    Declined,
    HttpCall,
    HttpReply,
    MalformedResponse,
    Offered,
    ProviderSettings,
    QuoteResult,
    Referred,
    RevenueBand,
    SignatureScheme,
)
from providers._wire import (
    build_offer,
    build_policy,
    checked_total,
    decode_json,
    money,
    require_status,
)
from schemas import (
    InsurerEvent,
    Offer,
    PolicyCancelled,
    PolicyEndorsed,
    PolicyLapsed,
    PolicyReinstated,
    PolicyRenewed,
    PolicyVerified,
    QuoteRequest,
    UtcInstant,
)

__all__ = ["HARBOR_APPETITE", "HarborAdapter"]

HARBOR_APPETITE = Appetite(
    marketplaces=frozenset({"US", "CA"}),
    categories=(
        "apparel",
        "baby",
        "beauty",
        "books",
        "electronics",
        "garden",
        "home",
        "jewelry",
        "office",
        "pets",
        "sports",
        "tools",
        "toys",
    ),
    excluded_categories=("electronics/e-cigarettes",),
    revenue_bands=(
        RevenueBand("USD", Decimal(0), Decimal(50_000_000)),
        RevenueBand("CAD", Decimal(0), Decimal(65_000_000)),
    ),
    max_per_occurrence=Decimal(5_000_000),
    max_risk_score=90,
)

_QUOTE_STATUSES = frozenset({200, 201})
_BIND_STATUSES = frozenset({200, 201, 409, 422})


# --- Harbor's wire shapes (decoded tolerantly: unknown fields are ignored) -------------------


class _Carrier(msgspec.Struct, frozen=True):
    name: str
    am_best: str


class _Limits(msgspec.Struct, frozen=True):
    each_occurrence: Decimal
    general_aggregate: Decimal
    products_completed_ops: Decimal


class _AdditionalInsured(msgspec.Struct, frozen=True):
    name: str
    wording: str
    form: str = ""


class _Quote(msgspec.Struct, frozen=True):
    quote_id: str
    carrier: _Carrier
    currency: str
    premium: Decimal
    taxes: Decimal
    fees: Decimal
    form: Literal["occurrence", "claims_made"]
    limits: _Limits
    deductible: Decimal
    territories: list[str]
    classes: list[str]
    notice_days: int
    inception_date: date
    expiry_date: date
    valid_until: UtcInstant
    total: Decimal | None = None
    line: Literal["general_liability", "umbrella", "excess"] = "general_liability"
    additional_insured: _AdditionalInsured | None = None
    certificate_holder_only: bool = False
    exclusions: list[str] = msgspec.field(default_factory=list)
    bindable: bool = True


class _Reason(msgspec.Struct, frozen=True):
    code: str
    message: str = ""


class _QuoteResponse(msgspec.Struct, frozen=True):
    outcome: Literal["quoted", "declined", "referred"]
    quotes: list[_Quote] = msgspec.field(default_factory=list)
    decline: _Reason | None = None
    referral_reason: str = ""


class _Policy(msgspec.Struct, frozen=True):
    policy_number: str
    carrier: _Carrier
    insured_name: str
    currency: str
    form: Literal["occurrence", "claims_made"]
    limits: _Limits
    deductible: Decimal
    additional_insureds: list[str]
    territories: list[str]
    classes: list[str]
    effective_at: UtcInstant
    expires_at: UtcInstant
    notice_days: int = 30
    premium_total: Decimal | None = None
    line: Literal["general_liability", "umbrella", "excess"] = "general_liability"


class _BindResponse(msgspec.Struct, frozen=True):
    status: Literal["issued", "refused"]
    policy: _Policy | None = None
    refusal: _Reason | None = None


class _EventData(msgspec.Struct, frozen=True):
    policy_number: str
    effective_at: UtcInstant | None = None
    expires_at: UtcInstant | None = None
    reason: str = ""
    # policy_endorsed: the policy's terms as they stand after the endorsement.
    policy: _Policy | None = None
    description: str = ""


class _Event(msgspec.Struct, frozen=True):
    id: str
    kind: str
    occurred_at: UtcInstant
    data: _EventData
    seq: int | None = None


# --- translation --------------------------------------------------------------------------


def _offer(provider_id: str, quote: _Quote) -> Offer:
    what = f"harbor quote {quote.quote_id}"
    total = checked_total(quote.premium, quote.taxes, quote.fees, quote.total, what)
    ccy = quote.currency
    ai = quote.additional_insured
    return build_offer(
        {
            "provider_id": provider_id,
            "insurer_name": quote.carrier.name,
            "insurer_rating": quote.carrier.am_best,
            "quote_reference": quote.quote_id,
            "premium": money(quote.premium, ccy),
            "taxes": money(quote.taxes, ccy),
            "fees": money(quote.fees, ccy),
            "total": money(total, ccy),
            "coverage_type": quote.line,
            "policy_form": quote.form,
            "per_occurrence_limit": money(quote.limits.each_occurrence, ccy),
            "aggregate_limit": money(quote.limits.general_aggregate, ccy),
            "products_completed_operations_aggregate": money(
                quote.limits.products_completed_ops, ccy
            ),
            "deductible": money(quote.deductible, ccy),
            "additional_insured": None
            if ai is None
            else {"name": ai.name, "wording": ai.wording, "endorsement_form": ai.form},
            "certificate_holder_only": quote.certificate_holder_only,
            "territories": quote.territories,
            "covered_categories": quote.classes,
            "exclusions": quote.exclusions,
            "cancellation_notice_days": quote.notice_days,
            "effective_date": quote.inception_date,
            "expiry_date": quote.expiry_date,
            "valid_until": quote.valid_until,
            "bindable": quote.bindable,
        },
        what,
    )


def _policy_fields(policy: _Policy) -> dict[str, Any]:
    ccy = policy.currency
    return {
        "insurer_name": policy.carrier.name,
        "insurer_rating": policy.carrier.am_best,
        "policy_number": policy.policy_number,
        "named_insured": policy.insured_name,
        "coverage_type": policy.line,
        "policy_form": policy.form,
        "per_occurrence_limit": money(policy.limits.each_occurrence, ccy),
        "aggregate_limit": money(policy.limits.general_aggregate, ccy),
        "products_completed_operations_aggregate": money(policy.limits.products_completed_ops, ccy),
        "deductible": money(policy.deductible, ccy),
        "additional_insureds": policy.additional_insureds,
        "territories": policy.territories,
        "covered_categories": policy.classes,
        "effective_at": policy.effective_at,
        "expires_at": policy.expires_at,
        "cancellation_notice_days": policy.notice_days,
        "premium_total": None if policy.premium_total is None else money(policy.premium_total, ccy),
    }


_EVENT_KINDS = frozenset(
    {
        "policy_cancelled",
        "policy_reinstated",
        "policy_lapsed",
        "policy_renewed",
        "policy_verified",
        "policy_endorsed",
    }
)


def _event(event: _Event) -> InsurerEvent:
    data = event.data
    common: dict[str, Any] = {"occurred_at": event.occurred_at, "sequence": event.seq}
    if event.kind not in _EVENT_KINDS:
        raise MalformedResponse(f"harbor event {event.id}: unsupported kind {event.kind!r}")
    if event.kind == "policy_verified":
        return PolicyVerified(policy_number=data.policy_number, **common)
    if data.effective_at is None:
        raise MalformedResponse(f"harbor event {event.id}: effective_at is required")
    if event.kind == "policy_cancelled":
        return PolicyCancelled(
            policy_number=data.policy_number,
            effective_at=data.effective_at,
            reason=data.reason,
            **common,
        )
    if event.kind == "policy_reinstated":
        return PolicyReinstated(
            policy_number=data.policy_number, effective_at=data.effective_at, **common
        )
    if event.kind == "policy_lapsed":
        return PolicyLapsed(
            policy_number=data.policy_number, effective_at=data.effective_at, **common
        )
    if event.kind == "policy_endorsed":
        if data.policy is None:
            raise MalformedResponse(f"harbor event {event.id}: an endorsement needs the policy")
        return PolicyEndorsed(
            policy_number=data.policy_number,
            effective_at=data.effective_at,
            policy=build_policy(_policy_fields(data.policy), f"harbor event {event.id}"),
            description=data.description,
            **common,
        )
    if data.expires_at is None:
        raise MalformedResponse(f"harbor event {event.id}: expires_at is required")
    return PolicyRenewed(
        policy_number=data.policy_number,
        effective_at=data.effective_at,
        expires_at=data.expires_at,
        **common,
    )


class HarborAdapter:
    """Adapter for synchronous-JSON partners in Harbor's API style."""

    signature_scheme: SignatureScheme = "standard-webhooks"
    secret_headers: frozenset[str] = frozenset({"authorization"})

    def __init__(self, provider_id: str, settings: ProviderSettings) -> None:
        self.provider_id = provider_id
        self.insurer_name = settings.insurer_name or "Harbor Mutual Insurance Company"
        self.appetite = settings.appetite or HARBOR_APPETITE

    def _headers(self, settings: ProviderSettings) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {settings.api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def quote_call(self, request: QuoteRequest, settings: ProviderSettings) -> HttpCall:
        seller, cover = request.seller, request.cover
        body = {
            "reference": request.request_id,
            "applicant": {
                "id": seller.seller_id,
                "legal_name": seller.legal_name,
                "marketplace": seller.marketplace,
                "business_model": seller.business_model,
                "years_in_business": seller.years_in_business,
                "annual_revenue": str(seller.annual_sales.amount),
                "currency": seller.annual_sales.currency,
                "risk_score": seller.risk_score,
                "risk_tier": seller.risk_tier,
                "manufacturing_countries": list(seller.manufacturing_countries),
                "product_lines": [
                    {"category": c.category, "revenue_share": str(c.revenue_share)}
                    for c in seller.categories
                ],
            },
            "coverage": {
                "currency": cover.per_occurrence.currency,
                "each_occurrence": str(cover.per_occurrence.amount),
                "general_aggregate": str(cover.aggregate.amount),
                "max_deductible": str(cover.max_deductible.amount),
                "inception_date": cover.effective_date.isoformat(),
                "term_months": cover.term_months,
            },
        }
        if (required := request.additional_insured) is not None:
            body["additional_insured"] = {"name": required.name, "wording": required.wording}
        return HttpCall("POST", "/quotes", self._headers(settings), msgspec.json.encode(body))

    def parse_quote(self, request: QuoteRequest, reply: HttpReply) -> QuoteResult:
        require_status(reply.status, _QUOTE_STATUSES, "harbor quote")
        response = decode_json(reply.body, _QuoteResponse, "harbor quote")
        if response.outcome == "declined":
            if response.decline is None:
                raise MalformedResponse("harbor quote: declined without a decline reason")
            return Declined(response.decline.code, response.decline.message)
        if response.outcome == "referred":
            return Referred(response.referral_reason)
        if not response.quotes:
            raise MalformedResponse("harbor quote: quoted without any quote")
        return Offered([_offer(self.provider_id, quote) for quote in response.quotes])

    def poll_call(self, quote_reference: str, settings: ProviderSettings) -> HttpCall | None:
        return None  # synchronous: there is nothing to poll

    def bind_call(self, offer: Offer, bind: BindRequest, settings: ProviderSettings) -> HttpCall:
        body = {
            "quote_id": offer.quote_reference,
            "reference": bind.request_id,
            "applicant_id": bind.seller_id,
            "insured_name": bind.named_insured,
            "additional_insured": bind.additional_insured_name,
        }
        return HttpCall("POST", "/binds", self._headers(settings), msgspec.json.encode(body))

    def parse_bind(self, offer: Offer, reply: HttpReply) -> BindResult:
        require_status(reply.status, _BIND_STATUSES, "harbor bind")
        response = decode_json(reply.body, _BindResponse, "harbor bind")
        if response.status == "refused":
            refusal = response.refusal or _Reason("bind_refused")
            return BindRefused(refusal.code, refusal.message)
        if response.policy is None:
            raise MalformedResponse("harbor bind: issued without a policy")
        return Bound(build_policy(_policy_fields(response.policy), "harbor bind"))

    def parse_events(self, body: bytes, headers: Mapping[str, str]) -> Sequence[InsurerEvent]:
        # Harbor sends exactly one event per callback.
        return [_event(decode_json(body, _Event, "harbor event"))]
