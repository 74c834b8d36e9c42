"""Each seller's policy events, and each seller's decision receipts, form a hash chain.

A row stores its place in its chain (``chain_position``, 1, 2, …), the hash of the row before it
(``prev_hash``; :data:`GENESIS` for the first) and its own hash, ``row_hash = SHA-256(prev_hash
"\\n" content)`` over its canonical content. Changing any stored value changes the content, so
the row's hash no longer matches; removing or reordering rows breaks the positions or the links.
A verifier needs nothing but the rows (docs/audit.md shows how to check an export by hand).

The canonical content is JSON with sorted keys, no spaces, instants in UTC as RFC 3339 with a
``Z``: the same bytes from either database, whichever driver read the row.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

#: The ``prev_hash`` of the first row of a chain.
GENESIS: Final = "0" * 64


class Chain(enum.StrEnum):
    """The chains a seller has (stored as their value in ``audit_heads.chain``)."""

    EVENTS = "events"
    RECEIPTS = "receipts"


_ENCODER = msgspec.json.Encoder(order="sorted")


def canonical(content: Any) -> bytes:
    """``content`` (builtins, structs, aware datetimes) as canonical JSON."""
    return _ENCODER.encode(content)


def utc(value: datetime) -> datetime:
    """An aware instant in UTC, so that it encodes the same whatever zone it was read in."""
    return value.astimezone(UTC)


def link(prev_hash: str, content: bytes) -> str:
    """The hash of a row whose predecessor's hash is ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + content).hexdigest()


def event_content(
    *,
    event_id: str,
    policy_id: str,
    seller_id: str,
    kind: str,
    effective_at: datetime,
    recorded_at: datetime,
    data: dict[str, Any] | None,
) -> bytes:
    """The canonical content of a ``policy_events`` row: every column but the chain's own."""
    return canonical(
        {
            "data": data or {},
            "effective_at": utc(effective_at),
            "event_id": event_id,
            "kind": kind,
            "policy_id": policy_id,
            "recorded_at": utc(recorded_at),
            "seller_id": seller_id,
        }
    )
