"""Synchronous JSON insurers (Harbor's API style): ``POST /quotes`` and ``POST /binds``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec
from aiohttp import web

from providers.sandbox._common import (
    SimPolicy,
    authorized,
    bind_check,
    idempotent,
    iso,
    issue_policy,
)
from providers.sandbox._rating import (
    INSURERS,
    Application,
    InsurerProfile,
    Quoted,
    Refused,
    SimOffer,
    underwrite,
)
from providers.sandbox._state import STATE


class _Line(msgspec.Struct):
    category: str
    revenue_share: Decimal


class _Applicant(msgspec.Struct):
    id: str
    legal_name: str
    marketplace: str
    years_in_business: int
    annual_revenue: Decimal
    currency: str
    risk_score: int
    risk_tier: str
    product_lines: list[_Line]


class _Coverage(msgspec.Struct):
    currency: str
    each_occurrence: Decimal
    general_aggregate: Decimal
    max_deductible: Decimal
    inception_date: date
    term_months: int


class _Endorsement(msgspec.Struct):
    name: str
    wording: str


class _QuoteRequest(msgspec.Struct):
    reference: str
    applicant: _Applicant
    coverage: _Coverage
    additional_insured: _Endorsement | None = None


class _BindRequest(msgspec.Struct):
    quote_id: str
    insured_name: str
    additional_insured: str


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _carrier(profile: InsurerProfile) -> dict[str, str]:
    return {"name": profile.name, "am_best": profile.rating}


def _limits(offer: SimOffer) -> dict[str, str]:
    return {
        "each_occurrence": str(offer.per_occurrence),
        "general_aggregate": str(offer.aggregate),
        "products_completed_ops": str(offer.products_aggregate),
    }


def _quote(offer: SimOffer) -> dict[str, Any]:
    return {
        "quote_id": offer.quote_id,
        "carrier": _carrier(offer.insurer),
        "line": "general_liability",
        "currency": offer.currency,
        "premium": str(offer.premium),
        "taxes": str(offer.taxes),
        "fees": str(offer.fees),
        "total": str(offer.total),
        "form": offer.form,
        "limits": _limits(offer),
        "deductible": str(offer.deductible),
        "additional_insured": None
        if offer.additional_insured_name is None
        else {
            "name": offer.additional_insured_name,
            "wording": offer.additional_insured_wording,
            "form": "CG 20 15",
        },
        "certificate_holder_only": offer.certificate_holder_only,
        "territories": list(offer.territories),
        "classes": list(offer.categories),
        "exclusions": list(offer.exclusions),
        "notice_days": offer.notice_days,
        "inception_date": offer.effective_date.isoformat(),
        "expiry_date": offer.expiry_date.isoformat(),
        "valid_until": iso(offer.valid_until),
        "bindable": True,
    }


def _policy(policy: SimPolicy) -> dict[str, Any]:
    offer = policy.offer
    return {
        "policy_number": policy.number,
        "carrier": _carrier(offer.insurer),
        "insured_name": policy.named_insured,
        "line": "general_liability",
        "currency": offer.currency,
        "form": offer.form,
        "limits": _limits(offer),
        "deductible": str(offer.deductible),
        "additional_insureds": list(policy.additional_insureds),
        "territories": list(offer.territories),
        "classes": list(offer.categories),
        "effective_at": iso(policy.effective_at),
        "expires_at": iso(policy.expires_at),
        "notice_days": offer.notice_days,
        "premium_total": str(offer.total),
    }


def _application(body: _QuoteRequest) -> Application:
    applicant, coverage = body.applicant, body.coverage
    return Application(
        reference=body.reference,
        seller_id=applicant.id,
        legal_name=applicant.legal_name,
        marketplace=applicant.marketplace,
        categories=tuple((line.category, line.revenue_share) for line in applicant.product_lines),
        annual_sales=applicant.annual_revenue,
        currency=coverage.currency,
        risk_score=applicant.risk_score,
        risk_tier=applicant.risk_tier,
        years_in_business=applicant.years_in_business,
        per_occurrence=coverage.each_occurrence,
        aggregate=coverage.general_aggregate,
        max_deductible=coverage.max_deductible,
        effective_date=coverage.inception_date,
        term_months=coverage.term_months,
        additional_insured=None
        if body.additional_insured is None
        else (body.additional_insured.name, body.additional_insured.wording),
    )


def add_routes(app: web.Application, key: str) -> None:
    """Serve the insurer ``key`` under ``/<key>`` in Harbor's API style."""
    profile = INSURERS[key]

    def check(request: web.Request) -> web.Response | None:
        state = request.app[STATE]
        if not authorized(request, state.config.api_keys.get(key, ""), "harbor"):
            return _error(401, "unauthorized", "a valid bearer token is required")
        return None

    async def quotes(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        state = request.app[STATE]
        insurer = state.insurers[key]
        try:
            body = msgspec.json.decode(await request.read(), type=_QuoteRequest)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return _error(400, "invalid_request", str(exc))
        decision = underwrite(
            profile,
            _application(body),
            sequence=insurer.next_sequence(),
            now=datetime.now(UTC),
            additional_insured_name=state.config.additional_insured_name,
        )
        if isinstance(decision, Refused):
            return web.json_response(
                {
                    "outcome": "declined",
                    "decline": {"code": decision.code, "message": decision.message},
                }
            )
        if not isinstance(decision, Quoted):
            return web.json_response({"outcome": "referred", "referral_reason": decision.message})
        for offer in decision.offers:
            insurer.quotes[offer.quote_id] = offer
        return web.json_response(
            {"outcome": "quoted", "quotes": [_quote(offer) for offer in decision.offers]}
        )

    async def binds(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        insurer = request.app[STATE].insurers[key]
        try:
            body = msgspec.json.decode(await request.read(), type=_BindRequest)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return _error(400, "invalid_request", str(exc))

        async def produce() -> web.Response:
            checked = bind_check(insurer, body.quote_id, datetime.now(UTC))
            if isinstance(checked, Refused):
                return web.json_response(
                    {
                        "status": "refused",
                        "refusal": {"code": checked.code, "message": checked.message},
                    },
                    status=409,
                )
            policy = issue_policy(insurer, checked, body.insured_name, body.additional_insured)
            return web.json_response({"status": "issued", "policy": _policy(policy)}, status=201)

        return await idempotent(request, insurer, produce)

    app.router.add_post(f"/{key}/quotes", quotes)
    app.router.add_post(f"/{key}/binds", binds)
