"""RFC 9457 problem details: the one place errors become responses.

Services raise the domain's errors (``accelerator.errors``); :data:`DOMAIN_STATUS` says which
HTTP status each kind answers with. HTTP-only code (controllers, the pages, middleware) may
raise :class:`ApiProblem` directly. Every error leaves the API as ``application/problem+json``
with a stable ``type`` (a URI under ``PROBLEM_BASE``) and ``code``; validation problems list
each offending field in ``errors``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from asyncpg import PostgresError  # type: ignore[import-untyped]  # no stubs published
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError

from accelerator.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unprocessable,
    UpstreamFailed,
)
from schemas import FieldProblem, Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://insurance-accelerator.dev/problems/"

logger = logging.getLogger("accelerator.errors")


class ApiProblem(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: Sequence[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = headers or {}


def invalid_input(errors: Sequence[FieldProblem], detail: str | None = None) -> ApiProblem:
    """A 422 naming every offending field."""
    fields = ", ".join(e.field for e in errors)
    return ApiProblem(
        422,
        "validation_error",
        "The request is not valid",
        detail or f"Invalid field(s): {fields}",
        errors=errors,
    )


def not_found(what: str, detail: str | None = None) -> ApiProblem:
    return ApiProblem(
        404, f"{what}_not_found", f"{what.replace('_', ' ').capitalize()} not found", detail
    )


#: The HTTP status of each kind of domain error.
DOMAIN_STATUS: dict[type[DomainError], int] = {
    BadRequest: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    InvalidInput: 422,
    Unprocessable: 422,
    UpstreamFailed: 502,
}


def problem_for(error: DomainError) -> ApiProblem:
    """The problem document a domain error answers with."""
    status = next((code for kind, code in DOMAIN_STATUS.items() if isinstance(error, kind)), 400)
    errors = None
    if isinstance(error, InvalidInput):
        errors = [
            FieldProblem(e.field, e.code, e.message, list(e.suggestions) or None)
            for e in error.errors
        ]
    return ApiProblem(status, error.code, error.title, error.detail, errors=errors)


def _render(request: Request[Any, Any, Any], problem: ApiProblem) -> Response[Problem]:
    body = Problem(
        type=PROBLEM_BASE + problem.code.replace("_", "-"),
        title=problem.title,
        status=problem.status,
        code=problem.code,
        detail=problem.detail,
        instance=request.url.path,
        request_id=request.scope.get("state", {}).get("request_id"),
        errors=problem.errors,
    )
    return Response(
        body, status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE, headers=problem.headers
    )


def _field_path(key: str | None, source: str | None) -> str:
    if not key:
        return source or "body"
    # Litestar reports body fields as msgspec paths ("$.categories[0].share"); ours drop the "$.".
    return key.removeprefix("$.").removeprefix("$") or "body"


_MISSING_PARAMETER = re.compile(r"^Missing required (?P<kind>\w+ parameter) '(?P<name>[^']+)'")

# msgspec names a missing or unknown field in its message, not in its path; so do the bounds
# checked after decoding (schemas.OutOfBounds: "`amount` must not be negative"), whose path is
# the struct holding the field.
_NAMED_FIELD = re.compile(r"^(?:Object (?:missing required|contains unknown) field )?`([^`]+)`")


def decode_error_field(message: str, path: str = "") -> tuple[str, str]:
    """The field a msgspec validation message is about, as our problems name it
    (``claim_amount.amount``; ``body`` for the whole document), and the message without it.
    ``path`` is where it is, when the caller already knows (Litestar's ``$.claim_amount``)."""
    message, _, at = message.partition(" - at `")
    path = (path or at.rstrip("`")).removeprefix("$").removeprefix(".")
    if named := _NAMED_FIELD.match(message):
        path = f"{path}.{named[1]}" if path else named[1]
    return path or "body", message


def _validation_problem(exc: ValidationException) -> ApiProblem:
    problems: list[FieldProblem] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = item.get("key")
        source = item.get("source")
        if source == "body" or (key is None and source is None):
            # The body is Litestar's "data"; a field it is missing or does not know is named
            # only in the message.
            field, message = decode_error_field(message, "" if key == "data" else key or "")
        else:
            field = _field_path(key, source)
        problems.append(FieldProblem(field=field, code="invalid", message=message))
    if not problems and (missing := _MISSING_PARAMETER.match(str(exc.detail))):
        # Litestar names a missing header or query parameter only in its message.
        problems.append(
            FieldProblem(missing["name"], "invalid", f"Missing required {missing['kind']}")
        )
    if not problems:
        problems.append(FieldProblem(field="body", code="invalid", message=str(exc.detail)))
    return invalid_input(problems)


def _handle_api_problem(request: Request[Any, Any, Any], exc: ApiProblem) -> Response[Problem]:
    return _render(request, exc)


def _handle_domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    return _render(request, problem_for(exc))


def _handle_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[Problem]:
    return _render(request, _validation_problem(exc))


def _handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    code = {
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        429: "too_many_requests",
    }.get(exc.status_code, f"http_{exc.status_code}")
    title = {
        401: "Authentication required",
        403: "Not allowed",
        404: "Not found",
        413: "The body is too large",
    }.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", "Bearer")
    detail = str(exc.detail) if exc.detail and exc.detail != title else None
    if exc.status_code == 413:
        detail = _size_limit(request)
    return _render(request, ApiProblem(exc.status_code, code, title, detail, headers=headers))


def _size_limit(request: Request[Any, Any, Any]) -> str | None:
    """The body limit of the operation a 413 answers, in words."""
    handler = request.scope.get("route_handler")
    limit = getattr(handler, "resolve_request_max_body_size", lambda: None)()
    return f"This operation takes bodies of at most {limit:,} bytes." if limit else None


# PostgreSQL cannot store a NUL character in text (SQLSTATE 22021). A request carrying one fails
# when it reaches a query: the client's input, not our failure. Through SQLAlchemy the driver's
# error is wrapped (DBAPIError); statements run on the driver itself raise it bare: the reads of
# infra.lookups, and writes too (the quote writes and the webhook insert of infra.driver_writes).
UNSTORABLE_TEXT = "22021"
# PostgreSQL refusing a new connection for now: every connection slot taken (53300, "sorry, too
# many clients already", as other clients of the server can cause) or the server starting up or
# shutting down (57P03). The request was not carried out and may be sent again: a 503, never a
# 500. A connection is opened on demand (the pools grow to their size, a lookup replaces a
# dropped connection), so a single check met this under a busy shared server
# (docs/performance.md, "Seventh round").
REFUSED_CONNECTION = frozenset({"53300", "57P03"})
#: Seconds a client is asked to wait after a refused connection.
REFUSED_RETRY_AFTER = 1


def _sqlstate(exc: Exception) -> str | None:
    """The SQLSTATE of a database error, raised by the driver or wrapped by SQLAlchemy (whose
    asyncpg adaptation keeps the driver's error as its cause)."""
    driver_error = exc.orig if isinstance(exc, DBAPIError) else exc
    for error in (driver_error, getattr(driver_error, "__cause__", None)):
        if (sqlstate := getattr(error, "sqlstate", None)) is not None:
            return str(sqlstate)
    return None


def _handle_database(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    sqlstate = _sqlstate(exc)
    if sqlstate in REFUSED_CONNECTION:
        logger.warning("database refused a connection (%s) on %s", sqlstate, request.url.path)
        problem = ApiProblem(
            503,
            "database_unavailable",
            "The database cannot take the request now",
            "The database refused a new connection (no free slot, or starting or stopping). "
            "Send the request again in a moment.",
            headers={"Retry-After": str(REFUSED_RETRY_AFTER)},
        )
        return _render(request, problem)
    if sqlstate == UNSTORABLE_TEXT:
        problem = ApiProblem(
            422,
            "invalid_text",
            "The request contains text that cannot be stored",
            "Text may not contain NUL (\\u0000) characters.",
        )
        return _render(request, problem)
    return _handle_unexpected(request, exc)


def _handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    problem = ApiProblem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal error",
        "The service failed; the request id identifies it in our logs.",
    )
    return _render(request, problem)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ApiProblem: _handle_api_problem,
    DomainError: _handle_domain,
    ValidationException: _handle_validation,
    NotAuthorizedException: _handle_http,
    PermissionDeniedException: _handle_http,
    NotFoundException: _handle_http,
    HTTPException: _handle_http,
    DBAPIError: _handle_database,
    PostgresError: _handle_database,
    Exception: _handle_unexpected,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_MEDIA_TYPE",
    "ApiProblem",
    "FieldProblem",
    "Problem",
    "invalid_input",
    "not_found",
    "problem_for",
]
