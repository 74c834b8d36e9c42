"""What a handler declares about its operation for the OpenAPI document, beyond what its route
says: the problem codes its service can answer with, and a body it reads raw.

Most of an operation's problems follow from its route (``accelerator.server.openapi`` infers
them: 401 where API keys are needed, 403 where a role guard refuses some role, 404 for a path id,
400/413/415/422 for a JSON body, 422 for parameters). A handler adds what only its service
knows, in its decorator::

    @post(..., opt=declares({404: ["offer_not_found"], 409: ["request_already_bound"]}))

Codes are the ``code`` of the problem documents (``accelerator.errors``, ``infra/errors.py``);
``tests/contract`` checks that each one is raised somewhere in the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The key of the declaration in a handler's ``opt``.
OPT_KEY = "contract"


@dataclass(frozen=True)
class HeaderDoc:
    """A request header an operation reads (documented, not validated by Litestar)."""

    name: str
    description: str


@dataclass(frozen=True)
class RawBody:
    """A body the handler reads as bytes (an insurer's signed webhook): the media types it comes
    in, with an example of each, and the headers that travel with it."""

    description: str
    examples: Mapping[str, str]
    headers: tuple[HeaderDoc, ...] = ()
    #: For a multipart form: the name of its one file field (documented as binary).
    file_field: str | None = None


@dataclass(frozen=True)
class Declared:
    """Problem codes by status, a raw body if the handler reads one, and the example of its
    response if not its type's own."""

    problems: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    raw_body: RawBody | None = None
    example: str | None = None


def declares(
    problems: Mapping[int, Iterable[str]] | None = None,
    *,
    raw_body: RawBody | None = None,
    example: str | None = None,
) -> dict[str, Any]:
    """A handler's ``opt``: the problem codes its service may answer with (by status) beyond
    those its route implies, the raw body it reads, if any, and the name of its response's
    example when a type's own would mislead (``examples/<Type>.<case>.json``: ``<Type>.<case>``),
    as a renewal is a quote request with more to say."""
    codes = {status: tuple(values) for status, values in (problems or {}).items()}
    return {OPT_KEY: Declared(codes, raw_body, example)}


def declared(opt: Mapping[str, Any]) -> Declared:
    """What a handler's ``opt`` declares (nothing, if it declares nothing)."""
    found = opt.get(OPT_KEY)
    return found if isinstance(found, Declared) else Declared()


__all__ = ["OPT_KEY", "Declared", "HeaderDoc", "RawBody", "declared", "declares"]
