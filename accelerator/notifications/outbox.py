"""The transactional outbox: :func:`emit` is how any part of the service announces an event.

Call it in the transaction that records the fact, with that transaction's session: the event's
messages commit with the fact or not at all (no fact without its event, no event without its
fact). The delivery worker (``notifications.worker``) sends them afterwards.

It writes one message per enabled endpoint subscribed to the event's type and scope (all
sellers, the event's seller, or the event's marketplace), nothing when none is. It is cheap on a
hot path: the enabled endpoints are read once per transaction (one indexed query; a transaction
that emits many events reads them once), the event is encoded only if some endpoint wants it, and
the seller's marketplace is looked up only if a marketplace-scoped endpoint could want it.

Adding a producer: build the event (``schemas`` has one type per ``NotificationType``; ids from
:func:`new_event_id`, timestamps from the caller's clock) and ``await emit(session, event,
seller_id=...)`` next to the write of the fact. ``notifications.events`` builds the registry's.

A process that runs its own delivery worker registers it with :func:`wake_on_emit`: once a
transaction that wrote messages through :func:`emit` commits, the worker looks at once rather
than at its next poll (messages written on a driver connection, :func:`emit_on_driver`, wait for
the poll).
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy import event as sqlalchemy_events
from sqlalchemy.orm import Session

from accelerator.infra.codec import stored_instant
from accelerator.infra.database import Database, WriteSession
from accelerator.infra.statements import Statement
from accelerator.notifications.models import EndpointRow, MessageRow
from accelerator.sellers.models import Seller
from schemas import MessageStatus, Notification, notification_type

_ENDPOINTS_KEY = "notifications.endpoints"
_EMITTED_KEY = "notifications.emitted"
# The wakers of each database's in-process workers, by its (sync) write engine: weakly, so a
# closed service's database takes its entries with it.
_WAKERS: weakref.WeakKeyDictionary[Engine, list[Callable[[], None]]] = weakref.WeakKeyDictionary()


def wake_on_emit(db: Database, wake: Callable[[], None]) -> None:
    """Call ``wake`` after each commit on ``db`` of a transaction that emitted a message."""
    _WAKERS.setdefault(db.write_engine.sync_engine, []).append(wake)


@sqlalchemy_events.listens_for(Session, "after_commit")
def _emitted_committed(session: Session) -> None:
    if session.info.pop(_EMITTED_KEY, False) and isinstance(session.bind, Engine):
        for wake in _WAKERS.get(session.bind, ()):
            wake()


@sqlalchemy_events.listens_for(Session, "after_rollback")
def _emitted_rolled_back(session: Session) -> None:
    session.info.pop(_EMITTED_KEY, None)


def new_event_id() -> str:
    """A new event id: ``evt_`` and 32 hex digits (a UUID4)."""
    return f"evt_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class Subscription:
    """What emit() needs of an enabled endpoint to route an event to it."""

    endpoint_id: str
    event_types: frozenset[str]
    seller_id: str | None
    marketplace: str | None

    def wants(self, event_type: str, seller_id: str | None) -> bool:
        """Whether it wants this type of event about this seller, whatever the marketplace."""
        if self.event_types and event_type not in self.event_types:
            return False
        return self.seller_id is None or self.seller_id == seller_id

    def covers(self, marketplace: str | None) -> bool:
        return self.marketplace is None or self.marketplace == marketplace


async def subscriptions(session: WriteSession) -> list[Subscription]:
    """The enabled endpoints, read once per transaction (the session's)."""
    cached: list[Subscription] | None = session.info.get(_ENDPOINTS_KEY)
    if cached is None:
        rows = await session.execute(
            select(
                EndpointRow.id,
                EndpointRow.event_types,
                EndpointRow.seller_id,
                EndpointRow.marketplace,
            ).where(EndpointRow.enabled.is_(True))
        )
        cached = [
            Subscription(endpoint_id, frozenset(types or ()), seller_id, marketplace)
            for endpoint_id, types, seller_id, marketplace in rows.all()
        ]
        session.info[_ENDPOINTS_KEY] = cached
    return cached


def forget_subscriptions(session: WriteSession) -> None:
    """Read the endpoints again at the next emit (the caller changed them in this session)."""
    session.info.pop(_ENDPOINTS_KEY, None)


async def emit(
    session: WriteSession,
    event: Notification,
    *,
    seller_id: str | None,
    marketplace: str | None = None,
) -> int:
    """Write ``event``'s messages, one per enabled endpoint that wants it, in the caller's
    transaction; how many. ``seller_id`` (and ``marketplace``, looked up from the seller if not
    given and needed) is what the event is about, matched against each endpoint's scope."""
    event_type = notification_type(event).value
    candidates = [s for s in await subscriptions(session) if s.wants(event_type, seller_id)]
    if not candidates:
        return 0
    if any(s.marketplace is not None for s in candidates):
        if marketplace is None and seller_id is not None:
            seller = await session.get(Seller, seller_id)
            marketplace = seller.marketplace if seller is not None else None
        candidates = [s for s in candidates if s.covers(marketplace)]
        if not candidates:
            return 0
    body = msgspec.json.encode(event)
    now: datetime = event.timestamp
    session.add_all(
        MessageRow(
            endpoint_id=subscription.endpoint_id,
            event_id=event.id,
            event_type=event_type,
            body=body,
            status=MessageStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for subscription in candidates
    )
    session.info[_EMITTED_KEY] = True
    return len(candidates)


# --- the same on a plain driver connection (the hot paths' writes, infra.driver_writes) ------

_SUBSCRIPTIONS = Statement(
    "notification_subscriptions",
    select(
        EndpointRow.id, EndpointRow.event_types, EndpointRow.seller_id, EndpointRow.marketplace
    ).where(EndpointRow.enabled.is_(True)),
)
_ADD_MESSAGE = Statement(
    "add_notification_message",
    insert(MessageRow).values(
        endpoint_id=bindparam("endpoint_id"),
        event_id=bindparam("event_id"),
        event_type=bindparam("event_type"),
        body=bindparam("body"),
        status=bindparam("status"),
        attempts=0,
        next_attempt_at=bindparam("created_at", type_=MessageRow.created_at.type),
        created_at=bindparam("created_at", type_=MessageRow.created_at.type),
    ),
)


async def driver_subscriptions(driver: Any, *, sqlite: bool) -> list[Subscription]:
    """:func:`subscriptions` on a driver connection (asyncpg's or aiosqlite's), in its
    transaction."""
    compiled = _SUBSCRIPTIONS.compiled("sqlite" if sqlite else "postgresql")
    if sqlite:
        rows = list(await driver.execute_fetchall(compiled.sql, compiled.args({})))
    else:
        rows = list(await driver.fetch(compiled.sql, *compiled.args({})))
    return [
        Subscription(
            endpoint_id,
            frozenset(msgspec.json.decode(types) if isinstance(types, str | bytes) else types),
            seller_id,
            marketplace,
        )
        for endpoint_id, types, seller_id, marketplace in rows
    ]


_ENDPOINTS = "SELECT 1 FROM notification_endpoints AS n WHERE"


def may_be_wanted_sql(event_type: str, *, sqlite: bool) -> str:
    """An SQL condition, true when an enabled endpoint's types may take ``event_type`` (it lists
    it, lists none, or holds anything but a list), for a hot write to make its own condition:
    write the fact here only when no endpoint wants its event, so that the common case (none
    does) needs no read of the endpoints first, and any endpoint committed before the write
    is seen by it. It ignores the endpoints' seller and marketplace scope: true means "read
    the subscriptions (:func:`driver_subscriptions`) and route the event", not that a message
    is due. ``event_type`` is one of ours (a ``NotificationType`` value), written into the SQL."""
    if not event_type.replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"not an event type: {event_type!r}")
    # CASE, not OR: PostgreSQL may evaluate OR's operands in any order, and json_array_length
    # fails on anything but an array.
    if sqlite:
        listed = "SELECT 1 FROM json_each(n.event_types) AS t WHERE t.value"
        takes = f"json_array_length(n.event_types) = 0 OR EXISTS ({listed} = '{event_type}')"
        # "= 1", for SQLite to look the enabled ones up by their index (a bare column is
        # not a term an index serves).
        enabled, types, otherwise = "n.enabled = 1", "json_type(n.event_types)", "1"
    else:
        listed = f"CAST('[\"{event_type}\"]' AS jsonb)"
        takes = f"json_array_length(n.event_types) = 0 OR CAST(n.event_types AS jsonb) @> {listed}"
        enabled, types, otherwise = "n.enabled", "json_typeof(n.event_types)", "true"
    wants = f"CASE WHEN {types} = 'array' THEN {takes} ELSE {otherwise} END"
    return f"EXISTS ({_ENDPOINTS} {enabled} AND {wants})"


async def emit_on_driver(
    driver: Any,
    events: Sequence[tuple[Notification, str | None, str | None]],
    subscribed: Sequence[Subscription],
    *,
    sqlite: bool,
) -> int:
    """:func:`emit` for a path that writes on a driver connection: each of ``events`` (with the
    seller and marketplace it is about) to the ``subscribed`` endpoints that want it, in the
    connection's transaction; how many messages."""
    rows: list[tuple[Any, ...]] = []
    compiled = _ADD_MESSAGE.compiled("sqlite" if sqlite else "postgresql")
    for event, seller_id, marketplace in events:
        event_type = notification_type(event).value
        wanting = [
            s for s in subscribed if s.wants(event_type, seller_id) and s.covers(marketplace)
        ]
        if not wanting:
            continue
        body = msgspec.json.encode(event)
        created_at = stored_instant(event.timestamp, sqlite=sqlite)
        rows += [
            compiled.args(
                {
                    "endpoint_id": s.endpoint_id,
                    "event_id": event.id,
                    "event_type": event_type,
                    "body": body,
                    "status": MessageStatus.PENDING.value,
                    "created_at": created_at,
                }
            )
            for s in wanting
        ]
    if rows:
        await driver.executemany(compiled.sql, rows)
    return len(rows)


__all__ = [
    "Subscription",
    "driver_subscriptions",
    "emit",
    "emit_on_driver",
    "forget_subscriptions",
    "may_be_wanted_sql",
    "new_event_id",
    "subscriptions",
    "wake_on_emit",
]
