"""The notifications' storage: the only code that reads or writes ``notification_endpoints``,
``notification_messages``, ``notification_attempts`` and ``notification_reminders``
(``outbox.emit`` adds messages in its caller's transaction).

The delivery worker claims due messages under a lease with one
``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)``, as the inbox worker does, so two
workers never send the same message at once (PostgreSQL; SQLite has one writer anyway). Only
messages of enabled endpoints are due: those of a disabled endpoint wait for it to be enabled
again. A worker records each attempt and the message's next step in one transaction that first
checks it still holds the lease.

On PostgreSQL the worker's claim and settle run on the driver's connection (as the receipts
writer does, ``audit.receipts``), each one prepared statement and one round trip, with the
batch's values as arrays: SQLAlchemy's per-row work and the settle's five round trips (begin,
attempts, lease check, steps, commit) had cost about as much as sending the batch
(docs/performance.md, "What notification delivery costs"). SQLite keeps the Core statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, update

from accelerator.infra.database import Database, WriteSession
from accelerator.infra.driver_writes import write_connection
from accelerator.infra.metrics import Backlog
from accelerator.infra.statements import Statement
from accelerator.notifications.models import AttemptRow, EndpointRow, MessageRow, ReminderRow
from schemas import MessageStatus

_WAITING = (MessageStatus.PENDING,)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed message and what sending it needs of its endpoint. ``attempts`` counts the
    attempt about to be made."""

    message_id: int
    endpoint_id: str
    event_id: str
    body: bytes
    attempts: int
    url: str
    # As stored: the JSON text on PostgreSQL's driver, the decoded list through SQLAlchemy
    # (:func:`secrets_of` reads either). Kept as it is so a worker can remember what it
    # derived from an endpoint's secrets under the text itself.
    secrets: str | list[dict[str, Any]]
    failing_since: datetime | None


