"""Outbound notifications: the events we send to subscriber endpoints, and the admin API over
those endpoints, their messages and delivery attempts.

Every event is an envelope ``{"type", "id", "timestamp", "version", "data"}``: ``type`` is stable
and names the shape of ``data``; ``id`` (``evt_…``) is the event's and travels as the Standard
Webhooks ``webhook-id``, the same on every retry and replay, so a receiver dedupes on it;
``version`` is the version of ``data``'s shape for that type (a new field gets a default and
keeps the version; a changed or removed one takes the next). The catalogue with an example of
each is ``docs/notifications.md``.
"""

import enum
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas._bounds import Instant, MarketplaceCode, check_instant, enforced

#: The longest subscriber URL accepted.
MAX_ENDPOINT_URL_LENGTH = 2048
#: The most event types one endpoint may name (there are fewer in the catalogue).
MAX_ENDPOINT_EVENT_TYPES = 32

_SELLER_ID = Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")


# The catalogue's types. (No docstring: OpenAPI would publish it as the enum's description.)
class NotificationType(enum.StrEnum):
    POLICY_BOUND = "policy.bound"
    POLICY_CANCELLED = "policy.cancelled"
    POLICY_LAPSED = "policy.lapsed"
    POLICY_REINSTATED = "policy.reinstated"
    POLICY_ENDORSED = "policy.endorsed"
    POLICY_VERIFIED = "policy.verified"
    POLICY_EXPIRING = "policy.expiring"
    COMPLIANCE_CHANGED = "compliance.changed"
    COMPLIANCE_DEADLINE = "compliance.deadline"
    COVERAGE_DECISION_AFFECTED = "coverage.decision_affected"
    QUOTE_REQUEST_COMPLETED = "quote_request.completed"


# --- the events' data ---------------------------------------------------------------------


class PolicyChange(msgspec.Struct, frozen=True, kw_only=True):
    """A change recorded in the coverage registry (version 1). ``effective_at`` is when it takes
    effect in the world, ``recorded_at`` when we learned it: ``back_dated`` says the first is
    before the second (a back-dated cancellation changes what was true in the past).
    ``policy_event_id`` is the registry's event (``GET /v1/policies/{policy_id}`` lists it)."""

    policy_id: str
    policy_event_id: str
    seller_id: str
    insurer_name: str
    policy_number: str
    effective_at: datetime
    recorded_at: datetime
    back_dated: bool
    reason: str | None = None


class PolicyExpiring(msgspec.Struct, frozen=True, kw_only=True):
    """A policy's cover ends in ``days_before`` days (version 1). ``renewal_quote_request_id``:
    the quote request renewing it, once one is open (from 60 days before the end; also
    ``GET /v1/policies/{policy_id}/renewal``)."""

    policy_id: str
    seller_id: str
    insurer_name: str
    policy_number: str
    expires_at: datetime
    days_before: Literal[60, 30, 7]
    renewal_quote_request_id: str | None = None


class ComplianceChanged(msgspec.Struct, frozen=True, kw_only=True):
    """A seller became, or stopped being, compliant with its marketplace's rules (version 1);
    ``gaps`` are the stable codes of what it misses."""

    seller_id: str
    marketplace: str
    compliant: bool
    gaps: list[str] = msgspec.field(default_factory=list)
    changed_at: datetime


class ComplianceDeadline(msgspec.Struct, frozen=True, kw_only=True):
    """A seller that is not compliant has ``days_before`` days left before its marketplace's
    comply-by date (version 1)."""

    seller_id: str
    marketplace: str
    comply_by: date
    days_before: Literal[30, 7]


class DecisionAffected(msgspec.Struct, frozen=True, kw_only=True):
    """An earlier coverage decision would now be different (version 1): an event recorded since
    changes what was true at its incident. ``decision_id`` is the receipt
    (``GET /v1/coverage/decisions/{id}``)."""

    decision_id: str
    seller_id: str
    claim_reference: str | None = None
    outcome: str
    outcome_now: str
    policy_event_id: str


class QuoteRequestCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """Every insurer asked has its outcome, or the deadline passed (version 1); the ranked offers
    are at ``GET /v1/quote-requests/{request_id}``."""

    request_id: str
    seller_id: str
    completed_at: datetime


# --- the events ---------------------------------------------------------------------------


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    id: str
    timestamp: datetime
    version: int = 1


class PolicyBoundNotification(_Event, frozen=True, kw_only=True, tag="policy.bound"):
    """A policy was bound through the service (the insurer confirmed it)."""

    data: PolicyChange


class PolicyCancelledNotification(_Event, frozen=True, kw_only=True, tag="policy.cancelled"):
    """A policy was cancelled, from ``data.effective_at`` (possibly in the past)."""

    data: PolicyChange


class PolicyLapsedNotification(_Event, frozen=True, kw_only=True, tag="policy.lapsed"):
    """A policy lapsed (not renewed, not paid)."""

    data: PolicyChange


class PolicyReinstatedNotification(_Event, frozen=True, kw_only=True, tag="policy.reinstated"):
    """A cancelled or lapsed policy is in force again."""

    data: PolicyChange


class PolicyEndorsedNotification(_Event, frozen=True, kw_only=True, tag="policy.endorsed"):
    """A policy's terms changed."""

    data: PolicyChange


class PolicyVerifiedNotification(_Event, frozen=True, kw_only=True, tag="policy.verified"):
    """A policy was verified, by its insurer or an operator."""

    data: PolicyChange


class PolicyExpiringNotification(_Event, frozen=True, kw_only=True, tag="policy.expiring"):
    """A policy's cover ends soon (60, 30 and 7 days before)."""

    data: PolicyExpiring


