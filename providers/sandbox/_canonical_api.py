"""An insurer speaking the accelerator's own canonical API (``providers.canonical``).

``POST /quotes`` takes the canonical ``QuoteRequest`` and answers at once with canonical offers
(without ``provider_id``), a decline or a referral; ``POST /binds`` answers ``bound`` with the
canonical policy terms, or a 409 ``refused``. A request carrying ``Prefer: respond-async`` is
answered ``202 pending`` instead: the result is pollable at ``GET /quotes/{quote_reference}``
(quotes) and arrives after ``callback_delay_seconds`` as a canonical event (``quote.offered``,
``quote.declined``, ``quote.referred`` or ``policy.bound``) signed per Standard Webhooks and
POSTed to ``<callback_url>/keystone``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from providers._signing import signature_headers
from providers.sandbox._common import (
    SimPolicy,
    authorized,
    bind_check,
    idempotent,
    iso,
    issue_policy,
)
from providers.sandbox._faults import pause
from providers.sandbox._rating import (
    INSURERS,
    Application,
    InsurerProfile,
    Quoted,
    Refused,
    SimOffer,
    underwrite,
)
from providers.sandbox._state import STATE, Delivery, SandboxState
from schemas import QuoteRequest

KEY = "keystone"
_ATTEMPTS = 3


class _BindRequest(msgspec.Struct):
    quote_reference: str
    named_insured: str
    additional_insured_name: str


def _application(request: QuoteRequest) -> Application:
    seller, cover = request.seller, request.cover
    return Application(
        reference=request.request_id,
        seller_id=seller.seller_id,
        legal_name=seller.legal_name,
        marketplace=seller.marketplace,
        categories=tuple((c.category, c.revenue_share) for c in seller.categories),
        annual_sales=seller.annual_sales.amount,
        currency=cover.per_occurrence.currency,
        risk_score=seller.risk_score,
        risk_tier=seller.risk_tier,
        years_in_business=seller.years_in_business,
        per_occurrence=cover.per_occurrence.amount,
        aggregate=cover.aggregate.amount,
        max_deductible=cover.max_deductible.amount,
        effective_date=cover.effective_date,
        term_months=cover.term_months,
    )


def _money(amount: object, currency: str) -> dict[str, str]:
    return {"amount": str(amount), "currency": currency}


def _offer(offer: SimOffer) -> dict[str, Any]:
    ccy = offer.currency
    return {
        "insurer_name": offer.insurer.name,
        "insurer_rating": offer.insurer.rating,
        "quote_reference": offer.quote_id,
        "premium": _money(offer.premium, ccy),
        "taxes": _money(offer.taxes, ccy),
        "fees": _money(offer.fees, ccy),
        "total": _money(offer.total, ccy),
        "coverage_type": "general_liability",
        "policy_form": offer.form,
        "per_occurrence_limit": _money(offer.per_occurrence, ccy),
        "aggregate_limit": _money(offer.aggregate, ccy),
        "products_completed_operations_aggregate": _money(offer.products_aggregate, ccy),
        "deductible": _money(offer.deductible, ccy),
        "additional_insured": None
        if offer.additional_insured_name is None
        else {
            "name": offer.additional_insured_name,
            "wording": offer.additional_insured_wording,
            "endorsement_form": "CG 20 15",
        },
        "certificate_holder_only": offer.certificate_holder_only,
        "territories": list(offer.territories),
        "covered_categories": list(offer.categories),
        "exclusions": list(offer.exclusions),
        "cancellation_notice_days": offer.notice_days,
        "effective_date": offer.effective_date.isoformat(),
        "expiry_date": offer.expiry_date.isoformat(),
        "valid_until": iso(offer.valid_until),
        "bindable": True,
    }


def _policy(policy: SimPolicy) -> dict[str, Any]:
    offer = policy.offer
    ccy = offer.currency
    return {
        "insurer_name": offer.insurer.name,
        "insurer_rating": offer.insurer.rating,
        "policy_number": policy.number,
        "named_insured": policy.named_insured,
        "coverage_type": "general_liability",
        "policy_form": offer.form,
        "per_occurrence_limit": _money(offer.per_occurrence, ccy),
        "aggregate_limit": _money(offer.aggregate, ccy),
        "products_completed_operations_aggregate": _money(offer.products_aggregate, ccy),
        "deductible": _money(offer.deductible, ccy),
        "additional_insureds": list(policy.additional_insureds),
        "territories": list(offer.territories),
        "covered_categories": list(offer.categories),
        "effective_at": iso(policy.effective_at),
        "expires_at": iso(policy.expires_at),
        "cancellation_notice_days": offer.notice_days,
        "premium_total": _money(offer.total, ccy),
    }


def _answer(profile: InsurerProfile, state: SandboxState, request: QuoteRequest) -> dict[str, Any]:
    insurer = state.insurers[KEY]
    decision = underwrite(
        profile,
        _application(request),
        sequence=insurer.next_sequence(),
        now=datetime.now(UTC),
        additional_insured_name=state.config.additional_insured_name,
    )
    if isinstance(decision, Refused):
        return {"outcome": "declined", "reason_code": decision.code, "reason": decision.message}
    if not isinstance(decision, Quoted):
        return {"outcome": "referred", "reason": decision.message}
    for offer in decision.offers:
        insurer.quotes[offer.quote_id] = offer
    return {"outcome": "offered", "offers": [_offer(offer) for offer in decision.offers]}


def _event(answer: dict[str, Any], quote_reference: str) -> dict[str, Any]:
    """The canonical event that tells a pending quote's answer."""
    fields = {k: v for k, v in answer.items() if k != "outcome"}
    return {"type": f"quote.{answer['outcome']}", "quote_reference": quote_reference, **fields}


