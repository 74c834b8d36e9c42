"""Sign in with a seller API key, sign out, and the pages' front door."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from accelerator.auth.keys import resolve_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.settings import Settings
from accelerator.web.errors import sign_in_redirect
from accelerator.web.guards import csrf_protected
from accelerator.web.rendering import page
from accelerator.web.session import current_session, end_session, sign_in_token, start_session

HOME = "/app/profile"


def safe_next(target: str | None) -> str:
    """Only a path of these pages: a sign-in link must not send anyone elsewhere."""
    if target and target.startswith("/app/") and not target.startswith("/app//"):
        return target
    return HOME


class SignInController(Controller):
    path = "/"
    guards = [csrf_protected]

    @get("/")
    async def front_door(self, request: Request[Any, Any, Any]) -> Redirect:
        if current_session(request) is None:
            return sign_in_redirect("/app")
        return Redirect(HOME, status_code=303)

    @get("/sign-in")
    async def sign_in_form(
        self, settings: NamedDependency[Settings], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        if current_session(request) is not None:
            # Already in: this form's token would not match the session's (so its sign-in and
            # the header's sign-out would both be refused). To sign in as another seller, sign
            # out first.
            return Redirect(safe_next(request.query_params.get("next")), status_code=303)
        return self._form(request, settings)

    def _form(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response[str]:
        token, cookie = sign_in_token(request, public_url=settings.public_url)
        return page(
            request,
            "sign_in.html",
            status_code=status_code,
            cookies=[cookie] if cookie else None,
            csrf_token=token,
            error=error,
            next=safe_next(request.query_params.get("next")),
            title="Sign in",
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
        if not secret:
            return self._form(request, settings, "Enter your seller API key.", 422)
        principal = await resolve_key(db, secret, settings.bootstrap_admin_key)
        if principal is None:
            return self._form(
                request,
                settings,
                "This key is not recognised. Check that you copied all of it (it starts with "
                "acc_); it may also have been revoked.",
                422,
            )
        if principal.role is not Role.SELLER:
            article = "an" if principal.role is Role.ADMIN else "a"
            return self._form(
                request,
                settings,
                f"This is {article} {principal.role.value} key; these pages are for sellers. "
                "Sign in with a seller key.",
                422,
            )
        response = Redirect(safe_next(str(form.get("next", ""))), status_code=303)
        start_session(request, response, principal, secret, public_url=settings.public_url)
        return response

    # Signing out with no session left (it expired) needs no token: there is nothing to end.
    @post("/sign-out", status_code=303, opt={"token_optional_when_signed_out": True})
    async def sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        response = sign_in_redirect("/app", notice="signed_out")
        end_session(request, response)
        return response
