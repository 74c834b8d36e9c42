"""A tiny Acme Mutual API to run the adapter against (in memory; for trying things, not production).

    python -m acme_insurer.server --port 8770 \\
        --callback-url http://127.0.0.1:8000/v1/webhooks/insurers/acme --secret whsec_...

- ``POST /v2/quotes``: one offer at once (1M/2M occurrence, deductible 1,000 USD/CAD, the
  marketplace named as additional insured), or a decline for businesses under a year old, or a
  referral above 10M in sales. Every amount in cents.
- ``POST /v2/policies``: binds an offer. Idempotent on ``Idempotency-Key`` (a repeated key gets
  the first answer, never a second policy); an offer is bound once (another key gets 409
  ``offer_already_bound``).
- ``POST /_admin/cancel/{policy_number}`` (JSON body optional: ``effective_at``, ``reason``):
  cancels the policy and sends the signed ``policy.cancelled`` callback; answers with the
  event and the status the accelerator gave the callback.
- ``GET /_admin/state``: the offers, policies and callbacks sent, for looking.

Requests need ``X-Acme-Key`` equal to ``--api-key`` (default ``acme-test-key``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from providers import signature_headers

__all__ = ["AcmeConfig", "build_app", "main"]

INSURER = {"legal_name": "Acme Mutual Insurance Company", "rating": "A"}
DEFAULT_API_KEY = "acme-test-key"
DEFAULT_ADDITIONAL_INSURED = {
    "name": "Amazon.com Services LLC",
    "wording": "Amazon.com Services LLC and its affiliates and assignees",
}
# Cents per 1,000 of annual sales, by the first segment of a product class; others pay 150.
RATES = {"home": 120, "garden": 110, "office": 80, "pets": 130, "toys": 210}
MIN_PREMIUM_CENTS = 75_000
POLICY_FEE_CENTS = 2_500
TAX = Decimal("0.05")


@dataclass
class AcmeConfig:
    callback_url: str
    secret: str
    api_key: str = DEFAULT_API_KEY


@dataclass
class _State:
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    bound_offers: dict[str, str] = field(default_factory=dict)  # offer id -> policy number
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # by key
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


CONFIG = web.AppKey("config", AcmeConfig)
STATE = web.AppKey("state", _State)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(instant: datetime) -> str:
    return instant.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, monthrange(year, month)[1]))


def _premium_cents(business: dict[str, Any]) -> int:
    sales = Decimal(business["turnover"]["cents"]) / 100
    rate = sum(
        Decimal(p["share"]) * RATES.get(p["class"].split("/")[0], 150) for p in business["products"]
    )
    return max(MIN_PREMIUM_CENTS, int(sales / 1000 * rate))


def _offer(request: dict[str, Any], operator: dict[str, str]) -> dict[str, Any]:
    business, wanted = request["business"], request["requested"]
    starts = date.fromisoformat(wanted["starts_on"])
    ends = _add_months(starts, int(wanted["months"]))
    premium = _premium_cents(business)
    tax = int((premium * TAX).to_integral_value(rounding=ROUND_HALF_UP))
    return {
        "id": f"AQ-{uuid.uuid4().hex[:10].upper()}",
        "insurer": INSURER,
        "currency": wanted["currency"],
        "basis": "occurrence",
        "limits": {
            "occurrence_cents": 100_000_000,
            "aggregate_cents": 200_000_000,
            "products_cents": 200_000_000,
        },
        "deductible_cents": 100_000,
        "price": {
            "premium_cents": premium,
            "tax_cents": tax,
            "fee_cents": POLICY_FEE_CENTS,
            "total_cents": premium + tax + POLICY_FEE_CENTS,
        },
        "period": {"starts_on": starts.isoformat(), "ends_on": ends.isoformat()},
        "expires_at": _iso(_now() + timedelta(days=30)),
        "territories": ["US", "CA"],
        "classes": [p["class"] for p in business["products"]],
        "notice_days": 30,
        "endorsements": [
            {
                "type": "additional_insured",
                "name": operator["name"],
                "wording": operator["wording"],
                "form": "ACME-AI-01",
            }
        ],
        "firm": True,
    }


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text="body is not JSON") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body is not a JSON object")
    return body


def _authorised(request: web.Request) -> None:
    if request.headers.get("X-Acme-Key") != request.app[CONFIG].api_key:
        raise web.HTTPUnauthorized(text="missing or wrong X-Acme-Key")


async def quote(request: web.Request) -> web.Response:
    _authorised(request)
    body = await _json(request)
    business = body["business"]
    if business["years_trading"] < 1:
        return web.json_response(
            {"result": "declined", "code": "new_business", "message": "under a year trading"}
        )
    if business["turnover"]["cents"] > 10_000_000 * 100:
        return web.json_response(
            {"result": "referred", "message": "sales above 10M go to an underwriter"}
        )
    # The marketplace operator named as additional insured: as the request words it, if it does.
    operator = body.get("additional_insured") or DEFAULT_ADDITIONAL_INSURED
    offer = _offer(body, operator)
    request.app[STATE].offers[offer["id"]] = offer
    return web.json_response({"result": "quoted", "offers": [offer]})


async def bind(request: web.Request) -> web.Response:
    _authorised(request)
    body = await _json(request)
    state = request.app[STATE]
    key = request.headers.get("Idempotency-Key", "")
    async with state.lock:  # one bind at a time: "bound once" holds under concurrency
        if key and key in state.answers:
            status, answer = state.answers[key]
            return web.json_response(answer, status=status)
        status, answer = _bind(state, body)
        if key:
            state.answers[key] = (status, answer)
    return web.json_response(answer, status=status)


def _bind(state: _State, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    offer = state.offers.get(body.get("offer_id", ""))
    if offer is None:
        return 422, {"error": {"code": "offer_unknown", "message": "no such offer"}}
    if offer["id"] in state.bound_offers:
        message = f"offer already bound as {state.bound_offers[offer['id']]}"
        return 409, {"error": {"code": "offer_already_bound", "message": message}}
    number = f"AMM-GL-{len(state.policies) + 1:06d}"
    starts = date.fromisoformat(offer["period"]["starts_on"])
    ends = date.fromisoformat(offer["period"]["ends_on"])
    policy = {
        "number": number,
        "insurer": offer["insurer"],
        "insured": body["insured"]["name"],
        "currency": offer["currency"],
        "basis": offer["basis"],
        "limits": offer["limits"],
        "deductible_cents": offer["deductible_cents"],
        "additional_insureds": [body["additional_insured"]["name"]],
        "territories": offer["territories"],
        "classes": offer["classes"],
        # Cover runs from midnight UTC of the first day to midnight UTC after the last.
        "starts_at": _iso(datetime.combine(starts, day_time(), UTC)),
        "ends_at": _iso(datetime.combine(ends, day_time(), UTC)),
        "notice_days": offer["notice_days"],
        "premium_total_cents": offer["price"]["total_cents"],
    }
    state.policies[number] = policy
    state.bound_offers[offer["id"]] = number
    return 201, {"policy": policy}


async def cancel(request: web.Request) -> web.Response:
    state, config = request.app[STATE], request.app[CONFIG]
    number = request.match_info["policy_number"]
    if number not in state.policies:
        raise web.HTTPNotFound(text=f"no policy {number}")
    options = await _json(request) if request.can_read_body else {}
    now = _now()
    event = {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "event": "policy.cancelled",
        "created_at": _iso(now),
        "sequence": time.time_ns() // 1_000_000,
        "policy": {"number": number},
        "change": {
            "effective_at": options.get("effective_at", _iso(now)),
            "reason": options.get("reason", "cancelled at the insured's request"),
        },
    }
    status = await _deliver(config, event)
    state.callbacks.append({"event": event, "status": status})
    return web.json_response({"event": event, "callback_status": status})


async def _deliver(config: AcmeConfig, event: dict[str, Any]) -> int:
    """POST one signed event to the callback URL; the status it got (three tries on 5xx), or 0
    if the URL could not be reached."""
    body = json.dumps(event).encode()
    headers = {
        **signature_headers([config.secret], event["event_id"], int(time.time()), body),
        "Content-Type": "application/json",
    }
    status = 0
    async with ClientSession(timeout=ClientTimeout(total=10)) as session:
        for attempt in range(3):
            try:
                async with session.post(config.callback_url, data=body, headers=headers) as reply:
                    status = reply.status
            except ClientError:
                status = 0
            if 0 < status < 500:
                break
            await asyncio.sleep(0.5 * (attempt + 1))
    return status


async def admin_state(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {"offers": state.offers, "policies": state.policies, "callbacks": state.callbacks}
    )


def build_app(config: AcmeConfig) -> web.Application:
    app = web.Application()
    app[CONFIG] = config
    app[STATE] = _State()
    app.router.add_post("/v2/quotes", quote)
    app.router.add_post("/v2/policies", bind)
    app.router.add_post("/_admin/cancel/{policy_number}", cancel)
    app.router.add_get("/_admin/state", admin_state)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m acme_insurer.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8770)
    parser.add_argument("--callback-url", required=True, help="the accelerator's webhook URL")
    parser.add_argument("--secret", required=True, help="whsec_... secret to sign callbacks")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the X-Acme-Key expected")
    args = parser.parse_args(argv)
    config = AcmeConfig(callback_url=args.callback_url, secret=args.secret, api_key=args.api_key)
    web.run_app(build_app(config), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
