"""The coverage check's read path: no ORM unit of work, and for the check itself not even
SQLAlchemy's execution layer.

A check costs one statement whatever the registry's size (:func:`sellers_with_events`): the
sellers' legal names by primary key, joined to every event of their policies found through
``ix_policy_events_seller_recorded``. It runs on the driver's own connections
(``accelerator.infra.lookups``): through SQLAlchemy Core the same statement cost three times the
CPU, which kept single checks at a fifth of a bare driver lookup (docs/performance.md). Other
readers of the registry use the Core queries below.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import ARRAY, ColumnElement, String, any_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from accelerator.coverage.models import PolicyEventRow, PolicyRow
from accelerator.coverage.state import EVENT_KINDS, EventKind, PolicyEvent
from accelerator.infra.codec import instant
from accelerator.infra.lookups import Lookups
from accelerator.infra.statements import DialectName, Statement
from accelerator.sellers.models import Seller
from schemas import PolicyTerms

_EVENTS = select(
    PolicyEventRow.seller_id,
    PolicyEventRow.policy_id,
    PolicyRow.source,
    PolicyEventRow.event_id,
    PolicyEventRow.kind,
    PolicyEventRow.effective_at,
    PolicyEventRow.recorded_at,
    PolicyEventRow.data,
).join(PolicyRow, PolicyRow.id == PolicyEventRow.policy_id)


class _EventData(msgspec.Struct, frozen=True):
    """What an event's ``data`` column holds beside the columns (see :class:`PolicyEvent`)."""

    terms: PolicyTerms | None = None
    expires_at: datetime | None = None
    reason: str = ""


_NO_DATA = _EventData()
# Typed straight from the column's JSON text: decoding into dicts and then converting them
# cost a batch check a quarter of its CPU (docs/performance.md).
_DATA_DECODER = msgspec.json.Decoder(_EventData)


def decode_event(
    event_id: str, kind: str, effective_at: datetime, recorded_at: datetime, data: str | None
) -> PolicyEvent:
    """An event from its stored columns, ``data`` as the driver hands over the JSON text."""
    body = _DATA_DECODER.decode(data) if data else _NO_DATA
    return _event(event_id, kind, effective_at, recorded_at, body)


def to_event(
    event_id: str, kind: str, effective_at: datetime, recorded_at: datetime, data: dict[str, Any]
) -> PolicyEvent:
    """An event from its stored columns, ``data`` as SQLAlchemy's JSON type decoded it."""
    body = msgspec.convert(data, _EventData) if data else _NO_DATA
    return _event(event_id, kind, effective_at, recorded_at, body)


def _event(
    event_id: str, kind: str, effective_at: datetime, recorded_at: datetime, body: _EventData
) -> PolicyEvent:
    if kind not in EVENT_KINDS:
        raise ValueError(f"event {event_id}: unknown kind {kind!r}")
    return PolicyEvent(
        event_id=event_id,
        kind=cast(EventKind, kind),
        effective_at=effective_at,
        recorded_at=recorded_at,
        terms=body.terms,
        expires_at=body.expires_at,
        reason=body.reason,
    )


# policy id -> (source, events)
SellerPolicies = dict[str, tuple[str, list[PolicyEvent]]]


async def events_by_seller(
    connection: AsyncConnection, seller_ids: Collection[str], known_at: datetime | None = None
) -> dict[str, SellerPolicies]:
    """Every policy event of these sellers (recorded by ``known_at`` if given)."""
    query = _EVENTS.where(_matching(PolicyEventRow.seller_id, seller_ids))
    if known_at is not None:
        query = query.where(PolicyEventRow.recorded_at <= known_at)
    found: dict[str, SellerPolicies] = defaultdict(dict)
    for row in await connection.execute(query):
        policies = found[row.seller_id]
        _, events = policies.setdefault(row.policy_id, (row.source, []))
        events.append(to_event(row.event_id, row.kind, row.effective_at, row.recorded_at, row.data))
    return found


def _matching(column: InstrumentedAttribute[str], values: Collection[str]) -> ColumnElement[bool]:
    # An expanding IN is recompiled for every call; the single-seller case does not need it.
    if len(values) == 1:
        return column == next(iter(values))
    return column.in_(list(values))


def _sellers_with_events(dialect: DialectName) -> Any:
    # The seller ids are one parameter however many: a PostgreSQL array, or JSON text that
    # SQLite reads with json_each (an expanding IN would be compiled again for every count).
    if dialect == "postgresql":
        wanted = Seller.id == any_(bindparam("seller_ids", type_=ARRAY(String)))
    else:
        ids = func.json_each(bindparam("seller_ids", type_=String)).table_valued("value")
        wanted = Seller.id.in_(select(ids.c.value))
    return (
        select(
            Seller.id,
            Seller.legal_name,
            PolicyEventRow.policy_id,
            PolicyRow.source,
            PolicyEventRow.event_id,
            PolicyEventRow.kind,
            PolicyEventRow.effective_at,
            PolicyEventRow.recorded_at,
            PolicyEventRow.data,
        )
        .outerjoin(PolicyEventRow, PolicyEventRow.seller_id == Seller.id)
        .outerjoin(PolicyRow, PolicyRow.id == PolicyEventRow.policy_id)
        .where(wanted)
    )


SELLERS_WITH_EVENTS = Statement("sellers_with_events", _sellers_with_events)


async def sellers_with_events(
    lookups: Lookups, seller_ids: Collection[str]
) -> tuple[dict[str, SellerPolicies], dict[str, str]]:
    """Every policy event of these sellers and their legal names, in one round trip."""
    found: dict[str, SellerPolicies] = defaultdict(dict)
    names: dict[str, str] = {}
    rows = await lookups.fetch(SELLERS_WITH_EVENTS, seller_ids=list(seller_ids))
    for seller_id, legal_name, policy_id, source, event_id, kind, effective, recorded, data in rows:
        names[seller_id] = legal_name
        if policy_id is None:
            continue  # a seller without policies
        policies = found[seller_id]
        _, events = policies.setdefault(policy_id, (source, []))
        events.append(decode_event(event_id, kind, instant(effective), instant(recorded), data))
    return found, names


async def legal_names(connection: AsyncConnection, seller_ids: Collection[str]) -> dict[str, str]:
    rows = await connection.execute(
        select(Seller.id, Seller.legal_name).where(Seller.id.in_(list(seller_ids)))
    )
    return {row.id: row.legal_name for row in rows}
