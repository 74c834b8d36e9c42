"""The OpenAPI document tells the truth about every operation: the problem documents it can
answer with (status, ``code`` values, an example of each), who may call it, and examples of
its bodies.

:func:`document_operations` runs once the routes are registered. From each route it infers the
problems any operation of its kind can give, adds those its handler declares
(``accelerator.infra.openapi.declares``), and hands both to Litestar, which builds the document
when it is first served:

====== ======================================================== =================================
status when                                                     codes
====== ======================================================== =================================
400    a JSON body                                              ``malformed_json``,
                                                                ``json_too_deep``
401    the route takes API keys (not one of ``PUBLIC_PATHS``)   ``unauthenticated``
403    a role guard refuses some role                           ``forbidden``
404    a path parameter                                         ``not_found`` (the path matches
                                                                no route), and the declared ones
413    a body                                                   ``payload_too_large``
415    a JSON body                                              ``unsupported_media_type``
422    a JSON body or parameters                                ``validation_error``, and
                                                                ``invalid_text`` where text can
                                                                reach PostgreSQL
====== ======================================================== =================================

Each problem status is a ``ResponseSpec`` of :class:`schemas.Problem` as
``application/problem+json``; each handler's ``operation_class`` (:class:`ContractOperation`)
then pins the problem's ``code`` to the listed values, names an example per code, drops the
JSON 400 Litestar documents for every operation with parameters (we never send it: validation
problems are 422 problem documents), marks public operations as such, and adds the body
examples of ``examples/`` and a raw body's description.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, ClassVar, cast

import msgspec
from litestar import Litestar, Response
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Example,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)
from litestar.params import BodyKwarg
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition
from litestar.utils import get_enum_string_value
from litestar.utils.predicates import is_class_and_subclass

from accelerator.auth.guards import PUBLIC_PATHS, RoleGuard
from accelerator.infra.bodies import is_json
from accelerator.infra.errors import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from accelerator.infra.openapi import RawBody, declared
from schemas import FieldProblem, Problem, Role

_PUBLIC = [re.compile(pattern) for pattern in PUBLIC_PATHS]
# Parameters Litestar fills from the connection itself, never from the client's input.
_RESERVED = frozenset({"request", "data", "state", "scope", "headers", "cookies", "query", "body"})

#: The title each problem code answers with (``accelerator.errors`` and the services raise
#: them; ``<what>_not_found`` codes are titled by :class:`accelerator.errors.NotFound`).
TITLES: Mapping[str, str] = {
    "malformed_json": "The body is not valid JSON",
    "json_too_deep": "The body is nested too deeply",
    "unauthenticated": "Authentication required",
    "forbidden": "Not allowed",
    "not_found": "Not found",
    "payload_too_large": "The body is too large",
    "unsupported_media_type": "The body must be JSON",
    "malformed_multipart": "The form could not be read",
    "validation_error": "The request is not valid",
    "invalid_text": "The request contains text that cannot be stored",
    "profile_required": "The seller needs a risk profile first",
    "request_already_bound": "This quote request is already bound",
    "bind_in_progress": "A bind with this key is in progress",
    "offer_expired": "The offer has expired",
    "offer_indicative": "The offer is indicative only",
    "cover_start_passed": "The cover would already have started",
    "insurer_unavailable": "The insurer is no longer configured",
    "bind_refused": "The insurer refused to bind",
    "idempotency_key_reused": "Idempotency-Key reused with a different request",
    "gaps_not_acknowledged": "The offer does not meet the marketplace's requirements",
    "insurer_bind_failed": "The insurer did not confirm the bind",
    "policy_already_registered": "This policy is already in the registry",
    "policy_bound_here": "A policy bound here keeps its insurer",
    "delivery_in_progress": "Delivery in progress",
    "delivery_purged": "Delivery purged",
    "bad_webhook_headers": "Webhook headers missing or malformed",
    "bad_webhook_signature": "Webhook signature not valid",
    "certificate_unavailable": "The policy has no certificate yet",
    "file_required": "No certificate was attached",
    "empty_file": "The certificate is empty",
    "not_a_pdf": "The certificate could not be read",
    "encrypted_pdf": "The certificate could not be read",
    "unreadable_pdf": "The certificate could not be read",
    "no_text": "The certificate could not be read",
    "no_certificate_fields": "The certificate could not be read",
}

_STATUS_MEANING = {
    400: "The request is malformed",
    401: "No valid credentials",
    403: "The caller's role or seller may not do this",
    404: "Not found",
    409: "The request conflicts with the current state",
    413: "The body is over this operation's size limit",
    415: "The body is not JSON",
    422: "The request is well-formed but not valid",
    502: "An insurer failed to answer",
}


_WHOLE_BODY = FieldProblem("body", "invalid", "Expected `object`, got `array`")


@dataclass(frozen=True)
class Contract:
    """What an operation's document promises, as :func:`document_operations` found it."""

    public: bool
    problems: Mapping[int, tuple[str, ...]]
    #: Statuses the handler documents itself (``responses=`` in its decorator).
    own_statuses: frozenset[int] = frozenset()
    roles: frozenset[Role] | None = None
    #: The input a ``validation_error`` example names (a required body field, or a parameter).
    example_field: FieldProblem = _WHOLE_BODY
    request_example: Any = None
    #: The handler's body has a default: it may be left out.
    body_optional: bool = False
    response_examples: Mapping[int, Any] = field(default_factory=dict)
    raw_body: RawBody | None = None