def secrets_of(claimed: Claimed) -> list[dict[str, Any]]:
    """The claimed message's endpoint's secrets, decoded."""
    if isinstance(claimed.secrets, str):
        decoded: list[dict[str, Any]] = msgspec.json.decode(claimed.secrets)
        return decoded
    return claimed.secrets


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt at a message, as it is stored (``notification_attempts``)."""

    message_id: int
    endpoint_id: str
    attempted_at: datetime
    status_code: int | None
    error: str | None
    latency_ms: float


@dataclass(frozen=True)
class Settlement:
    """What becomes of a message after an attempt, and of its endpoint."""

    status: MessageStatus
    next_attempt_at: datetime
    error: str | None
    delivered_at: datetime | None
    # The endpoint: None leaves failing_since unchanged; a value sets it (or clears, with
    # clear_failing). disable_reason disables it.
    failing_since: datetime | None = None
    clear_failing: bool = False
    disable_reason: str | None = None


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class NotificationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- endpoints -------------------------------------------------------------------------

    async def add_endpoint(self, row: EndpointRow) -> EndpointRow:
        async with self.db.writing() as session:
            session.add(row)
        return row

    async def endpoint(self, endpoint_id: str, seller_id: str | None = None) -> EndpointRow | None:
        """The endpoint, if it exists (and, given ``seller_id``, belongs to that seller)."""
        query = select(EndpointRow).where(EndpointRow.id == endpoint_id)
        if seller_id is not None:
            query = query.where(EndpointRow.seller_id == seller_id)
        async with self.db.reading() as session:
            return await session.scalar(query)

    async def endpoints_page(
        self, seller_id: str | None, limit: int, offset: int
    ) -> list[EndpointRow]:
        """A page of endpoints (of one seller, if given), the earliest created first."""
        query = select(EndpointRow).order_by(EndpointRow.created_at, EndpointRow.id)
        if seller_id is not None:
            query = query.where(EndpointRow.seller_id == seller_id)
        async with self.db.reading() as session:
            return list((await session.scalars(query.limit(limit).offset(offset))).all())

    async def change_endpoint(self, endpoint_id: str, **values: Any) -> EndpointRow | None:
        """Set ``values`` on the endpoint; the endpoint as it is now (None if it is gone)."""
        async with self.db.writing() as session:
            await session.execute(
                update(EndpointRow).where(EndpointRow.id == endpoint_id).values(**values)
            )
            return await session.get(EndpointRow, endpoint_id, populate_existing=True)

    async def delete_endpoint(self, endpoint_id: str) -> None:
        """The endpoint, its messages and their attempts, gone."""
        messages = select(MessageRow.id).where(MessageRow.endpoint_id == endpoint_id)
        async with self.db.writing() as session:
            await session.execute(delete(AttemptRow).where(AttemptRow.message_id.in_(messages)))
            await session.execute(delete(MessageRow).where(MessageRow.endpoint_id == endpoint_id))
            await session.execute(delete(EndpointRow).where(EndpointRow.id == endpoint_id))

    # -- messages and attempts (the admin's view) ------------------------------------------

    async def messages_page(
        self, endpoint_id: str, status: MessageStatus | None, limit: int, offset: int
    ) -> list[MessageRow]:
        """A page of an endpoint's messages (of one status, if given), the latest first."""
        query = (
            select(MessageRow)
            .where(MessageRow.endpoint_id == endpoint_id)
            .order_by(MessageRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if status is not None:
            query = query.where(MessageRow.status == status)
        async with self.db.reading() as session:
            return list((await session.scalars(query)).all())

    async def message(self, endpoint_id: str, message_id: int) -> MessageRow | None:
        async with self.db.reading() as session:
            return await session.scalar(
                select(MessageRow).where(
                    MessageRow.id == message_id, MessageRow.endpoint_id == endpoint_id
                )
            )

    async def attempts_page(self, message_id: int, limit: int, offset: int) -> list[AttemptRow]:
        """A page of a message's attempts, the earliest first."""
        async with self.db.reading() as session:
            return list(
                (
                    await session.scalars(
                        select(AttemptRow)
                        .where(AttemptRow.message_id == message_id)
                        .order_by(AttemptRow.id)
                        .limit(limit)
                        .offset(offset)
                    )
                ).all()
            )

    async def replay(
        self,
        endpoint_id: str,
        now: datetime,
        *,
        message_id: int | None = None,
        since: datetime | None = None,
    ) -> int:
        """Make the endpoint's message ``message_id`` (or every one created at or after
        ``since``) due ``now`` with a fresh schedule; how many. Its event id, body and past
        attempts are kept: the receiver gets the same ``webhook-id`` again."""
        query = update(MessageRow).where(MessageRow.endpoint_id == endpoint_id)
        if message_id is not None:
            query = query.where(MessageRow.id == message_id)
        if since is not None:
            query = query.where(MessageRow.created_at >= since)
        async with self.db.writing() as session:
            result = await session.execute(
                query.values(
                    status=MessageStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
            return _rowcount(result)

    # -- the operator's view ---------------------------------------------------------------

    async def backlog(self) -> Backlog:
        """How many messages are pending, being sent and failed, and when the oldest still to
        be delivered was created (an endpoint switched off keeps its messages waiting)."""
        waiting = (*_WAITING, MessageStatus.SENDING)
        statuses = (*waiting, MessageStatus.FAILED)
        query = (
            select(MessageRow.status, func.count(), func.min(MessageRow.created_at))
            .where(MessageRow.status.in_(statuses))
            .group_by(MessageRow.status)
        )
        async with self.db.reading() as session:
            rows = (await session.execute(query)).all()
        return Backlog.from_rows("outbox", rows, waiting, statuses)

    # -- the worker ------------------------------------------------------------------------

    async def claim_due(
        self, owner: str, lease: timedelta, limit: int, now: datetime
    ) -> list[Claimed]:
        """Take up to ``limit`` messages of enabled endpoints due ``now`` (and any whose lease
        expired), oldest first, for ``owner`` until ``now + lease``: each with what sending it
        needs of its endpoint, in the order of their ids. One statement claims and reads
        (:data:`_CLAIM`): a batch costs one round trip and no ORM objects before it is sent."""
        if not self.db.is_sqlite:
            claim = _CLAIM_POSTGRESQL.compiled("postgresql")
            args = claim.args({"now": now, "owner": owner, "expires": now + lease, "limit": limit})
            async with write_connection(self.db) as driver:
                # Outside a transaction block: the statement commits by itself.
                rows = await driver.fetch(claim.sql, *args)
            return sorted((Claimed(*row) for row in rows), key=lambda message: message.message_id)
        async with self.db.writing() as session:
            connection = await session.connection()
            rows = await connection.execute(
                _CLAIM,
                {"b_now": now, "b_owner": owner, "b_expires": now + lease, "b_limit": limit},
            )
            claimed = [Claimed(*row) for row in rows]
        return sorted(claimed, key=lambda message: message.message_id)

    async def release(self, owner: str, claimed: Sequence[Claimed]) -> None:
        """Hand back messages ``owner`` claimed and did not send: due again as they were, their
        claim's attempt not counted (:data:`_RELEASE`)."""
        if claimed:
            async with self.db.writing() as session:
                connection = await session.connection()
                await connection.execute(
                    _RELEASE, {"b_ids": [c.message_id for c in claimed], "b_owner": owner}
                )

    async def settle(self, owner: str, attempt: Attempt, settlement: Settlement) -> bool:
        """Record ``attempt`` and, if ``owner`` still holds the message, its next step and its
        endpoint's: in one transaction. False if the lease was lost (the attempt is kept)."""
        [settled] = await self.settle_many(owner, [(attempt, settlement)])
        return settled

    async def settle_many(
        self, owner: str, settled: Sequence[tuple[Attempt, Settlement]]
    ) -> list[bool]:
        """:meth:`settle` for a batch, in one transaction (a worker settles what it sent
        together: one commit, not one per message); for each, whether ``owner`` still held it.
        Statements built once, the attempts and the steps each one executemany."""
        if not settled:
            return []
        if not self.db.is_sqlite:
            return await self._settle_postgresql(owner, settled)
        ids = [attempt.message_id for attempt, _ in settled]
        async with self.db.writing() as session:
            connection = await session.connection()
            await connection.execute(
                _ADD_ATTEMPT,
                [
                    {
                        "message_id": attempt.message_id,
                        "attempted_at": attempt.attempted_at,
                        "status_code": attempt.status_code,
                        "error": attempt.error,
                        "latency_ms": attempt.latency_ms,
                    }
                    for attempt, _ in settled
                ],
            )
            held = set(
                (await connection.execute(_HELD, {"b_ids": ids, "b_owner": owner})).scalars()
            )
            steps = [
                {
                    "b_id": attempt.message_id,
                    "b_status": step.status.value,
                    "b_next": step.next_attempt_at,
                    "b_error": step.error,
                    "b_delivered": step.delivered_at,
                }
                for attempt, step in settled
                if attempt.message_id in held
            ]
            if steps:
                await connection.execute(_SETTLE_MESSAGE, steps)
            cleared: set[str] = set()
            for attempt, step in settled:
                endpoint = attempt.endpoint_id
                if step.clear_failing:
                    if endpoint in cleared:
                        continue
                    cleared.add(endpoint)
                    # Only a failing endpoint's row is written (and locked): the successes of
                    # concurrent workers do not queue behind each other's commits.
                    await connection.execute(_CLEAR_FAILING, {"b_endpoint": endpoint})
                elif step.failing_since is not None:
                    cleared.discard(endpoint)
                    # The first failure of a run stays its start, whichever worker saw it.
                    await connection.execute(
                        _START_FAILING, {"b_endpoint": endpoint, "b_since": step.failing_since}
                    )
                if step.disable_reason is not None:
                    await connection.execute(
                        _DISABLE,
                        {
                            "b_endpoint": endpoint,
                            "b_reason": step.disable_reason,
                            "b_at": attempt.attempted_at,
                        },
                    )
        return [attempt.message_id in held for attempt, _ in settled]

    async def _settle_postgresql(
        self, owner: str, settled: Sequence[tuple[Attempt, Settlement]]
    ) -> list[bool]:
        """:meth:`settle_many` as one statement (:data:`_SETTLE_POSTGRESQL`): atomic by itself,
        one round trip whatever the batch's size."""
        attempts = [attempt for attempt, _ in settled]
        changes = endpoint_changes(settled)
        params = {
            "owner": owner,
            "a_message": [a.message_id for a in attempts],
            "a_at": [a.attempted_at for a in attempts],
            "a_status": [a.status_code for a in attempts],
            "a_error": [a.error for a in attempts],
            "a_latency": [a.latency_ms for a in attempts],
            "s_id": [a.message_id for a in attempts],
            "s_status": [step.status.value for _, step in settled],
            "s_next": [step.next_attempt_at for _, step in settled],
            "s_error": [step.error for _, step in settled],
            "s_delivered": [step.delivered_at for _, step in settled],
            "e_id": list(changes),
            "e_mode": [change.mode for change in changes.values()],
            "e_since": [change.since for change in changes.values()],
            "e_reason": [change.reason for change in changes.values()],
            "e_at": [change.at for change in changes.values()],
        }
        settle = _SETTLE_POSTGRESQL.compiled("postgresql")
        async with write_connection(self.db) as driver:
            held = {row[0] for row in await driver.fetch(settle.sql, *settle.args(params))}
        return [attempt.message_id in held for attempt in attempts]


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """What a batch's steps do to one endpoint, folded in their order (as :meth:`settle_many`
    applies them one by one on SQLite). ``mode``: ``clear`` (a success: no longer failing),
    ``start`` (a failure: failing since ``since`` unless already failing), ``restart`` (a
    success then a failure: failing since ``since``), or ``keep``; ``reason`` disables it."""

    mode: str
    since: datetime | None = None
    reason: str | None = None
    at: datetime | None = None


def endpoint_changes(settled: Sequence[tuple[Attempt, Settlement]]) -> dict[str, EndpointChange]:
    """Each endpoint's change for a batch's steps (pure); endpoints left alone are absent."""
    changes: dict[str, EndpointChange] = {}
    for attempt, step in settled:
        endpoint = attempt.endpoint_id
        change = changes.get(endpoint, EndpointChange("keep"))
        if step.clear_failing:
            change = EndpointChange("clear", None, change.reason, change.at)
        elif step.failing_since is not None:
            if change.mode == "keep":
                change = EndpointChange("start", step.failing_since, change.reason, change.at)
            elif change.mode == "clear":
                change = EndpointChange("restart", step.failing_since, change.reason, change.at)
            # Already failing in this batch: the first failure stays the start.
        if step.disable_reason is not None:
            change = EndpointChange(
                change.mode, change.since, step.disable_reason, attempt.attempted_at
            )
        if change.mode != "keep" or change.reason is not None:
            changes[endpoint] = change
    return changes


# The worker's statements, built once (the batch's values are bound by name).
_MESSAGES: Table = MessageRow.__table__  # type: ignore[assignment]
_ENDPOINTS: Table = EndpointRow.__table__  # type: ignore[assignment]
_ATTEMPTS: Table = AttemptRow.__table__  # type: ignore[assignment]
_REMINDERS: Table = ReminderRow.__table__  # type: ignore[assignment]
_TIME = _MESSAGES.c.next_attempt_at.type


def _of_endpoint(column: Any) -> Any:
    """``column`` of the message's endpoint: a correlated subquery, not ``UPDATE … FROM``, since
    SQLite's ``RETURNING`` names only the updated table (each one lookup by primary key)."""
    return select(column).where(_ENDPOINTS.c.id == _MESSAGES.c.endpoint_id).scalar_subquery()


_NOW = bindparam("b_now", type_=_TIME)
_CLAIM = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id.in_(
            select(_MESSAGES.c.id)
            .join(_ENDPOINTS, _ENDPOINTS.c.id == _MESSAGES.c.endpoint_id)
            .where(
                or_(
                    and_(_MESSAGES.c.status.in_(_WAITING), _MESSAGES.c.next_attempt_at <= _NOW),
                    and_(
                        _MESSAGES.c.status == MessageStatus.SENDING,
                        _MESSAGES.c.lease_expires_at < _NOW,
                    ),
                ),
                _ENDPOINTS.c.enabled.is_(True),
            )
            .order_by(_MESSAGES.c.next_attempt_at, _MESSAGES.c.id)
            .limit(bindparam("b_limit"))
            .with_for_update(skip_locked=True, of=_MESSAGES)  # PostgreSQL; SQLite: one writer
            .scalar_subquery()
        )
    )
    .values(
        status=MessageStatus.SENDING,
        lease_owner=bindparam("b_owner"),
        lease_expires_at=bindparam("b_expires", type_=_TIME),
        attempts=_MESSAGES.c.attempts + 1,
    )
    .returning(
        _MESSAGES.c.id,
        _MESSAGES.c.endpoint_id,
        _MESSAGES.c.event_id,
        _MESSAGES.c.body,
        _MESSAGES.c.attempts,
        _of_endpoint(_ENDPOINTS.c.url),
        _of_endpoint(_ENDPOINTS.c.secrets),
        _of_endpoint(_ENDPOINTS.c.failing_since),
    )
)
_HELD_BY_OWNER = and_(
    _MESSAGES.c.id.in_(bindparam("b_ids", expanding=True)),
    _MESSAGES.c.lease_owner == bindparam("b_owner"),
    _MESSAGES.c.status == MessageStatus.SENDING,
)
_RELEASE = (
    update(_MESSAGES)
    .where(_HELD_BY_OWNER)
    .values(
        status=MessageStatus.PENDING,
        attempts=_MESSAGES.c.attempts - 1,
        lease_owner=None,
        lease_expires_at=None,
    )
)
_ADD_ATTEMPT = insert(_ATTEMPTS)
_HELD = select(_MESSAGES.c.id).where(_HELD_BY_OWNER).with_for_update()
_SETTLE_MESSAGE = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        next_attempt_at=bindparam("b_next", type_=_TIME),
        last_error=bindparam("b_error"),
        delivered_at=bindparam("b_delivered", type_=_TIME),
        lease_owner=None,
        lease_expires_at=None,
    )
)
_ENDPOINT = update(_ENDPOINTS).where(_ENDPOINTS.c.id == bindparam("b_endpoint"))
_CLEAR_FAILING = _ENDPOINT.where(_ENDPOINTS.c.failing_since.is_not(None)).values(failing_since=None)
_START_FAILING = _ENDPOINT.where(_ENDPOINTS.c.failing_since.is_(None)).values(
    failing_since=bindparam("b_since", type_=_TIME)
)
_DISABLE = _ENDPOINT.values(
    enabled=False,
    disabled_reason=bindparam("b_reason"),
    updated_at=bindparam("b_at", type_=_TIME),
)

