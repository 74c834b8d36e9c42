"""Quoting's storage: the only code that reads or writes ``quote_requests``, ``insurer_outcomes``,
``offers`` and ``insurer_attempts``.

Who calls what:

- the fan-out (``runner``) stores a request and each insurer's result: :func:`store_request`,
  :func:`store_results`, and completes requests a dead process left: :func:`complete_abandoned`;
- the API and the pages read a request back (:func:`read_request`), list requests
  (:func:`list_summaries`) and show what was sent to insurers (:func:`list_attempts`); a
  partner lists its own outcomes (:func:`partner_calls`);
- binding claims a request for one offer and settles it: :func:`offer_to_bind`,
  :func:`claim_for_bind`, :func:`hold_bind`, :func:`reopen_after_bind`,
  :func:`mark_bind_pending`, :func:`finish_bind`; and takes over binds a dead process left:
  :func:`stamp_unclaimed_binds`, :func:`abandoned_binds`, :func:`take_over_bind`,
  :func:`bind_waits_for_key`;
- the webhook worker applies insurers' answers in its own transaction: :func:`lock_outcome`,
  :func:`takes_quote_events`, :func:`withdraw_offers`, :func:`note_event`,
  :func:`settle_outcome`, :func:`add_offers`, :func:`pending_bind`, :func:`finish_bind`;
- the retention purge (``audit.retention``) empties old captures: :func:`captures_to_purge`,
  :func:`count_captures_to_purge`, :func:`replace_captures`.

Every function is named for what it does. One that takes a ``Database`` runs its own
transaction (or read); one that takes a ``WriteSession`` joins its caller's, so that another
domain's write (a policy, an inbox row) commits with it or not at all.

The two paths every quote request runs many times, storing results and reading a request back,
skip SQLAlchemy's execution layer (docs/architecture.md, "Storage"): plain statements built
from Core (``infra.statements``), run on the driver's connections. The rest goes through the
ORM or Core.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import msgspec
from sqlalchemy import bindparam, case, func, insert, literal_column, null, select, update
from sqlalchemy.orm import load_only

from accelerator.admin.switches import SKIP_REASONS, skip_reasons_of
from accelerator.infra.codec import instant, json_text, optional_instant, stored_instant
from accelerator.infra.database import Database, ReadSession, WriteSession
from accelerator.infra.driver_writes import (
    run_batch,
    sqlite_transaction,
    write_connection,
)
from accelerator.infra.lookups import Row
from accelerator.infra.statements import BatchWrite, Part, Statement
from accelerator.notifications.events import quote_request_completed
from accelerator.notifications.outbox import (
    Subscription,
    driver_subscriptions,
    emit,
    emit_on_driver,
    may_be_wanted_sql,
)
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.models import AttemptRow, InsurerOutcomeRow, OfferRow, QuoteRequestRow
from accelerator.sellers.models import Seller
from schemas import (
    BindFailure,
    InsurerAttempt,
    InsurerOutcomeView,
    NotificationType,
    Offer,
    OfferStatus,
    OutcomeStatus,
    PartnerQuoteCall,
    Progress,
    QuoteRequest,
    QuoteRequestStatus,
    QuoteRequestSummary,
)

# Statuses read back on the hot path are decoded by a dict lookup: the Enum call is several
# times slower, and it would run for every outcome and offer of every read-back.
_REQUEST_STATUS = {status.value: status for status in QuoteRequestStatus}
_OUTCOME_STATUS = {status.value: status for status in OutcomeStatus}
_OFFER_STATUS = {status.value: status for status in OfferStatus}

# A request may be claimed for a bind only in these states (and then only once).
_OPEN_FOR_BIND = (QuoteRequestStatus.COLLECTING, QuoteRequestStatus.COMPLETE)
# While a bind is under way or done, insurers' later quote answers change nothing.
_IN_BIND = (QuoteRequestStatus.BINDING, QuoteRequestStatus.BIND_PENDING, QuoteRequestStatus.BOUND)


# --- Storing a request and its insurers' results (the fan-out) -----------------------------
#
# A request and an ``awaiting`` row per insurer are committed before any insurer is called, and
# every insurer's result is committed as it lands (its outcome, its offers, the captured
# exchange, and with a request's last result the request's completion). Unless many requests
# are in flight, results land apart and each is its own transaction, so each transaction's
# overhead counts many times per request: through SQLAlchemy's execution layer that overhead
# was a large share of a quote request's CPU (docs/performance.md). They run on the driver's
# connection instead, as one statement on PostgreSQL (a ``BatchWrite``). The connection is the
# write engine's own (checked out of its pool), so pool size and SQLite's pragmas stay the
# engine's; only SQLAlchemy's execution layer is skipped.
#
# Values are written as the SQLAlchemy column types write them (``infra.codec``), so the ORM
# reads them back unchanged.


def _constant(value: str) -> Any:
    """A constant written into a batch part's SQL (a part binds only its rows' columns)."""
    return literal_column(f"'{value}'")


_REQUEST = BatchWrite(
    "store_quote_request",
    [
        Part(
            "request",
            ("id", "seller_id", "request", "created_at", "deadline_at"),
            Statement(
                "store_quote_request.request",
                insert(QuoteRequestRow).values(
                    id=bindparam("id"),
                    seller_id=bindparam("seller_id"),
                    status=_constant(QuoteRequestStatus.COLLECTING),
                    request=bindparam("request"),
                    created_at=bindparam("created_at"),
                    deadline_at=bindparam("deadline_at"),
                ),
                dialects=("sqlite",),
            ),
        ),
        Part(
            "outcome",
            ("request_id", "provider_id", "insurer_name", "updated_at"),
            Statement(
                "store_quote_request.outcome",
                insert(InsurerOutcomeRow).values(
                    request_id=bindparam("request_id"),
                    provider_id=bindparam("provider_id"),
                    insurer_name=bindparam("insurer_name"),
                    status=_constant(OutcomeStatus.AWAITING),
                    attempts=literal_column("0"),
                    updated_at=bindparam("updated_at"),
                ),
                dialects=("sqlite",),
            ),
        ),
    ],
    postgresql="""
