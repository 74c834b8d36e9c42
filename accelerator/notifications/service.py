"""Subscriber endpoints: registering them (safe URLs only), their secrets, and their messages.

Who may do what: an admin key manages every endpoint; a seller key manages its own seller's only.
A seller key's endpoint is always scoped to its seller (naming another seller is a 403, as
everywhere a seller key acts for another seller), and another seller's endpoint is a 404 to it,
as if it did not exist (its id says nothing the seller should learn).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from accelerator.auth.principal import Principal, Role, ensure_acts_for
from accelerator.errors import FieldError, InvalidInput, NotFound
from accelerator.infra.database import Database
from accelerator.notifications.models import AttemptRow, EndpointRow, MessageRow
from accelerator.notifications.repository import NotificationRepository
from accelerator.notifications.ssrf import HostResolver, UnsafeUrl, check_url, system_resolve
from schemas import MessageStatus, WebhookEndpointBody, WebhookEndpointUpdate

#: How long the previous secret goes on signing after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)


def new_secret() -> str:
    """A signing secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _nothing() -> None:
    """The default ``on_replay``: no worker in this process to wake."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NotificationService:
    db: Database
    allow_private_urls: bool
    resolve: HostResolver = system_resolve
    on_replay: Callable[[], None] = _nothing
    clock: Callable[[], datetime] = _now

    @property
    def repository(self) -> NotificationRepository:
        return NotificationRepository(self.db)

    async def _safe_url(self, url: str) -> str:
        try:
            await check_url(url, allow_private=self.allow_private_urls, resolve=self.resolve)
        except UnsafeUrl as exc:
            raise InvalidInput([FieldError("url", "unsafe_url", str(exc))]) from exc
        return url

    async def create(
        self, principal: Principal, body: WebhookEndpointBody
    ) -> tuple[EndpointRow, str]:
        """A new endpoint, enabled, and its secret (shown this once)."""
        seller_id = body.seller_id
        if principal.role is Role.SELLER:
            seller_id = seller_id or principal.seller_id
        if seller_id is not None:
            ensure_acts_for(principal, seller_id)
        url = await self._safe_url(body.url)
        now = self.clock()
        secret = new_secret()
        row = EndpointRow(
            id=f"ep_{uuid.uuid4().hex}",
            url=url,
            event_types=sorted({t.value for t in body.event_types}),
            seller_id=seller_id,
            marketplace=body.marketplace,
            secrets=[{"secret": secret, "expires_at": None}],
            enabled=True,
            disabled_reason=None,
            failing_since=None,
            created_at=now,
            updated_at=now,
        )
        return await self.repository.add_endpoint(row), secret

    async def get(self, principal: Principal, endpoint_id: str) -> EndpointRow:
        """The endpoint, if this caller may see it; else ``webhook_endpoint_not_found``."""
        own = None if principal.role is Role.ADMIN else (principal.seller_id or "")
        row = await self.repository.endpoint(endpoint_id, own)
        if row is None:
            raise NotFound("webhook_endpoint", f"No webhook endpoint {endpoint_id!r}.")
        return row

    async def page(
        self, principal: Principal, seller_id: str | None, limit: int, offset: int
    ) -> list[EndpointRow]:
        """A page of the endpoints this caller may see (an admin: of ``seller_id``, if given)."""
        own = seller_id if principal.role is Role.ADMIN else (principal.seller_id or "")
        return await self.repository.endpoints_page(own, limit, offset)

    async def update(
        self, principal: Principal, endpoint_id: str, body: WebhookEndpointUpdate
    ) -> EndpointRow:
        await self.get(principal, endpoint_id)
        values: dict[str, Any] = {"updated_at": self.clock()}
        if body.url is not None:
            values["url"] = await self._safe_url(body.url)
        if body.event_types is not None:
            values["event_types"] = sorted({t.value for t in body.event_types})
        if body.enabled is True:
            values |= {"enabled": True, "disabled_reason": None, "failing_since": None}
        elif body.enabled is False:
            values |= {"enabled": False, "disabled_reason": f"disabled by {principal.key_id}"}
        row = await self.repository.change_endpoint(endpoint_id, **values)
        if row is None:
            raise NotFound("webhook_endpoint", f"No webhook endpoint {endpoint_id!r}.")
        if body.enabled:
            self.on_replay()  # what waited for the endpoint is due
        return row

    async def delete(self, principal: Principal, endpoint_id: str) -> None:
        await self.get(principal, endpoint_id)
        await self.repository.delete_endpoint(endpoint_id)

    async def rotate(self, principal: Principal, endpoint_id: str) -> tuple[EndpointRow, str]:
        """A new secret, which signs from now on; the newest before it goes on signing too for
        :data:`ROTATION_OVERLAP`, and older ones stop."""
        row = await self.get(principal, endpoint_id)
        now = self.clock()
        secret = new_secret()
        previous = row.secrets[0]["secret"] if row.secrets else None
        kept = [{"secret": secret, "expires_at": None}]
        if previous is not None:
            kept.append({"secret": previous, "expires_at": (now + ROTATION_OVERLAP).isoformat()})
        changed = await self.repository.change_endpoint(endpoint_id, secrets=kept, updated_at=now)
        if changed is None:
            raise NotFound("webhook_endpoint", f"No webhook endpoint {endpoint_id!r}.")
        return changed, secret

    async def messages(
        self,
        principal: Principal,
        endpoint_id: str,
        status: MessageStatus | None,
        limit: int,
        offset: int,
    ) -> list[MessageRow]:
        await self.get(principal, endpoint_id)
        return await self.repository.messages_page(endpoint_id, status, limit, offset)

    async def message(self, principal: Principal, endpoint_id: str, message_id: int) -> MessageRow:
        await self.get(principal, endpoint_id)
        row = await self.repository.message(endpoint_id, message_id)
        if row is None:
            raise NotFound("notification_message", f"No message {message_id} of this endpoint.")
        return row

    async def attempts(
        self, principal: Principal, endpoint_id: str, message_id: int, limit: int, offset: int
    ) -> list[AttemptRow]:
        await self.message(principal, endpoint_id, message_id)
        return await self.repository.attempts_page(message_id, limit, offset)

    async def replay(self, principal: Principal, endpoint_id: str, message_id: int) -> MessageRow:
        """Send the message again, with a fresh schedule and the same ``webhook-id``."""
        await self.message(principal, endpoint_id, message_id)
        await self.repository.replay(endpoint_id, self.clock(), message_id=message_id)
        self.on_replay()
        return await self.message(principal, endpoint_id, message_id)

    async def replay_since(self, principal: Principal, endpoint_id: str, since: datetime) -> int:
        """Send again every message of the endpoint created at or after ``since``."""
        await self.get(principal, endpoint_id)
        count = await self.repository.replay(endpoint_id, self.clock(), since=since)
        self.on_replay()
        return count


def rotating_until(row: EndpointRow, now: datetime) -> datetime | None:
    """When the previous secret stops signing, during a rotation (None once it has)."""
    ends = [
        datetime.fromisoformat(entry["expires_at"])
        for entry in row.secrets
        if isinstance(entry.get("expires_at"), str)
    ]
    return max(ends) if ends and max(ends) > now else None


__all__ = ["ROTATION_OVERLAP", "NotificationService", "new_secret", "rotating_until"]
