"""Decision receipts' storage: the only code that reads or writes ``decision_receipts`` and
``decision_effects`` (the retention purge removes a chain's old prefix through
:func:`purge_receipts`).

An answer is given only once its receipt is committed, yet a commit per check would cost the
check its speed. So receipts are group-committed: :meth:`ReceiptWriter.write` queues a call's
receipts and waits; a flush writes everything queued in one transaction, and the calls that
arrive meanwhile are the next flush (several flushes may be in flight on PostgreSQL: see
:class:`ReceiptWriter`). An idle service flushes at once (no timer); a busy one writes many
checks' receipts per commit. Each seller's receipts join its chain
(``audit.chain``) under the lock of its head (the ``audit_heads`` row, as ``audit.heads``
explains, taken here with the driver's own statements).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]  # no stubs published
import msgspec
from sqlalchemy import (
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
)

from accelerator.audit.anchors import ChainPrefix
from accelerator.audit.chain import GENESIS, Chain, link
from accelerator.audit.models import AuditHeadRow, DecisionEffectRow, DecisionReceiptRow
from accelerator.infra.codec import json_text, stored_instant
from accelerator.infra.database import Database, ReadSession, WriteSession
from accelerator.infra.driver_writes import sqlite_transaction, write_connection
from accelerator.infra.statements import Statement
from schemas import (
    AffectedBy,
    ChainLink,
    CoverageDecision,
    DecisionReceipt,
    ReceiptContent,
    reading_stored,
)

#: The most receipts one transaction writes; more queued wait for the next flush.
MAX_RECEIPTS_PER_COMMIT: Final = 5000
#: Receipts waiting that are worth a flush beside those in flight (PostgreSQL): a batch's.
_FULL_FLUSH: Final = 64
#: Seconds after which a flush in flight is stalled: many times a flush's usual commit.
_STALLED_AFTER: Final = 0.025

_CONTENT = msgspec.json.Decoder(ReceiptContent)
_DECISION = msgspec.json.Decoder(CoverageDecision)


def new_receipt_ids(count: int) -> list[str]:
    """``count`` new receipts' ids: UUIDs version 7 (RFC 9562), which begin with the millisecond
    they were made, so that receipts are appended at the end of their table's primary-key
    index rather than at random places in it (a random id made each insert touch another page:
    about 40% of SQLite's work per receipt, docs/performance.md). Their random bits come from
    the operating system's generator, read in large pieces (:class:`_RandomHex`), and the ids
    are cut from its hex text (arithmetic on each id's integer cost a batch decision 2 µs)."""
    stamp = f"{(time.time_ns() // 1_000_000) & 0xFFFF_FFFF_FFFF:012x}"
    head = f"{stamp[:8]}-{stamp[8:]}-7"  # the millisecond, then the version
    # 74 random bits per id, in 19 hex digits: 3 of rand_a, then a digit whose low two bits
    # follow the variant's "10", then 15 of rand_b (the 19th digit's extra bits are dropped).
    digits = _RANDOM.take(20 * count)
    return [
        f"{head}{digits[i : i + 3]}-{_VARIANT[digits[i + 3]]}{digits[i + 4 : i + 7]}"
        f"-{digits[i + 7 : i + 19]}"
        for i in range(0, 20 * count, 20)
    ]


class _RandomHex:
    """Hex digits of the operating system's random bytes, read 8 kB at a time. A single
    check's id read them a system call at a time: 3-5% of a single check's samples, most of it
    waiting to take the interpreter's lock back from the database thread (SQLite) after the
    call released it."""

    _READ: Final = 8192  # bytes: 16,384 digits, 819 ids

    def __init__(self) -> None:
        self._digits = ""
        self._at = 0

    def take(self, count: int) -> str:
        """``count`` unused random hex digits (never handed out twice)."""
        if self._at + count > len(self._digits):
            self._digits = os.urandom(max(self._READ, count // 2 + 1)).hex()
            self._at = 0
        taken = self._digits[self._at : self._at + count]
        self._at += count
        return taken


_RANDOM: Final = _RandomHex()


#: A random hex digit's low two bits after the variant's "10": 8, 9, a or b.
_VARIANT: Final = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


_ENCODER = msgspec.json.Encoder()


def encode(content: ReceiptContent) -> str:
    """A receipt's canonical content: its struct's fields in their declared order."""
    return _ENCODER.encode(content).decode()


class ReceiptWriter:
    """Writes receipts durably, many calls' at a time (see the module's docstring).

    On PostgreSQL several flushes may be in flight, so that the next ones are assembled and
    sent while the last waits for its commit. Flushes in flight never share a seller: a call
    naming a seller whose head another flush holds waits for the next flush (as do later calls
    naming its sellers, so each seller's receipts are chained in the order they came), where it
    would otherwise wait on the head's lock, holding the locks of all its other sellers.
    SQLite takes one writer at a time: one flush."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queued: list[_Call] = []
        self._queued_receipts = 0  # in the calls queued
        self._flushes = 0
        self._most_flushes = 1 if db.is_sqlite else 3
        self._in_flight: set[str] = set()  # the sellers of the flushes in flight
        self._latest_began = 0.0  # when the latest flush in flight began (the loop's clock)
        self._known = _KnownHeads()
        # Referenced until done: the event loop keeps only weak references to tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, receipts: Sequence[ReceiptContent]) -> None:
        """Return once ``receipts`` are committed; raise what the commit raised."""
        if not receipts:
            return
        call = _Call(
            receipts,
            asyncio.get_running_loop().create_future(),
            None if self._db.tracing is None else self._db.tracing.current(),
        )
        self._queued.append(call)
        self._queued_receipts += len(receipts)
        # A flush starts when none is in flight, or when a full one's worth is waiting, or
        # when the one in flight is stalled (:meth:`_flush`). Single checks' receipts thus wait
        # for the flush in flight and go together in the next: three flushes of a dozen cost
        # three times the round trips and statements of one of three dozen (a single check's
        # receipt 38 -> 18 µs of CPU, docs/performance.md), while batches' receipts still
        # overlap the commit of the flush before.
        if self._flushes == 0 or (
            self._flushes < self._most_flushes
            and (self._queued_receipts >= _FULL_FLUSH or self._in_flight_stalled())
        ):
            self._start_flush()
        # A caller that stops waiting cancels its own future only: the flush runs in a task of
        # its own and still writes its receipts (it skips settling a cancelled future).
        await call.done

    def _start_flush(self) -> None:
        self._flushes += 1
        task = asyncio.create_task(self._flush(), name="receipt-writer")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _in_flight_stalled(self) -> bool:
        """Whether even the latest flush in flight began _STALLED_AFTER ago or more."""
        return asyncio.get_running_loop().time() - self._latest_began >= _STALLED_AFTER

    def _stalled(self) -> None:
        """A flush has been in flight for _STALLED_AFTER: what waits goes in one beside it."""
        if self._queued and self._flushes < self._most_flushes and self._in_flight_stalled():
            self._start_flush()

    async def _flush(self) -> None:
        """Flush until nothing queued can go: what waits for a seller in flight is taken by
        the flush holding it, once that one is done. A flush that takes longer than a commit
        should (another process holds one of its sellers' heads, a slow database) lets the
        receipts queued meanwhile go in a flush of their own."""
        loop = asyncio.get_running_loop()
        try:
            while batch := self._take():
                sellers = {seller for call in batch for seller in call.sellers}
                self._in_flight |= sellers
                self._latest_began = loop.time()
                stalled = None
                if self._flushes < self._most_flushes:
                    stalled = loop.call_later(_STALLED_AFTER, self._stalled)
                try:
                    await self._flush_once(batch)
                finally:
                    self._in_flight -= sellers
                    if stalled is not None:
                        stalled.cancel()
        finally:
            self._flushes -= 1

    def _take(self) -> list[_Call]:
        """The queued calls the next flush writes, in order, up to MAX_RECEIPTS_PER_COMMIT."""
        taken: list[_Call] = []
        kept: list[_Call] = []
        blocked = set(self._in_flight)
        count = 0
        for call in self._queued:
            if count >= MAX_RECEIPTS_PER_COMMIT or not blocked.isdisjoint(call.sellers):
                blocked |= call.sellers
                kept.append(call)
            else:
                taken.append(call)
                count += len(call.receipts)
        self._queued = kept
        self._queued_receipts -= count
        return taken

    async def _flush_once(self, batch: Sequence[_Call]) -> None:
        tracing = self._db.tracing
        if tracing is None:
            await self._commit(batch)
            return
        # One span per flush, in the trace of the first call it writes, linked to the others'.
        with tracing.span(
            "store decision receipts",
            {"accelerator.receipts": sum(len(call.receipts) for call in batch)},
            parents=[call.queued_by for call in batch if call.queued_by is not None],
        ):
            await self._commit(batch)

    async def _commit(self, batch: Sequence[_Call]) -> None:
        try:
            await _store(self._db, [r for call in batch for r in call.receipts], self._known)
        except Exception as exc:
            for call in batch:
                if not call.done.done():
                    call.done.set_exception(exc)
            return
        for call in batch:
            if not call.done.done():
                call.done.set_result(None)


class _KnownHeads:
    """Where this process's flushes left each seller's receipt chain, so that the next flush
    of a seller can skip taking its head (PostgreSQL; see _ADVANCE_HEADS). What it holds may
    be out of date either way: another process wrote since (the places the flush meant are
    taken), or the database went back in time (a head is behind, which the heads' statement
    raises on). Either way the flush fails whole, having written nothing, and is done again
    the locked way. Entries are dropped after _KNOWN_FOR, so that sellers seen once do not
    stay."""

    def __init__(self) -> None:
        self._heads: dict[str, tuple[int, str, float]] = {}

    def of(self, sellers: Sequence[str]) -> dict[str, tuple[int, str]]:
        """The known heads of those of ``sellers`` that have one recent enough."""
        since = time.monotonic() - _KNOWN_FOR
        heads = self._heads
        return {
            seller: (known[0], known[1])
            for seller in sellers
            if (known := heads.get(seller)) is not None and known[2] >= since
        }

    def remember(self, heads: dict[str, tuple[int, str]]) -> None:
        """Heads just committed."""
        if len(self._heads) + len(heads) > _MOST_KNOWN:
            self._heads.clear()  # rare and cheap: the next flushes read the heads again
        now = time.monotonic()
        self._heads.update((seller, (p, h, now)) for seller, (p, h) in heads.items())

    def clear(self) -> None:
        self._heads.clear()

    def forget(self, sellers: Sequence[str]) -> None:
        for seller in sellers:
            self._heads.pop(seller, None)


#: Seconds a known head is kept (see _KnownHeads).
_KNOWN_FOR: Final = 300.0
#: The most sellers' heads a process keeps (about 200 bytes each).
_MOST_KNOWN: Final = 100_000


class _Call:
    """One call's receipts, waiting to be written, and how it learns they were."""

    __slots__ = ("done", "queued_by", "receipts", "sellers")

    def __init__(
        self,
        receipts: Sequence[ReceiptContent],
        done: asyncio.Future[None],
        queued_by: Any,
    ) -> None:
        self.receipts = receipts
        self.done = done
        self.sellers = frozenset(r.seller_id for r in receipts)
        # The caller's trace context when tracing: the flush's span joins its trace.
        self.queued_by = queued_by


# The writes run on the driver (infra.driver_writes): a batch check keeps a thousand receipts,
# and SQLAlchemy's per-row work cost more than deciding them (docs/performance.md). Per flush,
# whatever its size: find the sellers' heads, insert the receipts, move the heads.
#
# When a flush cannot rely on the heads it knows (another process moved one), PostgreSQL takes
# the heads in one statement that opens the missing ones and locks them all in
# seller order (an INSERT's ON CONFLICT DO UPDATE locks the row it meets; the update is a no-op):
# any two flushes, of any processes, lock shared sellers in the same order, so they cannot
# deadlock, and a seller's first receipt costs no extra round trip. The sellers go as one JSON
# array: asyncpg checks and encodes a text[] parameter value by value (about 2 µs of the
# server's CPU a seller in a batch).
_TAKE_HEADS_POSTGRESQL = Statement.text(
    "take_audit_heads",
    postgresql="""
INSERT INTO audit_heads AS h (chain, seller_id, position, row_hash)
SELECT CAST(:chain AS text), s.seller_id, 0, CAST(:genesis AS text)
FROM json_array_elements_text(CAST(:seller_ids AS json)) AS s(seller_id)
ORDER BY s.seller_id
ON CONFLICT (chain, seller_id) DO UPDATE SET position = h.position
RETURNING h.seller_id, h.position, h.row_hash
""",
)
#: From this many receipts a flush inserts them with COPY, whose rows go as they are where an
#: array parameter is checked and encoded value by value (about half the client's CPU per
#: receipt, docs/performance.md): worth its two extra round trips.
_COPY_FROM: Final = 64

# A flush whose sellers' heads the process knows (:class:`_KnownHeads`) skips taking them: it
# writes the heads it expects to leave, then the receipts, and a head another process moved
# meanwhile makes its receipt's place in the chain taken (the unique seller and position), so
# the flush fails whole and is done again the locked way. The heads go first, in seller order,
# as the locked way takes them: no flush of any kind then waits on another's receipt while
# holding a head the other wants. A head is never moved back (``WHERE``), whatever happens.
#
# The one head that is not further along than expected is one behind it: the database went
# back in time (restored from a backup) under the process. Its receipt would then follow a row
# the database no longer has, so the statement raises instead (``behind``, by casting a text
# that is not a number: a CASE of constants would be folded, and raise, when the statement is
# planned), writing nothing, and the flush is done again the locked way. The heads are read
# with the statement's snapshot: one moved since by another process reads as behind only if
# its receipts' places are taken anyway. Each head is read by its key (a subquery per seller):
# as a join, PostgreSQL's generic plan hashed every head of the chain for each flush.
#
# The heads (and a small flush's rows) are read as ``jsonb``, parsed once: ``->>`` on ``json``
# parses the element's text again for every field it takes, which cost the database about a
# fifth more CPU a head and a third more a receipt of a small flush (docs/performance.md).
_HEAD_BEHIND: Final = "audit head behind this process"
_BEHIND = f"""
behind AS (
    SELECT CAST('{_HEAD_BEHIND}: ' || (v.head ->> 0) AS integer) AS raised
    FROM jsonb_array_elements(CAST(:heads AS jsonb)) AS v(head)
    WHERE coalesce(
        (SELECT h.position FROM audit_heads AS h
         WHERE h.chain = CAST(:chain AS text) AND h.seller_id = v.head ->> 0),
        0
    ) < CAST(v.head ->> 3 AS integer)
)"""  # noqa: S608 - our own constant, no value of anyone's
_ADVANCE_HEADS = """
INSERT INTO audit_heads AS h (chain, seller_id, position, row_hash)
SELECT CAST(:chain AS text), v.head ->> 0, CAST(v.head ->> 1 AS integer), v.head ->> 2
FROM jsonb_array_elements(CAST(:heads AS jsonb)) AS v(head)
WHERE (SELECT count(raised) FROM behind) = 0
ORDER BY v.head ->> 0
ON CONFLICT (chain, seller_id) DO UPDATE
SET position = excluded.position, row_hash = excluded.row_hash
WHERE h.position < excluded.position
"""
_ADVANCE_HEADS_POSTGRESQL = Statement.text(
    "advance_audit_heads", postgresql=f"WITH {_BEHIND}\n{_ADVANCE_HEADS}"
)
# A small flush's heads and receipts in one statement, in autocommit: one round trip, where
# taking the heads in a transaction took four. The receipts' scalar subquery makes the heads'
# upsert run first. The rows but their documents go as one JSON array, the documents as one
# text[]: ten array parameters, checked and encoded value by value, cost the server twice the
# CPU a receipt (docs/performance.md).
_APPEND_POSTGRESQL = Statement.text(
    "append_receipts",
    postgresql=f"""
WITH {_BEHIND},
moved AS ({_ADVANCE_HEADS} RETURNING 1)
INSERT INTO decision_receipts (id, seller_id, claim_reference, incident_at, evaluated_at,
                               decision, document, chain_position, prev_hash, row_hash)
SELECT r.v ->> 0, r.v ->> 1, r.v ->> 2, CAST(r.v ->> 3 AS timestamptz),
       CAST(r.v ->> 4 AS timestamptz), r.v ->> 5, d.document, CAST(r.v ->> 6 AS integer),
       r.v ->> 7, r.v ->> 8
FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS r(v, n)
JOIN unnest(CAST(:documents AS text[])) WITH ORDINALITY AS d(document, n) USING (n)
WHERE (SELECT count(*) FROM moved) >= 0
""",  # noqa: S608 - our own constant, no value of anyone's
)
_READ_HEADS_POSTGRESQL = Statement.text(
    "peek_audit_heads",
    postgresql="""
SELECT seller_id, position, row_hash FROM audit_heads
WHERE chain = CAST(:chain AS text)
  AND seller_id IN (SELECT json_array_elements_text(CAST(:seller_ids AS json)))
""",
)

# SQLite has one writer at a time (the flush's BEGIN IMMEDIATE): no lock to take; the heads of
# sellers new to the chain are opened when the heads move.
_SQLITE_HEADS = func.json_each(bindparam("seller_ids", type_=String)).table_valued("value")
_READ_HEADS_SQLITE = Statement(
    "read_audit_heads",
    select(AuditHeadRow.seller_id, AuditHeadRow.position, AuditHeadRow.row_hash).where(
        AuditHeadRow.chain == bindparam("chain"),
        AuditHeadRow.seller_id.in_(select(_SQLITE_HEADS.c.value)),
    ),
    dialects=("sqlite",),
)
# The heads move in one statement, their new places as one JSON array of [seller, position,
# hash]: an UPDATE per seller bound three values each (about 3 µs of CPU a receipt). It is an
# upsert driven by the array, so that each of its heads is found by the primary key: as
# UPDATE ... FROM json_each, SQLite's planner walked every head of the chain for each entry
# of the array (a flush of 300 among 5,000 sellers: 1.2 ms of CPU a receipt). ``WHERE true``
# tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to the SELECT's join.
_MOVE_HEADS_SQLITE = Statement.text(
    "move_audit_heads",
    sqlite="""
INSERT INTO audit_heads (chain, seller_id, position, row_hash)
SELECT :chain, json_extract(v.value, '$[0]'), json_extract(v.value, '$[1]'),
       json_extract(v.value, '$[2]')
FROM json_each(:heads) AS v WHERE true
ON CONFLICT (chain, seller_id) DO UPDATE
SET position = excluded.position, row_hash = excluded.row_hash
""",
)

_RECEIPT_COLUMNS = (
    "id",
    "seller_id",
    "claim_reference",
    "incident_at",
    "evaluated_at",
    "decision",
    "document",
    "chain_position",
    "prev_hash",
    "row_hash",
)
_DOCUMENT: Final = _RECEIPT_COLUMNS.index("document")
_INSERT_RECEIPT_SQLITE = Statement(
    "insert_receipt",
    insert(DecisionReceiptRow).values({c: bindparam(c) for c in _RECEIPT_COLUMNS}),
    dialects=("sqlite",),
)
# executemany binds each row's values by position: the rows are laid out as the SQL numbers them.
if _INSERT_RECEIPT_SQLITE.compiled("sqlite").names != _RECEIPT_COLUMNS:
    raise ValueError("insert_receipt must take its parameters in _RECEIPT_COLUMNS' order")

_CHAIN = Chain.RECEIPTS.value


def _rows(
    receipts: Sequence[ReceiptContent], heads: dict[str, tuple[int, str]], *, sqlite: bool
) -> list[tuple[Any, ...]]:
    """The receipts' rows as statements bind them (laid out as ``_RECEIPT_COLUMNS``), each
    linked to the one before it in its seller's chain; ``heads`` (seller -> position, hash)
    is moved past them."""
    rows: list[tuple[Any, ...]] = []
    # A call's receipts share their evaluation instant: each distinct one is formatted once.
    instants: dict[datetime, Any] = {}
    for receipt in receipts:
        document = _ENCODER.encode(receipt)
        position, prev = heads[receipt.seller_id]
        row_hash = link(prev, document)
        heads[receipt.seller_id] = (position + 1, row_hash)
        evaluated_at = instants.get(receipt.evaluated_at)
        if evaluated_at is None:
            evaluated_at = instants[receipt.evaluated_at] = stored_instant(
                receipt.evaluated_at, sqlite=sqlite
            )
        rows.append(
            (
                receipt.id,
                receipt.seller_id,
                receipt.claim_reference,
                stored_instant(receipt.request.incident_at, sqlite=sqlite),
                evaluated_at,
                receipt.decision.decision,
                document.decode(),
                position + 1,
                prev,
                row_hash,
            )
        )
    return rows


async def _store(db: Database, receipts: Sequence[ReceiptContent], known: _KnownHeads) -> None:
    sellers = sorted({r.seller_id for r in receipts})
    async with write_connection(db) as driver:
        if db.is_sqlite:
            async with sqlite_transaction(driver):
                heads = await _sqlite_heads(driver, sellers)
                await _append_sqlite(driver, receipts, heads)
            return
        heads = known.of(sellers)
        try:
            if missing := [seller for seller in sellers if seller not in heads]:
                heads |= await _read_heads_postgresql(driver, missing)
            await _append_expecting(driver, receipts, heads)
        except _MOVED_MEANWHILE:
            known.forget(sellers)  # another process wrote to one of these chains since
        except asyncpg.exceptions.InvalidTextRepresentationError as exc:
            if _HEAD_BEHIND not in str(exc):
                raise
            known.clear()  # the database went back in time: no known head can be trusted
        else:
            known.remember(heads)
            return
        # Take the heads, locked, and write after them.
        async with driver.transaction():
            heads = await _take_heads_postgresql(driver, sellers)
            await _append_expecting(driver, receipts, heads)  # the heads are ours now
        known.remember(heads)


#: What a flush expecting heads meets when another process moved one of them meanwhile: the
#: place it meant for a receipt is taken, or (two such flushes) each waits on the other.
_MOVED_MEANWHILE: Final = (
    asyncpg.exceptions.UniqueViolationError,
    asyncpg.exceptions.DeadlockDetectedError,
)


async def _read_heads_postgresql(driver: Any, sellers: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The sellers' heads as committed (unlocked); a seller new to the chain at its start."""
    read = _READ_HEADS_POSTGRESQL.compiled("postgresql")
    found = await driver.fetch(
        read.sql, *read.args({"chain": _CHAIN, "seller_ids": json_text(sellers)})
    )
    heads = {seller: (position, row_hash) for seller, position, row_hash in found}
    return {seller: heads.get(seller, (0, GENESIS)) for seller in sellers}


async def _take_heads_postgresql(driver: Any, sellers: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The sellers' heads, opened where missing and locked until the transaction ends."""
    take = _TAKE_HEADS_POSTGRESQL.compiled("postgresql")
    taken = await driver.fetch(
        take.sql,
        *take.args({"chain": _CHAIN, "genesis": GENESIS, "seller_ids": json_text(sellers)}),
    )
    return {seller: (position, row_hash) for seller, position, row_hash in taken}


async def _append_expecting(
    driver: Any, receipts: Sequence[ReceiptContent], heads: dict[str, tuple[int, str]]
) -> None:
    """Insert the receipts after the heads expected (``heads``, moved past them), and move the
    heads; raise one of _MOVED_MEANWHILE, having written nothing, if another process moved
    one of them meanwhile (which cannot happen to heads the caller's transaction has taken),
    or an InvalidTextRepresentationError naming _HEAD_BEHIND if one is behind them."""
    expected = {seller: position for seller, (position, _) in heads.items()}
    rows = _rows(receipts, heads, sqlite=False)
    moved = json_text([(seller, p, h, expected[seller]) for seller, (p, h) in heads.items()])
    if len(rows) < _COPY_FROM:
        appending = _APPEND_POSTGRESQL.compiled("postgresql")
        params = {
            "chain": _CHAIN,
            "heads": moved,
            "rows": json_text([row[:_DOCUMENT] + row[_DOCUMENT + 1 :] for row in rows]),
            "documents": [row[_DOCUMENT] for row in rows],
        }
        await driver.execute(appending.sql, *appending.args(params))
        return
    advancing = _ADVANCE_HEADS_POSTGRESQL.compiled("postgresql")
    # In the caller's transaction if it has one (the locked way): a transaction inside it would
    # be a savepoint, two more round trips for nothing.
    async with contextlib.nullcontext() if driver.is_in_transaction() else driver.transaction():
        await driver.execute(advancing.sql, *advancing.args({"chain": _CHAIN, "heads": moved}))
        await driver.copy_records_to_table(
            DecisionReceiptRow.__tablename__, records=rows, columns=_RECEIPT_COLUMNS
        )


async def _sqlite_heads(driver: Any, sellers: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The sellers' heads; a seller new to the chain at its start (its head is written when
    the heads move: the flush is the only writer)."""
    read = _READ_HEADS_SQLITE.compiled("sqlite")
    args = read.args({"chain": _CHAIN, "seller_ids": json_text(sellers)})
    heads = {s: (p, h) for s, p, h in await driver.execute_fetchall(read.sql, args)}
    return {seller: heads.get(seller, (0, GENESIS)) for seller in sellers}


async def _append_sqlite(
    driver: Any, receipts: Sequence[ReceiptContent], heads: dict[str, tuple[int, str]]
) -> None:
    """Insert the receipts, each linked to its seller's chain, and move the heads."""
    rows = _rows(receipts, heads, sqlite=True)
    await driver.executemany(_INSERT_RECEIPT_SQLITE.compiled("sqlite").sql, rows)
    moving = _MOVE_HEADS_SQLITE.compiled("sqlite")
    moved = json_text([(seller, p, h) for seller, (p, h) in heads.items()])
    await driver.execute(moving.sql, moving.args({"chain": _CHAIN, "heads": moved}))


# --- reads -------------------------------------------------------------------------------------


def content_of(row: DecisionReceiptRow) -> ReceiptContent:
    """A stored receipt's content, read as it was written (bounds added since do not apply)."""
    with reading_stored():
        return _CONTENT.decode(row.document)


def decision_of(mark: DecisionEffectRow) -> CoverageDecision:
    """The decision a mark says the claim would get."""
    with reading_stored():
        return _DECISION.decode(mark.document)


def _receipt(row: DecisionReceiptRow, marks: Sequence[DecisionEffectRow]) -> DecisionReceipt:
    content = content_of(row)
    with reading_stored():
        affected_by = [
            AffectedBy(
                event_id=mark.event_id,
                detected_at=mark.detected_at,
                changed=mark.changed,
                decision=decision_of(mark),
            )
            for mark in marks
        ]
    return DecisionReceipt(
        **msgspec.structs.asdict(content),
        chain=ChainLink(
            position=row.chain_position, prev_hash=row.prev_hash, row_hash=row.row_hash
        ),
        affected=bool(marks) and marks[-1].changed,
        affected_by=affected_by,
    )


async def receipt(session: ReadSession | WriteSession, receipt_id: str) -> DecisionReceipt | None:
    row = await session.get(DecisionReceiptRow, receipt_id)
    if row is None:
        return None
    return _receipt(row, await marks(session, receipt_id))


async def content(session: ReadSession | WriteSession, receipt_id: str) -> ReceiptContent | None:
    """A receipt's content without its marks (what a replay decides again)."""
    row = await session.get(DecisionReceiptRow, receipt_id)
    return None if row is None else content_of(row)


async def marks(
    session: ReadSession | WriteSession, receipt_id: str
) -> Sequence[DecisionEffectRow]:
    """The receipt's marks, oldest first."""
    return (await marks_of(session, [receipt_id])).get(receipt_id, [])


async def marks_of(
    session: ReadSession | WriteSession, receipt_ids: Sequence[str]
) -> dict[str, list[DecisionEffectRow]]:
    """The marks of each of these receipts that has any, oldest first, in one query."""
    found: dict[str, list[DecisionEffectRow]] = {}
    if not receipt_ids:
        return found
    rows = await session.scalars(
        select(DecisionEffectRow)
        .where(DecisionEffectRow.receipt_id.in_(receipt_ids))
        .order_by(DecisionEffectRow.id)
    )
    for row in rows:
        found.setdefault(row.receipt_id, []).append(row)
    return found


def _latest_mark_changed() -> Any:
    latest = (
        select(DecisionEffectRow.changed)
        .where(DecisionEffectRow.receipt_id == DecisionReceiptRow.id)
        .order_by(DecisionEffectRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, False)


async def page(
    session: ReadSession,
    *,
    seller_id: str | None,
    claim_reference: str | None,
    affected: bool | None,
    limit: int,
    offset: int,
) -> list[DecisionReceipt]:
    """A page of receipts, newest first, filtered by whichever of the arguments are given."""
    query = select(DecisionReceiptRow)
    conditions = []
    if seller_id is not None:
        conditions.append(DecisionReceiptRow.seller_id == seller_id)
    if claim_reference is not None:
        conditions.append(DecisionReceiptRow.claim_reference == claim_reference)
    if affected is not None:
        changed = _latest_mark_changed()
        conditions.append(changed if affected else ~changed)
    if affected:
        # Only marked receipts can be affected: the listing starts from the marks, which are
        # few, where it walked every receipt newest first, asking each for its latest mark.
        conditions.append(DecisionReceiptRow.id.in_(select(DecisionEffectRow.receipt_id)))
    if conditions:
        query = query.where(and_(*conditions))
    rows = (
        await session.scalars(
            query.order_by(DecisionReceiptRow.evaluated_at.desc(), DecisionReceiptRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    marked = await marks_of(session, [row.id for row in rows])
    return [_receipt(row, marked.get(row.id, [])) for row in rows]


async def latest_marks(
    session: WriteSession, receipt_ids: Sequence[str]
) -> dict[str, DecisionEffectRow]:
    """The latest mark of each of these receipts that has one."""
    return {rid: rows[-1] for rid, rows in (await marks_of(session, receipt_ids)).items()}


async def receipts_in_chain_order(
    session: ReadSession | WriteSession, seller_id: str, *, after_position: int, limit: int | None
) -> Sequence[DecisionReceiptRow]:
    """Up to ``limit`` (None: all) of the seller's receipts past ``after_position``, in chain
    order."""
    return (
        await session.scalars(
            select(DecisionReceiptRow)
            .where(
                DecisionReceiptRow.seller_id == seller_id,
                DecisionReceiptRow.chain_position > after_position,
            )
            .order_by(DecisionReceiptRow.chain_position)
            .limit(limit)
        )
    ).all()


async def receipt_at_position(
    session: ReadSession | WriteSession, seller_id: str, position: int
) -> str | None:
    """The id of the seller's receipt at ``position`` of its chain, if one is there."""
    return (
        await session.scalars(
            select(DecisionReceiptRow.id)
            .where(
                DecisionReceiptRow.seller_id == seller_id,
                DecisionReceiptRow.chain_position == position,
            )
            .limit(1)
        )
    ).first()


async def marks_in_order(
    session: ReadSession | WriteSession, seller_id: str, *, after_id: int, limit: int
) -> Sequence[DecisionEffectRow]:
    """Up to ``limit`` marks of the seller's receipts past ``after_id``, oldest first."""
    return (
        await session.scalars(
            select(DecisionEffectRow)
            .where(DecisionEffectRow.seller_id == seller_id, DecisionEffectRow.id > after_id)
            .order_by(DecisionEffectRow.id)
            .limit(limit)
        )
    ).all()


# --- the retention purge (audit.retention) ---------------------------------------------------


async def sellers_with_receipts_before(
    session: ReadSession | WriteSession, evaluated_before: datetime, *, after: str, limit: int
) -> Sequence[str]:
    """Up to ``limit`` seller ids after ``after``, in order, with a receipt evaluated before
    ``evaluated_before``."""
    return (
        await session.scalars(
            select(DecisionReceiptRow.seller_id)
            .where(
                DecisionReceiptRow.evaluated_at < evaluated_before,
                DecisionReceiptRow.seller_id > after,
            )
            .group_by(DecisionReceiptRow.seller_id)
            .order_by(DecisionReceiptRow.seller_id)
            .limit(limit)
        )
    ).all()


async def receipt_prefix(
    session: ReadSession | WriteSession,
    seller_id: str,
    *,
    after_position: int,
    evaluated_before: datetime,
    limit: int | None,
) -> ChainPrefix | None:
    """The longest run of the seller's receipts right after ``after_position`` (its chain's
    latest anchor) all evaluated before ``evaluated_before``, at most ``limit`` of them; None
    when there is none (or the chain has no row where that run ends: a broken chain is never
    purged across)."""
    in_chain = and_(
        DecisionReceiptRow.seller_id == seller_id,
        DecisionReceiptRow.chain_position > after_position,
    )
    first_young = await session.scalar(
        select(func.min(DecisionReceiptRow.chain_position)).where(
            in_chain, DecisionReceiptRow.evaluated_at >= evaluated_before
        )
    )
    last = (
        first_young - 1
        if first_young is not None
        else await session.scalar(
            select(func.max(DecisionReceiptRow.chain_position)).where(in_chain)
        )
    )
    if last is not None and limit is not None:
        last = min(last, after_position + limit)
    if last is None or last <= after_position:
        return None
    row_hash = await session.scalar(
        select(DecisionReceiptRow.row_hash).where(
            DecisionReceiptRow.seller_id == seller_id, DecisionReceiptRow.chain_position == last
        )
    )
    if row_hash is None:
        return None
    rows = await session.scalar(
        select(func.count()).where(in_chain, DecisionReceiptRow.chain_position <= last)
    )
    return ChainPrefix(last, row_hash, int(rows or 0))


def _prefix_ids(seller_id: str, after_position: int, through_position: int) -> Any:
    return select(DecisionReceiptRow.id).where(
        DecisionReceiptRow.seller_id == seller_id,
        DecisionReceiptRow.chain_position > after_position,
        DecisionReceiptRow.chain_position <= through_position,
    )


async def count_prefix_marks(
    session: ReadSession | WriteSession, seller_id: str, *, after_position: int, prefix: ChainPrefix
) -> int:
    """How many marks the receipts of ``prefix`` have."""
    ids = _prefix_ids(seller_id, after_position, prefix.position)
    found = await session.scalar(select(func.count()).where(DecisionEffectRow.receipt_id.in_(ids)))
    return int(found or 0)


async def purge_receipts(
    session: WriteSession, seller_id: str, *, after_position: int, prefix: ChainPrefix
) -> tuple[int, int]:
    """Delete the seller's receipts of ``prefix`` and their marks; how many of each. The
    transaction must hold a purge permit (``audit.guard.purge_permit``)."""
    ids = _prefix_ids(seller_id, after_position, prefix.position)
    marks_deleted = await session.execute(
        delete(DecisionEffectRow)
        .where(DecisionEffectRow.receipt_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    receipts_deleted = await session.execute(
        delete(DecisionReceiptRow)
        .where(
            DecisionReceiptRow.seller_id == seller_id,
            DecisionReceiptRow.chain_position > after_position,
            DecisionReceiptRow.chain_position <= prefix.position,
        )
        .execution_options(synchronize_session=False)
    )
    return int(receipts_deleted.rowcount), int(marks_deleted.rowcount)  # type: ignore[attr-defined]