WITH requested AS (
    INSERT INTO quote_requests (id, seller_id, status, request, created_at, deadline_at)
    SELECT v.id, v.seller_id, 'collecting', CAST(v.request AS json), v.created_at, v.deadline_at
    FROM unnest(CAST(:request_id AS text[]), CAST(:request_seller_id AS text[]),
                CAST(:request_request AS text[]), CAST(:request_created_at AS timestamptz[]),
                CAST(:request_deadline_at AS timestamptz[]))
        AS v(id, seller_id, request, created_at, deadline_at)
    RETURNING id
), awaiting AS (
    INSERT INTO insurer_outcomes (request_id, provider_id, insurer_name, status, attempts,
                                  updated_at)
    SELECT r.id, v.provider_id, v.insurer_name, 'awaiting', 0, v.updated_at
    FROM unnest(CAST(:outcome_request_id AS text[]), CAST(:outcome_provider_id AS text[]),
                CAST(:outcome_insurer_name AS text[]), CAST(:outcome_updated_at AS timestamptz[]))
        AS v(request_id, provider_id, insurer_name, updated_at)
    JOIN requested AS r ON r.id = v.request_id
)
"""  # noqa: S608 - our own constants, no value of anyone's
    # The insurers' switches, read with the write (PostgreSQL runs a WITH's writes whatever the
    # main statement reads): one round trip, where they were a read of their own.
    + SKIP_REASONS.compiled("postgresql").sql,
)

# Completing a request: only from ``collecting``; returns the request's id and whether no
# insurer event (a callback's settled outcome or withdrawn offers) touched it. ``unless``: a
# further condition. (Text, because Core leaves the subquery's columns unqualified in SQLite's
# RETURNING, where ``id`` would name the outcome's own.)
_COMPLETE_SQL = """
UPDATE quote_requests SET status = 'complete', completed_at = :completed_at
WHERE id = :id AND status = 'collecting' {unless}
RETURNING id, NOT EXISTS (
    SELECT 1 FROM insurer_outcomes AS e
    WHERE e.request_id = quote_requests.id AND e.last_event_at IS NOT NULL
)
"""
# Whether an endpoint may want ``quote_request.completed``: the batch completes a request only
# when none does (see store_results), so that no read of the endpoints precedes it.
_ANNOUNCED = {
    dialect: may_be_wanted_sql(
        NotificationType.QUOTE_REQUEST_COMPLETED.value, sqlite=dialect == "sqlite"
    )
    for dialect in ("postgresql", "sqlite")
}

_SETTLED_COLUMNS = (
    "status",
    "reason_code",
    "reason",
    "quote_reference",
    "attempts",
    "elapsed_ms",
    "updated_at",
    "request_id",
    "provider_id",
)
_OFFER_COLUMNS = (
    "id",
    "request_id",
    "provider_id",
    "quote_reference",
    "offer",
    "bindable",
    "valid_until",
    "received_at",
)

# A batch never holds two results for the same (request, insurer): PostgreSQL's UPDATE … FROM
# unnest would apply one of them, arbitrarily.
_RESULTS = BatchWrite(
    "store_insurer_results",
    [
        Part(
            "settled",
            _SETTLED_COLUMNS,
            Statement(
                "store_insurer_results.settled",
                update(InsurerOutcomeRow)
                .where(
                    InsurerOutcomeRow.request_id == bindparam("request_id"),
                    InsurerOutcomeRow.provider_id == bindparam("provider_id"),
                )
                .values({name: bindparam(name) for name in _SETTLED_COLUMNS[:7]}),
                dialects=("sqlite",),
            ),
        ),
        Part(
            "offered",
            _OFFER_COLUMNS,
            Statement(
                "store_insurer_results.offered",
                insert(OfferRow).values(
                    {name: bindparam(name) for name in _OFFER_COLUMNS}
                    | {"status": _constant(OfferStatus.OPEN)}
                ),
                dialects=("sqlite",),
            ),
        ),
        Part(
            "attempted",
            ("request_id", "provider_id", "capture"),
            Statement(
                "store_insurer_results.attempted",
                insert(AttemptRow).values(
                    request_id=bindparam("request_id"),
                    provider_id=bindparam("provider_id"),
                    capture=bindparam("capture"),
                ),
                dialects=("sqlite",),
            ),
        ),
        Part(
            "finished",
            ("completed_at", "id"),
            # Run once per request (not with executemany) for what it returns: see
            # store_results. Text, because Core leaves the subquery's columns unqualified in
            # SQLite's RETURNING, where ``id`` would name the outcome's own.
            Statement.text(
                "store_insurer_results.finished",
                sqlite=_COMPLETE_SQL.format(unless=f"AND NOT {_ANNOUNCED['sqlite']}"),
            ),
        ),
    ],
    postgresql="""
WITH settled AS (
    UPDATE insurer_outcomes AS o
    SET status = v.status, reason_code = v.reason_code, reason = v.reason,
        quote_reference = v.quote_reference, attempts = v.attempts,
        elapsed_ms = v.elapsed_ms, updated_at = v.updated_at
    FROM unnest(CAST(:settled_status AS text[]), CAST(:settled_reason_code AS text[]),
                CAST(:settled_reason AS text[]), CAST(:settled_quote_reference AS text[]),
                CAST(:settled_attempts AS int[]), CAST(:settled_elapsed_ms AS float8[]),
                CAST(:settled_updated_at AS timestamptz[]), CAST(:settled_request_id AS text[]),
                CAST(:settled_provider_id AS text[]))
        AS v(status, reason_code, reason, quote_reference, attempts, elapsed_ms, updated_at,
             request_id, provider_id)
    WHERE o.request_id = v.request_id AND o.provider_id = v.provider_id
), offered AS (
    INSERT INTO offers (id, request_id, provider_id, quote_reference, offer, bindable,
                        valid_until, status, received_at)
    SELECT v.id, v.request_id, v.provider_id, v.quote_reference, CAST(v.offer AS json),
           v.bindable, v.valid_until, 'open', v.received_at
    FROM unnest(CAST(:offered_id AS text[]), CAST(:offered_request_id AS text[]),
                CAST(:offered_provider_id AS text[]), CAST(:offered_quote_reference AS text[]),
                CAST(:offered_offer AS text[]), CAST(:offered_bindable AS bool[]),
                CAST(:offered_valid_until AS timestamptz[]),
                CAST(:offered_received_at AS timestamptz[]))
        AS v(id, request_id, provider_id, quote_reference, offer, bindable, valid_until,
             received_at)
), attempted AS (
    INSERT INTO insurer_attempts (request_id, provider_id, capture)
    SELECT v.request_id, v.provider_id, CAST(v.capture AS json)
    FROM unnest(CAST(:attempted_request_id AS text[]), CAST(:attempted_provider_id AS text[]),
                CAST(:attempted_capture AS text[]))
        AS v(request_id, provider_id, capture)
)
UPDATE quote_requests AS q SET status = 'complete', completed_at = v.completed_at
FROM unnest(CAST(:finished_completed_at AS timestamptz[]), CAST(:finished_id AS text[]))
    AS v(completed_at, id)
