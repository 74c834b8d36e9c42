"""The webhook inbox's storage: the only code that reads or writes ``webhook_inbox``.

- The receive path's two statements run on the driver's own connections
  (``infra.driver_writes``): each is committed before it returns, so nothing is acknowledged
  that is not stored, and a receive skips SQLAlchemy's execution layer (docs/architecture.md,
  "Storage").
- The worker's claims take due rows under a lease with one
  ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)``, so two workers never take the same
  row (PostgreSQL; SQLite has one writer anyway). The lease checks and the mark of an applied
  batch run in the caller's :class:`WriteSession`, the transaction that applies the events.
- The admin's reads and requeues go through the ORM, and so do a partner's reads of its own
  deliveries (:meth:`InboxRepository.partner_newest_first`,
  :meth:`InboxRepository.partner_delivery`): every one is filtered by the partner's provider id.
- The retention purge (``audit.retention``) empties the body and headers of deliveries applied
  long ago, in the caller's transaction: :meth:`InboxRepository.bodies_to_purge`,
  :meth:`InboxRepository.purge_bodies`. A purged row keeps its id, partner, ``webhook_id``
  (dedupe goes on working), status and instants; its headers become ``{"purged_at": …}``, a
  key no kept header can have (``webhooks.service`` keeps ``webhook-*``, ``x-*`` and
  ``content-type``). A purged delivery is never made due again: it has nothing to apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import defer

from accelerator.infra.codec import json_text, stored_instant
from accelerator.infra.database import Database, ReadSession, WriteSession
from accelerator.infra.driver_writes import DriverWrites, open_driver_writes
from accelerator.infra.metrics import Backlog
from accelerator.infra.statements import DialectName, Statement
from accelerator.webhooks.models import InboxEvent
from schemas import InboxStatus

#: The statuses of a delivery waiting for its next attempt.
WAITING = (InboxStatus.RECEIVED, InboxStatus.RETRYING, InboxStatus.PARKED)

#: The headers' key that marks a purged delivery (with the instant of the purge).
PURGED_KEY = "purged_at"
_NOT_PURGED = InboxEvent.headers[PURGED_KEY].as_string().is_(None)


def purged_at(row: InboxEvent) -> datetime | None:
    """When the retention purge emptied this delivery, or None if it has its body."""
    marker = row.headers.get(PURGED_KEY) if isinstance(row.headers, dict) else None
    return datetime.fromisoformat(marker) if isinstance(marker, str) else None


def _store(dialect: DialectName) -> Any:
    # A redelivery conflicts on (provider_id, webhook_id) and inserts nothing: no row comes
    # back, and the delivery stored first is looked up instead (no exception on that path).
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    received_at = bindparam("received_at", type_=InboxEvent.received_at.type)
    return (
        insert(InboxEvent)
        .values(
            provider_id=bindparam("provider_id"),
            webhook_id=bindparam("webhook_id"),
            headers=bindparam("headers"),
            body=bindparam("body"),
            status=InboxStatus.RECEIVED.value,
            attempts=0,
            received_at=received_at,
            next_attempt_at=received_at,
        )
        .on_conflict_do_nothing(index_elements=["provider_id", "webhook_id"])
        .returning(InboxEvent.id)
    )


_STORE = Statement("store_delivery", _store)
_STORED_BEFORE = Statement(
    "stored_delivery",
    select(InboxEvent.id, InboxEvent.status).where(
        InboxEvent.provider_id == bindparam("provider_id"),
        InboxEvent.webhook_id == bindparam("webhook_id"),
    ),
)


class InboxRepository:
    """Stored deliveries: storing them, claiming and settling them, and the admin's view."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # The receive path's connections, opened on its first store and closed by close().
        self._writes: DriverWrites = open_driver_writes(
            db.url, tracing=db.tracing, sqlite_pragmas=db.sqlite_pragmas
        )

    async def close(self) -> None:
        await self._writes.close()

    # -- receiving -------------------------------------------------------------------------

    async def store(
        self,
        *,
        provider_id: str,
        webhook_id: str,
        headers: Mapping[str, str],
        body: bytes,
        received_at: datetime,
    ) -> int | None:
        """Store a delivery as ``received``, due at once; committed when this returns. Its id,
        or None if this partner's ``webhook_id`` was stored before (nothing is stored then)."""
        stored = await self._writes.fetch_one(
            _STORE,
            provider_id=provider_id,
            webhook_id=webhook_id,
            headers=json_text(headers),
            body=body,
            received_at=stored_instant(received_at, sqlite=self.db.is_sqlite),
        )
        return None if stored is None else int(stored[0])

    async def stored_before(self, provider_id: str, webhook_id: str) -> tuple[int, InboxStatus]:
        """The id and status of the delivery stored with this ``webhook_id`` (it must exist)."""
        existing = await self._writes.fetch_one(
            _STORED_BEFORE, provider_id=provider_id, webhook_id=webhook_id
        )
        assert existing is not None, "it conflicted, so it exists"
        return existing[0], InboxStatus(existing[1])

    # -- the operator's view ---------------------------------------------------------------

    async def backlog(self) -> Backlog:
        """How many deliveries are in each unfinished status (``failed`` included: given up,
        kept for an operator), and when the oldest still to be applied was received."""
        unfinished = (*WAITING, InboxStatus.PROCESSING, InboxStatus.FAILED)
        query = (
            select(InboxEvent.status, func.count(), func.min(InboxEvent.received_at))
            .where(InboxEvent.status.in_(unfinished))
            .group_by(InboxEvent.status)
        )
        async with self.db.reading() as session:
            rows = (await session.execute(query)).all()
        return Backlog.from_rows("inbox", rows, (*WAITING, InboxStatus.PROCESSING), unfinished)

    # -- the admin's view ------------------------------------------------------------------

    async def get(self, inbox_id: int) -> InboxEvent | None:
        async with self.db.reading() as session:
            return await session.get(InboxEvent, inbox_id)

    async def newest_first(
        self, status: InboxStatus | None, limit: int, offset: int
    ) -> list[InboxEvent]:
        """A page of stored deliveries (of one status, if given), the latest received first."""
        async with self.db.reading() as session:
            query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit).offset(offset)
            if status:
                query = query.where(InboxEvent.status == status)
            return list((await session.scalars(query)).all())

    # -- a partner's view ------------------------------------------------------------------

    async def partner_newest_first(
        self, provider_id: str, status: InboxStatus | None, limit: int, offset: int
    ) -> list[InboxEvent]:
        """A page of one partner's deliveries (of one status, if given), the latest received
        first, without their bodies (a list reads no body: a delivery may hold 256 KiB)."""
        query = (
            select(InboxEvent)
            .options(defer(InboxEvent.body, raiseload=True))
            .where(InboxEvent.provider_id == provider_id)
            .order_by(InboxEvent.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if status:
            query = query.where(InboxEvent.status == status)
        async with self.db.reading() as session:
            return list((await session.scalars(query)).all())

    async def partner_delivery(self, provider_id: str, inbox_id: int) -> InboxEvent | None:
        """The delivery ``inbox_id`` if this partner sent it, body included; else None."""
        async with self.db.reading() as session:
            return await session.scalar(
                select(InboxEvent).where(
                    InboxEvent.id == inbox_id, InboxEvent.provider_id == provider_id
                )
            )

    async def requeue(
        self,
        *,
        now: datetime,
        inbox_id: int | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        status: InboxStatus | None = None,
    ) -> int:
        """Make the matching deliveries due ``now`` with no attempts counted; how many.
        Deliveries a worker holds (``processing``) and purged ones are left alone."""
        query = update(InboxEvent).where(InboxEvent.status != InboxStatus.PROCESSING, _NOT_PURGED)
        if inbox_id is not None:
            query = query.where(InboxEvent.id == inbox_id)
        if received_from is not None:
            query = query.where(InboxEvent.received_at >= received_from)
        if received_to is not None:
            query = query.where(InboxEvent.received_at < received_to)
        if status is not None:
            query = query.where(InboxEvent.status == status)
        async with self.db.writing() as session:
            result = await session.execute(
                query.values(status=InboxStatus.RECEIVED, attempts=0, next_attempt_at=now)
            )
            return _rowcount(result)

    # -- the worker ------------------------------------------------------------------------

    async def claim_due(self, owner: str, lease: timedelta, limit: int, now: datetime) -> list[int]:
        """Take up to ``limit`` deliveries due ``now`` (and any whose lease has expired), oldest
        first, for ``owner`` until ``now + lease``, counting an attempt; their ids, ascending."""
        due = or_(
            and_(InboxEvent.status.in_(WAITING), InboxEvent.next_attempt_at <= now),
            and_(InboxEvent.status == InboxStatus.PROCESSING, InboxEvent.lease_expires_at < now),
        )
        candidates = (
            select(InboxEvent.id)
            .where(due)
            .order_by(InboxEvent.next_attempt_at, InboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer anyway
        )
        async with self.db.writing() as session:
            claimed = await session.scalars(
                update(InboxEvent)
                .where(InboxEvent.id.in_(candidates.scalar_subquery()))
                .values(
                    status=InboxStatus.PROCESSING,
                    lease_owner=owner,
                    lease_expires_at=now + lease,
                    attempts=InboxEvent.attempts + 1,
                )
                .returning(InboxEvent.id)
            )
            return sorted(claimed.all())

    async def claimed(self, inbox_ids: Sequence[int]) -> list[InboxEvent]:
        """The deliveries ``inbox_ids``, in the order of their ids."""
        async with self.db.reading() as session:
            return list(
                await session.scalars(
                    select(InboxEvent).where(InboxEvent.id.in_(inbox_ids)).order_by(InboxEvent.id)
                )
            )

    @staticmethod
    async def hold_leases(session: WriteSession, owner: str, inbox_ids: Sequence[int]) -> bool:
        """In the caller's transaction: lock the rows (PostgreSQL) and tell whether ``owner``
        still holds every one of them, so that it may apply them."""
        held = await session.execute(
            update(InboxEvent)
            .where(
                _among(inbox_ids),
                InboxEvent.lease_owner == owner,
                InboxEvent.status == InboxStatus.PROCESSING,
            )
            .values(lease_owner=owner)
        )
        return _rowcount(held) == len(inbox_ids)

    @staticmethod
    async def mark_applied(session: WriteSession, inbox_ids: Sequence[int], now: datetime) -> None:
        """In the caller's transaction (the one that applied them): applied, leases released."""
        await session.execute(
            update(InboxEvent)
            .where(_among(inbox_ids))
            .values(
                status=InboxStatus.APPLIED,
                error=None,
                applied_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
        )

    async def settle(
        self,
        inbox_id: int,
        owner: str,
        status: InboxStatus,
        error: str,
        next_attempt_at: datetime,
    ) -> bool:
        """Leave a delivery ``owner`` holds ``status`` (retrying, parked or failed) with its
        error, due again at ``next_attempt_at``, its lease released; False if ``owner`` no
        longer holds it."""
        async with self.db.writing() as session:
            settled = await session.execute(
                update(InboxEvent)
                .where(InboxEvent.id == inbox_id, InboxEvent.lease_owner == owner)
                .values(
                    status=status,
                    error=error,
                    next_attempt_at=next_attempt_at,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        return _rowcount(settled) == 1

    async def wake_parked(self, provider_id: str, now: datetime) -> None:
        """Make the partner's parked deliveries due ``now``."""
        async with self.db.writing() as session:
            await session.execute(
                update(InboxEvent)
                .where(
                    InboxEvent.status == InboxStatus.PARKED, InboxEvent.provider_id == provider_id
                )
                .values(next_attempt_at=now)
            )

    # -- retention -------------------------------------------------------------------------
    #
    # Only an applied delivery is purged: one waiting, held, or failed (an admin may reprocess
    # it) keeps its body whatever its age.

    @staticmethod
    async def bodies_to_purge(
        session: WriteSession, *, applied_before: datetime, after_id: int, limit: int
    ) -> list[int]:
        """Up to ``limit`` ids above ``after_id`` of deliveries applied before
        ``applied_before`` and not yet purged, ascending; locked until the caller's transaction
        ends (PostgreSQL: rows another purge or a requeue holds are skipped)."""
        ids = await session.scalars(
            select(InboxEvent.id)
            .where(_purgeable(applied_before), InboxEvent.id > after_id)
            .order_by(InboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(ids.all())

    @staticmethod
    async def count_bodies_to_purge(session: ReadSession, *, applied_before: datetime) -> int:
        """How many deliveries :meth:`bodies_to_purge` would hand out, in all."""
        count = await session.scalar(
            select(func.count()).select_from(InboxEvent).where(_purgeable(applied_before))
        )
        return int(count or 0)

    @staticmethod
    async def purge_bodies(
        session: WriteSession, inbox_ids: Sequence[int], *, applied_before: datetime, now: datetime
    ) -> int:
        """In the caller's transaction: empty the body and headers of these deliveries if they
        are still applied before ``applied_before`` (a requeue may have come first); how many."""
        if not inbox_ids:
            return 0
        purged = await session.execute(
            update(InboxEvent)
            .where(_among(inbox_ids), _purgeable(applied_before))
            .values(body=b"", headers={PURGED_KEY: now.astimezone(UTC).isoformat()})
        )
        return _rowcount(purged)


def _purgeable(applied_before: datetime) -> ColumnElement[bool]:
    return and_(
        InboxEvent.status == InboxStatus.APPLIED,
        InboxEvent.applied_at < applied_before,
        _NOT_PURGED,
    )


def _among(inbox_ids: Sequence[int]) -> ColumnElement[bool]:
    # One row is matched by `id = ?`, as applying a single delivery always did.
    if len(inbox_ids) == 1:
        return InboxEvent.id == inbox_ids[0]
    return InboxEvent.id.in_(inbox_ids)


def _rowcount(result: Any) -> int:
    count: int = result.rowcount
    return count


__all__ = ["PURGED_KEY", "WAITING", "InboxRepository", "purged_at"]
