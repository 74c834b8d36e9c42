"""Meridian-style partners: an asynchronous JSON API with signed callbacks.

``POST /submissions`` answers ``202`` with a ``submissionId`` (our :class:`Pending`); the result
arrives later as a Standard-Webhooks-signed callback to ``settings.callback_url``, and can also be
polled with ``GET /submissions/{submissionId}``. Binds are asynchronous too: ``POST /binds``
answers ``202`` with a ``bindId`` (:class:`BindPending`), then a ``bind.completed`` callback
carries the policy. Meridian's JSON is camelCase with integer minor-unit amounts (``...Minor``
plus ``ccy``); everything is translated here. Authentication is an ``X-Api-Key`` header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import msgspec

from providers._protocol import (
    Appetite,
    BindPending,
    BindRefused,
    BindRequest,
    BindResult,
    Bound,
    Declined,
    HttpCall,
    HttpReply,
    MalformedResponse,
    Offered,
    Pending,
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
    from_minor,
    money,
    require_status,
    to_minor,
)
from schemas import (
    InsurerEvent,
    Offer,
    PolicyBound,
    PolicyCancelled,
    PolicyLapsed,
    PolicyReinstated,
    PolicyRenewed,
    QuoteDeclined,
    QuoteOffered,
    QuoteReferred,
    QuoteRequest,
    UtcInstant,
)

__all__ = ["MERIDIAN_APPETITE", "MeridianAdapter"]

MERIDIAN_APPETITE = Appetite(
    marketplaces=frozenset({"US", "CA", "UK", "DE"}),
    categories=(
        "apparel",
        "automotive",
        "beauty",
        "electronics",
        "food",
        "health",
        "home",
        "office",
        "pets",
        "sports",
        "toys",
    ),
    excluded_categories=("electronics/batteries", "electronics/power-banks"),
    revenue_bands=(
        RevenueBand("USD", Decimal(100_000), Decimal(100_000_000)),
        RevenueBand("CAD", Decimal(100_000), Decimal(130_000_000)),
        RevenueBand("GBP", Decimal(80_000), Decimal(80_000_000)),
        RevenueBand("EUR", Decimal(90_000), Decimal(90_000_000)),
    ),
    max_per_occurrence=Decimal(10_000_000),
    max_risk_score=95,
)

_SUBMIT_STATUSES = frozenset({200, 202})
_BIND_STATUSES = frozenset({200, 202, 409, 422})
_FORMS: dict[str, Literal["occurrence", "claims_made"]] = {"OCC": "occurrence", "CM": "claims_made"}

# --- Meridian's wire shapes (decoded tolerantly) --------------------------------------------


class _Insurer(msgspec.Struct, frozen=True):
    name: str
    rating: str


class _AdditionalInsured(msgspec.Struct, frozen=True, rename="camel"):
    name: str
    wording: str
    form_ref: str = ""


class _Quote(msgspec.Struct, frozen=True, rename="camel"):
    quote_id: str
    insurer: _Insurer
    ccy: str
    premium_minor: int
    tax_minor: int
    fee_minor: int
    form: Literal["OCC", "CM"]
    occurrence_limit_minor: int
    aggregate_limit_minor: int
    products_aggregate_minor: int
    deductible_minor: int
    territories: list[str]
    product_classes: list[str]
    notice_days: int
    inception: date
    expiry: date
    valid_until: UtcInstant
    additional_insured: _AdditionalInsured | None = None
    certificate_holder_only: bool = False
    exclusions: list[str] = msgspec.field(default_factory=list)
    bindable: bool = True


class _Submission(msgspec.Struct, frozen=True, rename="camel"):
    submission_id: str
    state: Literal["received", "underwriting", "quoted", "declined", "referred"]
    quotes: list[_Quote] = msgspec.field(default_factory=list)
    decline_code: str = ""
    decline_text: str = ""
    referral_text: str = ""


class _Policy(msgspec.Struct, frozen=True, rename="camel"):
    policy_number: str
    insurer: _Insurer
    insured_name: str
    ccy: str
    form: Literal["OCC", "CM"]
    occurrence_limit_minor: int
    aggregate_limit_minor: int
    products_aggregate_minor: int
    deductible_minor: int
    additional_insureds: list[str]
    territories: list[str]
    product_classes: list[str]
    effective_at: UtcInstant
    expires_at: UtcInstant
    notice_days: int = 30
    premium_total_minor: int | None = None


class _Bind(msgspec.Struct, frozen=True, rename="camel"):
    bind_id: str
    state: Literal["pending", "bound", "refused"]
    policy: _Policy | None = None
    code: str = ""
    text: str = ""


class _PolicyChange(msgspec.Struct, frozen=True, rename="camel"):
    policy_number: str
    effective_at: UtcInstant
    expires_at: UtcInstant | None = None
    reason: str = ""


class _Envelope(msgspec.Struct, frozen=True, rename="camel"):
    event_id: str
    event_type: str
    occurred_at: UtcInstant
    payload: msgspec.Raw
    seq: int | None = None


# --- translation --------------------------------------------------------------------------


def _offer(provider_id: str, quote: _Quote) -> Offer:
    what = f"meridian quote {quote.quote_id}"
    ccy = quote.ccy

    def amount(minor: int) -> dict[str, Any]:
        return money(from_minor(minor, ccy), ccy)

    premium, taxes, fees = (
        from_minor(m, ccy) for m in (quote.premium_minor, quote.tax_minor, quote.fee_minor)
    )
    total = checked_total(premium, taxes, fees, None, what)
    ai = quote.additional_insured
    return build_offer(
        {
            "provider_id": provider_id,
            "insurer_name": quote.insurer.name,
            "insurer_rating": quote.insurer.rating,
            "quote_reference": quote.quote_id,
            "premium": money(premium, ccy),
            "taxes": money(taxes, ccy),
            "fees": money(fees, ccy),
            "total": money(total, ccy),
            "policy_form": _FORMS[quote.form],
            "per_occurrence_limit": amount(quote.occurrence_limit_minor),
            "aggregate_limit": amount(quote.aggregate_limit_minor),
            "products_completed_operations_aggregate": amount(quote.products_aggregate_minor),
            "deductible": amount(quote.deductible_minor),
            "additional_insured": None
            if ai is None
            else {"name": ai.name, "wording": ai.wording, "endorsement_form": ai.form_ref},
            "certificate_holder_only": quote.certificate_holder_only,
            "territories": quote.territories,
            "covered_categories": quote.product_classes,
            "exclusions": quote.exclusions,
            "cancellation_notice_days": quote.notice_days,
            "effective_date": quote.inception,
            "expiry_date": quote.expiry,
            "valid_until": quote.valid_until,
            "bindable": quote.bindable,
        },
        what,
    )


def _policy(policy: _Policy) -> dict[str, Any]:
    ccy = policy.ccy

    def amount(minor: int) -> dict[str, Any]:
        return money(from_minor(minor, ccy), ccy)

    return {
        "insurer_name": policy.insurer.name,
        "insurer_rating": policy.insurer.rating,
        "policy_number": policy.policy_number,
        "named_insured": policy.insured_name,
        "policy_form": _FORMS[policy.form],
        "per_occurrence_limit": amount(policy.occurrence_limit_minor),
        "aggregate_limit": amount(policy.aggregate_limit_minor),
        "products_completed_operations_aggregate": amount(policy.products_aggregate_minor),
        "deductible": amount(policy.deductible_minor),
        "additional_insureds": policy.additional_insureds,
        "territories": policy.territories,
        "covered_categories": policy.product_classes,
        "effective_at": policy.effective_at,
        "expires_at": policy.expires_at,
        "cancellation_notice_days": policy.notice_days,
        "premium_total": None
        if policy.premium_total_minor is None
        else amount(policy.premium_total_minor),
    }


def _submission_result(provider_id: str, submission: _Submission) -> QuoteResult:
    if submission.state in ("received", "underwriting"):
        return Pending(submission.submission_id)
    if submission.state == "declined":
        if not submission.decline_code:
            raise MalformedResponse("meridian submission: declined without declineCode")
        return Declined(submission.decline_code, submission.decline_text)
    if submission.state == "referred":
        return Referred(submission.referral_text)
    if not submission.quotes:
        raise MalformedResponse("meridian submission: quoted without any quote")
    return Offered([_offer(provider_id, quote) for quote in submission.quotes])


def _submission_event(
    provider_id: str, envelope: _Envelope, common: dict[str, Any]
) -> InsurerEvent:
    submission = decode_json(envelope.payload, _Submission, f"meridian {envelope.event_type}")
    result = _submission_result(provider_id, submission)
    reference = submission.submission_id
    if isinstance(result, Offered):
        return QuoteOffered(quote_reference=reference, offers=list(result.offers), **common)
    if isinstance(result, Declined):
        return QuoteDeclined(
            quote_reference=reference,
            reason_code=result.reason_code,
            reason=result.reason,
            **common,
        )
    if isinstance(result, Referred):
        return QuoteReferred(quote_reference=reference, reason=result.reason, **common)
    raise MalformedResponse(f"meridian {envelope.event_type}: submission is still pending")


def _policy_change_event(envelope: _Envelope, common: dict[str, Any]) -> InsurerEvent:
    change = decode_json(envelope.payload, _PolicyChange, f"meridian {envelope.event_type}")
    number, effective = change.policy_number, change.effective_at
    if envelope.event_type == "policy.cancelled":
        return PolicyCancelled(
            policy_number=number, effective_at=effective, reason=change.reason, **common
        )
    if envelope.event_type == "policy.reinstated":
        return PolicyReinstated(policy_number=number, effective_at=effective, **common)
    if envelope.event_type == "policy.lapsed":
        return PolicyLapsed(policy_number=number, effective_at=effective, **common)
    if change.expires_at is None:
        raise MalformedResponse("meridian policy.renewed: expiresAt is required")
    return PolicyRenewed(
        policy_number=number, effective_at=effective, expires_at=change.expires_at, **common
    )


_SUBMISSION_EVENTS = frozenset({"submission.quoted", "submission.declined", "submission.referred"})
_POLICY_EVENTS = frozenset(
    {"policy.cancelled", "policy.reinstated", "policy.lapsed", "policy.renewed"}
)


class MeridianAdapter:
    """Adapter for asynchronous partners in Meridian's API style."""

    signature_scheme: SignatureScheme = "standard-webhooks"
    secret_headers: frozenset[str] = frozenset({"x-api-key"})

    def __init__(self, provider_id: str, settings: ProviderSettings) -> None:
        self.provider_id = provider_id
        self.insurer_name = settings.insurer_name or "Meridian Specialty Insurance Company"
        self.appetite = settings.appetite or MERIDIAN_APPETITE

    def _headers(self, settings: ProviderSettings) -> dict[str, str]:
        return {
            "X-Api-Key": settings.api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def quote_call(self, request: QuoteRequest, settings: ProviderSettings) -> HttpCall:
        seller, cover = request.seller, request.cover
        sales_ccy = seller.annual_sales.currency
        ccy = cover.per_occurrence.currency
        body = {
            "clientReference": request.request_id,
            "callbackUrl": settings.callback_url,
            "applicant": {
                "externalId": seller.seller_id,
                "legalName": seller.legal_name,
                "marketplace": seller.marketplace,
                "businessModel": seller.business_model,
                "yearsActive": seller.years_in_business,
                "riskScore": seller.risk_score,
                "riskTier": seller.risk_tier,
                "sourcingCountries": list(seller.manufacturing_countries),
            },
            "sales": {
                "annualMinor": to_minor(seller.annual_sales.amount, sales_ccy),
                "ccy": sales_ccy,
            },
            # Meridian wants percentages, not fractions.
            "lines": [
                {"productClass": c.category, "revenuePct": str(c.revenue_share * 100)}
                for c in seller.categories
            ],
            "requested": {
                "ccy": ccy,
                "occurrenceLimitMinor": to_minor(cover.per_occurrence.amount, ccy),
                "aggregateLimitMinor": to_minor(cover.aggregate.amount, ccy),
                "maxDeductibleMinor": to_minor(cover.max_deductible.amount, ccy),
                "inception": cover.effective_date.isoformat(),
                "termMonths": cover.term_months,
            },
        }
        if (required := request.additional_insured) is not None:
            body["additionalInsured"] = {"name": required.name, "wording": required.wording}
        return HttpCall("POST", "/submissions", self._headers(settings), msgspec.json.encode(body))

    def parse_quote(self, request: QuoteRequest, reply: HttpReply) -> QuoteResult:
        """Parses both the submission's ``202`` and a poll's ``200``."""
        require_status(reply.status, _SUBMIT_STATUSES, "meridian submission")
        submission = decode_json(reply.body, _Submission, "meridian submission")
        return _submission_result(self.provider_id, submission)

    def poll_call(self, quote_reference: str, settings: ProviderSettings) -> HttpCall | None:
        headers = self._headers(settings)
        del headers["Content-Type"]
        return HttpCall("GET", f"/submissions/{quote_reference}", headers)

    def bind_call(self, offer: Offer, bind: BindRequest, settings: ProviderSettings) -> HttpCall:
        body = {
            "quoteId": offer.quote_reference,
            "clientReference": bind.request_id,
            "externalId": bind.seller_id,
            "insuredName": bind.named_insured,
            "additionalInsured": bind.additional_insured_name,
            "callbackUrl": settings.callback_url,
        }
        return HttpCall("POST", "/binds", self._headers(settings), msgspec.json.encode(body))

    def parse_bind(self, offer: Offer, reply: HttpReply) -> BindResult:
        require_status(reply.status, _BIND_STATUSES, "meridian bind")
        response = decode_json(reply.body, _Bind, "meridian bind")
        if response.state == "pending":
            return BindPending(response.bind_id)
        if response.state == "refused":
            return BindRefused(response.code or "bind_refused", response.text)
        if response.policy is None:
            raise MalformedResponse("meridian bind: bound without a policy")
        return Bound(build_policy(_policy(response.policy), "meridian bind"))

    def parse_events(self, body: bytes, headers: Mapping[str, str]) -> Sequence[InsurerEvent]:
        """One Meridian envelope per callback; its ``payload`` depends on ``eventType``."""
        envelope = decode_json(body, _Envelope, "meridian event")
        common: dict[str, Any] = {"occurred_at": envelope.occurred_at, "sequence": envelope.seq}
        kind = envelope.event_type
        if kind in _SUBMISSION_EVENTS:
            return [_submission_event(self.provider_id, envelope, common)]
        if kind in _POLICY_EVENTS:
            return [_policy_change_event(envelope, common)]
        if kind == "bind.completed":
            completed = decode_json(envelope.payload, _Bind, "meridian bind.completed")
            if completed.state != "bound" or completed.policy is None:
                raise MalformedResponse("meridian bind.completed: no bound policy")
            policy = build_policy(_policy(completed.policy), f"meridian {kind}")
            return [PolicyBound(bind_reference=completed.bind_id, policy=policy, **common)]
        raise MalformedResponse(f"meridian event: unsupported eventType {kind!r}")
