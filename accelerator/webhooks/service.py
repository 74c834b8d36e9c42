"""Receiving insurer webhooks: verify, store durably, acknowledge; a worker applies them.

The raw delivery and its dedupe key are committed before the 2xx, so nothing acknowledged can
be lost and nothing is stored twice. The key comes from what the partner's signature scheme
signs (``providers.dedupe_key``): the ``webhook-id`` under Standard Webhooks, the signed
timestamp and body under a scheme that signs no id, so a captured delivery re-sent under a new
``webhook-id`` is a duplicate. Applying is the inbox worker's job
(``accelerator.webhooks.worker``): in order of occurrence, with retries and backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from accelerator.errors import (
    BadRequest,
    Conflict,
    DomainError,
    FieldError,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthenticated,
)
from accelerator.infra.database import Database
from accelerator.infra.metrics import NO_METRICS, Metrics
from accelerator.insurers.partners import Partner
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.repository import WAITING, InboxRepository, purged_at
from accelerator.webhooks.turns import ReceivesFirst
from providers import (
    BadSignature,
    MalformedHeaders,
    MissingHeaders,
    StaleTimestamp,
    dedupe_key,
    verify_signature,
)
from schemas import InboxStatus, PartnerDelivery

MAX_BODY_BYTES = 256 * 1024
MAX_WEBHOOK_ID_LENGTH = 200  # the inbox column's width

#: The largest body a partner's single-delivery read returns (the rest is cut, and said so).
MAX_SHOWN_BODY_BYTES = 64 * 1024

#: Where a partner follows one delivery (``GET /v1/partners/me/deliveries/{id}``).
STATUS_URL = "/v1/partners/me/deliveries/{inbox_id}"

# What the worker keeps as the error of a delivery the partner's own event explains: an
# unreadable or refused event, or one whose predecessor never came (``webhooks.worker``). A
# parked delivery's error always says which predecessor it waits for. Any other error is ours
# (an exception while applying): its text may name our internals, so a partner reads a
# sentence instead.
_PARTNER_ERRORS = ("unreadable event:", "event refused:", "predecessor never arrived:")
_OUR_ERROR = (
    "The service could not apply it because of an error on its side; the operator sees the "
    "details. A retrying delivery is tried again automatically."
)

# The headers a partner's adapter may need again when the event is parsed.
_KEPT_HEADERS = ("webhook-", "x-", "content-type")


@dataclass(frozen=True)
class Receipt:
    status: InboxStatus
    inbox_id: int
    duplicate: bool


def _nothing() -> None:
    """The default ``on_stored``: a process without an in-process worker has no one to wake."""


@dataclass(frozen=True)
class WebhookService:
    db: Database
    partners: Mapping[str, Partner]
    # Called once a delivery is committed: wakes the in-process worker, if this process has one.
    on_stored: Callable[[], None] = _nothing
    # The stored deliveries; closed by close() (the receive path's driver connections).
    inbox: InboxRepository = field(init=False, repr=False)
    # How this process's own worker, if any, takes turns with the receives (receives first).
    turns: ReceivesFirst = field(default_factory=lambda: ReceivesFirst(one_writer=False))
    # accelerator_webhook_receipts_total, by provider and result.
    metrics: Metrics = NO_METRICS

    def __post_init__(self) -> None:
        object.__setattr__(self, "inbox", InboxRepository(self.db))

    async def close(self) -> None:
        await self.inbox.close()

    def _partner(self, provider_id: str) -> Partner:
        partner = self.partners.get(provider_id)
        if partner is None:
            raise NotFound("provider", f"No insurer {provider_id!r} is configured.")
        return partner

    async def receive(self, provider_id: str, headers: Mapping[str, str], body: bytes) -> Receipt:
        """Verify a delivery and store it; the receipt says what was stored (or stored before).

        ``headers`` may be in any case. Returns only once the delivery is committed.
        """
        # Only a configured insurer's id is a label: the path is the sender's to choose.
        provider = provider_id if provider_id in self.partners else "unknown"
        try:
            async with self.turns.receiving():
                receipt = await self._receive(provider_id, headers, body)
        except DomainError as error:
            self.metrics.webhook_received(provider, error.code)
            raise
        self.metrics.webhook_received(provider, "duplicate" if receipt.duplicate else "stored")
        return receipt

    async def _receive(self, provider_id: str, headers: Mapping[str, str], body: bytes) -> Receipt:
        partner = self._partner(provider_id)
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge(
                "payload_too_large", "Webhook body too large", f"At most {MAX_BODY_BYTES} bytes."
            )
        lowered = {k.lower(): v for k, v in headers.items()}
        scheme = partner.adapter.signature_scheme
        try:
            verify_signature(
                scheme, partner.settings.callback_secrets, lowered, body, int(time.time())
            )
            key = dedupe_key(scheme, lowered, body)
        except (MissingHeaders, MalformedHeaders) as exc:
            raise BadRequest(
                "bad_webhook_headers", "Webhook headers missing or malformed", str(exc)
            ) from exc
        except (StaleTimestamp, BadSignature) as exc:
            raise Unauthenticated(
                "bad_webhook_signature", "Webhook signature not valid", str(exc)
            ) from exc
        if len(key) > MAX_WEBHOOK_ID_LENGTH:  # only a partner's own webhook-id can be this long
            raise BadRequest(
                "bad_webhook_headers",
                "Webhook headers missing or malformed",
                f"webhook-id is longer than {MAX_WEBHOOK_ID_LENGTH} characters.",
            )
        kept = {k: v for k, v in lowered.items() if k.startswith(_KEPT_HEADERS)}
        inbox_id = await self.inbox.store(
            provider_id=provider_id,
            webhook_id=key,
            headers=kept,
            body=body,
            received_at=datetime.now(UTC),
        )
        if inbox_id is None:  # this message was stored before: acknowledge, do not store twice
            existing_id, status = await self.inbox.stored_before(provider_id, key)
            return Receipt(status, existing_id, duplicate=True)
        self.on_stored()
        return Receipt(InboxStatus.RECEIVED, inbox_id, duplicate=False)

    async def requeue(
        self,
        *,
        inbox_id: int | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        status: InboxStatus | None = None,
    ) -> int:
        """Make stored deliveries due again (admin re-processing); returns how many.

        Applying is idempotent (stable event ids), so re-processing an applied delivery changes
        nothing that was already recorded. Rows a worker holds right now are left alone, and so
        are purged ones (docs/retention.md)."""
        # A fresh start: the attempts that gave up on it do not count against it.
        count = await self.inbox.requeue(
            now=datetime.now(UTC),
            inbox_id=inbox_id,
            received_from=received_from,
            received_to=received_to,
            status=status,
        )
        self.on_stored()
        return count

    async def reprocess(self, inbox_id: int) -> InboxEvent:
        """Make one stored delivery due now; it as it is then. A delivery a worker holds right
        now is a conflict (try again once it is settled), and so is a purged one (its body is
        gone: there is nothing left to apply)."""
        if purged_at(await self.get(inbox_id)) is not None:
            raise Conflict(
                "delivery_purged",
                "Delivery purged",
                "Its body was removed by the retention purge; it cannot be applied again.",
            )
        if not await self.requeue(inbox_id=inbox_id):
            raise Conflict(
                "delivery_in_progress", "Delivery in progress", "A worker holds it right now."
            )
        return await self.get(inbox_id)

    async def reprocess_received(
        self, received_from: datetime, received_to: datetime, status: InboxStatus | None
    ) -> int:
        """Make due every stored delivery received in ``[received_from, received_to)`` (of one
        status, if given); how many."""
        if received_to <= received_from:
            raise InvalidInput(
                [
                    FieldError(
                        "received_to", "range_empty", "received_to must be after received_from."
                    )
                ]
            )
        return await self.requeue(
            received_from=received_from, received_to=received_to, status=status
        )

    async def get(self, inbox_id: int) -> InboxEvent:
        row = await self.inbox.get(inbox_id)
        if row is None:
            raise NotFound("inbox_id", f"No stored delivery {inbox_id}.")
        return row

    async def partner_deliveries(
        self, provider_id: str, status: InboxStatus | None, limit: int, offset: int
    ) -> list[PartnerDelivery]:
        """A page of one partner's deliveries (of one status, if given), the latest first,
        without their bodies."""
        rows = await self.inbox.partner_newest_first(provider_id, status, limit, offset)
        return [partner_view(row, with_body=False) for row in rows]

    async def partner_delivery(self, provider_id: str, inbox_id: int) -> PartnerDelivery:
        """One of the partner's deliveries with its body; another partner's, or none, is a
        404 (whether it exists is not the caller's to learn)."""
        row = await self.inbox.partner_delivery(provider_id, inbox_id)
        if row is None:
            raise NotFound("delivery", f"You sent no delivery {inbox_id}.")
        return partner_view(row, with_body=True)

    async def inbox_page(
        self, status: InboxStatus | None, limit: int, offset: int
    ) -> list[InboxEvent]:
        """A page of stored deliveries (of one status, if given), the latest first."""
        return await self.inbox.newest_first(status, limit, offset)


def status_url(inbox_id: int) -> str:
    """Where the partner follows the delivery ``inbox_id`` (with a partner key)."""
    return STATUS_URL.format(inbox_id=inbox_id)


def partner_reason(status: InboxStatus, error: str | None) -> str | None:
    """Why a delivery is not applied, as its partner may read it: the stored error where the
    partner's event explains it, a sentence where the cause is on the service's side."""
    if status is InboxStatus.APPLIED or not error:
        return None
    if status is InboxStatus.PARKED or error.startswith(_PARTNER_ERRORS):
        return error
    return _OUR_ERROR


def partner_view(row: InboxEvent, *, with_body: bool) -> PartnerDelivery:
    """A stored delivery as its partner sees it (the body only ``with_body``, cut to
    :data:`MAX_SHOWN_BODY_BYTES`)."""
    status = InboxStatus(row.status)
    purged = purged_at(row)
    body: str | None = None
    if with_body and purged is None:
        raw = bytes(row.body)
        body = raw[:MAX_SHOWN_BODY_BYTES].decode("utf-8", errors="replace")
        if len(raw) > MAX_SHOWN_BODY_BYTES:
            body += f"\n[... {len(raw) - MAX_SHOWN_BODY_BYTES} more bytes not shown]"
    return PartnerDelivery(
        id=row.id,
        webhook_id=row.webhook_id,
        status=status,
        attempts=row.attempts,
        received_at=row.received_at,
        next_attempt_at=row.next_attempt_at if status in WAITING else None,
        applied_at=row.applied_at,
        reason=partner_reason(status, row.error),
        purged_at=purged,
        body=body,
    )
