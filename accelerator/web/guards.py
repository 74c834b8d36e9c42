"""Guards of the web pages (sellers' and the admin console's): sign-in required, and a CSRF
token on every form post."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.handlers.base import BaseRouteHandler

from accelerator.web.session import CSRF_FIELD, audience_of, current_session, expected_csrf_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, back_to: str) -> None:
        super().__init__("sign-in required")
        self.back_to = back_to


class CsrfRefused(Exception):
    """A form post without the token of the page that rendered it."""


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    # A coroutine: Litestar would run a plain function in a worker thread on every page.
    if current_session(connection) is None:
        # After signing in, a GET comes back to the same page; a post starts again at home.
        url = connection.url
        asked = url.path + (f"?{url.query}" if url.query else "")
        home = audience_of(connection).root
        raise SignInRequired(asked if connection.scope.get("method") == "GET" else home)


async def csrf_protected(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Refuse any unsafe request whose form does not carry the expected token."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    if handler.opt.get("token_optional_when_signed_out") and current_session(connection) is None:
        return
    request = (
        connection
        if isinstance(connection, Request)
        else Request[Any, Any, Any](connection.scope, connection.receive)
    )
    expected = expected_csrf_token(request)
    # The parsed form is cached on the connection, so the handler reads it again for free.
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        # An uploaded file spooled to disk is closed here: no handler will read it.
        for value in form.values():
            if isinstance(value, UploadFile):
                await value.close()
        raise CsrfRefused
