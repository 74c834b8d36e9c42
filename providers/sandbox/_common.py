"""What every simulated API style shares: authentication, binding rules, idempotent replay."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from aiohttp import web

from providers.sandbox._faults import latency_seconds, pause
from providers.sandbox._rating import Refused, SimOffer
from providers.sandbox._state import STATE, InsurerState, StoredReply

# Policies start and end at 00:01 local time of the marketplace's reference zone.
_ZONES = {
    "US": "America/Los_Angeles",
    "CA": "America/Toronto",
    "UK": "Europe/London",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "JP": "Asia/Tokyo",
}


@dataclass(frozen=True)
class SimPolicy:
    number: str
    offer: SimOffer
    named_insured: str
    additional_insureds: tuple[str, ...]
    effective_at: datetime
    expires_at: datetime


def authorized(request: web.Request, expected_key: str, style: str) -> bool:
    """Whether the request carries this insurer's credentials in its API style."""
    if style in ("harbor", "canonical"):
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ")
    elif style == "meridian":
        offered = request.headers.get("X-Api-Key", "")
    else:
        raw = request.headers.get("Authorization", "").removeprefix("Basic ")
        try:
            offered = base64.b64decode(raw, validate=True).decode()
        except ValueError:
            return False
    return hmac.compare_digest(offered.encode(), expected_key.encode())


def _local_0001(day: date, marketplace: str) -> datetime:
    zone = ZoneInfo(_ZONES.get(marketplace, "UTC"))
    return datetime.combine(day, time(0, 1), tzinfo=zone).astimezone(UTC)


def bind_check(insurer: InsurerState, quote_id: str, now: datetime) -> SimOffer | Refused:
    """The quote to bind, or why it cannot be bound."""
    offer = insurer.quotes.get(quote_id)
    if offer is None:
        return Refused("quote_not_found", f"no quote {quote_id}")
    if now >= offer.valid_until:
        return Refused("quote_expired", f"quote {quote_id} expired")
    if quote_id in insurer.bound:
        return Refused(
            "quote_already_bound", f"quote {quote_id} is bound as {insurer.bound[quote_id]}"
        )
    return offer


def issue_policy(
    insurer: InsurerState, offer: SimOffer, named_insured: str, additional_insured: str
) -> SimPolicy:
    """Issue the policy for a bindable quote (callers check with bind_check first)."""
    number = (
        f"{offer.insurer.number_prefix}-GL-{offer.effective_date.year}-"
        f"{insurer.next_sequence():06d}"
    )
    insurer.bound[offer.quote_id] = number
    marketplace = offer.application.marketplace
    return SimPolicy(
        number=number,
        offer=offer,
        named_insured=named_insured,
        additional_insureds=(additional_insured,) if offer.additional_insured_name else (),
        effective_at=_local_0001(offer.effective_date, marketplace),
        expires_at=_local_0001(offer.expiry_date, marketplace),
    )


async def idempotent(
    request: web.Request,
    insurer: InsurerState,
    produce: Callable[[], Awaitable[web.Response]],
) -> web.Response:
    """Answer a repeated ``Idempotency-Key`` with the first answer, byte for byte; either way
    after the insurer's ``bind_latency`` fault."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and key in insurer.idempotent:
        stored = insurer.idempotent[key]
        response = web.Response(
            status=stored.status,
            body=stored.body,
            content_type=stored.content_type,
            headers={"Idempotent-Replayed": "true"},
        )
    else:
        response = await produce()
        if key is not None and isinstance(response.body, bytes) and response.status < 500:
            insurer.idempotent[key] = StoredReply(
                response.status, response.body, response.content_type
            )
    await pause(request.app[STATE], latency_seconds(insurer.faults.bind_latency, insurer))
    return response


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC to the second, as partners usually send it."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
