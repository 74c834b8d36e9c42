"""The asynchronous insurer (Meridian's API style): submissions answered later by signed callback.

``POST /submissions`` → ``202`` with a ``submissionId``; after ``callback_delay_seconds`` the
result is pollable at ``GET /submissions/{id}`` and is POSTed, signed with Standard Webhooks, to
the submission's ``callbackUrl``. ``POST /binds`` → ``202`` with a ``bindId``, then a
``bind.completed`` callback (pollable at ``GET /binds/{id}``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from providers._signing import signature_headers
from providers._wire import from_minor, to_minor
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
    Quoted,
    Refused,
    SimOffer,
    underwrite,
)
from providers.sandbox._state import STATE, Delivery, SandboxState

KEY = "meridian"
_ATTEMPTS = 3


class _Applicant(msgspec.Struct, rename="camel"):
    external_id: str
    legal_name: str
    marketplace: str
    years_active: int
    risk_score: int
    risk_tier: str


class _Sales(msgspec.Struct, rename="camel"):
    annual_minor: int
    ccy: str


class _Line(msgspec.Struct, rename="camel"):
    product_class: str
    revenue_pct: Decimal


class _Requested(msgspec.Struct, rename="camel"):
    ccy: str
    occurrence_limit_minor: int
    aggregate_limit_minor: int
    max_deductible_minor: int
    inception: date
    term_months: int


class _Endorsement(msgspec.Struct):
    name: str
    wording: str


class _Submission(msgspec.Struct, rename="camel"):
    client_reference: str
    applicant: _Applicant
    sales: _Sales
    lines: list[_Line]
    requested: _Requested
    callback_url: str = ""
    additional_insured: _Endorsement | None = None


class _BindRequest(msgspec.Struct, rename="camel"):
    quote_id: str
    insured_name: str
    additional_insured: str
    callback_url: str = ""


def _application(body: _Submission) -> Application:
    requested = body.requested
    return Application(
        reference=body.client_reference,
        seller_id=body.applicant.external_id,
        legal_name=body.applicant.legal_name,
        marketplace=body.applicant.marketplace,
        categories=tuple((line.product_class, line.revenue_pct / 100) for line in body.lines),
        annual_sales=from_minor(body.sales.annual_minor, body.sales.ccy),
        currency=requested.ccy,
        risk_score=body.applicant.risk_score,
        risk_tier=body.applicant.risk_tier,
        years_in_business=body.applicant.years_active,
        per_occurrence=from_minor(requested.occurrence_limit_minor, requested.ccy),
        aggregate=from_minor(requested.aggregate_limit_minor, requested.ccy),
        max_deductible=from_minor(requested.max_deductible_minor, requested.ccy),
        effective_date=requested.inception,
        term_months=requested.term_months,
        additional_insured=None
        if body.additional_insured is None
        else (body.additional_insured.name, body.additional_insured.wording),
    )


def _insurer() -> dict[str, str]:
    return {"name": INSURERS[KEY].name, "rating": INSURERS[KEY].rating}


def _limits(offer: SimOffer) -> dict[str, int]:
    ccy = offer.currency
    return {
        "occurrenceLimitMinor": to_minor(offer.per_occurrence, ccy),
        "aggregateLimitMinor": to_minor(offer.aggregate, ccy),
        "productsAggregateMinor": to_minor(offer.products_aggregate, ccy),
        "deductibleMinor": to_minor(offer.deductible, ccy),
    }


def _quote(offer: SimOffer) -> dict[str, Any]:
    ccy = offer.currency
    return {
        "quoteId": offer.quote_id,
        "insurer": _insurer(),
        "ccy": ccy,
        "premiumMinor": to_minor(offer.premium, ccy),
        "taxMinor": to_minor(offer.taxes, ccy),
        "feeMinor": to_minor(offer.fees, ccy),
        "form": "OCC" if offer.form == "occurrence" else "CM",
        **_limits(offer),
        "additionalInsured": None
        if offer.additional_insured_name is None
        else {
            "name": offer.additional_insured_name,
            "wording": offer.additional_insured_wording,
            "formRef": "CG 20 15 04 13",
        },
        "certificateHolderOnly": offer.certificate_holder_only,
        "territories": list(offer.territories),
        "productClasses": list(offer.categories),
        "exclusions": list(offer.exclusions),
        "noticeDays": offer.notice_days,
        "inception": offer.effective_date.isoformat(),
        "expiry": offer.expiry_date.isoformat(),
        "validUntil": iso(offer.valid_until),
        "bindable": True,
    }


def _policy(policy: SimPolicy) -> dict[str, Any]:
    offer = policy.offer
    return {
        "policyNumber": policy.number,
        "insurer": _insurer(),
        "insuredName": policy.named_insured,
        "ccy": offer.currency,
        "form": "OCC" if offer.form == "occurrence" else "CM",
        **_limits(offer),
        "additionalInsureds": list(policy.additional_insureds),
        "territories": list(offer.territories),
        "productClasses": list(offer.categories),
        "effectiveAt": iso(policy.effective_at),
        "expiresAt": iso(policy.expires_at),
        "noticeDays": offer.notice_days,
        "premiumTotalMinor": to_minor(offer.total, offer.currency),
    }


def _callback_target(state: SandboxState, named: str) -> str:
    if named:
        return named
    return f"{state.config.callback_url.rstrip('/')}/{KEY}" if state.config.callback_url else ""


async def _deliver(state: SandboxState, url: str, event_type: str, payload: dict[str, Any]) -> None:
    """Wait the configured delay, then POST one signed event, retrying a few times."""
    if await pause(state, state.config.callback_delay_seconds) or not url:
        return
    state.event_sequence += 1
    event_id = f"evt_{KEY}_{state.event_sequence:06d}"
    body = msgspec.json.encode(
        {
            "eventId": event_id,
            "eventType": event_type,
            "occurredAt": iso(datetime.now(UTC)),
            "seq": state.event_sequence,
            "payload": payload,
        }
    )
    delivery = Delivery(KEY, event_id, event_type, url, None, 0)
    state.deliveries.append(delivery)
    for attempt in range(1, _ATTEMPTS + 1):
        delivery.attempts = attempt
        headers = signature_headers(
            [state.config.callback_secret], event_id, int(time.time()), body
        )
        headers["Content-Type"] = "application/json"
        session = state.session
        if session is None:
            return
        try:
            async with session.post(url, data=body, headers=headers) as response:
                delivery.status = response.status
                if response.status < 300:
                    return
        except (aiohttp.ClientError, TimeoutError):
            delivery.status = None
        # Back off like a real partner would: 0.5 s, 1 s, ...
        if await pause(state, 0.5 * attempt):
            return


def _pending_or_final(
    table: dict[str, tuple[float, dict[str, Any]]], ident: str, pending: dict[str, Any]
) -> dict[str, Any] | None:
    entry = table.get(ident)
    if entry is None:
        return None
    ready_at, final = entry
    return final if asyncio.get_running_loop().time() >= ready_at else pending


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"errorCode": code, "errorText": message}, status=status)


def add_routes(app: web.Application) -> None:
    """Serve the asynchronous insurer under ``/meridian``."""
    profile = INSURERS[KEY]

    def check(request: web.Request) -> web.Response | None:
        if not authorized(request, request.app[STATE].config.api_keys.get(KEY, ""), "meridian"):
            return _error(401, "UNAUTHORIZED", "X-Api-Key is missing or wrong")
        return None

    async def submit(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        state = request.app[STATE]
        insurer = state.insurers[KEY]
        try:
            body = msgspec.json.decode(await request.read(), type=_Submission)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return _error(400, "INVALID_SUBMISSION", str(exc))
        sequence = insurer.next_sequence()
        submission_id = f"MSI-SUB-{sequence:06d}"
        decision = underwrite(
            profile,
            _application(body),
            sequence=sequence,
            now=datetime.now(UTC),
            additional_insured_name=state.config.additional_insured_name,
        )
        final: dict[str, Any] = {"submissionId": submission_id}
        if isinstance(decision, Refused):
            final |= {
                "state": "declined",
                "declineCode": decision.code,
                "declineText": decision.message,
            }
            event_type = "submission.declined"
        elif isinstance(decision, Quoted):
            for offer in decision.offers:
                insurer.quotes[offer.quote_id] = offer
            final |= {"state": "quoted", "quotes": [_quote(o) for o in decision.offers]}
            event_type = "submission.quoted"
        else:
            final |= {"state": "referred", "referralText": decision.message}
            event_type = "submission.referred"
        ready_at = asyncio.get_running_loop().time() + state.config.callback_delay_seconds
        state.submissions[submission_id] = (ready_at, final)
        state.spawn(_deliver(state, _callback_target(state, body.callback_url), event_type, final))
        return web.json_response({"submissionId": submission_id, "state": "received"}, status=202)

    async def poll(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        ident = request.match_info["ident"]
        pending = {"submissionId": ident, "state": "underwriting"}
        found = _pending_or_final(request.app[STATE].submissions, ident, pending)
        if found is None:
            return _error(404, "NOT_FOUND", f"no submission {ident}")
        return web.json_response(found)

    async def bind(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        state = request.app[STATE]
        insurer = state.insurers[KEY]
        try:
            body = msgspec.json.decode(await request.read(), type=_BindRequest)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return _error(400, "INVALID_BIND", str(exc))

        async def produce() -> web.Response:
            checked = bind_check(insurer, body.quote_id, datetime.now(UTC))
            if isinstance(checked, Refused):
                refused = {
                    "bindId": "",
                    "state": "refused",
                    "code": checked.code,
                    "text": checked.message,
                }
                return web.json_response(refused, status=409)
            policy = issue_policy(insurer, checked, body.insured_name, body.additional_insured)
            bind_id = f"MSI-BND-{insurer.next_sequence():06d}"
            final = {"bindId": bind_id, "state": "bound", "policy": _policy(policy)}
            ready_at = asyncio.get_running_loop().time() + state.config.callback_delay_seconds
            state.binds[bind_id] = (ready_at, final)
            target = _callback_target(state, body.callback_url)
            state.spawn(_deliver(state, target, "bind.completed", final))
            return web.json_response({"bindId": bind_id, "state": "pending"}, status=202)

        return await idempotent(request, insurer, produce)

    async def bind_status(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        ident = request.match_info["ident"]
        pending = {"bindId": ident, "state": "pending"}
        found = _pending_or_final(request.app[STATE].binds, ident, pending)
        if found is None:
            return _error(404, "NOT_FOUND", f"no bind {ident}")
        return web.json_response(found)

    app.router.add_post(f"/{KEY}/submissions", submit)
    app.router.add_get(f"/{KEY}/submissions/{{ident}}", poll)
    app.router.add_post(f"/{KEY}/binds", bind)
    app.router.add_get(f"/{KEY}/binds/{{ident}}", bind_status)
