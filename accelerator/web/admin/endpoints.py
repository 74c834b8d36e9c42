"""Outbound webhook endpoints: each subscriber's endpoint (enabled, or disabled and why), its
messages with their delivery attempts, and replaying one message or every one since a time (the
API's notification service)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from accelerator.admin.actions import record_action
from accelerator.infra.database import Database
from accelerator.notifications.service import NotificationService
from accelerator.web.admin.ids import checked_id, checked_number
from accelerator.web.admin.paging import page_number
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.rendering import page
from accelerator.web.session import current_session

ENDPOINTS_PER_PAGE: Final = 25
MESSAGES_PER_PAGE: Final = 20
ATTEMPTS_SHOWN: Final = 10
# The earliest "since" a replay may name: the contract's instants begin in 1970.
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _since(raw: str) -> datetime | None:
    """A ``datetime-local`` field's value (``2026-12-07T09:30``), read as UTC; None if it is not
    one."""
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return None
    moment = parsed.replace(tzinfo=UTC)
    return moment if EARLIEST <= moment <= datetime(2200, 12, 31, tzinfo=UTC) else None


class EndpointsController(Controller):
    path = "/endpoints"
    guards = [signed_in, csrf_protected]

    @get("/")
    async def endpoints(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Any, Any, Any],
    ) -> Response[str]:
        session = current_session(request)
        assert session is not None  # the guard let only a signed-in operator through
        number = page_number(request)
        rows = await notifications.page(
            session.principal, None, ENDPOINTS_PER_PAGE + 1, (number - 1) * ENDPOINTS_PER_PAGE
        )
        return page(
            request,
            "admin/endpoints.html",
            title="Outbound webhooks",
            endpoints=rows[:ENDPOINTS_PER_PAGE],
            more=len(rows) > ENDPOINTS_PER_PAGE,
            page_number=number,
        )

    @get("/{endpoint_id:str}")
    async def endpoint(
        self,
        notifications: NamedDependency[NotificationService],
        request: Request[Any, Any, Any],
        endpoint_id: FromPath[str],
    ) -> Response[str]:
        return await self._endpoint_page(notifications, request, endpoint_id)

    async def _endpoint_page(
        self,
        notifications: NotificationService,
        request: Request[Any, Any, Any],
        endpoint_id: str,
        *,
        status_code: int = 200,
        error: str | None = None,
    ) -> Response[str]:
        session = current_session(request)
        assert session is not None
        who = session.principal
        endpoint = await notifications.get(who, checked_id(endpoint_id))
        number = page_number(request)
        messages = await notifications.messages(
            who, endpoint_id, None, MESSAGES_PER_PAGE + 1, (number - 1) * MESSAGES_PER_PAGE
        )
        shown = messages[:MESSAGES_PER_PAGE]
        attempts = {
            message.id: await notifications.attempts(
                who, endpoint_id, message.id, ATTEMPTS_SHOWN, 0
            )
            for message in shown
        }
        return page(
            request,
            "admin/endpoint.html",
            status_code=status_code,
            title=f"Endpoint {endpoint.url}",
            endpoint=endpoint,
            messages=shown,
            attempts=attempts,
            attempts_shown=ATTEMPTS_SHOWN,
            more=len(messages) > MESSAGES_PER_PAGE,
            page_number=number,
            error=error,
        )

    @post("/{endpoint_id:str}/messages/{message_id:int}/replay", status_code=303)
    async def replay(
        self,
        db: NamedDependency[Database],
        notifications: NamedDependency[NotificationService],
        request: Request[Any, Any, Any],
        endpoint_id: FromPath[str],
        message_id: FromPath[int],
    ) -> Redirect:
        session = current_session(request)
        assert session is not None
        message = await notifications.replay(
            session.principal, checked_id(endpoint_id), checked_number(message_id)
        )
        await record_action(
            db,
            session.principal,
            "message.replayed",
            f"message {message_id} to endpoint {endpoint_id}",
            f"{message.event_type} {message.event_id}",
        )
        return Redirect(f"/admin/endpoints/{endpoint_id}?notice=replayed", status_code=303)

    @post("/{endpoint_id:str}/replay", status_code=303)
    async def replay_since(
        self,
        db: NamedDependency[Database],
        notifications: NamedDependency[NotificationService],
        request: Request[Any, Any, Any],
        endpoint_id: FromPath[str],
    ) -> Response[Any]:
        session = current_session(request)
        assert session is not None
        form = await request.form()
        checked_id(endpoint_id)
        since = _since(str(form.get("since", "")).strip())
        if since is None:
            return await self._endpoint_page(
                notifications,
                request,
                endpoint_id,
                status_code=422,
                error="Give a date and time (UTC), for example 2026-12-07 09:30.",
            )
        count = await notifications.replay_since(session.principal, endpoint_id, since)
        await record_action(
            db,
            session.principal,
            "endpoint.replayed",
            f"endpoint {endpoint_id}",
            f"{count} message(s) created since {since:%Y-%m-%d %H:%M} UTC",
        )
        return Redirect(f"/admin/endpoints/{endpoint_id}?notice=replayed_since", status_code=303)
