"""Authentication middleware (Bearer API keys) and the role guards on routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import HttpMethod
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp

from accelerator.auth.principal import Principal, Role

# The probes, the metrics (scraped on a private network, docs/operations.md), the API docs,
# insurer webhooks (signed instead), the seller pages and the admin console (cookie sessions)
# and certificates' live-verification links (the unguessable link is the credential) do not
# take API keys. /health/status does (an admin's).
PUBLIC_PATHS = (
    "^/health/(live|ready)$",
    "^/metrics$",
    "^/schema",
    "^/v1/webhooks/",
    "^/app(/|$)",
    "^/admin(/|$)",
    "^/favicon",
    "^/verify/",
)


#: Finds the principal of a presented key (None: unknown or revoked).
KeyResolver = Callable[[str], Awaitable[Principal | None]]


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, *, resolve: KeyResolver, exclude: list[str]) -> None:
        super().__init__(app, exclude=exclude)
        self._resolve = resolve

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise NotAuthorizedException("Send an API key as `Authorization: Bearer <key>`.")
        principal = await self._resolve(secret.strip())
        if principal is None:
            raise NotAuthorizedException("The API key is unknown or has been revoked.")
        return AuthenticationResult(user=principal, auth=secret)


def api_key_middleware(resolve: KeyResolver) -> DefineMiddleware:
    """The authentication middleware, finding keys with ``resolve``."""
    return DefineMiddleware(ApiKeyMiddleware, resolve=resolve, exclude=list(PUBLIC_PATHS))


@dataclass(frozen=True)
class RoleGuard:
    """A route guard letting only ``roles`` through; the OpenAPI document reads ``roles`` to say
    who may call the operation (and that others get a 403)."""

    roles: frozenset[Role]

    # Async although it never awaits: Litestar runs a plain function guard in a worker thread,
    # a thread hop on every request (seen in the fan-out profile, docs/performance.md).
    async def __call__(
        self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        if connection.scope.get("method") == "OPTIONS":
            # The auth middleware lets OPTIONS through unauthenticated (Litestar's default, for
            # CORS preflights); Litestar answers it with the Allow header alone, no data.
            return
        principal = connection.scope.get("user")
        if not isinstance(principal, Principal):
            raise NotAuthorizedException("Send an API key as `Authorization: Bearer <key>`.")
        if principal.role not in self.roles:
            raise PermissionDeniedException(
                f"The {principal.role.value} role may not call this operation."
            )


def requires(*roles: Role) -> RoleGuard:
    """A guard that lets only the given roles through (admins always pass)."""
    return RoleGuard(frozenset({Role.ADMIN, *roles}))


def only(*roles: Role) -> RoleGuard:
    """A guard that lets only the given roles through, admins not among them unless named (the
    partner endpoints answer for the caller's own insurer, which an admin key has none of)."""
    return RoleGuard(frozenset(roles))


class UncopiedGuardsHandler(HTTPRouteHandler):
    """An HTTP route handler whose guards get the handler itself rather than a copy.

    Litestar copies the handler (41 attributes) for every guard of every request, about 9 µs,
    a few percent of a coverage check's CPU (docs/performance.md, "Batch decisions' CPU").
    The copy would keep a guard from changing the handler; :class:`RoleGuard` reads nothing of
    it. Only for routes whose guards are all :class:`RoleGuard`s."""

    async def authorize_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        for guard in self.resolve_guards():
            await guard(connection, self)  # type: ignore[misc]  # guards are made async


def guarded_post(path: str | None = None, **options: Any) -> UncopiedGuardsHandler:
    """Litestar's ``@post(path, **options)``, guarded without the copy (subclassing ``post``
    itself is deprecated in Litestar 2)."""
    return UncopiedGuardsHandler(path, http_method=HttpMethod.POST, **options)
