"""Receiving insurer webhooks: verify, store durably, acknowledge; a worker applies them.

The raw delivery and its dedupe key (the partner's ``webhook-id``) are committed before the 2xx,
so nothing acknowledged can be lost and nothing is stored twice. Applying is the inbox worker's
job (``accelerator.webhooks.worker``): in order of occurrence, with retries and backoff.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from accelerator.infra.codec import json_text, stored_instant
from accelerator.infra.database import Database
from accelerator.infra.driver_writes import DriverWrites, open_driver_writes
from accelerator.infra.errors import ApiProblem, not_found
from accelerator.infra.statements import DialectName, Statement
from accelerator.insurers.partners import Partner
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.turns import ReceivesFirst
from providers import (
    BadSignature,
    MalformedHeaders,
    MissingHeaders,
    StaleTimestamp,
    verify_signature,
)

MAX_BODY_BYTES = 256 * 1024
MAX_WEBHOOK_ID_LENGTH = 200  # the inbox column's width


def _store(dialect: DialectName) -> Any:
    # A redelivery conflicts on (provider_id, webhook_id) and inserts nothing: no row comes
    # back, and the delivery stored first is looked up instead (no exception on that path).
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    received_at = bindparam("received_at", type_=InboxEvent.received_at.type)
    return (
        insert(InboxEvent)
        .values(
            provider_id=bindparam("provider_id"),
            webhook_id=bindparam("webhook_id"),
            headers=bindparam("headers"),
            body=bindparam("body"),
            status="received",
            attempts=0,
            received_at=received_at,
            next_attempt_at=received_at,
        )
        .on_conflict_do_nothing(index_elements=["provider_id", "webhook_id"])
        .returning(InboxEvent.id)
    )


_STORE = Statement("store_delivery", _store)
_STORED_BEFORE = Statement(
    "stored_delivery",
    select(InboxEvent.id, InboxEvent.status).where(
        InboxEvent.provider_id == bindparam("provider_id"),
        InboxEvent.webhook_id == bindparam("webhook_id"),
    ),
)
# The headers a partner's adapter may need again when the event is parsed.
_KEPT_HEADERS = ("webhook-", "x-", "content-type")


@dataclass(frozen=True)
class Receipt:
    status: str
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
    # The receive path's one statement runs on the driver's own connections (opened on first
    # use, closed by close()): see accelerator.infra.driver_writes for why and how it commits.
    writes: DriverWrites = field(init=False, repr=False)
    # How this process's own worker, if any, takes turns with the receives (receives first).
    turns: ReceivesFirst = field(default_factory=lambda: ReceivesFirst(one_writer=False))

    def __post_init__(self) -> None:
        writes = open_driver_writes(self.db.url)
        object.__setattr__(self, "writes", writes)

    async def close(self) -> None:
        await self.writes.close()

    def _partner(self, provider_id: str) -> Partner:
        partner = self.partners.get(provider_id)
        if partner is None:
            raise not_found("provider", f"No insurer {provider_id!r} is configured.")
        return partner

    async def receive(self, provider_id: str, headers: Mapping[str, str], body: bytes) -> Receipt:
        """Verify a delivery and store it; the receipt says what was stored (or stored before).

        ``headers`` may be in any case. Returns only once the delivery is committed.
        """
        async with self.turns.receiving():
            return await self._receive(provider_id, headers, body)

    async def _receive(self, provider_id: str, headers: Mapping[str, str], body: bytes) -> Receipt:
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
        if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
            raise ApiProblem(
                400,
                "bad_webhook_headers",
                "Webhook headers missing or malformed",
                f"webhook-id is longer than {MAX_WEBHOOK_ID_LENGTH} characters.",
            )
        kept = {k: v for k, v in lowered.items() if k.startswith(_KEPT_HEADERS)}
        stored = await self.writes.fetch_one(
            _STORE,
            provider_id=provider_id,
            webhook_id=webhook_id,
            headers=json_text(kept),
            body=body,
            received_at=stored_instant(datetime.now(UTC), sqlite=self.db.is_sqlite),
        )
        if stored is None:  # this webhook-id was stored before: acknowledge, do not store twice
            existing = await self.writes.fetch_one(
                _STORED_BEFORE, provider_id=provider_id, webhook_id=webhook_id
            )
            assert existing is not None, "it conflicted, so it exists"
            return Receipt(existing[1], existing[0], duplicate=True)
        self.on_stored()
        return Receipt("received", stored[0], duplicate=False)

    async def requeue(
        self,
        *,
        inbox_id: int | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        status: str | None = None,
    ) -> int:
        """Make stored deliveries due again (admin re-processing); returns how many.

        Applying is idempotent (stable event ids), so re-processing an applied delivery changes
        nothing that was already recorded. Rows a worker holds right now are left alone.
        """
        query = update(InboxEvent).where(InboxEvent.status != "processing")
        if inbox_id is not None:
            query = query.where(InboxEvent.id == inbox_id)
        if received_from is not None:
            query = query.where(InboxEvent.received_at >= received_from)
        if received_to is not None:
            query = query.where(InboxEvent.received_at < received_to)
        if status is not None:
            query = query.where(InboxEvent.status == status)
        async with self.db.writing() as session:
            result = await session.execute(
                # A fresh start: the attempts that gave up on it do not count against it.
                query.values(status="received", attempts=0, next_attempt_at=datetime.now(UTC))
            )
            count: int = result.rowcount  # type: ignore[attr-defined]
        self.on_stored()
        return count

    async def get(self, inbox_id: int) -> InboxEvent:
        async with self.db.reading() as session:
            row = await session.get(InboxEvent, inbox_id)
        if row is None:
            raise not_found("inbox_id", f"No stored delivery {inbox_id}.")
        return row

    async def inbox(self, status: str | None, limit: int, offset: int) -> list[InboxEvent]:
        async with self.db.reading() as session:
            query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit).offset(offset)
            if status:
                query = query.where(InboxEvent.status == status)
            return list((await session.scalars(query)).all())
