"""Applying canonical insurer events to quote requests and the coverage registry, idempotently.

Each event gets a stable id (provider, the delivery's dedupe key from ``providers.dedupe_key``,
position; the key's digest for a key too long for the column: :func:`event_id`), so
re-processing a delivery adds nothing twice: policy events are unique by event id,
and a quote outcome takes an event only if it is still open or the event happened after the one
that settled it. Policy state is derived from its events in the world's order
(accelerator.coverage.state), so their arrival order does not matter either; policy events carry
the insurer's ``occurred_at`` and ``sequence`` for that. An event naming a quote or policy not
known yet, or a number an operator must first review
(accelerator.coverage.linking), raises ``UnmatchedEvent`` and waits.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec

from accelerator.coverage.linking import AmbiguousPolicy
from accelerator.coverage.repository import add_event, create_policy, policy_numbered
from accelerator.coverage.state import EventKind
from accelerator.infra.database import WriteSession
from accelerator.quoting import repository as quotes
from schemas import (
    InsurerEvent,
    OutcomeStatus,
    PolicyBound,
    PolicyCancelled,
    PolicyEndorsed,
    PolicyLapsed,
    PolicyReinstated,
    PolicyRenewed,
    PolicySource,
    PolicyVerified,
    QuoteDeclined,
    QuoteOffered,
    QuoteReferred,
)

OPEN_OUTCOMES = (OutcomeStatus.AWAITING, OutcomeStatus.PENDING)


class UnmatchedEvent(Exception):
    """The event names a quote or policy we do not know (yet)."""


#: The width of ``policy_events.event_id``, which PostgreSQL enforces and SQLite does not.
EVENT_ID_LENGTH = 200


def event_id(provider_id: str, dedupe_key: str, position: int) -> str:
    """The stable id of the event at ``position`` of a delivery: ``provider:key:position``, or,
    when a partner's long ``webhook-id`` would not fit the column, the same with the key's
    SHA-256 (an id the same delivery always gets again, on either database)."""
    readable = f"{provider_id}:{dedupe_key}:{position}"
    if len(readable) <= EVENT_ID_LENGTH:
        return readable
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()
    return f"{provider_id}:sha256:{digest}:{position}"


async def _outcome(session: WriteSession, provider_id: str, reference: str) -> quotes.LockedOutcome:
    row = await quotes.lock_outcome(session, provider_id, reference)
    if row is None:
        raise UnmatchedEvent(f"no quote {reference!r} from {provider_id}")
    return row


async def _settle_outcome(
    session: WriteSession, outcome: quotes.LockedOutcome, event: InsurerEvent
) -> bool:
    """Whether ``event`` decides this outcome now; if so, record it as the latest event.

    An open outcome takes any event. A settled one takes only an event that happened after the
    one that settled it, so arrival order never matters; an outcome settled by polling (no
    event yet) keeps the answer it has, and a bound request takes no more quote events.
    """
    if outcome.status not in OPEN_OUTCOMES:
        if outcome.last_event_at is None or (event.occurred_at, event.sequence or 0) <= (
            outcome.last_event_at,
            outcome.last_event_sequence or 0,
        ):
            return False
        if not await quotes.takes_quote_events(session, outcome.request_id):
            return False  # the seller is buying (or bought) one of these offers
        # A later answer replaces the earlier one: its offers can no longer be bound.
        await quotes.withdraw_offers(session, outcome.request_id, outcome.provider_id)
    quotes.note_event(outcome, event.occurred_at, event.sequence, datetime.now(UTC))
    return True


_POLICY_EVENTS = (
    PolicyEndorsed,
    PolicyRenewed,
    PolicyCancelled,
    PolicyReinstated,
    PolicyLapsed,
    PolicyVerified,
)


def policy_number(event: InsurerEvent) -> str | None:
    """The policy an event is about, for the events that name one by its number."""
    return event.policy_number if isinstance(event, _POLICY_EVENTS) else None


async def _record(
    session: WriteSession,
    provider_id: str,
    event_id: str,
    event: InsurerEvent,
    *,
    number: str,
    kind: EventKind,
    effective_at: datetime,
    **data: Any,
) -> None:
    """Append the policy event the insurer's ``event`` tells of, with the insurer's own account
    of when it occurred (its order among events taking effect at one instant)."""
    try:
        policy = await policy_numbered(session, provider_id, number)
    except AmbiguousPolicy as exc:
        raise UnmatchedEvent(f"policy {number!r} from {provider_id}: {exc}") from exc
    if policy is None:
        raise UnmatchedEvent(f"no policy {number!r} from {provider_id}")
    await add_event(
        session,
        policy,
        event_id=event_id,
        kind=kind,
        effective_at=effective_at,
        recorded_at=datetime.now(UTC),
        data={
            **data,
            "occurred_at": event.occurred_at.isoformat(),
            "sequence": event.sequence,
            "recorded_by": f"insurer:{provider_id}",
        },
    )


async def apply_event(
    session: WriteSession, provider_id: str, event_id: str, event: InsurerEvent
) -> None:
    now = datetime.now(UTC)
    record = partial(_record, session, provider_id, event_id, event)
    match event:
        case QuoteOffered(quote_reference=reference, offers=offers):
            outcome = await _outcome(session, provider_id, reference)
            if not await _settle_outcome(session, outcome, event):
                return
            quotes.settle_outcome(outcome, OutcomeStatus.OFFERED, None, None)
            quotes.add_offers(session, outcome.request_id, provider_id, offers, now)
        case QuoteDeclined(quote_reference=reference, reason_code=code, reason=reason):
            outcome = await _outcome(session, provider_id, reference)
            if await _settle_outcome(session, outcome, event):
                quotes.settle_outcome(outcome, OutcomeStatus.DECLINED, code, reason)
        case QuoteReferred(quote_reference=reference, reason=reason):
            outcome = await _outcome(session, provider_id, reference)
            if await _settle_outcome(session, outcome, event):
                quotes.settle_outcome(
                    outcome, OutcomeStatus.REFERRED, "referred_to_underwriter", reason
                )
        case PolicyBound(bind_reference=reference, policy=terms):
            request = await quotes.pending_bind(session, reference)
            if request is None:
                raise UnmatchedEvent(f"no pending bind {reference!r} from {provider_id}")
            if request.bound:
                return
            await create_policy(
                session,
                seller_id=request.seller_id,
                terms=terms,
                source=PolicySource.BOUND,
                recorded_at=now,
                event_id=event_id,
                provider_id=provider_id,
                offer_id=request.offer_id,
                quote_request_id=request.request_id,
                verified=True,
                occurred_at=event.occurred_at,
            )
            await quotes.finish_bind(session, request.request_id, request.offer_id)
        case PolicyEndorsed(policy_number=number, effective_at=at, policy=terms):
            await record(
                number=number,
                kind=EventKind.ENDORSED,
                effective_at=at,
                terms=msgspec.to_builtins(terms),
            )
        case PolicyRenewed(policy_number=number, effective_at=at, expires_at=expires):
            await record(
                number=number,
                kind=EventKind.RENEWED,
                effective_at=at,
                expires_at=expires.isoformat(),
            )
        case PolicyCancelled(policy_number=number, effective_at=at, reason=reason):
            await record(number=number, kind=EventKind.CANCELLED, effective_at=at, reason=reason)
        case PolicyReinstated(policy_number=number, effective_at=at):
            await record(number=number, kind=EventKind.REINSTATED, effective_at=at)
        case PolicyLapsed(policy_number=number, effective_at=at):
            await record(number=number, kind=EventKind.LAPSED, effective_at=at)
        case PolicyVerified(policy_number=number):
            # Confirmed when the insurer says it confirmed it, so that a verification and an
            # operator's rejection keep the world's order whatever the arrival.
            await record(number=number, kind=EventKind.VERIFIED, effective_at=event.occurred_at)


__all__ = ["UnmatchedEvent", "apply_event", "policy_number"]