# PostgreSQL's claim: the expired leases, then the due messages, each a walk of
# ix_notification_messages_due in claim order that stops after its batch (an OR of the two had
# sorted every due message for each batch; FOR UPDATE is not allowed in a UNION's arms, hence
# the CTEs); the endpoint joined in the UPDATE itself.
_CLAIM_POSTGRESQL = Statement.text(
    "claim_notification_messages",
    postgresql="""
WITH expired AS (
    SELECT d.id FROM notification_messages AS d
    JOIN notification_endpoints AS de ON de.id = d.endpoint_id
    WHERE d.status = 'sending' AND d.lease_expires_at < CAST(:now AS timestamptz)
      AND de.enabled IS TRUE
    ORDER BY d.next_attempt_at, d.id LIMIT CAST(:limit AS integer)
    FOR UPDATE OF d SKIP LOCKED
), waiting AS (
    SELECT d.id FROM notification_messages AS d
    JOIN notification_endpoints AS de ON de.id = d.endpoint_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= CAST(:now AS timestamptz)
      AND de.enabled IS TRUE
    ORDER BY d.next_attempt_at, d.id LIMIT CAST(:limit AS integer)
    FOR UPDATE OF d SKIP LOCKED
), due AS (
    (SELECT id FROM expired UNION ALL SELECT id FROM waiting) LIMIT CAST(:limit AS integer)
)
UPDATE notification_messages AS m
SET status = 'sending', lease_owner = CAST(:owner AS text),
    lease_expires_at = CAST(:expires AS timestamptz), attempts = m.attempts + 1
FROM due, notification_endpoints AS e
WHERE m.id = due.id AND e.id = m.endpoint_id
RETURNING m.id, m.endpoint_id, m.event_id, m.body, m.attempts, e.url,
          CAST(e.secrets AS text), e.failing_since
""",
)
# PostgreSQL's settle: the attempts stored, the steps of the messages still held, and the
# endpoints' changes (endpoint_changes: only a failing endpoint's row is written on a success, so
# concurrent workers' successes do not queue behind each other's commits), in one statement.
_SETTLE_POSTGRESQL = Statement.text(
    "settle_notification_messages",
    postgresql="""
WITH attempted AS (
    INSERT INTO notification_attempts (message_id, attempted_at, status_code, error, latency_ms)
    SELECT * FROM unnest(
        CAST(:a_message AS integer[]), CAST(:a_at AS timestamptz[]),
        CAST(:a_status AS integer[]), CAST(:a_error AS text[]),
        CAST(:a_latency AS double precision[]))
), held AS (
    UPDATE notification_messages AS m
    SET status = s.status, next_attempt_at = s.next_at, last_error = s.error,
        delivered_at = s.delivered_at, lease_owner = NULL, lease_expires_at = NULL
    FROM unnest(
        CAST(:s_id AS integer[]), CAST(:s_status AS text[]), CAST(:s_next AS timestamptz[]),
        CAST(:s_error AS text[]), CAST(:s_delivered AS timestamptz[])
    ) AS s(id, status, next_at, error, delivered_at)
    WHERE m.id = s.id AND m.lease_owner = CAST(:owner AS text) AND m.status = 'sending'
    RETURNING m.id
), changed AS (
    UPDATE notification_endpoints AS e
    SET failing_since = CASE v.mode
            WHEN 'clear' THEN NULL
            WHEN 'start' THEN coalesce(e.failing_since, v.since)
            WHEN 'restart' THEN v.since
            ELSE e.failing_since END,
        enabled = e.enabled AND v.reason IS NULL,
        disabled_reason = coalesce(v.reason, e.disabled_reason),
        updated_at = coalesce(v.at, e.updated_at)
    FROM unnest(
        CAST(:e_id AS text[]), CAST(:e_mode AS text[]), CAST(:e_since AS timestamptz[]),
        CAST(:e_reason AS text[]), CAST(:e_at AS timestamptz[])
    ) AS v(id, mode, since, reason, at)
    WHERE e.id = v.id AND (
        v.reason IS NOT NULL
        OR (v.mode = 'clear' AND e.failing_since IS NOT NULL)
        OR (v.mode = 'start' AND e.failing_since IS NULL)
        OR v.mode = 'restart')
)
SELECT id FROM held
""",
)


