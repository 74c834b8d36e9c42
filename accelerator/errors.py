"""What a service may refuse: the domain's errors, free of HTTP.

Services raise these; ``infra/errors.py`` is the one place that turns each kind into a problem
document and its status, so the CLI, the worker and the benchmarks can call services without a
web framework, and a service's refusals read as what they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One offending input: where it is (a JSON path such as ``categories[0].revenue_share``),
    a stable code, a sentence, and for unknown values the closest known ones."""

    field: str
    code: str
    message: str
    suggestions: Sequence[str] = ()


class DomainError(Exception):
    """A refusal with a stable ``code``, a short ``title`` and the ``detail`` of this case."""

    def __init__(self, code: str, title: str, detail: str | None = None) -> None:
        super().__init__(detail or title)
        self.code = code
        self.title = title
        self.detail = detail


class NotFound(DomainError):
    """No such thing (or none this caller may see): code ``<what>_not_found``."""

    def __init__(self, what: str, detail: str | None = None) -> None:
        super().__init__(
            f"{what}_not_found", f"{what.replace('_', ' ').capitalize()} not found", detail
        )


class InvalidInput(DomainError):
    """Input that cannot be accepted, naming every offending field."""

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        fields = ", ".join(e.field for e in errors)
        super().__init__(
            "validation_error", "The request is not valid", detail or f"Invalid field(s): {fields}"
        )
        self.errors = tuple(errors)


class Unprocessable(DomainError):
    """A well-formed request the domain cannot act on as sent, though no one field of it is
    invalid (an idempotency key reused with another body, say): its own code, no field list."""


class Forbidden(DomainError):
    """The caller may not act on this (another seller's resources, say)."""

    def __init__(self, detail: str) -> None:
        super().__init__("forbidden", "Not allowed", detail)


class Conflict(DomainError):
    """The request does not fit the current state (already bound, profile missing, …)."""


class Unauthenticated(DomainError):
    """Credentials missing or not valid (an insurer webhook's signature, say)."""


class BadRequest(DomainError):
    """A request malformed in a way no field names (headers, say)."""


class TooLarge(DomainError):
    """A body over its size cap."""


class UpstreamFailed(DomainError):
    """An insurer failed to answer a call we had to make for this request."""