def document_operations(app: Litestar) -> None:
    """Give every operation of ``app``'s document its problems, examples and raw bodies."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            contract = contract_of(route, handler)
            handler.responses = {
                **{status: _problem_spec(status) for status in contract.problems},
                **(handler.responses or {}),
            }
            handler.operation_class = cast(
                "type[Operation]",
                type("ContractOperation", (ContractOperation,), {"contract": contract}),
            )


def contract_of(route: HTTPRoute, handler: HTTPRouteHandler) -> Contract:
    """The problems ``handler`` can answer with on ``route``: inferred, then declared."""
    declaration = declared(handler.opt)
    public = any(pattern.match(route.path) for pattern in _PUBLIC)
    parameters = handler.parsed_fn_signature.parameters
    body = parameters.get("data")
    json_body = body is not None and _is_json_body(body)
    inputs = [
        definition
        for name, definition in parameters.items()
        if name not in _RESERVED and name not in handler.resolve_dependencies()
    ]
    guards = [g for g in handler.resolve_guards() if isinstance(g, RoleGuard)]
    roles = frozenset.intersection(*(g.roles for g in guards)) if guards else None

    problems: dict[int, list[str]] = {}

    def add(status: int, codes: Iterable[str]) -> None:
        listed = problems.setdefault(status, [])
        listed.extend(code for code in codes if code not in listed)

    if json_body:
        add(400, ["malformed_json", "json_too_deep"])
    if not public:
        add(401, ["unauthenticated"])
    if roles is not None and roles != frozenset(Role):
        add(403, ["forbidden"])
    if route.path_parameters:
        add(404, ["not_found"])
    if json_body or declaration.raw_body is not None:
        add(413, ["payload_too_large"])
    if json_body:
        add(415, ["unsupported_media_type"])
    if json_body or inputs:
        add(422, ["validation_error"])
    if json_body or any(_is_text(definition) for definition in inputs):
        add(422, ["invalid_text"])
    for status, codes in declaration.problems.items():
        add(status, codes)

    return Contract(
        public=public,
        problems={status: tuple(problems[status]) for status in sorted(problems)},
        own_statuses=frozenset(handler.responses or {}),
        roles=roles,
        example_field=_example_field(body if json_body else None, inputs),
        body_optional=body is not None and body.has_default,
        request_example=example_of(body) if json_body and body is not None else None,
        response_examples=_response_examples(handler, declaration.example),
        raw_body=declaration.raw_body,
    )


def _example_field(body: FieldDefinition | None, inputs: list[FieldDefinition]) -> FieldProblem:
    for member in _members(body) if body is not None else []:
        if is_class_and_subclass(member.annotation, msgspec.Struct):
            required = [f.name for f in msgspec.structs.fields(member.annotation) if f.required]
            if required:
                message = f"Object missing required field `{required[0]}`"
                return FieldProblem(required[0], "invalid", message)
    if inputs:
        return FieldProblem(inputs[0].name, "invalid", "Expected a valid value")
    return _WHOLE_BODY


def _is_json_body(body: FieldDefinition) -> bool:
    kwarg = body.kwarg_definition
    media_type = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
    return is_json(get_enum_string_value(media_type))


def _is_text(definition: FieldDefinition) -> bool:
    """Free text (an enum's values are checked before anything is looked up)."""
    return any(inner.is_subclass_of(str) and not inner.is_enum for inner in _members(definition))


def _members(definition: FieldDefinition) -> list[FieldDefinition]:
    """The types a value may have (an optional or union's members, else itself)."""
    if definition.is_union:
        return [inner for inner in definition.inner_types if not inner.is_none_type]
    return [definition]


def _response_examples(handler: HTTPRouteHandler, named: str | None) -> dict[int, Any]:
    returned = handler.parsed_fn_signature.return_type
    if returned.is_subclass_of(Response) and returned.inner_types:
        returned = returned.inner_types[0]
    examples = {handler.status_code: body_examples()[named] if named else example_of(returned)}
    for status, spec in (handler.responses or {}).items():
        if status < 400 and spec.data_container is not None:
            examples[status] = example_of(FieldDefinition.from_annotation(spec.data_container))
    return {status: value for status, value in examples.items() if value is not None}


def example_of(definition: FieldDefinition) -> Any:
    """An example of a body of this type from ``examples/`` (a list of one for a list; the
    first member that has one for a union), or None."""
    if definition.is_union:
        members = (example_of(inner) for inner in _members(definition))
        return next((value for value in members if value is not None), None)
    if definition.is_non_string_sequence and definition.inner_types:
        item = example_of(definition.inner_types[0])
        return None if item is None else [item]
    name = getattr(definition.annotation, "__name__", "")
    return body_examples().get(name)


@cache
def body_examples() -> dict[str, Any]:
    """The body examples of ``accelerator/server/examples``, by the name of their type (or,
    for the example one operation names, ``<Type>.<case>``)."""
    folder = resources.files("accelerator.server").joinpath("examples")
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def _problem_spec(status: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        description=_STATUS_MEANING.get(status, "A problem"),
        generate_examples=False,
    )


def problem_example(status: int, code: str, field: FieldProblem = _WHOLE_BODY) -> dict[str, Any]:
    """A problem document as the service answers it with ``code`` (naming ``field`` for a
    validation error)."""
    title = TITLES.get(code) or code.replace("_", " ").capitalize()
    example = Problem(
        type=PROBLEM_BASE + code.replace("_", "-"),
        title=title,
        status=status,
        code=code,
        request_id="5f0c8e2a9b1d4c7e",
        detail=f"Invalid field(s): {field.field}" if code == "validation_error" else None,
        errors=[field] if code == "validation_error" else None,
    )
    return cast("dict[str, Any]", msgspec.to_builtins(example))


@dataclass
class ContractOperation(Operation):
    """An operation finished from its :class:`Contract` (one subclass per handler carries it:
    Litestar builds operations from the handler's ``operation_class`` alone)."""

    contract: ClassVar[Contract]

    def __post_init__(self) -> None:
        contract = type(self).contract
        if contract.public:
            self.security = []  # overrides the document's default: no API key
        responses = {
            int(status): response
            for status, response in (self.responses or {}).items()
            if isinstance(response, OpenAPIResponse)
        }
        documented = {*contract.problems, *contract.own_statuses}
        for status in [s for s in responses if s >= 400 and s not in documented]:
            del responses[status]  # Litestar's JSON 400, which we never send
        for status, codes in contract.problems.items():
            _pin_codes(responses[status], status, codes, contract.example_field)
        for status, example in contract.response_examples.items():
            if status in responses:
                _add_example(responses[status].content, example)
        self.responses = {str(status): responses[status] for status in sorted(responses)}
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = not contract.body_optional
            if contract.request_example is not None:
                _add_example(self.request_body.content, contract.request_example)
        if contract.raw_body is not None:
            self._document_raw_body(contract.raw_body)
        if contract.roles is not None:
            who = ", ".join(sorted(role.value for role in contract.roles))
            self.description = f"{self.description or ''}\n\nRoles: {who}.".strip()

    def _document_raw_body(self, raw: RawBody) -> None:
        self.request_body = RequestBody(
            description=raw.description,
            required=True,
            content={
                media_type: OpenAPIMediaType(
                    # Any JSON for a JSON type (each insurer has its own); text otherwise.
                    schema=_raw_schema(media_type, raw),
                    examples={
                        "example": Example(
                            value=json.loads(example) if is_json(media_type) else example
                        )
                    },
                )
                for media_type, example in raw.examples.items()
            },
        )
        self.parameters = [
            *(self.parameters or []),
            *(
                Parameter(
                    name=header.name,
                    param_in="header",
                    required=False,
                    description=header.description,
                    schema=Schema(type=OpenAPIType.STRING),
                )
                for header in raw.headers
            ),
        ]


def _raw_schema(media_type: str, raw: RawBody) -> Schema:
    if raw.file_field is not None and media_type == "multipart/form-data":
        return Schema(
            type=OpenAPIType.OBJECT,
            required=[raw.file_field],
            properties={
                raw.file_field: Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            },
        )
    return Schema() if is_json(media_type) else Schema(type=OpenAPIType.STRING)


def _pin_codes(
    response: OpenAPIResponse, status: int, codes: tuple[str, ...], field: FieldProblem
) -> None:
    media = (response.content or {})[PROBLEM_MEDIA_TYPE]
    assert media.schema is not None
    media.schema = Schema(
        all_of=[media.schema, Schema(properties={"code": Schema(enum=list(codes))})]
    )
    media.examples = {
        code: Example(summary=TITLES.get(code), value=problem_example(status, code, field))
        for code in codes
    }
    response.description = f"{response.description}: `code` is " + ", ".join(
        f"`{code}`" for code in codes
    )


def _add_example(content: dict[str, OpenAPIMediaType] | None, value: Any) -> None:
    for media in (content or {}).values():
        media.examples = {"example": Example(value=value)}


__all__ = [
    "TITLES",
    "Contract",
    "ContractOperation",
    "contract_of",
    "document_operations",
    "example_of",
    "problem_example",
]
