"""Errors on the web pages are pages too: plain words, a way back, never a JSON body."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect
from litestar.types import ExceptionHandlersMap

from accelerator.auth.principal import Role
from accelerator.errors import DomainError
from accelerator.infra.errors import EXCEPTION_HANDLERS, ApiProblem, problem_for
from accelerator.web.guards import CsrfRefused, SignInRequired
from accelerator.web.rendering import page
from accelerator.web.session import audience_of

logger = logging.getLogger("accelerator.web")


def as_problem(error: ApiProblem | DomainError) -> ApiProblem:
    """A refusal as the problem it answers with, whether a service raised it as a domain error
    or as a problem."""
    return problem_for(error) if isinstance(error, DomainError) else error


def sign_in_redirect(back_to: str, notice: str | None = None, root: str = "/app") -> Redirect:
    """To the sign-in form of the pages under ``root``, coming back to ``back_to`` after."""
    query = {"next": back_to} if back_to and back_to != root else {}
    if notice:
        query["notice"] = notice
    target = f"{root}/sign-in" + (f"?{urlencode(query)}" if query else "")
    return Redirect(target, status_code=303)


def _error_page(
    request: Request[Any, Any, Any], status: int, title: str, message: str
) -> Response[str]:
    return page(
        request,
        "error.html",
        status_code=status,
        title=title,
        message=message,
        request_id=request.scope.get("state", {}).get("request_id"),
    )


def _sign_in_required(request: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    return sign_in_redirect(exc.back_to, root=audience_of(request).root)


def _csrf_refused(request: Request[Any, Any, Any], _: CsrfRefused) -> Response[str]:
    return _error_page(
        request,
        403,
        "This form could not be accepted",
        "It was not sent from a page of this site, or it is too old (for example from before "
        "you signed in again). Go back, reload the page and try once more. Your browser must "
        "accept cookies from this site.",
    )


def _problem(request: Request[Any, Any, Any], exc: ApiProblem | DomainError) -> Response[str]:
    problem = as_problem(exc)
    if problem.status == 404:
        return _not_found(request)
    return _error_page(request, problem.status, problem.title, problem.detail or "")


def _not_found(request: Request[Any, Any, Any]) -> Response[str]:
    return _error_page(
        request,
        404,
        "Page not found",
        "There is nothing at this address for your account. It may belong to another seller, "
        "or the link may be incomplete."
        if audience_of(request).role is Role.SELLER
        else "There is nothing at this address. It may have been removed, or the link may be "
        "incomplete.",
    )


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    if exc.status_code == 404:
        return _not_found(request)
    return _error_page(request, exc.status_code, "This request could not be handled", exc.detail)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error_page(
        request,
        500,
        "Something went wrong on our side",
        "Nothing you did caused this. Try again in a moment; if it keeps happening, quote the "
        "reference below to the people who run this service.",
    )


def _handler_for(key: Any) -> Any:
    if key is ApiProblem or key is DomainError:
        return _problem
    if isinstance(key, type) and issubclass(key, HTTPException):
        return _http
    return _unexpected


# Every exception type the JSON API handles is handled here too: Litestar picks the closest
# layer's handler for the exact type first, so a type left out would fall through to JSON.
PAGE_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    **{key: _handler_for(key) for key in EXCEPTION_HANDLERS},
    SignInRequired: _sign_in_required,
    CsrfRefused: _csrf_refused,
}
