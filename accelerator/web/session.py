"""Browser sessions for the web pages: a signed cookie naming the API key signed in with.

Two audiences use them, each with its own cookies, path and role (:class:`Audience`): sellers
under ``/app`` with a seller key, operators under ``/admin`` with an admin key. A cookie of one
audience is never sent to, nor accepted by, the other's pages (another path, another name,
another signature label, another role).

The cookie holds ``key id . expiry . nonce . signature``. The signature is an HMAC keyed by the
stored digest of the API key signed in with (for the configured bootstrap admin key, its
digest), so no server-wide secret has to be configured or shared between worker processes, a
session outlives a restart, and revoking the key ends every session made with it at once (each
page looks the key up again). Nothing about the key itself is in the cookie: the digest never
leaves the database.

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
from accelerator.auth.keys import BOOTSTRAP_KEY_ID, digest
from accelerator.auth.principal import Principal, Role
from accelerator.infra.database import Database

SESSION_SECONDS = 8 * 60 * 60
CSRF_FIELD = "csrf_token"
# Where the resolved session and the pages' audience are kept in the ASGI scope for guards,
# handlers and templates.
SCOPE_KEY = "web_session"
AUDIENCE_KEY = "web_audience"


@dataclass(frozen=True)
class Audience:
    """Who a set of pages is for: the role whose keys open them, where they live, the names of
    their cookies and the label their signatures are made under."""

    role: Role
    root: str
    cookie: str
    sign_in_cookie: str
    label: str
    #: The template every page of this audience extends (its header and navigation).
    layout: str


SELLERS = Audience(
    Role.SELLER, "/app", "accelerator_session", "accelerator_sign_in", "", "base.html"
)
ADMINS = Audience(
    Role.ADMIN,
    "/admin",
    "accelerator_admin_session",
    "accelerator_admin_sign_in",
    "admin-",
    "admin/base.html",
)
# The seller cookies' names, as the seller pages' tests and docs know them.
SESSION_COOKIE = SELLERS.cookie
SIGN_IN_COOKIE = SELLERS.sign_in_cookie


@dataclass(frozen=True)
class WebSession:
    """A signed-in visitor: who it is, and what its forms must carry."""

    principal: Principal
    csrf_token: str
    expires_at: int

    @property
    def seller_id(self) -> str:
        assert self.principal.seller_id is not None, "only a seller's session has a seller"
        return self.principal.seller_id


def _mac(digest: str, *parts: str) -> str:
    mac = hmac.new(digest.encode(), "|".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def session_value(
    key_id: str, digest: str, now: float | None = None, audience: Audience = SELLERS
) -> str:
    """A fresh cookie value for the key ``key_id`` whose stored digest is ``digest``."""
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    nonce = secrets.token_urlsafe(16)
    signature = _mac(digest, f"{audience.label}session", key_id, str(expires), nonce)
    return ".".join((key_id, str(expires), nonce, signature))


async def _audience_key(
    db: Database, key_id: str, audience: Audience, bootstrap_key: str | None
) -> tuple[Principal, str] | None:
    """The active key with this id of the audience's role and its digest, or None."""
    if key_id == BOOTSTRAP_KEY_ID:
        # The configured bootstrap admin key is not stored: its digest is computed instead.
        if audience.role is not Role.ADMIN or not bootstrap_key:
            return None
        return Principal(BOOTSTRAP_KEY_ID, Role.ADMIN, None, "bootstrap admin"), digest(
            bootstrap_key
        )
    found = await repository.active_key_by_id(db, key_id)
    if found is None or found[0].role is not audience.role:
        return None
    if audience.role is Role.SELLER and not found[0].seller_id:
        return None
    return found


async def resolve_session(
    db: Database,
    value: str,
    now: float | None = None,
    audience: Audience = SELLERS,
    bootstrap_key: str | None = None,
) -> WebSession | None:
    """The session a cookie value stands for, or None if it is malformed, forged or expired,
    its key has been revoked, or it is not the audience's."""
    parts = value.split(".")
    # fullmatch on ASCII digits: str.isdigit() also accepts "²", which int() refuses.
    if len(parts) != 4 or not re.fullmatch(r"[0-9]{1,12}", parts[1]):
        return None
    key_id, expires, nonce, signature = parts
    if int(expires) <= (now if now is not None else time.time()):
        return None
    found = await _audience_key(db, key_id, audience, bootstrap_key)
    if found is None:
        return None
    principal, key_digest = found
    label = audience.label
    expected = _mac(key_digest, f"{label}session", key_id, expires, nonce)
    if not hmac.compare_digest(signature, expected):
        return None
    return WebSession(principal, _mac(key_digest, f"{label}csrf", key_id, nonce), int(expires))


def current_session(connection: ASGIConnection[Any, Any, Any, Any]) -> WebSession | None:
    """The signed-in visitor of this request (resolved by :class:`SessionMiddleware`)."""
    found = connection.scope.get(SCOPE_KEY)
    return found if isinstance(found, WebSession) else None


def audience_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Audience:
    """Whose pages this request is for (set by :class:`SessionMiddleware`)."""
    found = connection.scope.get(AUDIENCE_KEY)
    return found if isinstance(found, Audience) else SELLERS


#: Finds the session a cookie value stands for (None: malformed, forged, expired or revoked).
SessionResolver = Callable[[str], Awaitable[WebSession | None]]


class SessionMiddleware(ASGIMiddleware):
    """Resolve the audience's session cookie once per page request; the guards decide what it
    allows."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, resolve: SessionResolver, audience: Audience = SELLERS) -> None:
        self._resolve = resolve
        self._audience = audience

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        value = _cookie(scope, self._audience.cookie)
        session = None
        if value:
            session = await self._resolve(value)
        scope[SCOPE_KEY] = session  # type: ignore[literal-required]
        scope[AUDIENCE_KEY] = self._audience  # type: ignore[literal-required]
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
    audience = audience_of(request)
    return Cookie(
        key=audience.cookie,
        value=value,
        path=audience.root,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=_secure(request, public_url),
    )


def sign_in_token(request: Request[Any, Any, Any], *, public_url: str) -> tuple[str, Cookie | None]:
    """The sign-in form's CSRF token, and the cookie to set if the browser has none yet."""
    audience = audience_of(request)
    existing = request.cookies.get(audience.sign_in_cookie, "")
    if len(existing) >= 32:
        return existing, None
    token = secrets.token_urlsafe(32)
    return token, Cookie(
        key=audience.sign_in_cookie,
        value=token,
        path=audience.root,
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
    return request.cookies.get(audience_of(request).sign_in_cookie) or None


def start_session(
    request: Request[Any, Any, Any],
    response: Response[Any],
    principal: Principal,
    secret: str,
    *,
    public_url: str,
) -> None:
    """Sign ``response``'s browser in as ``principal`` (who presented ``secret``), and drop the
    sign-in form's token."""
    audience = audience_of(request)
    value = session_value(principal.key_id, digest(secret), audience=audience)
    response.set_cookie(session_cookie(request, value, public_url=public_url))
    response.delete_cookie(audience.sign_in_cookie, path=audience.root)


def end_session(request: Request[Any, Any, Any], response: Response[Any]) -> None:
    audience = audience_of(request)
    response.delete_cookie(audience.cookie, path=audience.root)
