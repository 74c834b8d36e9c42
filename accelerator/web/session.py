"""Browser sessions for the seller pages: a signed cookie naming the seller's API key.

The cookie holds ``key id . expiry . nonce . signature``. The signature is an HMAC keyed by the
stored digest of the API key the seller signed in with, so no server-wide secret has to be
configured or shared between worker processes, a session outlives a restart, and revoking the
key ends every session made with it at once (each page looks the key up again). Nothing about
the key itself is in the cookie: the digest never leaves the database.

Form posts carry a CSRF token derived the same way from the session's nonce (a synchronizer
token: a forged page cannot compute it). Before sign-in there is no session, so the sign-in
form uses a random double-submit token kept in its own cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from accelerator.auth import repository
from accelerator.auth.principal import Principal, Role
from accelerator.infra.database import Database

SESSION_COOKIE = "accelerator_session"
SIGN_IN_COOKIE = "accelerator_sign_in"
COOKIE_PATH = "/app"
SESSION_SECONDS = 8 * 60 * 60
CSRF_FIELD = "csrf_token"
# Where the resolved session is kept in the ASGI scope for guards, handlers and templates.
SCOPE_KEY = "seller_session"


@dataclass(frozen=True)
class SellerSession:
    """A signed-in seller: who it is, and what its forms must carry."""

    principal: Principal
    csrf_token: str
    expires_at: int

    @property
    def seller_id(self) -> str:
        assert self.principal.seller_id is not None, "only seller keys get sessions"
        return self.principal.seller_id


def _mac(digest: str, *parts: str) -> str:
    mac = hmac.new(digest.encode(), "|".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def session_value(key_id: str, digest: str, now: float | None = None) -> str:
    """A fresh cookie value for the key ``key_id`` whose stored digest is ``digest``."""
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    nonce = secrets.token_urlsafe(16)
    return ".".join(
        (key_id, str(expires), nonce, _mac(digest, "session", key_id, str(expires), nonce))
    )


async def _seller_key(db: Database, key_id: str) -> tuple[Principal, str] | None:
    """The active seller key with this id and its digest, or None."""
    found = await repository.active_key_by_id(db, key_id)
    if found is None or found[0].role is not Role.SELLER or not found[0].seller_id:
        return None
    return found


async def resolve_session(
    db: Database, value: str, now: float | None = None
) -> SellerSession | None:
    """The session a cookie value stands for, or None if it is malformed, forged or expired,
    or its key has been revoked."""
    parts = value.split(".")
    # fullmatch on ASCII digits: str.isdigit() also accepts "²", which int() refuses.
    if len(parts) != 4 or not re.fullmatch(r"[0-9]{1,12}", parts[1]):
        return None
    key_id, expires, nonce, signature = parts
    if int(expires) <= (now if now is not None else time.time()):
        return None
    found = await _seller_key(db, key_id)
    if found is None:
        return None
    principal, digest = found
    if not hmac.compare_digest(signature, _mac(digest, "session", key_id, expires, nonce)):
        return None
    return SellerSession(principal, _mac(digest, "csrf", key_id, nonce), int(expires))


def current_session(connection: ASGIConnection[Any, Any, Any, Any]) -> SellerSession | None:
    """The signed-in seller of this request (resolved by :class:`SessionMiddleware`)."""
    found = connection.scope.get(SCOPE_KEY)
    return found if isinstance(found, SellerSession) else None


#: Finds the session a cookie value stands for (None: malformed, forged, expired or revoked).
SessionResolver = Callable[[str], Awaitable[SellerSession | None]]


class SessionMiddleware(ASGIMiddleware):
    """Resolve the session cookie once per page request; the guards decide what it allows."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, resolve: SessionResolver) -> None:
        self._resolve = resolve

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        value = _cookie(scope, SESSION_COOKIE)
        session = None
        if value:
            session = await self._resolve(value)
        scope[SCOPE_KEY] = session  # type: ignore[literal-required]
        # Litestar's request.user: the same principal the JSON API hands to services.
        scope["user"] = session.principal if session else None
        await next_app(scope, receive, send)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, raw in scope.get("headers", ()):
        if key != b"cookie":
            continue
        for part in raw.decode("latin-1").split(";"):
            cookie_name, _, cookie_value = part.strip().partition("=")
            if cookie_name == name and cookie_value:
                return cookie_value
    return None


def _secure(request: Request[Any, Any, Any], public_url: str) -> bool:
    """Mark cookies Secure whenever the pages are served over HTTPS (``public_url``: the
    service's address as configured, when a proxy in front of it terminates TLS)."""
    return request.url.scheme == "https" or public_url.startswith("https://")


def session_cookie(request: Request[Any, Any, Any], value: str, *, public_url: str) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path=COOKIE_PATH,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_secure(request, public_url),
    )


def sign_in_token(request: Request[Any, Any, Any], *, public_url: str) -> tuple[str, Cookie | None]:
    """The sign-in form's CSRF token, and the cookie to set if the browser has none yet."""
    existing = request.cookies.get(SIGN_IN_COOKIE, "")
    if len(existing) >= 32:
        return existing, None
    token = secrets.token_urlsafe(32)
    return token, Cookie(
        key=SIGN_IN_COOKIE,
        value=token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request, public_url),
    )


def expected_csrf_token(request: Request[Any, Any, Any]) -> str | None:
    """What this request's form must carry: the session's token, or before sign-in the
    sign-in cookie's."""
    session = current_session(request)
    if session is not None:
        return session.csrf_token
    return request.cookies.get(SIGN_IN_COOKIE) or None


def end_session(response: Response[Any]) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
