"""Signing in to the admin console with an admin API key, signing out, and its front page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from accelerator.admin.actions import record_action
from accelerator.auth.keys import resolve_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.settings import Settings
from accelerator.web.errors import sign_in_redirect
from accelerator.web.guards import csrf_protected, signed_in
from accelerator.web.rendering import page
from accelerator.web.session import current_session, end_session, sign_in_token, start_session

HOME = "/admin"


def safe_next(target: str | None) -> str:
    """Only a path of the console: a sign-in link must not send anyone elsewhere."""
    if target and target.startswith("/admin/") and not target.startswith("/admin//"):
        return target
    return HOME


class AdminSignInController(Controller):
    path = "/"
    guards = [csrf_protected]

    @get("/", guards=[signed_in])
    async def front_page(self, request: Request[Any, Any, Any]) -> Response[str]:
        return page(request, "admin/home.html", title="Admin console")

    @get("/sign-in")
    async def sign_in_form(
        self, settings: NamedDependency[Settings], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        if current_session(request) is not None:
            return Redirect(safe_next(request.query_params.get("next")), status_code=303)
        return self._form(request, settings)

    def _form(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        error: str | None = None,
        status_code: int = 200,
        next_page: str | None = None,
    ) -> Response[str]:
        """The form; after a refused attempt, still leading where the first one would have."""
        token, cookie = sign_in_token(request, public_url=settings.public_url)
        return page(
            request,
            "admin/sign_in.html",
            status_code=status_code,
            cookies=[cookie] if cookie else None,
            csrf_token=token,
            error=error,
            next=safe_next(next_page or request.query_params.get("next")),
            title="Sign in to the admin console",
        )

    @post("/sign-in", status_code=303)
    async def sign_in(
        self,
        db: NamedDependency[Database],
        settings: NamedDependency[Settings],
        request: Request[Any, Any, Any],
    ) -> Response[Any]:
        form = await request.form()
        secret = str(form.get("api_key", "")).strip()
        after = safe_next(str(form.get("next", "")))
        if not secret:
            return self._form(request, settings, "Enter an admin API key.", 422, after)
        principal = await resolve_key(db, secret, settings.bootstrap_admin_key)
        if principal is None:
            return self._form(
                request,
                settings,
                "This key is not recognised. Check that you copied all of it; it may also "
                "have been revoked.",
                422,
                after,
            )
        if principal.role is not Role.ADMIN:
            return self._form(
                request,
                settings,
                f"This is a {principal.role.value} key; the admin console opens only with an "
                "admin key.",
                422,
                after,
            )
        await record_action(db, principal, "session.signed_in", "admin console")
        response = Redirect(after, status_code=303)
        start_session(request, response, principal, secret, public_url=settings.public_url)
        return response

    # Signing out with no session left (it expired) needs no token: there is nothing to end.
    @post("/sign-out", status_code=303, opt={"token_optional_when_signed_out": True})
    async def sign_out(
        self, db: NamedDependency[Database], request: Request[Any, Any, Any]
    ) -> Redirect:
        session = current_session(request)
        if session is not None:
            await record_action(db, session.principal, "session.signed_out", "admin console")
        response = sign_in_redirect(HOME, notice="signed_out", root=HOME)
        end_session(request, response)
        return response