async def _deliver(state: SandboxState, event: dict[str, Any]) -> None:
    """Wait the configured delay, then POST one signed canonical event, retrying a few times."""
    base = state.config.callback_url.rstrip("/")
    if await pause(state, state.config.callback_delay_seconds) or not base:
        return
    url = f"{base}/{KEY}"
    state.event_sequence += 1
    event_id = f"evt_{KEY}_{state.event_sequence:06d}"
    body = msgspec.json.encode(
        {**event, "occurred_at": iso(datetime.now(UTC)), "sequence": state.event_sequence}
    )
    delivery = Delivery(KEY, event_id, event["type"], url, None, 0)
    state.deliveries.append(delivery)
    for attempt in range(1, _ATTEMPTS + 1):
        delivery.attempts = attempt
        headers = signature_headers(
            [state.config.callback_secret], event_id, int(time.time()), body
        )
        headers["Content-Type"] = "application/json"
        if state.session is None:
            return
        try:
            async with state.session.post(url, data=body, headers=headers) as response:
                delivery.status = response.status
                if response.status < 300:
                    return
        except (aiohttp.ClientError, TimeoutError):
            delivery.status = None
        if await pause(state, 0.5 * attempt):
            return


def _later(request: web.Request) -> bool:
    return "respond-async" in request.headers.get("Prefer", "")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def add_routes(app: web.Application) -> None:
    """Serve the canonical-API insurer under ``/keystone``."""
    profile = INSURERS[KEY]

    def check(request: web.Request) -> web.Response | None:
        if not authorized(request, request.app[STATE].config.api_keys.get(KEY, ""), "canonical"):
            return _error(401, "unauthorized", "a valid bearer token is required")
        return None

    async def quotes(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        state = request.app[STATE]
        try:
            body = msgspec.json.decode(await request.read(), type=QuoteRequest)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return _error(400, "invalid_request", str(exc))
        answer = _answer(profile, state, body)
        if not _later(request):
            return web.json_response(answer)
        reference = f"{profile.number_prefix}-SUB-{state.insurers[KEY].next_sequence():06d}"
        ready_at = asyncio.get_running_loop().time() + state.config.callback_delay_seconds
        state.submissions[reference] = (ready_at, answer)
        state.spawn(_deliver(state, _event(answer, reference)))
        return web.json_response({"outcome": "pending", "quote_reference": reference}, status=202)

    async def poll(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        reference = request.match_info["reference"]
        entry = request.app[STATE].submissions.get(reference)
        if entry is None or not reference.startswith(f"{profile.number_prefix}-"):
            return _error(404, "not_found", f"no pending quote {reference}")
        ready_at, answer = entry
        if asyncio.get_running_loop().time() < ready_at:
            return web.json_response({"outcome": "pending", "quote_reference": reference})
        return web.json_response(answer)

    async def binds(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        state = request.app[STATE]
        insurer = state.insurers[KEY]
        try:
            body = msgspec.json.decode(await request.read(), type=_BindRequest)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return _error(400, "invalid_request", str(exc))
        later = _later(request)

        async def produce() -> web.Response:
            checked = bind_check(insurer, body.quote_reference, datetime.now(UTC))
            if isinstance(checked, Refused):
                refused = {
                    "outcome": "refused",
                    "reason_code": checked.code,
                    "reason": checked.message,
                }
                return web.json_response(refused, status=409)
            policy = issue_policy(
                insurer, checked, body.named_insured, body.additional_insured_name
            )
            if not later:
                return web.json_response(
                    {"outcome": "bound", "policy": _policy(policy)}, status=201
                )
            reference = f"{profile.number_prefix}-BND-{insurer.next_sequence():06d}"
            event = {"type": "policy.bound", "bind_reference": reference, "policy": _policy(policy)}
            state.spawn(_deliver(state, event))
            return web.json_response(
                {"outcome": "pending", "bind_reference": reference}, status=202
            )

        return await idempotent(request, insurer, produce)

    app.router.add_post(f"/{KEY}/quotes", quotes)
    app.router.add_get(f"/{KEY}/quotes/{{reference}}", poll)
    app.router.add_post(f"/{KEY}/binds", binds)
