"""Problem documents (RFC 9457): the body of every error response.

Every error leaves the API as ``application/problem+json`` with a stable ``type`` (a URI) and
``code``; validation problems list each offending field in ``errors``. Clients may switch on
codes; titles, details and messages are for people and may change.
"""

import msgspec


class FieldProblem(msgspec.Struct, frozen=True, omit_defaults=True):
    """One offending input: where it is (a JSON path such as ``categories[0].revenue_share``),
    a stable code, a sentence, and for unknown values the closest known ones."""

    field: str
    code: str
    message: str
    suggestions: list[str] | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """The body of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


__all__ = ["FieldProblem", "Problem"]