__all__ = [
    "Attempt",
    "Claimed",
    "EndpointChange",
    "NotificationRepository",
    "Settlement",
    "add_reminder_marks",
    "endpoint_changes",
    "reminder_marks",
    "reminders_marked",
    "secrets_of",
]


# --- reminders dealt with (notifications.sweep) -----------------------------------------------


async def reminders_marked(
    session: WriteSession, kind: str, subjects: Sequence[str]
) -> dict[str, set[int]]:
    """The thresholds already dealt with for each of ``subjects`` (one statement)."""
    if not subjects:
        return {}
    rows = await session.execute(
        select(ReminderRow.subject_id, ReminderRow.threshold).where(
            ReminderRow.kind == kind, ReminderRow.subject_id.in_(subjects)
        )
    )
    marked: dict[str, set[int]] = {}
    for subject_id, threshold in rows.all():
        marked.setdefault(subject_id, set()).add(threshold)
    return marked


def reminder_marks(
    kind: str,
    subject_id: str,
    thresholds: Sequence[int],
    *,
    announced: tuple[int, str] | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The markers of ``thresholds`` dealt with for the subject: ``announced`` is the one
    announced and its event id, the others were skipped (:func:`add_reminder_marks`)."""
    return [
        {
            "kind": kind,
            "subject_id": subject_id,
            "threshold": threshold,
            "event_id": announced[1] if announced and announced[0] == threshold else None,
            "created_at": now,
        }
        for threshold in thresholds
    ]


async def add_reminder_marks(session: WriteSession, marks: Sequence[dict[str, Any]]) -> None:
    """Write a page's markers in the caller's transaction (that of its emits), one executemany
    rather than an ORM object each. The unique key makes a second sweep that raced this one
    fail rather than announce twice."""
    if marks:
        # The table, not the ORM class: one executemany (the ORM's bulk insert sends a row at
        # a time and splits the rows by which columns are None).
        connection = await session.connection()
        await connection.execute(insert(_REMINDERS), list(marks))
