"""What an insurer partner sees of its own traffic (``partner`` keys).

``GET /v1/partners/me/deliveries`` lists :class:`PartnerDelivery` items: the webhook
deliveries the partner sent and what became of them. ``GET /v1/partners/me/quotes`` lists
:class:`PartnerQuoteCall` items: the quote requests the service sent the partner and the outcome
it recorded for each. Neither carries anything the partner did not send or was not sent.
"""

from datetime import datetime

import msgspec

from schemas._quotes import OutcomeStatus
from schemas._webhooks import InboxStatus


class PartnerDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """One webhook delivery of the calling partner. ``id`` is the ``inbox_id`` of the receipt
    answer; ``webhook_id`` its dedupe key (the partner's ``webhook-id``, or under a scheme that
    signs no id, ``hex-hmac-sha256:`` and the SHA-256 of what it signs). ``reason`` says why a
    delivery is not applied (yet); ``next_attempt_at`` is when a waiting one (received,
    retrying, parked) is tried again. ``body`` is the body as received, served on the
    single-delivery read only (null in lists, and once the retention purge removed it, at
    ``purged_at``)."""

    id: int
    webhook_id: str
    status: InboxStatus
    attempts: int
    received_at: datetime
    next_attempt_at: datetime | None = None
    applied_at: datetime | None = None
    reason: str | None = None
    purged_at: datetime | None = None
    body: str | None = None


class PartnerQuoteCall(msgspec.Struct, frozen=True, kw_only=True):
    """One quote request the service sent the calling partner, and the outcome recorded for
    it: ``status`` (``awaiting`` while it is being asked), the reason code and reason of a
    decline or a failure (an answer that could not be read, say), how many attempts the call
    took and how long. ``requested_at`` is when the request was made; ``updated_at`` when the
    outcome last changed."""

    request_id: str
    requested_at: datetime
    status: OutcomeStatus
    reason_code: str | None = None
    reason: str | None = None
    quote_reference: str | None = None
    attempts: int = 0
    elapsed_ms: float | None = None
    updated_at: datetime


__all__ = ["PartnerDelivery", "PartnerQuoteCall"]