WHERE q.id = v.id AND q.status = 'collecting'
    AND NOT """  # noqa: S608 - our own constants, no value of anyone's
    + _ANNOUNCED["postgresql"]
    + """
RETURNING q.id, NOT EXISTS (
    SELECT 1 FROM insurer_outcomes AS e
    WHERE e.request_id = q.id AND e.last_event_at IS NOT NULL
)
""",
)

# A request's completion when an endpoint may want its event: run after the batch (on
# PostgreSQL in a transaction of its own, the batch being one statement; on SQLite in the
# batch's), then the endpoints are read and the event written in the same transaction.
_COMPLETE_ANNOUNCED = Statement.text(
    "complete_quote_request",
    postgresql=_COMPLETE_SQL.format(unless=""),
    sqlite=_COMPLETE_SQL.format(unless=""),
)


async def store_request(
    db: Database,
    request: QuoteRequest,
    insurers: Mapping[str, str],
    created_at: datetime,
    deadline_at: datetime,
) -> dict[str, str]:
    """Commit the request (``collecting``) and an ``awaiting`` outcome for each insurer
    (provider id: insurer name). Returns what the request says of each insurer an operator
    switched off as it was stored (``admin.switches.skip_reasons``), by provider id: read
    with the write, in its round trip."""
    sqlite = db.is_sqlite
    stamp = stored_instant(created_at, sqlite=sqlite)
    request_id = request.request_id
    seller_id = request.seller.seller_id
    deadline = stored_instant(deadline_at, sqlite=sqlite)
    rows: list[list[tuple[Any, ...]]] = [
        [(request_id, seller_id, json_text(request), stamp, deadline)],
        [(request_id, provider, name, stamp) for provider, name in insurers.items()],
    ]
    switches = SKIP_REASONS.compiled("sqlite" if sqlite else "postgresql")
    async with write_connection(db) as driver:
        if sqlite:
            async with sqlite_transaction(driver):
                await run_batch(driver, _REQUEST, rows, sqlite=True)
                found = await driver.execute_fetchall(switches.sql, switches.args({}))
        else:
            compiled = _REQUEST.postgresql.compiled("postgresql")
            found = await driver.fetch(
                compiled.sql, *compiled.args(_REQUEST.postgresql_arrays(rows))
            )
    return skip_reasons_of(found)


async def open_renewal(
    session: WriteSession,
    request: QuoteRequest,
    insurers: Mapping[str, str],
    *,
    renews_policy_id: str,
    created_at: datetime,
    deadline_at: datetime,
) -> None:
    """Add the renewal of ``renews_policy_id`` (``collecting``) and an ``awaiting`` outcome for
    each insurer to the caller's transaction, so that the renewal sweep's page commits the
    request with its fellows or not at all; a second renewal of the policy fails its commit."""
    session.add(
        QuoteRequestRow(
            id=request.request_id,
            seller_id=request.seller.seller_id,
            status=QuoteRequestStatus.COLLECTING,
            request=msgspec.to_builtins(request),
            created_at=created_at,
            deadline_at=deadline_at,
            renews_policy_id=renews_policy_id,
        )
    )
    # The request's row first: the outcomes refer to it.
    await session.flush()
    session.add_all(
        InsurerOutcomeRow(
            request_id=request.request_id,
            provider_id=provider_id,
            insurer_name=name,
            status=OutcomeStatus.AWAITING,
            attempts=0,
            updated_at=created_at,
        )
        for provider_id, name in insurers.items()
    )


async def renewals_of(session: WriteSession, policy_ids: Sequence[str]) -> dict[str, str]:
    """The renewal request of each of ``policy_ids`` that has one: policy id -> request id."""
    if not policy_ids:
        return {}
    rows = await session.execute(
        select(QuoteRequestRow.renews_policy_id, QuoteRequestRow.id).where(
            QuoteRequestRow.renews_policy_id.in_(policy_ids)
        )
    )
    return {policy_id: request_id for policy_id, request_id in rows.all() if policy_id}


async def renewal_request_id(db: Database, policy_id: str) -> str | None:
    """The id of the request renewing ``policy_id``, or None while it has none."""
    async with db.reading() as session:
        found: str | None = await session.scalar(
            select(QuoteRequestRow.id).where(QuoteRequestRow.renews_policy_id == policy_id)
        )
    return found


async def seller_renewals(db: Database, seller_id: str) -> list[tuple[str, str]]:
    """The seller's renewals not bought yet (collecting or complete), oldest first:
    (policy id, request id) each."""
    async with db.reading() as session:
        rows = await session.execute(
            select(QuoteRequestRow.renews_policy_id, QuoteRequestRow.id)
            .where(
                QuoteRequestRow.seller_id == seller_id,
                QuoteRequestRow.renews_policy_id.is_not(None),
                QuoteRequestRow.status.in_(_OPEN_FOR_BIND),
            )
            .order_by(QuoteRequestRow.created_at, QuoteRequestRow.id)
        )
        return [(policy_id, request_id) for policy_id, request_id in rows.all() if policy_id]


async def store_results(
    db: Database,
    results: Sequence[tuple[str, InsurerResult]],
    completed: Sequence[str] = (),
) -> dict[str, datetime]:
    """Store insurer results (outcome, offers, captured attempts) and mark the ``completed``
    requests complete, atomically, with one statement (or one of each kind) however many.
    A request whose ``quote_request.completed`` an endpoint may want is completed, and its
    event written, just after, in a transaction whose read of the endpoints follows the
    completion (on SQLite the batch's own), so that an endpoint registered before a request
    completes gets its event; it is never completed before its results are stored.

    Returns those of ``completed`` that this write completed (they were still ``collecting``)
    and that no insurer event had changed (no outcome settled by a callback, no offer
    withdrawn), each with the instant it was completed at: such a request is stored exactly as
    its fan-out wrote it, so the fan-out may answer from what it holds (:func:`written_request`)
    instead of reading it back.
    """
    sqlite = db.is_sqlite
    now = datetime.now(UTC)
    stamp = stored_instant(now, sqlite=sqlite)
    settled = [
        (
            result.status,
            result.reason_code,
            result.reason,
            result.quote_reference,
            len(result.attempts),
            result.elapsed_ms,
            stamp,
            request_id,
            result.provider_id,
        )
        for request_id, result in results
    ]
    offered = [
        (
            offer_id,
            request_id,
            result.provider_id,
            offer.quote_reference,
            json_text(offer),
            offer.bindable,
            stored_instant(offer.valid_until, sqlite=sqlite),
            stamp,
        )
        for request_id, result in results
        for offer_id, offer in zip(result.offer_ids, result.offers, strict=True)
    ]
    attempted = [
        (request_id, result.provider_id, json_text(attempt))
        for request_id, result in results
        for attempt in result.attempts
    ]
    finished = [(stamp, request_id) for request_id in completed]
    async with write_connection(db) as driver:
        if sqlite:
            async with sqlite_transaction(driver):
                await run_batch(driver, _RESULTS, [settled, offered, attempted, []], sqlite=True)
                # One at a time, for what each returns (executemany returns nothing).
                finish = _RESULTS.parts[-1].sqlite.compiled("sqlite")
                answered = [
                    row
                    for values in finished
                    for row in await driver.execute_fetchall(finish.sql, values)
                ]
                # In the batch's transaction: SQLite's write transactions take turns.
                answered += await _complete_announced(
                    driver, _left(completed, answered), stamp, sqlite=True
                )
        else:
            compiled = _RESULTS.postgresql.compiled("postgresql")
            args = compiled.args(
                _RESULTS.postgresql_arrays([settled, offered, attempted, finished])
            )
            answered = list(await driver.fetch(compiled.sql, *args))  # atomic by itself
            left = _left(completed, answered)
            if left:
                async with driver.transaction():
                    answered += await _complete_announced(driver, left, stamp, sqlite=False)
    return {request_id: now for request_id, untouched in answered if untouched}


def _left(completed: Sequence[str], answered: Sequence[Any]) -> list[str]:
    """The requests of ``completed`` the batch did not complete: an endpoint may want their
    event (or they were not ``collecting``: completed by a sweep, claimed for a bind)."""
    if len(answered) == len(completed):
        return []
    done = {row[0] for row in answered}
    return [request_id for request_id in completed if request_id not in done]


# The requests a batch completed (and not a sweep before it): completed at the batch's instant.
_COMPLETED_BY = Statement(
    "completed_quote_request",
    select(QuoteRequestRow.seller_id, Seller.marketplace)
    .join(Seller, Seller.id == QuoteRequestRow.seller_id)
    .where(
        QuoteRequestRow.id == bindparam("id"),
        QuoteRequestRow.status == _constant(QuoteRequestStatus.COMPLETE),
        QuoteRequestRow.completed_at == bindparam("completed_at"),
    ),
)


async def _complete_announced(
    driver: Any, request_ids: Sequence[str], stamp: datetime | str, *, sqlite: bool
) -> list[Any]:
    """Complete those of ``request_ids`` still ``collecting``, in the caller's transaction, and
    announce ``quote_request.completed`` of each to the endpoints that want it; what completing
    each returned. The endpoints are read after the completions, in their transaction: an
    endpoint registered before a request completes gets its event."""
    if not request_ids:
        return []
    compiled = _COMPLETE_ANNOUNCED.compiled("sqlite" if sqlite else "postgresql")
    answered = []
    for request_id in request_ids:
        args = compiled.args({"id": request_id, "completed_at": stamp})
        if sqlite:
            answered += list(await driver.execute_fetchall(compiled.sql, args))
        else:
            answered += list(await driver.fetch(compiled.sql, *args))
    if answered:
        subscribed = await driver_subscriptions(driver, sqlite=sqlite)
        await _announce_completed(
            driver, [row[0] for row in answered], stamp, subscribed, sqlite=sqlite
        )
    return answered


async def _announce_completed(
    driver: Any,
    request_ids: Sequence[str],
    stamp: datetime | str,
    subscribed: Sequence[Subscription],
    *,
    sqlite: bool,
) -> None:
    compiled = _COMPLETED_BY.compiled("sqlite" if sqlite else "postgresql")
    completed_at = instant(stamp)
    events = []
    for request_id in request_ids:
        args = compiled.args({"id": request_id, "completed_at": stamp})
        if sqlite:
            found = list(await driver.execute_fetchall(compiled.sql, args))
        else:
            found = list(await driver.fetch(compiled.sql, *args))
        if found:
            seller_id, marketplace = found[0]
            event = quote_request_completed(request_id, seller_id, completed_at)
            events.append((event, seller_id, marketplace))
    await emit_on_driver(driver, events, subscribed, sqlite=sqlite)


async def complete_abandoned(db: Database, *, deadline_before: datetime, now: datetime) -> int:
    """Complete the requests still ``collecting`` whose deadline is before ``deadline_before``
    (their fan-out died with its process): insurers still ``awaiting`` are ``timed_out``
    (``service_restarted``). Returns how many were completed."""
    async with db.writing() as session:
        stale = (
            await session.execute(
                select(QuoteRequestRow.id, QuoteRequestRow.seller_id).where(
                    QuoteRequestRow.status == QuoteRequestStatus.COLLECTING,
                    QuoteRequestRow.deadline_at < deadline_before,
                )
            )
        ).all()
        for request_id, seller_id in stale:
            await session.execute(
                update(InsurerOutcomeRow)
                .where(
                    InsurerOutcomeRow.request_id == request_id,
                    InsurerOutcomeRow.status == OutcomeStatus.AWAITING,
                )
                .values(
                    status=OutcomeStatus.TIMED_OUT,
                    reason_code="service_restarted",
                    reason="the service stopped before this insurer answered",
                    updated_at=now,
                )
            )
            await session.execute(
                update(QuoteRequestRow)
                .where(
                    QuoteRequestRow.id == request_id,
                    QuoteRequestRow.status == QuoteRequestStatus.COLLECTING,
                )
                .values(status=QuoteRequestStatus.COMPLETE, completed_at=now)
            )
            await emit(
                session, quote_request_completed(request_id, seller_id, now), seller_id=seller_id
            )
    return len(stale)


# --- Reading a request back -----------------------------------------------------------------
#
# Every ``?wait=true`` answer, every poll and every live page reads a request back, so this read
# runs on the driver's own connections (``infra.lookups``), not through the ORM: three
# statements, JSON columns decoded straight into their msgspec types, where an ORM session
# would build an identity map, row objects and SQLAlchemy's JSON, then convert them again.
#
# The three statements run one after another: the request, then its outcomes, then its offers,
# each seeing what was committed when it began. An insurer's result (its outcome and offers)
# commits with or before the request's completion, so each later read sees at least what the
# earlier ones imply: a request read as ``complete`` comes with every result stored before its
# completion, an outcome read as ``offered`` with its offers. Run at once (on three
# connections) they could see different moments: a poll landing while the last result
# committed answered ``complete`` with that insurer still ``awaiting`` and its offer missing,
# and API clients and the web page stop polling on ``complete``.


@dataclass(frozen=True)
class RequestRecord:
    """The quote request's own row (its columns as the ORM model names them)."""

    id: str
    seller_id: str
    status: QuoteRequestStatus
    created_at: datetime
    deadline_at: datetime
    completed_at: datetime | None
    bound_offer_id: str | None
    bind_reference: str | None
    bind_failure: BindFailure | None = None
    renews_policy_id: str | None = None


@dataclass(frozen=True)
class OfferRecord:
    """An offer's row: its lifecycle columns; the offer itself is decoded beside it."""

    id: str
    status: OfferStatus
    valid_until: datetime


@dataclass(frozen=True)
class StoredRequest:
    """A quote request as stored: its row, the canonical request, every insurer's outcome (by
    provider id) and every offer (by offer id)."""

    row: RequestRecord
    request: QuoteRequest
    outcomes: list[InsurerOutcomeView]
    offers: list[tuple[OfferRecord, Offer]]


_READ_REQUEST = Statement(
    "quote_request",
    select(
        QuoteRequestRow.id,
        QuoteRequestRow.seller_id,
        QuoteRequestRow.status,
        QuoteRequestRow.created_at,
        QuoteRequestRow.deadline_at,
        QuoteRequestRow.completed_at,
        QuoteRequestRow.bound_offer_id,
        QuoteRequestRow.bind_reference,
        QuoteRequestRow.request,
        QuoteRequestRow.bind_failure,
        QuoteRequestRow.renews_policy_id,
    ).where(QuoteRequestRow.id == bindparam("request_id")),
)
_READ_OUTCOMES = Statement(
    "quote_request_outcomes",
    select(
        InsurerOutcomeRow.provider_id,
        InsurerOutcomeRow.insurer_name,
        InsurerOutcomeRow.status,
        InsurerOutcomeRow.reason_code,
        InsurerOutcomeRow.reason,
        InsurerOutcomeRow.quote_reference,
        InsurerOutcomeRow.attempts,
        InsurerOutcomeRow.elapsed_ms,
    )
    .where(InsurerOutcomeRow.request_id == bindparam("request_id"))
    .order_by(InsurerOutcomeRow.provider_id),
)
_READ_OFFERS = Statement(
    "quote_request_offers",
    select(OfferRow.id, OfferRow.status, OfferRow.valid_until, OfferRow.offer)
    .where(OfferRow.request_id == bindparam("request_id"))
    .order_by(OfferRow.id),
)

_request_decoder = msgspec.json.Decoder(QuoteRequest)
_failure_decoder = msgspec.json.Decoder(BindFailure | None)
_offer_decoder = msgspec.json.Decoder(Offer)


def _record(row: Row) -> RequestRecord:
    return RequestRecord(
        id=row[0],
        seller_id=row[1],
        status=_REQUEST_STATUS[row[2]],
        created_at=instant(row[3]),
        deadline_at=instant(row[4]),
        completed_at=optional_instant(row[5]),
        bound_offer_id=row[6],
        bind_reference=row[7],
        bind_failure=None if row[9] is None else _failure_decoder.decode(row[9]),
        renews_policy_id=row[10],
    )


async def read_request(db: Database, request_id: str) -> StoredRequest | None:
    """The request with its outcomes (by insurer) and offers, or None if there is none."""
    # One after another, in this order, not at once: see above.
    rows = await db.lookups.fetch(_READ_REQUEST, request_id=request_id)
    if not rows:
        return None
    outcome_rows = await db.lookups.fetch(_READ_OUTCOMES, request_id=request_id)
    offer_rows = await db.lookups.fetch(_READ_OFFERS, request_id=request_id)
    outcomes = [
        InsurerOutcomeView(
            provider_id=row[0],
            insurer_name=row[1],
            status=_OUTCOME_STATUS[row[2]],
            reason_code=row[3],
            reason=row[4],
            quote_reference=row[5],
            attempts=row[6],
            elapsed_ms=row[7],
        )
        for row in outcome_rows
    ]
    offers = [
        (
            OfferRecord(row[0], _OFFER_STATUS[row[1]], instant(row[2])),
            _offer_decoder.decode(row[3]),
        )
        for row in offer_rows
    ]
    # Sorted here as well: the database's collation could order ids otherwise than the
    # fan-out's own answer (written_request) does.
    outcomes.sort(key=_by_provider)
    offers.sort(key=_by_offer_id)
    return StoredRequest(_record(rows[0]), _request_decoder.decode(rows[0][8]), outcomes, offers)


def written_request(
    request: QuoteRequest,
    created_at: datetime,
    deadline_at: datetime,
    results: Sequence[InsurerResult],
    completed_at: datetime,
) -> StoredRequest:
    """The request as :func:`read_request` would read it back, built from what its fan-out
    wrote: the request (:func:`store_request`), every insurer's result and its completion
    (:func:`store_results`, which says when that is all there is to it). Nothing is read."""
    outcomes = sorted(
        (
            InsurerOutcomeView(
                provider_id=result.provider_id,
                insurer_name=result.insurer_name,
                status=result.status,
                reason_code=result.reason_code,
                reason=result.reason,
                quote_reference=result.quote_reference,
                attempts=len(result.attempts),
                elapsed_ms=result.elapsed_ms,
            )
            for result in results
        ),
        key=_by_provider,
    )
    offers = sorted(
        (
            (OfferRecord(offer_id, OfferStatus.OPEN, offer.valid_until.astimezone(UTC)), offer)
            for result in results
            for offer_id, offer in zip(result.offer_ids, result.offers, strict=True)
        ),
        key=_by_offer_id,
    )
    row = RequestRecord(
        id=request.request_id,
        seller_id=request.seller.seller_id,
        status=QuoteRequestStatus.COMPLETE,
        created_at=created_at.astimezone(UTC),
        deadline_at=deadline_at.astimezone(UTC),
        completed_at=completed_at.astimezone(UTC),
        bound_offer_id=None,
        bind_reference=None,
    )
    return StoredRequest(row, request, outcomes, offers)


def _by_provider(outcome: InsurerOutcomeView) -> str:
    return outcome.provider_id


def _by_offer_id(offer: tuple[OfferRecord, Offer]) -> str:
    return offer[0].id


# --- Lists and admin reads ------------------------------------------------------------------

_SUMMARY_COLUMNS = (
    QuoteRequestRow.id,
    QuoteRequestRow.seller_id,
    QuoteRequestRow.status,
    QuoteRequestRow.created_at,
    QuoteRequestRow.deadline_at,
    QuoteRequestRow.completed_at,
)


async def list_summaries(
    db: Database,
    *,
    seller_id: str | None,
    status: QuoteRequestStatus | None,
    limit: int,
    offset: int,
) -> list[QuoteRequestSummary]:
    """A page of requests (one seller's, or everyone's), newest first, with their progress."""
    query = (
        select(QuoteRequestRow)
        # A list does not need each request's whole snapshot (the JSON column).
        .options(load_only(*_SUMMARY_COLUMNS))
        .order_by(QuoteRequestRow.created_at.desc(), QuoteRequestRow.id.desc())
    )
    if seller_id is not None:
        query = query.where(QuoteRequestRow.seller_id == seller_id)
    if status is not None:
        query = query.where(QuoteRequestRow.status == status)
    async with db.reading() as session:
        rows = (await session.scalars(query.limit(limit).offset(offset))).all()
        ids = [row.id for row in rows]
        answered = InsurerOutcomeRow.status != OutcomeStatus.AWAITING
        outcomes = await session.execute(
            select(InsurerOutcomeRow.request_id, func.count(), func.count(case((answered, 1))))
            .where(InsurerOutcomeRow.request_id.in_(ids))
            .group_by(InsurerOutcomeRow.request_id)
        )
        outcome_counts = {request_id: (total, done) for request_id, total, done in outcomes}
        offers = await session.execute(
            select(OfferRow.request_id, func.count())
            .where(OfferRow.request_id.in_(ids), OfferRow.status != OfferStatus.WITHDRAWN)
            .group_by(OfferRow.request_id)
        )
        offer_counts = {request_id: count for request_id, count in offers}
    return [
        QuoteRequestSummary(
            id=row.id,
            seller_id=row.seller_id,
            status=QuoteRequestStatus(row.status),
            created_at=row.created_at,
            deadline_at=row.deadline_at,
            completed_at=row.completed_at,
            progress=Progress(
                insurers=outcome_counts.get(row.id, (0, 0))[0],
                answered=outcome_counts.get(row.id, (0, 0))[1],
                offers=offer_counts.get(row.id, 0),
            ),
        )
        for row in rows
    ]


async def partner_calls(
    db: Database, provider_id: str, *, status: OutcomeStatus | None, limit: int, offset: int
) -> list[PartnerQuoteCall]:
    """A page of one insurer's outcomes (of one status, if given), the latest asked first,
    with no more of each request than the insurer was sent anyway (its id and time)."""
    query = (
        select(
            InsurerOutcomeRow.request_id,
            QuoteRequestRow.created_at,
            InsurerOutcomeRow.status,
            InsurerOutcomeRow.reason_code,
            InsurerOutcomeRow.reason,
            InsurerOutcomeRow.quote_reference,
            InsurerOutcomeRow.attempts,
            InsurerOutcomeRow.elapsed_ms,
            InsurerOutcomeRow.updated_at,
        )
        .join(QuoteRequestRow, QuoteRequestRow.id == InsurerOutcomeRow.request_id)
        .where(InsurerOutcomeRow.provider_id == provider_id)
        .order_by(InsurerOutcomeRow.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        query = query.where(InsurerOutcomeRow.status == status)
    async with db.reading() as session:
        rows = (await session.execute(query)).all()
    return [
        PartnerQuoteCall(
            request_id=request_id,
            requested_at=requested_at,
            status=OutcomeStatus(outcome),
            reason_code=reason_code,
            reason=reason,
            quote_reference=quote_reference,
            attempts=attempts or 0,
            elapsed_ms=elapsed_ms,
            updated_at=updated_at,
        )
        for (
            request_id,
            requested_at,
            outcome,
            reason_code,
            reason,
            quote_reference,
            attempts,
            elapsed_ms,
            updated_at,
        ) in rows
    ]


async def list_attempts(db: Database, request_id: str) -> list[InsurerAttempt]:
    """The captured HTTP attempts of a request, oldest first (secrets already removed)."""
    async with db.reading() as session:
        rows = (
            await session.execute(
                select(AttemptRow.provider_id, AttemptRow.capture)
                .where(AttemptRow.request_id == request_id)
                .order_by(AttemptRow.id)
            )
        ).all()
    return [
        msgspec.convert({"provider_id": provider_id, **capture}, InsurerAttempt)
        for provider_id, capture in rows
    ]


# --- Binding --------------------------------------------------------------------------------
#
# Exactly one bind per request rests on one atomic, conditional UPDATE of the request
# (:func:`claim_for_bind`): on PostgreSQL and on SQLite alike only one concurrent bind changes
# the row.


@dataclass(frozen=True)
class BindTarget:
    """An offer to bind, with what binding needs of its request."""

    offer_id: str
    provider_id: str
    offer: Offer
    offer_status: OfferStatus
    valid_until: datetime
    request_id: str
    seller_id: str
    request: QuoteRequest
    request_status: QuoteRequestStatus


async def offer_to_bind(db: Database, offer_id: str) -> BindTarget | None:
    """The offer and its request, or None if there is no such offer."""
    async with db.reading() as session:
        offer_row = await session.get(OfferRow, offer_id)
        request_row = (
            await session.get(QuoteRequestRow, offer_row.request_id) if offer_row else None
        )
    if offer_row is None or request_row is None:
        return None
    return BindTarget(
        offer_id=offer_row.id,
        provider_id=offer_row.provider_id,
        offer=msgspec.convert(offer_row.offer, Offer),
        offer_status=OfferStatus(offer_row.status),
        valid_until=offer_row.valid_until,
        request_id=request_row.id,
        seller_id=request_row.seller_id,
        request=msgspec.convert(request_row.request, QuoteRequest),
        request_status=QuoteRequestStatus(request_row.status),
    )


@dataclass(frozen=True)
class BindClaim:
    """A bind a process holds: the request claimed for ``offer_id`` at ``claimed_at``, how many
    times the bind has been sent (this one included), and whose Idempotency-Key waits for its
    answer. ``claimed_at`` fences the settlement: only the latest claim may settle the bind."""

    request_id: str
    offer_id: str
    claimed_at: datetime
    attempts: int
    principal_id: str | None
    idempotency_key: str | None


async def claim_for_bind(
    db: Database,
    request_id: str,
    offer_id: str,
    *,
    principal_id: str,
    idempotency_key: str,
    now: datetime,
) -> BindClaim | None:
    """Move the request to ``binding`` for this offer, if no bind has claimed it yet; the claim
    if this call made it, None if another bind holds (or held) the request."""
    async with db.writing() as session:
        result = await session.execute(
            update(QuoteRequestRow)
            .where(QuoteRequestRow.id == request_id, QuoteRequestRow.status.in_(_OPEN_FOR_BIND))
            .values(
                status=QuoteRequestStatus.BINDING,
                bound_offer_id=offer_id,
                bind_claimed_at=now,
                bind_attempts=1,
                bind_principal_id=principal_id,
                bind_idempotency_key=idempotency_key,
                bind_failure=null(),
            )
        )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return BindClaim(request_id, offer_id, now, 1, principal_id, idempotency_key)


async def hold_bind(session: WriteSession, claim: BindClaim) -> bool:
    """Whether ``claim`` still holds its request (``binding``, claimed at that instant), and if so
    keep it held until the caller's transaction ends: the row is locked on PostgreSQL, and on
    SQLite the write transaction already excludes every other writer. Every settlement asks this
    first, so that a bind another process has taken over is settled once."""
    result = await session.execute(
        update(QuoteRequestRow)
        .where(
            QuoteRequestRow.id == claim.request_id,
            QuoteRequestRow.status == QuoteRequestStatus.BINDING,
            QuoteRequestRow.bind_claimed_at == claim.claimed_at,
        )
        .values(bind_claimed_at=claim.claimed_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def reopen_after_bind(
    session: WriteSession, request_id: str, failure: BindFailure | None
) -> None:
    """A claimed bind failed: the request is ``complete`` again, any offer may be bound, and
    ``failure`` says why."""
    await session.execute(
        update(QuoteRequestRow)
        .where(
            QuoteRequestRow.id == request_id,
            QuoteRequestRow.status == QuoteRequestStatus.BINDING,
        )
        .values(
            status=QuoteRequestStatus.COMPLETE,
            bound_offer_id=None,
            bind_failure=null() if failure is None else msgspec.to_builtins(failure),
        )
    )


async def mark_bind_pending(session: WriteSession, request_id: str, bind_reference: str) -> None:
    """The insurer confirms the bind later, by a callback naming ``bind_reference``."""
    await session.execute(
        update(QuoteRequestRow)
        .where(QuoteRequestRow.id == request_id)
        .values(status=QuoteRequestStatus.BIND_PENDING, bind_reference=bind_reference)
    )


# A process that dies while its insurer is binding leaves the request ``binding``. Another
# process takes the bind over once its claim is older than any live bind can be, sends it again
# (the same idempotency key, so the insurer answers as it did the first time) and settles it.
# Taking over is one conditional UPDATE that moves the claim forward: on PostgreSQL a second
# process's UPDATE waits for the first's row lock and then finds the claim young; on SQLite
# writers take turns (BEGIN IMMEDIATE). Either way only one process holds each bind at a time.


async def any_binding(db: Database) -> bool:
    """Whether any request is ``binding`` (a bind under way here or elsewhere, or abandoned)."""
    async with db.reading() as session:
        found = await session.scalar(
            select(QuoteRequestRow.id)
            .where(QuoteRequestRow.status == QuoteRequestStatus.BINDING)
            .limit(1)
        )
    return found is not None


async def stamp_unclaimed_binds(db: Database, now: datetime) -> int:
    """Give ``now`` as claim time to binds that have none (claimed by a process of an earlier
    version, which did not record it): they are taken over once that is old enough, never at
    once, in case the process that claimed one is still alive. Returns how many."""
    async with db.writing() as session:
        result = await session.execute(
            update(QuoteRequestRow)
            .where(
                QuoteRequestRow.status == QuoteRequestStatus.BINDING,
                QuoteRequestRow.bind_claimed_at.is_(None),
            )
            .values(bind_claimed_at=now)
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def abandoned_binds(db: Database, *, claimed_before: datetime, limit: int) -> list[str]:
    """Requests still ``binding`` on a claim older than ``claimed_before``, oldest first."""
    async with db.reading() as session:
        found = await session.scalars(
            select(QuoteRequestRow.id)
            .where(
                QuoteRequestRow.status == QuoteRequestStatus.BINDING,
                QuoteRequestRow.bind_claimed_at < claimed_before,
            )
            .order_by(QuoteRequestRow.bind_claimed_at, QuoteRequestRow.id)
            .limit(limit)
        )
        return list(found.all())


async def take_over_bind(
    db: Database, request_id: str, *, claimed_before: datetime, now: datetime
) -> BindClaim | None:
    """Claim the bind of ``request_id`` at ``now`` for one more send, if it is still ``binding``
    on a claim older than ``claimed_before``; None if it is not (settled, or another process took
    it over first)."""
    async with db.writing() as session:
        result = await session.execute(
            update(QuoteRequestRow)
            .where(
                QuoteRequestRow.id == request_id,
                QuoteRequestRow.status == QuoteRequestStatus.BINDING,
                QuoteRequestRow.bind_claimed_at < claimed_before,
            )
            .values(bind_claimed_at=now, bind_attempts=QuoteRequestRow.bind_attempts + 1)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = (
            await session.execute(
                select(
                    QuoteRequestRow.bound_offer_id,
                    QuoteRequestRow.bind_attempts,
                    QuoteRequestRow.bind_principal_id,
                    QuoteRequestRow.bind_idempotency_key,
                ).where(QuoteRequestRow.id == request_id)
            )
        ).one()
    if row.bound_offer_id is None:  # pragma: no cover - every claim names its offer
        return None
    return BindClaim(
        request_id=request_id,
        offer_id=row.bound_offer_id,
        claimed_at=now,
        attempts=row.bind_attempts,
        principal_id=row.bind_principal_id,
        idempotency_key=row.bind_idempotency_key,
    )


async def bind_waits_for_key(db: Database, principal_id: str, idempotency_key: str) -> bool:
    """Whether a bind still under way (``binding``) will answer this caller's key."""
    async with db.reading() as session:
        found = await session.scalar(
            select(QuoteRequestRow.id)
            .where(
                QuoteRequestRow.status == QuoteRequestStatus.BINDING,
                QuoteRequestRow.bind_principal_id == principal_id,
                QuoteRequestRow.bind_idempotency_key == idempotency_key,
            )
            .limit(1)
        )
    return found is not None


async def finish_bind(session: WriteSession, request_id: str, offer_id: str) -> None:
    """Mark the request bound, its offer bound and every other offer superseded (in the
    caller's transaction, the one that records the policy)."""
    await session.execute(
        update(QuoteRequestRow)
        .where(QuoteRequestRow.id == request_id)
        .values(status=QuoteRequestStatus.BOUND)
    )
    await session.execute(
        update(OfferRow)
        .where(OfferRow.request_id == request_id)
        .values(status=OfferStatus.SUPERSEDED)
    )
    await session.execute(
        update(OfferRow).where(OfferRow.id == offer_id).values(status=OfferStatus.BOUND)
    )


# --- Insurers' answers by callback (the webhook worker's transaction) -----------------------


#: An insurer's outcome as the worker's session holds it, locked by :func:`lock_outcome`: read
#: its attributes; change it with :func:`note_event` and :func:`settle_outcome`.
class LockedOutcome(Protocol):
    """An insurer's outcome locked for the caller's transaction: the webhook worker reads it
    here and changes it only through :func:`note_event` and :func:`settle_outcome`."""

    @property
    def request_id(self) -> str: ...
    @property
    def provider_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def last_event_at(self) -> datetime | None: ...
    @property
    def last_event_sequence(self) -> int | None: ...


@dataclass(frozen=True)
class PendingBind:
    """A request whose bind its insurer confirms later."""

    request_id: str
    seller_id: str
    offer_id: str
    bound: bool


async def lock_outcome(
    session: WriteSession, provider_id: str, quote_reference: str
) -> LockedOutcome | None:
    """The outcome ``quote_reference`` names, locked until the session ends: two workers
    applying events of the same quote take turns (PostgreSQL)."""
    row: InsurerOutcomeRow | None = await session.scalar(
        select(InsurerOutcomeRow)
        .where(
            InsurerOutcomeRow.provider_id == provider_id,
            InsurerOutcomeRow.quote_reference == quote_reference,
        )
        .with_for_update()
    )
    return row


async def takes_quote_events(session: WriteSession, request_id: str) -> bool:
    """Whether insurers' quote answers may still change the request: it exists and no bind of
    it is under way or done (the seller is buying, or bought, one of its offers)."""
    request = await session.get(QuoteRequestRow, request_id)
    return request is not None and request.status not in _IN_BIND


async def withdraw_offers(session: WriteSession, request_id: str, provider_id: str) -> None:
    """The insurer's later answer replaces its earlier one: its open offers can no longer be
    bound."""
    await session.execute(
        update(OfferRow)
        .where(
            OfferRow.request_id == request_id,
            OfferRow.provider_id == provider_id,
            OfferRow.status == OfferStatus.OPEN,
        )
        .values(status=OfferStatus.WITHDRAWN)
    )


def note_event(
    outcome: LockedOutcome, occurred_at: datetime, sequence: int | None, now: datetime
) -> None:
    """Record the insurer event that now decides ``outcome`` (an earlier one arriving late is
    then ignored)."""
    row = cast(InsurerOutcomeRow, outcome)
    row.last_event_at, row.last_event_sequence = occurred_at, sequence
    row.updated_at = now


def settle_outcome(
    outcome: LockedOutcome, status: OutcomeStatus, reason_code: str | None, reason: str | None
) -> None:
    """Give ``outcome`` the insurer's answer."""
    row = cast(InsurerOutcomeRow, outcome)
    row.status, row.reason_code, row.reason = status, reason_code, reason


def add_offers(
    session: WriteSession,
    request_id: str,
    provider_id: str,
    offers: Iterable[Offer],
    received_at: datetime,
) -> None:
    """Add the insurer's offers to the request, ``open``."""
    for offer in offers:
        session.add(
            OfferRow(
                id=str(uuid.uuid4()),
                request_id=request_id,
                provider_id=provider_id,
                quote_reference=offer.quote_reference,
                offer=msgspec.to_builtins(offer),
                bindable=offer.bindable,
                valid_until=offer.valid_until,
                status=OfferStatus.OPEN,
                received_at=received_at,
            )
        )


async def pending_bind(session: WriteSession, bind_reference: str) -> PendingBind | None:
    """The request whose bind ``bind_reference`` names, or None if no bind of ours has it."""
    row = (
        await session.execute(
            select(
                QuoteRequestRow.id,
                QuoteRequestRow.seller_id,
                QuoteRequestRow.bound_offer_id,
                QuoteRequestRow.status,
            ).where(QuoteRequestRow.bind_reference == bind_reference)
        )
    ).first()
    if row is None or row.bound_offer_id is None:
        return None
    return PendingBind(
        request_id=row.id,
        seller_id=row.seller_id,
        offer_id=row.bound_offer_id,
        bound=row.status == QuoteRequestStatus.BOUND,
    )


# --- Retention ------------------------------------------------------------------------------
#
# A capture is old when its request was created before the cut-off (its attempts were made
# within the request's deadline, seconds later). A purged capture carries ``purged_at``
# (insurers.capture.purged_capture); there is no column for it, so "not yet purged" is read
# from the JSON on both databases.

_NOT_PURGED = AttemptRow.capture["purged_at"].as_string().is_(None)


def _asked_before(cutoff: datetime) -> Any:
    return AttemptRow.request_id.in_(
        select(QuoteRequestRow.id).where(QuoteRequestRow.created_at < cutoff)
    )


async def captures_to_purge(
    session: WriteSession, *, asked_before: datetime, after_id: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """Up to ``limit`` captures not yet purged, of requests created before ``asked_before``,
    with ids above ``after_id``, by id; locked until the caller's transaction ends
    (PostgreSQL: rows another purge holds are skipped)."""
    rows = await session.execute(
        select(AttemptRow.id, AttemptRow.capture)
        .where(AttemptRow.id > after_id, _asked_before(asked_before), _NOT_PURGED)
        .order_by(AttemptRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(attempt_id, capture) for attempt_id, capture in rows]


async def count_captures_to_purge(session: ReadSession, *, asked_before: datetime) -> int:
    """How many captures :func:`captures_to_purge` would hand out, in all."""
    count = await session.scalar(
        select(func.count()).select_from(AttemptRow).where(_asked_before(asked_before), _NOT_PURGED)
    )
    return int(count or 0)


async def replace_captures(session: WriteSession, captures: Mapping[int, dict[str, Any]]) -> None:
    """In the caller's transaction: store each attempt's capture as given (by attempt id)."""
    if captures:
        await session.execute(
            update(AttemptRow),
            [{"id": attempt_id, "capture": capture} for attempt_id, capture in captures.items()],
        )
