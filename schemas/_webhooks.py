"""Insurer webhook receipts and the admin view of the webhook inbox.

``POST /v1/webhooks/insurers/{provider_id}`` answers a :class:`WebhookAck`; the admin endpoints
under ``/v1/admin/webhook-inbox`` list :class:`InboxEntry` items and requeue deliveries.
"""

import enum
from datetime import datetime

import msgspec

from schemas._bounds import Instant, check_instant, enforced


# Where a stored delivery is: received -> processing (claimed under a lease) -> applied, or back
# to retrying / parked (due again later), or failed for good (kept with its error).
# (No docstring: OpenAPI would publish it as the enum's description, a contract change.)
class InboxStatus(enum.StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    APPLIED = "applied"
    RETRYING = "retrying"
    PARKED = "parked"
    FAILED = "failed"


class WebhookAck(msgspec.Struct, frozen=True):
    """Stored before this answer. ``status`` is ``received`` (a worker applies it moments later);
    for a message stored before (``duplicate``: the same ``webhook-id``, or under a scheme that
    signs no id the same signed timestamp and body), the status of the delivery stored first.
    ``inbox_id`` is the delivery's id; ``status_url`` is where the partner, with a ``partner``
    key, follows what becomes of it (``GET /v1/partners/me/deliveries/{id}``)."""

    inbox_id: int
    status: InboxStatus
    duplicate: bool
    status_url: str | None = None


class InboxEntry(msgspec.Struct, frozen=True):
    """A stored delivery. ``webhook_id`` is its dedupe key: the partner's ``webhook-id``, or
    under a scheme that signs no id, ``hex-hmac-sha256:`` and the SHA-256 of what it signs.
    ``next_attempt_at`` is when a waiting one is tried again. ``purged_at`` is when the
    retention purge removed the body and headers of this applied delivery (it can no longer
    be reprocessed; its ``webhook_id`` still recognises a redelivery)."""

    id: int
    provider_id: str
    webhook_id: str
    status: InboxStatus
    attempts: int
    error: str | None
    received_at: datetime
    next_attempt_at: datetime
    applied_at: datetime | None
    purged_at: datetime | None = None


class ReprocessRange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Deliveries received in ``[received_from, received_to)``, optionally only of one status.
    Both are timezone-aware instants between 1970-01-01T00:00:00Z and
    2200-12-31T23:59:59.999999Z."""

    received_from: Instant
    received_to: Instant
    status: InboxStatus | None = None

    def __post_init__(self) -> None:
        if enforced():
            check_instant("received_from", self.received_from)
            check_instant("received_to", self.received_to)


class ReprocessCount(msgspec.Struct, frozen=True):
    """How many stored deliveries were made due again."""

    requeued: int


__all__ = ["InboxEntry", "InboxStatus", "ReprocessCount", "ReprocessRange", "WebhookAck"]
