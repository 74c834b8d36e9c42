"""Request bodies: JSON only where JSON is expected, decoded strictly, bounded in size and
nesting.

Litestar parses a handler's ``JSONBody`` whatever the request's ``Content-Type`` says, then
converts it to the handler's type leniently (``"2"`` passes for 2, ``0`` for 1970-01-01), and
msgspec answers a deeply nested document with a ``RecursionError``. :class:`ApiRequest` (the
app's request class) reads a JSON body so that what the OpenAPI document says is what is
accepted, and every way a body can be wrong is a problem document:

- not sent as JSON (``application/json`` or a ``+json`` type): 415 ``unsupported_media_type``
  naming the media type that was sent (without reading a body whose length is announced).
  A body sent without any ``Content-Type`` is refused too (RFC 9110 lets a server treat it as
  ``application/octet-stream``): ``curl -d`` sends ``application/x-www-form-urlencoded``, and
  guessing would let a form post pass as JSON. An empty body needs no media type;
- larger than the operation's limit: 413 ``payload_too_large`` (Litestar's
  ``request_max_body_size``, checked against ``Content-Length`` and again while reading);
- not JSON: 400 ``malformed_json``;
- nested deeper than the decoder's recursion limit: 400 ``json_too_deep``. msgspec guards its
  recursion with the interpreter's limit and raises ``RecursionError`` past it (at about 900
  levels on the event loop's thread; no body of this API nests more than ten);
- not of the handler's type: 422 ``validation_error`` naming the field. The body is decoded
  straight into that type, strictly (one decoder per type, built once), so a value of the
  wrong JSON type is refused as the document says; the handler gets the decoded value.

Forms (the seller pages) and raw bodies (insurer webhooks) are read by other methods and are
not affected.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
from litestar import Request
from litestar.handlers import HTTPRouteHandler

from accelerator.infra.errors import ApiProblem, decode_error_field, invalid_input
from schemas import FieldProblem

#: The body limit of the JSON API (the app's ``request_max_body_size``): a seller's facts with
#: ten years of monthly sales take about 20 kB.
JSON_BODY_MAX_BYTES = 1_000_000
#: ``POST /v1/coverage/checks/batch``: 1,000 checks of up to 3 kB each, more than the longest
#: a check can be (a 200-character category path written as ``\u`` escapes, a 64-character
#: seller id, the rest at full length, pretty-printed: about 1.7 kB).
BATCH_BODY_MAX_BYTES = 3_000_000


def is_json(media_type: str) -> bool:
    """``application/json`` or a structured-syntax ``+json`` type (RFC 6839)."""
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def unsupported_media_type(media_type: str) -> ApiProblem:
    sent = f"it was sent as {media_type}" if media_type else "it was sent without a Content-Type"
    return ApiProblem(
        415,
        "unsupported_media_type",
        "The body must be JSON",
        f"Send the body as application/json; {sent}.",
    )


class ApiRequest(Request[Any, Any, Any]):
    """The app's request class: :meth:`json` refuses what is not JSON, too large, too deep or
    not of the handler's type."""

    async def json(self) -> Any:
        media_type, _ = self.content_type
        if not is_json(media_type) and await self._has_body():
            raise unsupported_media_type(media_type)
        body = await self.body()
        kind = body_type(self.route_handler)
        try:
            # An empty body is no body: null, which an optional body accepts.
            return _decode(kind, body or b"null")
        except msgspec.ValidationError as exc:
            field, message = decode_error_field(str(exc))
            raise invalid_input([FieldProblem(field, "invalid", message)]) from exc
        except msgspec.DecodeError as exc:
            raise ApiProblem(
                400, "malformed_json", "The body is not valid JSON", str(exc) or None
            ) from exc
        except RecursionError as exc:
            raise ApiProblem(
                400,
                "json_too_deep",
                "The body is nested too deeply",
                "JSON nested this deeply cannot be decoded; no body of this API nests more "
                "than ten levels.",
            ) from exc

    async def _has_body(self) -> bool:
        length = self.headers.get("content-length", "").strip()
        if length.isdigit():
            return int(length) > 0
        return bool(await self.body())  # chunked: read it (within the size limit) to know


def _decode(kind: Any, body: bytes) -> Any:
    try:
        return _decoder(kind).decode(body)
    except msgspec.ValidationError as exc:
        if not str(exc).startswith("Expected `int`, got `float`"):
            raise
    # JSON (and the JSON Schema of the document) has numbers, not ints and floats: 30.0 is an
    # integer there, and strict msgspec refuses it for an int. Only then, decode again with
    # integral numbers as ints and everything else as strict as before.
    return msgspec.convert(_integral_as_int(msgspec.json.decode(body)), kind, strict=True)


def _integral_as_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_as_int(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_as_int(item) for key, item in value.items()}
    return value


def body_type(handler: HTTPRouteHandler) -> Any:
    """The type of a handler's ``data`` (``Any`` for one without)."""
    data = handler.parsed_fn_signature.parameters.get("data")
    return Any if data is None else data.annotation


@cache
def _decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(kind, strict=True)


__all__ = [
    "BATCH_BODY_MAX_BYTES",
    "JSON_BODY_MAX_BYTES",
    "ApiRequest",
    "body_type",
    "is_json",
    "unsupported_media_type",
]
