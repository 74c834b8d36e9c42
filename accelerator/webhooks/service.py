"""Receiving insurer webhooks: verify, store durably, acknowledge, then apply.

The raw delivery is committed before the 2xx, so nothing acknowledged can be lost. Applying it
happens after, in its own transaction: a delivery that fails stays in the inbox with its error
and attempt count; one that names a quote or policy we do not know yet is ``parked`` and retried
by the sweep until its predecessor has arrived.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from accelerator.infra.database import Database
from accelerator.infra.errors import ApiProblem, not_found
from accelerator.quoting.fanout import Partner
from accelerator.webhooks.apply import UnmatchedEvent, apply_event
from accelerator.webhooks.models import InboxEvent
from providers import (
    BadSignature,
    MalformedHeaders,
    MalformedResponse,
    MissingHeaders,
    StaleTimestamp,
    verify_signature,
)

logger = logging.getLogger("accelerator.webhooks")
MAX_BODY_BYTES = 256 * 1024
MAX_PARKED_ATTEMPTS = 50


@dataclass(frozen=True)
class Receipt:
    status: str
    inbox_id: int
    duplicate: bool


@dataclass(frozen=True)
class WebhookService:
    db: Database
    partners: Mapping[str, Partner]

    def _partner(self, provider_id: str) -> Partner:
        partner = self.partners.get(provider_id)
        if partner is None:
            raise not_found("provider", f"No insurer {provider_id!r} is configured.")
        return partner

    async def receive(self, provider_id: str, headers: Mapping[str, str], body: bytes) -> Receipt:
        partner = self._partner(provider_id)
        if len(body) > MAX_BODY_BYTES:
            raise ApiProblem(
                413,
                "payload_too_large",
                "Webhook body too large",
                f"At most {MAX_BODY_BYTES} bytes.",
            )
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            verify_signature(
                partner.adapter.signature_scheme,
                partner.settings.callback_secrets,
                lowered,
                body,
                int(time.time()),
            )
        except (MissingHeaders, MalformedHeaders) as exc:
            raise ApiProblem(
                400, "bad_webhook_headers", "Webhook headers missing or malformed", str(exc)
            ) from exc
        except (StaleTimestamp, BadSignature) as exc:
            raise ApiProblem(
                401, "bad_webhook_signature", "Webhook signature not valid", str(exc)
            ) from exc
        webhook_id = lowered.get("webhook-id") or hashlib.sha256(body).hexdigest()
        row = InboxEvent(
            provider_id=provider_id,
            webhook_id=webhook_id,
            headers={
                k: v for k, v in lowered.items() if k.startswith(("webhook-", "x-", "content-type"))
            },
            body=body,
            status="received",
            attempts=0,
            received_at=datetime.now(UTC),
        )
        try:
            async with self.db.writing() as session:
                session.add(row)
        except IntegrityError:
            async with self.db.reading() as session:
                existing = await session.scalar(
                    select(InboxEvent).where(
                        InboxEvent.provider_id == provider_id, InboxEvent.webhook_id == webhook_id
                    )
                )
            assert existing is not None
            return Receipt(existing.status, existing.id, duplicate=True)
        status = await self.process(row.id)
        return Receipt(status, row.id, duplicate=False)

    async def process(self, inbox_id: int) -> str:
        """Apply one stored delivery; returns its new status (applied, parked or failed)."""
        async with self.db.reading() as session:
            row = await session.get(InboxEvent, inbox_id)
        if row is None or row.status == "applied":
            return "applied" if row else "missing"
        partner = self.partners.get(row.provider_id)
        status, error = "applied", None
        try:
            if partner is None:
                raise MalformedResponse(f"provider {row.provider_id} is no longer configured")
            events = partner.adapter.parse_events(row.body, row.headers)
            ordered = sorted(
                enumerate(events), key=lambda e: (e[1].occurred_at, e[1].sequence or 0, e[0])
            )
            async with self.db.writing() as session:
                for position, event in ordered:
                    await apply_event(
                        session,
                        row.provider_id,
                        f"{row.provider_id}:{row.webhook_id}:{position}",
                        event,
                    )
        except UnmatchedEvent as exc:
            status, error = "parked", str(exc)
        except MalformedResponse as exc:
            status, error = "failed", f"unreadable event: {exc}"
        except Exception as exc:  # kept in the inbox, visible, re-processable
            logger.exception("applying webhook %s failed", inbox_id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        async with self.db.writing() as session:
            stored = await session.get(InboxEvent, inbox_id)
            assert stored is not None
            stored.status = status
            stored.error = error
            stored.attempts += 1
            if status == "applied":
                stored.applied_at = datetime.now(UTC)
        return status

    async def retry_parked(self) -> int:
        """Re-apply parked deliveries, oldest first (their predecessor may have arrived)."""
        async with self.db.reading() as session:
            ids = (
                await session.scalars(
                    select(InboxEvent.id)
                    .where(InboxEvent.status == "parked", InboxEvent.attempts < MAX_PARKED_ATTEMPTS)
                    .order_by(InboxEvent.received_at, InboxEvent.id)
                    .limit(100)
                )
            ).all()
        applied = 0
        for inbox_id in ids:
            applied += await self.process(inbox_id) == "applied"
        return applied

    async def inbox(self, status: str | None, limit: int, offset: int) -> list[InboxEvent]:
        async with self.db.reading() as session:
            query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit).offset(offset)
            if status:
                query = query.where(InboxEvent.status == status)
            return list((await session.scalars(query)).all())
