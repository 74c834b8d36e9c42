"""A policy event from its stored columns: the registry's one codec for ``policy_events`` rows.

Three readers hand over the columns differently: the coverage check's plain statement as one
JSON document holding every row it read (:func:`decode_registry`), a single row's ``data`` as
JSON text (:func:`decode_event`), SQLAlchemy's JSON type as a dict (:func:`to_event`). All
decode into the same :class:`~accelerator.coverage.state.PolicyEvent`; tests hold them to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

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

#: One row of the coverage check's read (``coverage.repository.SELLERS_WITH_EVENTS``): a seller,
#: its legal name and one event of one of its policies, the event's columns None for a seller
#: without policies. The instants are UTC text the statement wrote with their zone; ``data`` is
#: the stored JSON itself, decoded with everything else into the twin of the event's data.
RegistryRow = msgspec.defstruct(
    "RegistryRow",
    [
        ("seller_id", str),
        ("legal_name", str),
        ("policy_id", str | None),
        ("source", str | None),
        ("event_id", str | None),
        ("kind", str | None),
        ("effective_at", datetime | None),
        ("recorded_at", datetime | None),
        ("data", _DATA_READER.twin | None),
    ],
    array_like=True,
    frozen=True,
    gc=False,  # decoded JSON: a tree, no cycle to collect (see coverage.state's structs)
)
_REGISTRY: Final = msgspec.json.Decoder(list[RegistryRow])  # type: ignore[valid-type]


def decode_registry(text: str | None) -> list[Any]:
    """The rows of the coverage check's read, as :data:`RegistryRow` values, from the one JSON
    array the statement answers (None: no row). One decoding for the whole read, in C, instead
    of a driver row, two instants and a ``data`` column decoded one at a time per event:
    :func:`registry_event` then builds each event."""
    return [] if text is None else _REGISTRY.decode(text)


def registry_event(row: Any) -> PolicyEvent:
    """The event of a :data:`RegistryRow` that holds one (as :func:`decode_event` builds it;
    inside ``schemas.reading_stored()``)."""
    body = row.data
    if body is None:
        return _event(row.event_id, row.kind, row.effective_at, row.recorded_at, _NO_DATA)
    terms = body.terms
    return _event(
        row.event_id,
        row.kind,
        row.effective_at,
        row.recorded_at,
        body,
        None if terms is None else _TERMS_READER.rebuild(terms),
    )


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
