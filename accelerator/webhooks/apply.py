"""Applying canonical insurer events to quote requests and the coverage registry, idempotently.

Each event gets a stable id (provider, webhook id, position), so re-processing a delivery adds
nothing twice: policy events are unique by event id, and quote outcomes only move forward from
``pending``/``awaiting``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select

from accelerator.binding.service import finish_bind
from accelerator.coverage.models import PolicyRow
from accelerator.coverage.registry import add_event, create_policy
from accelerator.infra.database import WriteSession
from accelerator.quoting.models import InsurerOutcomeRow, OfferRow, QuoteRequestRow
from schemas import (
    InsurerEvent,
    PolicyBound,
    PolicyCancelled,
    PolicyEndorsed,
    PolicyLapsed,
    PolicyReinstated,
    PolicyRenewed,
    PolicyVerified,
    QuoteDeclined,
    QuoteOffered,
    QuoteReferred,
)

OPEN_OUTCOMES = ("awaiting", "pending")


class UnmatchedEvent(Exception):
    """The event names a quote or policy we do not know (yet)."""


async def _outcome(session: WriteSession, provider_id: str, reference: str) -> InsurerOutcomeRow:
    row = await session.scalar(
        select(InsurerOutcomeRow).where(
            InsurerOutcomeRow.provider_id == provider_id,
            InsurerOutcomeRow.quote_reference == reference,
        )
    )
    if row is None:
        raise UnmatchedEvent(f"no quote {reference!r} from {provider_id}")
    return row


async def _policy(session: WriteSession, provider_id: str, number: str) -> PolicyRow:
    row = await session.scalar(
        select(PolicyRow).where(
            PolicyRow.provider_id == provider_id, PolicyRow.policy_number == number
        )
    )
    if row is None:
        raise UnmatchedEvent(f"no policy {number!r} from {provider_id}")
    return row


async def apply_event(
    session: WriteSession, provider_id: str, event_id: str, event: InsurerEvent
) -> None:
    now = datetime.now(UTC)
    match event:
        case QuoteOffered(quote_reference=reference, offers=offers):
            outcome = await _outcome(session, provider_id, reference)
            if outcome.status not in OPEN_OUTCOMES:
                return
            outcome.status, outcome.reason_code, outcome.reason, outcome.updated_at = (
                "offered",
                None,
                None,
                now,
            )
            for offer in offers:
                session.add(
                    OfferRow(
                        id=str(uuid.uuid4()),
                        request_id=outcome.request_id,
                        provider_id=provider_id,
                        quote_reference=offer.quote_reference,
                        offer=msgspec.to_builtins(offer),
                        bindable=offer.bindable,
                        valid_until=offer.valid_until,
                        status="open",
                        received_at=now,
                    )
                )
        case QuoteDeclined(quote_reference=reference, reason_code=code, reason=reason):
            outcome = await _outcome(session, provider_id, reference)
            if outcome.status in OPEN_OUTCOMES:
                outcome.status, outcome.reason_code, outcome.reason, outcome.updated_at = (
                    "declined",
                    code,
                    reason,
                    now,
                )
        case QuoteReferred(quote_reference=reference, reason=reason):
            outcome = await _outcome(session, provider_id, reference)
            if outcome.status in OPEN_OUTCOMES:
                outcome.status, outcome.reason_code, outcome.updated_at = (
                    "referred",
                    "referred_to_underwriter",
                    now,
                )
                outcome.reason = reason
        case PolicyBound(bind_reference=reference, policy=terms):
            request = await session.scalar(
                select(QuoteRequestRow).where(QuoteRequestRow.bind_reference == reference)
            )
            if request is None or request.bound_offer_id is None:
                raise UnmatchedEvent(f"no pending bind {reference!r} from {provider_id}")
            if request.status == "bound":
                return
            await create_policy(
                session,
                seller_id=request.seller_id,
                terms=terms,
                source="bound",
                recorded_at=now,
                event_id=event_id,
                provider_id=provider_id,
                offer_id=request.bound_offer_id,
                quote_request_id=request.id,
                verified=True,
            )
            await finish_bind(session, request.id, request.bound_offer_id)
        case PolicyEndorsed(policy_number=number, effective_at=at, policy=terms):
            policy = await _policy(session, provider_id, number)
            await add_event(
                session,
                policy,
                event_id=event_id,
                kind="endorsed",
                effective_at=at,
                recorded_at=now,
                data={"terms": msgspec.to_builtins(terms)},
            )
        case PolicyRenewed(policy_number=number, effective_at=at, expires_at=expires):
            policy = await _policy(session, provider_id, number)
            await add_event(
                session,
                policy,
                event_id=event_id,
                kind="renewed",
                effective_at=at,
                recorded_at=now,
                data={"expires_at": expires.isoformat()},
            )
        case PolicyCancelled(policy_number=number, effective_at=at, reason=reason):
            policy = await _policy(session, provider_id, number)
            await add_event(
                session,
                policy,
                event_id=event_id,
                kind="cancelled",
                effective_at=at,
                recorded_at=now,
                data={"reason": reason},
            )
        case PolicyReinstated(policy_number=number, effective_at=at):
            policy = await _policy(session, provider_id, number)
            await add_event(
                session,
                policy,
                event_id=event_id,
                kind="reinstated",
                effective_at=at,
                recorded_at=now,
            )
        case PolicyLapsed(policy_number=number, effective_at=at):
            policy = await _policy(session, provider_id, number)
            await add_event(
                session, policy, event_id=event_id, kind="lapsed", effective_at=at, recorded_at=now
            )
        case PolicyVerified(policy_number=number):
            policy = await _policy(session, provider_id, number)
            await add_event(
                session,
                policy,
                event_id=event_id,
                kind="verified",
                effective_at=now,
                recorded_at=now,
            )


__all__ = ["UnmatchedEvent", "apply_event"]
