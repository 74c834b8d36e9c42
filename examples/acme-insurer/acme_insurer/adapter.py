"""The Acme Mutual adapter: Acme's API translated to and from the accelerator's canonical types.

Acme's API, as this adapter sees it:

- ``POST /v2/quotes`` answers at once: ``{"result": "quoted", "offers": [...]}``, or
  ``"declined"`` with ``code``/``message``, or ``"referred"`` with ``message``. Every amount is
  an integer number of cents (``*_cents``), with one ``currency`` per offer.
- ``POST /v2/policies`` binds an offer: 201 ``{"policy": {...}}``, or 409/422
  ``{"error": {"code", "message"}}`` (e.g. ``offer_already_bound``). Binds are idempotent on
  the ``Idempotency-Key`` header, which the accelerator's core adds.
- Authentication: ``X-Acme-Key: <api_key>``.
- Callbacks: Standard Webhooks signed JSON, one event each, in Acme's own shape:
  ``{"event_id", "event": "policy.cancelled" | "policy.reinstated" | "policy.lapsed",
  "created_at", "sequence", "policy": {"number"}, "change": {"effective_at", "reason"}}``.

Like every adapter it only translates: no I/O, no clock, no mutation of its inputs, and
anything it cannot read becomes ``MalformedResponse``. It imports only the public names of
``providers`` and ``schemas``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeVar

import msgspec

from providers import (
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
from schemas import (
    InsurerEvent,
    Offer,
    PolicyCancelled,
    PolicyLapsed,
    PolicyReinstated,
    PolicyTerms,
    QuoteRequest,
    UtcInstant,
)

__all__ = ["ACME_APPETITE", "AcmeAdapter"]

T = TypeVar("T")

#: What Acme Mutual writes; a deployment may replace it per partner (the ``appetite`` setting).
ACME_APPETITE = Appetite(
    marketplaces=frozenset({"US", "CA"}),
    categories=("apparel", "garden", "home", "office", "pets", "sports", "toys"),
    excluded_categories=("toys/ride-on",),
    revenue_bands=(
        RevenueBand("USD", Decimal(0), Decimal(20_000_000)),
        RevenueBand("CAD", Decimal(0), Decimal(25_000_000)),
    ),
    max_per_occurrence=Decimal(2_000_000),
    max_risk_score=80,
)

_QUOTE_STATUSES = frozenset({200})
# Acme refuses a bind with 409 or 422 and says why in the body: the seller should read it.
_BIND_STATUSES = frozenset({200, 201, 409, 422})


# --- Acme's wire shapes (decoded tolerantly: fields Acme adds later are ignored) -------------


class _Insurer(msgspec.Struct, frozen=True):
    legal_name: str
    rating: str  # AM Best


class _Limits(msgspec.Struct, frozen=True):
    occurrence_cents: int
    aggregate_cents: int
    products_cents: int


class _Price(msgspec.Struct, frozen=True):
    premium_cents: int
    tax_cents: int
    fee_cents: int
    total_cents: int


class _Endorsement(msgspec.Struct, frozen=True):
    type: str
    name: str
    wording: str = ""
    form: str = ""


class _Period(msgspec.Struct, frozen=True):
    starts_on: date
    ends_on: date


class _Offer(msgspec.Struct, frozen=True):
    id: str
    insurer: _Insurer
    currency: str
    basis: Literal["occurrence", "claims_made"]
    limits: _Limits
    deductible_cents: int
    price: _Price
    period: _Period
    expires_at: UtcInstant
    territories: list[str]
    classes: list[str]
    notice_days: int
    endorsements: list[_Endorsement] = msgspec.field(default_factory=list)
    exclusions: list[str] = msgspec.field(default_factory=list)
    firm: bool = True


class _QuoteResponse(msgspec.Struct, frozen=True):
    result: Literal["quoted", "declined", "referred"]
    offers: list[_Offer] = msgspec.field(default_factory=list)
    code: str = ""
    message: str = ""


class _Policy(msgspec.Struct, frozen=True):
    number: str
    insurer: _Insurer
    insured: str
    currency: str
    basis: Literal["occurrence", "claims_made"]
    limits: _Limits
    deductible_cents: int
    additional_insureds: list[str]
    territories: list[str]
    classes: list[str]
    starts_at: UtcInstant
    ends_at: UtcInstant
    notice_days: int
    premium_total_cents: int | None = None


class _Error(msgspec.Struct, frozen=True):
    code: str
    message: str = ""


class _BindResponse(msgspec.Struct, frozen=True):
    policy: _Policy | None = None
    error: _Error | None = None


class _PolicyRef(msgspec.Struct, frozen=True):
    number: str


class _Change(msgspec.Struct, frozen=True):
    effective_at: UtcInstant
    reason: str = ""


class _Event(msgspec.Struct, frozen=True):
    event_id: str
    event: str
    created_at: UtcInstant
    policy: _PolicyRef
    change: _Change
    sequence: int | None = None


# --- translation helpers --------------------------------------------------------------------


def _decode(body: bytes, kind: type[T], what: str) -> T:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: caught first
        raise MalformedResponse(f"{what}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise MalformedResponse(f"{what}: invalid JSON") from exc


def _convert(fields: dict[str, Any], kind: type[T], what: str) -> T:
    # Through msgspec, so the canonical types check ratings, codes, currencies and bounds.
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as exc:
        raise MalformedResponse(f"{what}: {exc}") from exc


def _cents(amount: Decimal) -> int:
    # Acme takes whole cents; our amounts have at most two decimals in the currencies it writes.
    return int((amount * 100).to_integral_value(rounding="ROUND_HALF_UP"))


def _money(cents: int, currency: str, what: str) -> dict[str, Any]:
    if cents < 0:
        raise MalformedResponse(f"{what} is negative")
    return {"amount": Decimal(cents).scaleb(-2), "currency": currency}


def _offer(provider_id: str, offer: _Offer) -> Offer:
    what = f"acme offer {offer.id}"
    price, ccy = offer.price, offer.currency
    if price.premium_cents + price.tax_cents + price.fee_cents != price.total_cents:
        raise MalformedResponse(f"{what}: total_cents is not premium + tax + fee")
    endorsement = next((e for e in offer.endorsements if e.type == "additional_insured"), None)
    return _convert(
        {
            "provider_id": provider_id,
            "insurer_name": offer.insurer.legal_name,
            "insurer_rating": offer.insurer.rating,
            "quote_reference": offer.id,
            "premium": _money(price.premium_cents, ccy, f"{what}: premium"),
            "taxes": _money(price.tax_cents, ccy, f"{what}: tax"),
            "fees": _money(price.fee_cents, ccy, f"{what}: fee"),
            "total": _money(price.total_cents, ccy, f"{what}: total"),
            "policy_form": offer.basis,
            "per_occurrence_limit": _money(offer.limits.occurrence_cents, ccy, what),
            "aggregate_limit": _money(offer.limits.aggregate_cents, ccy, what),
            "products_completed_operations_aggregate": _money(
                offer.limits.products_cents, ccy, what
            ),
            "deductible": _money(offer.deductible_cents, ccy, f"{what}: deductible"),
            "additional_insured": None
            if endorsement is None
            else {
                "name": endorsement.name,
                "wording": endorsement.wording,
                "endorsement_form": endorsement.form,
            },
            # Acme only ever names the marketplace in an endorsement: no certificate-holder mode.
            "certificate_holder_only": False,
            "territories": offer.territories,
            "covered_categories": offer.classes,
            "exclusions": offer.exclusions,
            "cancellation_notice_days": offer.notice_days,
            "effective_date": offer.period.starts_on,
            "expiry_date": offer.period.ends_on,
            "valid_until": offer.expires_at,
            "bindable": offer.firm,
        },
        Offer,
        what,
    )


def _policy(policy: _Policy) -> PolicyTerms:
    what = f"acme policy {policy.number}"
    ccy = policy.currency
    premium = policy.premium_total_cents
    return _convert(
        {
            "insurer_name": policy.insurer.legal_name,
            "insurer_rating": policy.insurer.rating,
            "policy_number": policy.number,
            "named_insured": policy.insured,
            "policy_form": policy.basis,
            "per_occurrence_limit": _money(policy.limits.occurrence_cents, ccy, what),
            "aggregate_limit": _money(policy.limits.aggregate_cents, ccy, what),
            "products_completed_operations_aggregate": _money(
                policy.limits.products_cents, ccy, what
            ),
            "deductible": _money(policy.deductible_cents, ccy, what),
            "additional_insureds": policy.additional_insureds,
            "territories": policy.territories,
            "covered_categories": policy.classes,
            "effective_at": policy.starts_at,
            "expires_at": policy.ends_at,
            "cancellation_notice_days": policy.notice_days,
            "premium_total": None if premium is None else _money(premium, ccy, what),
        },
        PolicyTerms,
        what,
    )


def _event(event: _Event) -> InsurerEvent:
    common: dict[str, Any] = {
        "policy_number": event.policy.number,
        "effective_at": event.change.effective_at,
        "occurred_at": event.created_at,
        "sequence": event.sequence,
    }
    what = f"acme event {event.event_id}"
    if event.event == "policy.cancelled":
        return _convert({**common, "reason": event.change.reason}, PolicyCancelled, what)
    if event.event == "policy.reinstated":
        return _convert(common, PolicyReinstated, what)
    if event.event == "policy.lapsed":
        return _convert(common, PolicyLapsed, what)
    # Unknown events stay visible in the accelerator's inbox instead of vanishing.
    raise MalformedResponse(f"{what}: unsupported event {event.event!r}")


# --- the adapter ----------------------------------------------------------------------------


class AcmeAdapter:
    """Adapter for Acme Mutual's JSON API (amounts in cents, Standard Webhooks callbacks)."""

    signature_scheme: SignatureScheme = "standard-webhooks"
    secret_headers: frozenset[str] = frozenset({"x-acme-key"})

    def __init__(self, provider_id: str, settings: ProviderSettings) -> None:
        self.provider_id = provider_id
        self.insurer_name = settings.insurer_name or "Acme Mutual Insurance Company"
        self.appetite = settings.appetite or ACME_APPETITE

    def _headers(self, settings: ProviderSettings) -> dict[str, str]:
        return {
            "X-Acme-Key": settings.api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def quote_call(self, request: QuoteRequest, settings: ProviderSettings) -> HttpCall:
        seller, cover = request.seller, request.cover
        body: dict[str, Any] = {
            "client_reference": request.request_id,
            "business": {
                "external_id": seller.seller_id,
                "name": seller.legal_name,
                "channel": seller.marketplace,
                "model": seller.business_model,
                "years_trading": seller.years_in_business,
                "turnover": {
                    "cents": _cents(seller.annual_sales.amount),
                    "currency": seller.annual_sales.currency,
                },
                "risk": {"score": seller.risk_score, "tier": seller.risk_tier},
                "origin_countries": list(seller.manufacturing_countries),
                "products": [
                    {"class": c.category, "share": str(c.revenue_share)} for c in seller.categories
                ],
            },
            "requested": {
                "currency": cover.per_occurrence.currency,
                "limits": {
                    "occurrence_cents": _cents(cover.per_occurrence.amount),
                    "aggregate_cents": _cents(cover.aggregate.amount),
                },
                "max_deductible_cents": _cents(cover.max_deductible.amount),
                "starts_on": cover.effective_date.isoformat(),
                "months": cover.term_months,
            },
        }
        # The endorsement the marketplace requires, worded as it must be printed: Acme copies it
        # onto its offer instead of naming an operator of its own choosing.
        if (required := request.additional_insured) is not None:
            body["additional_insured"] = {"name": required.name, "wording": required.wording}
        return HttpCall("POST", "/v2/quotes", self._headers(settings), msgspec.json.encode(body))

    def parse_quote(self, request: QuoteRequest, reply: HttpReply) -> QuoteResult:
        if reply.status not in _QUOTE_STATUSES:
            raise MalformedResponse(f"acme quote: unexpected HTTP status {reply.status}")
        response = _decode(reply.body, _QuoteResponse, "acme quote")
        if response.result == "declined":
            if not response.code:
                raise MalformedResponse("acme quote: declined without a code")
            return Declined(response.code, response.message)
        if response.result == "referred":
            return Referred(response.message)
        if not response.offers:
            raise MalformedResponse("acme quote: quoted without any offer")
        return Offered([_offer(self.provider_id, offer) for offer in response.offers])

    def poll_call(self, quote_reference: str, settings: ProviderSettings) -> HttpCall | None:
        return None  # Acme answers quotes at once: nothing to poll

    def bind_call(self, offer: Offer, bind: BindRequest, settings: ProviderSettings) -> HttpCall:
        body = {
            "offer_id": offer.quote_reference,
            "client_reference": bind.request_id,
            "insured": {"external_id": bind.seller_id, "name": bind.named_insured},
            "additional_insured": {"name": bind.additional_insured_name},
        }
        return HttpCall("POST", "/v2/policies", self._headers(settings), msgspec.json.encode(body))

    def parse_bind(self, offer: Offer, reply: HttpReply) -> BindResult:
        if reply.status not in _BIND_STATUSES:
            raise MalformedResponse(f"acme bind: unexpected HTTP status {reply.status}")
        response = _decode(reply.body, _BindResponse, "acme bind")
        if response.error is not None:
            return BindRefused(response.error.code, response.error.message)
        if reply.status >= 400 or response.policy is None:
            raise MalformedResponse("acme bind: neither a policy nor an error")
        return Bound(_policy(response.policy))

    def parse_events(self, body: bytes, headers: Mapping[str, str]) -> Sequence[InsurerEvent]:
        # Acme sends exactly one event per callback.
        return [_event(_decode(body, _Event, "acme event"))]
