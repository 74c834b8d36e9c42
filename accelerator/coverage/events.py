"""A policy event from its stored columns: the registry's one codec for ``policy_events`` rows.

Two readers hand over the ``data`` column differently: the driver (the coverage check's plain
statement) as JSON text, SQLAlchemy's JSON type as a dict. Both decode into the same
:class:`~accelerator.coverage.state.PolicyEvent`; a test holds them to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from accelerator.coverage.state import EVENT_KINDS, PolicyEvent
from accelerator.coverage.trusted import TrustedReader
from schemas import PolicyTerms, reading_stored


class _EventData(msgspec.Struct, frozen=True):
    """What an event's ``data`` column holds beside the columns (see :class:`PolicyEvent`)."""

    terms: PolicyTerms | None = None
    expires_at: datetime | None = None
    reason: str = ""
    occurred_at: datetime | None = None
    sequence: int | None = None


_NO_DATA = _EventData()
# Typed straight from the column's JSON text (decoding into dicts and then converting them does
# the work twice), into the unconstrained twin: a batch check decodes every event of every
# seller it names, and the terms' constraints were checked when they were recorded.
_DATA_READER = TrustedReader(_EventData)
_TERMS_READER: TrustedReader[PolicyTerms] = _DATA_READER.field_reader("terms")


def decode_event(
    event_id: str, kind: str, effective_at: datetime, recorded_at: datetime, data: str | None
) -> PolicyEvent:
    """An event from its stored columns, ``data`` as the driver hands over the JSON text: the
    same event as :func:`to_event`'s, without checking the terms' constraints again (see
    :mod:`accelerator.coverage.trusted`). Call it inside ``schemas.reading_stored()`` (once for
    a whole read: a check decodes many), so that terms recorded before a bound existed stay
    readable."""
    if not data:
        return _event(event_id, kind, effective_at, recorded_at, _NO_DATA)
    body = _DATA_READER.decode_twin(data)
    terms = body.terms
    return _event(
        event_id,
        kind,
        effective_at,
        recorded_at,
        body,
        None if terms is None else _TERMS_READER.rebuild(terms),
    )


def to_event(
    event_id: str, kind: str, effective_at: datetime, recorded_at: datetime, data: dict[str, Any]
) -> PolicyEvent:
    """An event from its stored columns, ``data`` as SQLAlchemy's JSON type decoded it (as it
    was recorded, like :func:`decode_event`)."""
    if not data:
        return _event(event_id, kind, effective_at, recorded_at, _NO_DATA)
    with reading_stored():
        body = msgspec.convert(data, _EventData)
    return _event(event_id, kind, effective_at, recorded_at, body, body.terms)


def _event(
    event_id: str,
    kind: str,
    effective_at: datetime,
    recorded_at: datetime,
    body: Any,
    terms: PolicyTerms | None = None,
) -> PolicyEvent:
    """``body``: the event's data, as :class:`_EventData` or its twin (the same fields)."""
    known = EVENT_KINDS.get(kind)
    if known is None:
        raise ValueError(f"event {event_id}: unknown kind {kind!r}")
    return PolicyEvent(
        event_id=event_id,
        kind=known,
        effective_at=effective_at,
        recorded_at=recorded_at,
        terms=terms,
        expires_at=body.expires_at,
        reason=body.reason,
        occurred_at=body.occurred_at,
        sequence=body.sequence,
    )
