"""Redacted captures of insurer HTTP exchanges, kept with each attempt for admins to read."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from schemas import CapturedMessage

MAX_BODY_CHARS = 16_384
# Headers that carry credentials for any partner; adapters add their own names.
ALWAYS_SECRET = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
REDACTED = "[redacted]"


class AttemptCapture(msgspec.Struct, omit_defaults=True):
    """One attempt of one insurer call: what went out, what came back, what went wrong.

    Stored as JSON with its insurer's outcome; admins read it back as ``schemas.InsurerAttempt``
    (these fields, after the provider id), so the two keep the same fields.
    """

    number: int
    method: str
    url: str
    idempotency_key: str
    started_at: str
    duration_ms: float
    request: CapturedMessage
    response_status: int | None = None
    response: CapturedMessage | None = None
    error: str | None = None
    # Set by the retention purge, which keeps the rest and empties ``request`` and ``response``.
    purged_at: str | None = None


@functools.lru_cache(maxsize=256)
def _secret_names(adapter_names: frozenset[str]) -> frozenset[str]:
    # Once per adapter, not twice per insurer call: each adapter has one set of names.
    return ALWAYS_SECRET | {name.lower() for name in adapter_names}


def redact_headers(
    headers: Iterable[tuple[str, str]], secret_names: frozenset[str]
) -> dict[str, str]:
    secret = _secret_names(secret_names)
    return {name: REDACTED if name.lower() in secret else value for name, value in headers}


def capture_body(body: bytes | None, secrets: Iterable[str] = ()) -> tuple[str, bool]:
    """The body as text, cut to a readable size, with any known secret value blanked out."""
    if not body:
        return "", False
    text = body[:MAX_BODY_CHARS].decode("utf-8", errors="replace")
    for value in secrets:
        if value:
            text = text.replace(value, REDACTED)
    return text, len(body) > MAX_BODY_CHARS


def capture_message(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes | None,
    secret_names: frozenset[str],
    secret_values: Iterable[str] = (),
) -> CapturedMessage:
    items = headers.items() if isinstance(headers, Mapping) else headers
    text, truncated = capture_body(body, secret_values)
    return CapturedMessage(redact_headers(items, secret_names), text, truncated)


def purged_capture(capture: Mapping[str, Any], purged_at: datetime) -> dict[str, Any]:
    """A stored capture as the retention purge leaves it: what was attempted, when, how long
    it took and how it ended, without the headers and bodies of either side."""
    kept = msgspec.convert(capture, AttemptCapture)
    kept.request = CapturedMessage(headers={})
    kept.response = None
    kept.purged_at = purged_at.astimezone(UTC).isoformat()
    purged: dict[str, Any] = msgspec.to_builtins(kept)
    return purged
