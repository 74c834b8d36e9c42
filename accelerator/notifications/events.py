"""Building the catalogue's events from the facts that cause them (pure: values in, event out).

Wired producers (docs/notifications.md, "What is sent today"):

- :func:`policy_notification`, called by ``coverage.repository.add_event``, the one place every
  policy event is recorded (insurer webhooks, binding, operators, submissions), in its
  transaction;
- :func:`quote_request_completed`, called where a request is completed through the ORM;
- :func:`decision_affected`, called by ``audit.affected`` when it marks a receipt, in the
  transaction that writes the mark.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from accelerator.notifications.outbox import new_event_id
from schemas import (
    DecisionAffected,
    DecisionAffectedNotification,
    Notification,
    PolicyBoundNotification,
    PolicyCancelledNotification,
    PolicyChange,
    PolicyEndorsedNotification,
    PolicyLapsedNotification,
    PolicyReinstatedNotification,
    PolicyVerifiedNotification,
    QuoteRequestCompleted,
    QuoteRequestCompletedNotification,
)

_POLICY_EVENTS: Final[dict[str, Callable[..., Notification]]] = {
    "cancelled": PolicyCancelledNotification,
    "lapsed": PolicyLapsedNotification,
    "reinstated": PolicyReinstatedNotification,
    "endorsed": PolicyEndorsedNotification,
    "verified": PolicyVerifiedNotification,
}


def policy_notification(
    *,
    kind: str,
    source: str,
    policy_id: str,
    seller_id: str,
    insurer_name: str,
    policy_number: str,
    policy_event_id: str,
    effective_at: datetime,
    recorded_at: datetime,
    data: dict[str, Any],
) -> Notification | None:
    """The event a recorded policy event announces, or None if it announces none.

    ``issued`` is ``policy.bound`` for a policy bound through the service (a seller's submitted
    certificate announces nothing until it is verified); ``renewed``, a rejected verification
    and the operators' linking bookkeeping are not in the catalogue."""
    change = PolicyChange(
        policy_id=policy_id,
        policy_event_id=policy_event_id,
        seller_id=seller_id,
        insurer_name=insurer_name,
        policy_number=policy_number,
        effective_at=effective_at,
        recorded_at=recorded_at,
        back_dated=effective_at < recorded_at,
        reason=str(data["reason"]) if data.get("reason") else None,
    )
    if kind == "issued":
        if source != "bound":
            return None
        return PolicyBoundNotification(id=new_event_id(), timestamp=recorded_at, data=change)
    build = _POLICY_EVENTS.get(kind)
    if build is None:
        return None
    return build(id=new_event_id(), timestamp=recorded_at, data=change)


def quote_request_completed(
    request_id: str, seller_id: str, completed_at: datetime
) -> QuoteRequestCompletedNotification:
    return QuoteRequestCompletedNotification(
        id=new_event_id(),
        timestamp=completed_at,
        data=QuoteRequestCompleted(
            request_id=request_id, seller_id=seller_id, completed_at=completed_at
        ),
    )


def decision_affected(
    *,
    receipt_id: str,
    seller_id: str,
    claim_reference: str | None,
    outcome: str,
    outcome_now: str,
    policy_event_id: str,
    detected_at: datetime,
) -> DecisionAffectedNotification:
    """A receipt's mark announced: ``outcome`` is the receipt's own decision, ``outcome_now``
    the one the claim gets as known at ``detected_at``, because of ``policy_event_id``."""
    return DecisionAffectedNotification(
        id=new_event_id(),
        timestamp=detected_at,
        data=DecisionAffected(
            decision_id=receipt_id,
            seller_id=seller_id,
            claim_reference=claim_reference,
            outcome=outcome,
            outcome_now=outcome_now,
            policy_event_id=policy_event_id,
        ),
    )


__all__ = ["decision_affected", "policy_notification", "quote_request_completed"]