class ComplianceChangedNotification(_Event, frozen=True, kw_only=True, tag="compliance.changed"):
    """A seller became or stopped being compliant."""

    data: ComplianceChanged


class ComplianceDeadlineNotification(_Event, frozen=True, kw_only=True, tag="compliance.deadline"):
    """A seller that is not compliant nears its comply-by date (30 and 7 days before)."""

    data: ComplianceDeadline


class DecisionAffectedNotification(
    _Event, frozen=True, kw_only=True, tag="coverage.decision_affected"
):
    """An earlier coverage decision would now differ."""

    data: DecisionAffected


class QuoteRequestCompletedNotification(
    _Event, frozen=True, kw_only=True, tag="quote_request.completed"
):
    """A quote request is complete."""

    data: QuoteRequestCompleted


Notification = (
    PolicyBoundNotification
    | PolicyCancelledNotification
    | PolicyLapsedNotification
    | PolicyReinstatedNotification
    | PolicyEndorsedNotification
    | PolicyVerifiedNotification
    | PolicyExpiringNotification
    | ComplianceChangedNotification
    | ComplianceDeadlineNotification
    | DecisionAffectedNotification
    | QuoteRequestCompletedNotification
)

_NOTIFICATION_DECODER = msgspec.json.Decoder(Notification)


def decode_notification(body: bytes | str) -> Notification:
    """An event as a receiver gets it (the body of a delivery)."""
    event: Notification = _NOTIFICATION_DECODER.decode(body)
    return event


def notification_type(event: Notification) -> NotificationType:
    """The event's ``type``."""
    return NotificationType(str(event.__struct_config__.tag))


# --- the admin API ------------------------------------------------------------------------

EndpointUrl = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_ENDPOINT_URL_LENGTH,
        # No spaces or control characters, spelled out: `\S` means other characters to
        # Python than to JSON Schema's regex dialect (U+001E is whitespace only to Python).
        pattern=r"^[^\u0000-\u0020\u007F-\u009F]+$(?!\n)",
        description="An https URL resolving only to public addresses (docs/notifications.md).",
    ),
]
EventTypes = Annotated[list[NotificationType], Meta(max_length=MAX_ENDPOINT_EVENT_TYPES)]


class WebhookEndpointBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A subscriber endpoint to register. ``event_types`` empty: every type. ``seller_id`` or
    ``marketplace`` narrow it to that seller's or that marketplace's events (a seller key's
    endpoint is always its own seller's)."""

    url: EndpointUrl
    event_types: EventTypes = msgspec.field(default_factory=list)
    seller_id: Annotated[str, _SELLER_ID] | None = None
    marketplace: MarketplaceCode | None = None


class WebhookEndpointUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What to change of an endpoint; what is left out stays. Enabling an endpoint clears its
    ``disabled_reason`` and sends what waited for it."""

    url: EndpointUrl | None = None
    event_types: EventTypes | None = None
    enabled: bool | None = None


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A subscriber endpoint. Its secrets are shown only when they are made (creation and
    rotation); ``rotating_until`` is when the previous secret stops signing, during a rotation.
    ``failing_since`` is the first failure of an unbroken run of them (an endpoint failing for 5
    days is disabled, with the reason in ``disabled_reason``)."""

    id: str
    url: str
    event_types: list[NotificationType]
    seller_id: str | None
    marketplace: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    rotating_until: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointSecret(msgspec.Struct, frozen=True, kw_only=True):
    """A signing secret, shown this once: keep it where the receiver verifies signatures."""

    endpoint: WebhookEndpoint
    secret: str


# Where a message is: pending (due at next_attempt_at) -> sending (claimed under a lease) ->
# delivered, or back to pending for its next attempt, or failed once its schedule is spent.
class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class NotificationMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One event for one endpoint. ``event_id`` is the ``webhook-id`` of every attempt."""

    id: int
    endpoint_id: str
    event_id: str
    event_type: NotificationType
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """One try at delivering a message: the receiver's status code, or the network error."""

    id: int
    message_id: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    latency_ms: float


class ReplaySince(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Send again every message of the endpoint created at or after ``since`` (a timezone-aware
    instant between 1970-01-01T00:00:00Z and 2200-12-31T23:59:59.999999Z)."""

    since: Instant

    def __post_init__(self) -> None:
        if enforced():
            check_instant("since", self.since)


class ReplayCount(msgspec.Struct, frozen=True):
    """How many messages were made due again."""

    replayed: int


__all__ = [
    "MAX_ENDPOINT_EVENT_TYPES",
    "MAX_ENDPOINT_URL_LENGTH",
    "ComplianceChanged",
    "ComplianceChangedNotification",
    "ComplianceDeadline",
    "ComplianceDeadlineNotification",
    "DecisionAffected",
    "DecisionAffectedNotification",
    "DeliveryAttempt",
    "MessageStatus",
    "Notification",
    "NotificationMessage",
    "NotificationType",
    "PolicyBoundNotification",
    "PolicyCancelledNotification",
    "PolicyChange",
    "PolicyEndorsedNotification",
    "PolicyExpiring",
    "PolicyExpiringNotification",
    "PolicyLapsedNotification",
    "PolicyReinstatedNotification",
    "PolicyVerifiedNotification",
    "QuoteRequestCompleted",
    "QuoteRequestCompletedNotification",
    "ReplayCount",
    "ReplaySince",
    "WebhookEndpoint",
    "WebhookEndpointBody",
    "WebhookEndpointSecret",
    "WebhookEndpointUpdate",
    "decode_notification",
    "notification_type",
]
