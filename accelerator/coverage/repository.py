"""The coverage registry's storage: the only code that reads or writes ``policies`` and
``policy_events`` (the audit retention purge removes a chain's old prefix through
:func:`purge_events`).

Module functions, each taking what it runs on: the driver's read pool (:class:`Lookups`) for the
coverage check and a seller's holdings, or the caller's session for everything else. Writes take
the caller's :class:`WriteSession` because binding and the webhook worker register policies in
their own transactions, together with their own rows.

The coverage check costs one statement whatever the registry's size (:data:`SELLERS_WITH_EVENTS`):
the sellers' legal names by primary key, joined to every event of their policies found through
``ix_policy_events_seller_recorded``. It is the one read here that reaches the sellers' table,
so that a check stays one round trip. It runs on the driver's own connections
(``accelerator.infra.lookups``), without SQLAlchemy's execution layer, whose CPU cost would
dominate a single check (docs/performance.md).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import msgspec
from sqlalchemy import (
    ARRAY,
    Select,
    String,
    any_,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    select,
    tuple_,
    update,
)

from accelerator.audit import heads
from accelerator.audit.anchors import ChainPrefix
from accelerator.audit.chain import Chain, event_content
from accelerator.audit.models import PendingEventRow
from accelerator.coverage.decision import PolicyCandidate
from accelerator.coverage.events import decode_registry, registry_event, to_event
from accelerator.coverage.linking import (
    InsurerDirectory,
    ReviewReason,
    insurer_key,
    policy_for_event,
)
from accelerator.coverage.models import PeriodEnd, PolicyEventRow, PolicyRow
from accelerator.coverage.state import (
    BOOKKEEPING_KINDS,
    EventKind,
    PolicyEvent,
    PolicyState,
    derive_state,
    over_before,
)
from accelerator.infra.database import ReadSession, WriteSession
from accelerator.infra.lookups import Lookups
from accelerator.infra.statements import DialectName, Statement
from accelerator.notifications.events import policy_notification
from accelerator.notifications.outbox import emit
from accelerator.sellers.models import Seller
from schemas import PolicySource, PolicyTerms, PolicyVerification, reading_stored

# --- the coverage check's read (the driver's read pool) --------------------------------------


def _sellers_with_events(dialect: DialectName) -> Any:
    # The seller ids are one parameter however many: a PostgreSQL array, or JSON text that
    # SQLite reads with json_each (an expanding IN would be compiled again for every count).
    # Every row comes back inside one JSON array (events.RegistryRow's layout), decoded in one
    # call: row by row, SQLite's worker thread stepped once per row, taking the GIL back from
    # the event loop each time, and each row's instants and data were decoded one at a time
    # (docs/performance.md, "Batch decisions' CPU").
    event = PolicyEventRow
    columns = (
        Seller.id,
        Seller.legal_name,
        event.policy_id,
        PolicyRow.source,
        event.event_id,
        event.kind,
    )
    if dialect == "postgresql":
        wanted = Seller.id == any_(bindparam("seller_ids", type_=ARRAY(String)))
        # The instants as ISO text with their offset: UTC, the lookups' session time zone.
        rows = func.json_agg(
            func.json_build_array(
                *columns, _finite(event.effective_at), _finite(event.recorded_at), event.data
            )
        )
    else:
        ids = func.json_each(bindparam("seller_ids", type_=String)).table_valued("value")
        wanted = Seller.id.in_(select(ids.c.value))
        # Naive UTC text (UtcDateTime) with its zone written on: an aware instant once decoded.
        utc = literal_column("'Z'", String)
        rows = func.json_group_array(
            func.json_array(
                *columns,
                event.effective_at.op("||")(utc),
                event.recorded_at.op("||")(utc),
                func.json(event.data),  # the stored document, not a string holding it
            )
        )
    return (
        select(rows)
        .select_from(Seller)
        .outerjoin(event, event.seller_id == Seller.id)
        .outerjoin(PolicyRow, PolicyRow.id == event.policy_id)
        .where(wanted)
    )


def _finite(instant: Any) -> Any:
    """A timestamptz as asyncpg reads it: ``-infinity`` and ``infinity`` (what asyncpg writes
    for ``datetime.min`` and ``datetime.max``) as those instants, not as JSON's text for them,
    which no datetime decodes (tests/api/test_stored_values_stay_readable.py)."""
    return func.least(
        func.greatest(instant, literal_column("'0001-01-01T00:00:00+00'::timestamptz")),
        literal_column("'9999-12-31T23:59:59.999999+00'::timestamptz"),
    )


SELLERS_WITH_EVENTS = Statement("sellers_with_events", _sellers_with_events)

#: Each source by its stored text (a dict look-up per row, not an enum call).
_SOURCES: Final[dict[str, PolicySource]] = {source.value: source for source in PolicySource}

#: A seller's policies: policy id -> (source, events).
SellerPolicies = dict[str, tuple[PolicySource, list[PolicyEvent]]]


async def sellers_with_events(
    lookups: Lookups, seller_ids: Collection[str]
) -> tuple[dict[str, SellerPolicies], dict[str, str]]:
    """Every policy event of these sellers and their legal names, in one round trip. A seller
    without a profile has no legal name; one without policies has no entry in the first."""
    found: dict[str, SellerPolicies] = defaultdict(dict)
    names: dict[str, str] = {}
    [[text]] = await lookups.fetch(SELLERS_WITH_EVENTS, seller_ids=list(seller_ids))
    # Events as they were recorded: a bound added since must not make one unreadable.
    with reading_stored():
        for row in decode_registry(text):
            seller_id = row.seller_id
            names[seller_id] = row.legal_name
            policy_id = row.policy_id
            if policy_id is None:
                continue  # a seller without policies
            policies = found[seller_id]
            held = policies.get(policy_id)
            if held is None:
                held = policies[policy_id] = (_SOURCES[row.source], [])
            held[1].append(registry_event(row))
    return found, names


async def held_policies(lookups: Lookups, seller_id: str) -> list[PolicyCandidate]:
    """Every policy of the seller with its state derived from everything recorded so far,
    ordered by policy id (the compliance status reads them as the check does)."""
    found, _ = await sellers_with_events(lookups, [seller_id])
    return [
        PolicyCandidate(policy_id, source, derive_state(events))
        for policy_id, (source, events) in sorted(found.get(seller_id, {}).items())
    ]


# --- reads in the caller's session -----------------------------------------------------------


async def policy(session: ReadSession | WriteSession, policy_id: str) -> PolicyRow | None:
    return await session.get(PolicyRow, policy_id)


async def policy_events(
    session: ReadSession | WriteSession, policy_id: str
) -> Sequence[PolicyEventRow]:
    """The policy's events in the order they take effect (then as recorded, then by id)."""
    return (
        await session.scalars(
            select(PolicyEventRow)
            .where(PolicyEventRow.policy_id == policy_id)
            .order_by(
                PolicyEventRow.effective_at, PolicyEventRow.recorded_at, PolicyEventRow.event_id
            )
        )
    ).all()


def chained_content(row: PolicyEventRow) -> bytes:
    """The canonical content a stored event's hash covers (``audit.chain.event_content`` of
    its columns), as the audit's verifier and export recompute it."""
    return event_content(
        event_id=row.event_id,
        policy_id=row.policy_id,
        seller_id=row.seller_id,
        kind=row.kind,
        effective_at=row.effective_at,
        recorded_at=row.recorded_at,
        data=row.data,
    )


async def events_in_chain_order(
    session: ReadSession | WriteSession, seller_id: str, *, after_position: int, limit: int
) -> Sequence[PolicyEventRow]:
    """Up to ``limit`` of the seller's events past ``after_position`` in its hash chain, in
    chain order (the audit trail's export and verification read them so)."""
    return (
        await session.scalars(
            select(PolicyEventRow)
            .where(
                PolicyEventRow.seller_id == seller_id,
                PolicyEventRow.chain_position > after_position,
            )
            .order_by(PolicyEventRow.chain_position)
            .limit(limit)
        )
    ).all()


async def event_at_position(
    session: ReadSession | WriteSession, seller_id: str, position: int
) -> str | None:
    """The id of the seller's event at ``position`` of its chain, if one is there."""
    return (
        await session.scalars(
            select(PolicyEventRow.event_id)
            .where(PolicyEventRow.seller_id == seller_id, PolicyEventRow.chain_position == position)
            .limit(1)
        )
    ).first()


async def sellers_policy_id(
    session: ReadSession | WriteSession, seller_id: str, insurer_key: str, policy_number: str
) -> str | None:
    """The id of the seller's own policy of this insurer under this number, if it has one."""
    return await session.scalar(
        select(PolicyRow.id).where(
            PolicyRow.seller_id == seller_id,
            PolicyRow.insurer_key == insurer_key,
            PolicyRow.policy_number == policy_number,
        )
    )


async def seller_policy_ids(
    session: ReadSession | WriteSession, seller_id: str, *, limit: int, offset: int
) -> Sequence[str]:
    """A page of the seller's policy ids, oldest registration first."""
    return (
        await session.scalars(
            select(PolicyRow.id)
            .where(PolicyRow.seller_id == seller_id)
            .order_by(PolicyRow.created_at, PolicyRow.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()


# Built once: building and keying the statement at every event cost more than running it.
_POLICIES_NUMBERED = select(PolicyRow).where(
    PolicyRow.provider_id == bindparam("provider_id"),
    PolicyRow.policy_number == bindparam("number"),
)
# Where load_policies leaves a session's policies, by (provider_id, policy_number).
_LOADED = "accelerator.coverage.repository.loaded_policies"


async def load_policies(session: WriteSession, provider_id: str, numbers: Iterable[str]) -> None:
    """Load the policies ``numbers`` name with one query, so that :func:`policy_numbered` in
    this session does not query each one (a worker applying a batch of events does this first)."""
    wanted = sorted(set(numbers))
    if not wanted:
        return
    loaded: dict[tuple[str, str], list[PolicyRow]] = session.info.setdefault(_LOADED, {})
    rows = await session.scalars(
        select(PolicyRow).where(
            PolicyRow.provider_id == provider_id, PolicyRow.policy_number.in_(wanted)
        )
    )
    found: dict[tuple[str, str], list[PolicyRow]] = defaultdict(list)
    for row in rows:
        found[(provider_id, row.policy_number)].append(row)
    for key, held in found.items():
        loaded.setdefault(key, held)


async def policy_numbered(session: WriteSession, provider_id: str, number: str) -> PolicyRow | None:
    """The policy a partner's event about ``number`` means (:func:`linking.policy_for_event`),
    or None. Raises :class:`linking.AmbiguousPolicy` while an operator must decide."""
    # Loaded policies are the session's own objects, as the query would return them; a number
    # with none loaded, or one registered in this session since, is queried.
    loaded: dict[tuple[str, str], list[PolicyRow]] = session.info.get(_LOADED, {})
    rows = loaded.get((provider_id, number))
    if rows is None:
        rows = list(
            await session.scalars(
                _POLICIES_NUMBERED, {"provider_id": provider_id, "number": number}
            )
        )
    return policy_for_event(rows)


async def policies_in_review(
    session: ReadSession | WriteSession, *, limit: int, offset: int
) -> Sequence[PolicyRow]:
    """A page of the policies waiting for an operator's review, oldest registration first."""
    return (
        await session.scalars(
            select(PolicyRow)
            .where(PolicyRow.review_reason.is_not(None))
            .order_by(PolicyRow.created_at, PolicyRow.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()


async def namesakes(session: ReadSession | WriteSession, policy: PolicyRow) -> Sequence[PolicyRow]:
    """The other policies of the same insurer (by :func:`linking.insurer_key`) and number."""
    return (
        await session.scalars(
            select(PolicyRow)
            .where(
                PolicyRow.insurer_key == policy.insurer_key,
                PolicyRow.policy_number == policy.policy_number,
                PolicyRow.id != policy.id,
            )
            .order_by(PolicyRow.created_at, PolicyRow.id)
        )
    ).all()


# --- writes in the caller's transaction ------------------------------------------------------


async def hold_number(session: WriteSession, insurer_key: str, policy_number: str) -> None:
    """Hold one insurer's policy number until the caller's transaction ends, so that two
    registrations of it (a double-clicked submission, two sellers at once) see each other.
    PostgreSQL reads only committed rows, so without it each would miss the other; SQLite's
    transactions already take the one write lock when they begin."""
    if session.get_bind().dialect.name == "postgresql":
        number = f"{insurer_key}|{policy_number}"
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(number))))


async def add_event(
    session: WriteSession,
    policy: PolicyRow,
    *,
    event_id: str,
    kind: EventKind,
    effective_at: datetime,
    recorded_at: datetime,
    data: dict[str, Any] | None = None,
) -> bool:
    """Append an event unless one with ``event_id`` exists; True if it was added."""
    exists = await session.scalar(
        select(PolicyEventRow.id).where(PolicyEventRow.event_id == event_id)
    )
    if exists is not None:
        return False
    data = data or {}
    content = event_content(
        event_id=event_id,
        policy_id=policy.id,
        seller_id=policy.seller_id,
        kind=kind,
        effective_at=effective_at,
        recorded_at=recorded_at,
        data=data,
    )
    place = await heads.next_link(session, Chain.EVENTS, policy.seller_id, content)
    session.add(
        PolicyEventRow(
            event_id=event_id,
            policy_id=policy.id,
            seller_id=policy.seller_id,
            kind=kind,
            effective_at=effective_at,
            recorded_at=recorded_at,
            data=data,
            chain_position=place.position,
            prev_hash=place.prev_hash,
            row_hash=place.row_hash,
        )
    )
    if kind not in BOOKKEEPING_KINDS:
        # Examined for the earlier decisions it would change (audit.affected), in this
        # transaction: no event can be recorded and forgotten by that examination.
        session.add(
            PendingEventRow(event_id=event_id, seller_id=policy.seller_id, recorded_at=recorded_at)
        )
    # Announced to subscriber endpoints in this transaction too (notifications.outbox).
    notification = policy_notification(
        kind=kind,
        source=policy.source,
        policy_id=policy.id,
        seller_id=policy.seller_id,
        insurer_name=policy.insurer_name,
        policy_number=policy.policy_number,
        policy_event_id=event_id,
        effective_at=effective_at,
        recorded_at=recorded_at,
        data=data,
    )
    if notification is not None:
        await emit(session, notification, seller_id=policy.seller_id)
    return True


async def create_policy(
    session: WriteSession,
    *,
    seller_id: str,
    terms: PolicyTerms,
    source: PolicySource,
    recorded_at: datetime,
    event_id: str,
    provider_id: str | None = None,
    offer_id: str | None = None,
    quote_request_id: str | None = None,
    verified: bool = False,
    occurred_at: datetime | None = None,
) -> PolicyRow:
    """A new policy and its ``issued`` event (plus ``verified`` when the insurer bound it).

    ``provider_id`` is the partner whose events apply to it. ``occurred_at`` is when the
    insurer says it bound it, if it said. A policy sharing its insurer and number with another
    goes to review as :mod:`coverage.linking` says (never a bound one, which is always recorded).
    """
    key = insurer_key(terms.insurer_name)
    await hold_number(session, key, terms.policy_number)
    policy = PolicyRow(
        id=str(uuid.uuid4()),
        seller_id=seller_id,
        insurer_name=terms.insurer_name,
        insurer_key=key,
        policy_number=terms.policy_number,
        provider_id=provider_id,
        review_reason=None,
        source=source,
        offer_id=offer_id,
        quote_request_id=quote_request_id,
        created_at=recorded_at,
    )
    session.add(policy)
    await session.flush()
    if provider_id is not None:
        # A number loaded before this policy existed would not show it to policy_numbered.
        session.info.get(_LOADED, {}).pop((provider_id, policy.policy_number), None)
    data: dict[str, Any] = {"terms": msgspec.to_builtins(terms)}
    if occurred_at is not None:
        data["occurred_at"] = occurred_at.isoformat()
    await add_event(
        session,
        policy,
        event_id=event_id,
        kind=EventKind.ISSUED,
        effective_at=terms.effective_at,
        recorded_at=recorded_at,
        data=data,
    )
    if verified:
        await add_event(
            session,
            policy,
            event_id=f"{event_id}.verified",
            kind=EventKind.VERIFIED,
            effective_at=recorded_at,
            recorded_at=recorded_at,
        )
    await _review_collisions(session, policy)
    return policy


async def _review_collisions(session: WriteSession, policy: PolicyRow) -> None:
    """Send to review a new policy whose number another policy of its insurer carries, unless
    it is bound, and every unconfirmed submission among those others (coverage.linking)."""
    others = await namesakes(session, policy)
    if not others:
        return
    if policy.source != PolicySource.BOUND:
        policy.review_reason = ReviewReason.NUMBER_COLLISION
    for other in others:
        if other.source == PolicySource.BOUND or other.review_reason is not None:
            continue
        if not await _confirmed(session, other):
            other.review_reason = ReviewReason.NUMBER_COLLISION


async def _confirmed(session: WriteSession, policy: PolicyRow) -> bool:
    """Whether a submitted policy is verified, by its insurer or an operator."""
    rows = await policy_events(session, policy.id)
    state = derive_state(
        [to_event(r.event_id, r.kind, r.effective_at, r.recorded_at, r.data) for r in rows]
    )
    return state is not None and state.verification == PolicyVerification.VERIFIED


async def link_submissions(session: WriteSession, insurers: InsurerDirectory) -> int:
    """Link to its configured insurer every submitted policy that names one and is linked to
    none, unless an operator unlinked it: those submitted before the insurer was configured (or
    before submissions were linked). Returns how many."""
    linked = 0
    for key, provider_id in insurers.by_key.items():
        unlinked_by_operator = exists().where(
            PolicyEventRow.policy_id == PolicyRow.id, PolicyEventRow.kind == EventKind.UNLINKED
        )
        result = await session.execute(
            update(PolicyRow)
            .where(
                PolicyRow.insurer_key == key,
                PolicyRow.source == PolicySource.SUBMITTED,
                PolicyRow.provider_id.is_(None),
                ~unlinked_by_operator,
            )
            .values(provider_id=provider_id)
        )
        linked += int(result.rowcount)  # type: ignore[attr-defined]
    return linked


def set_link(session: WriteSession, policy: PolicyRow, provider_id: str | None) -> None:
    """An operator's decision: events of ``provider_id`` (None: of no partner) reach the
    policy, and it no longer waits for review."""
    policy.provider_id = provider_id
    policy.review_reason = None
    session.info.get(_LOADED, {}).clear()


# --- the audit retention purge (audit.retention) ---------------------------------------------

#: Events read per query while looking for the prefix a purge may remove.
_PREFIX_PAGE: Final = 500


@dataclass(frozen=True)
class EventPrefix:
    """The first events of a seller's chain a purge may remove, and the policies that have no
    event left once they are gone."""

    prefix: ChainPrefix
    emptied_policy_ids: frozenset[str]


async def sellers_with_events_before(
    session: ReadSession | WriteSession, recorded_before: datetime, *, after: str, limit: int
) -> Sequence[str]:
    """Up to ``limit`` seller ids after ``after``, in order, with an event recorded before
    ``recorded_before``."""
    return (
        await session.scalars(
            select(PolicyEventRow.seller_id)
            .where(PolicyEventRow.recorded_at < recorded_before, PolicyEventRow.seller_id > after)
            .group_by(PolicyEventRow.seller_id)
            .order_by(PolicyEventRow.seller_id)
            .limit(limit)
        )
    ).all()


async def event_prefix(
    session: ReadSession | WriteSession,
    seller_id: str,
    *,
    after_position: int,
    cutoff: datetime,
    limit: int | None,
) -> EventPrefix | None:
    """The longest run of the seller's events right after ``after_position`` (its chain's
    latest anchor) whose every event belongs to a policy over before ``cutoff``
    (:func:`state.over_before`, judged on all the policy's events), at most ``limit`` of them;
    None when there is none. The run stops at the first event of a policy not over, and at a
    gap in the positions (a broken chain is never purged across). Memory: a page of events and
    the events of one policy at a time."""
    over: dict[str, bool] = {}
    last_position: dict[str, int] = {}
    position, row_hash, rows = after_position, "", 0
    more = True
    while more:
        page = await events_in_chain_order(
            session, seller_id, after_position=position, limit=_PREFIX_PAGE
        )
        more = len(page) == _PREFIX_PAGE
        for row in page:
            if (limit is not None and rows >= limit) or row.chain_position != position + 1:
                more = False
                break
            if row.policy_id not in over:
                events = await policy_events(session, row.policy_id)
                stated = [
                    to_event(e.event_id, e.kind, e.effective_at, e.recorded_at, e.data)
                    for e in events
                ]
                over[row.policy_id] = over_before(stated, cutoff)
                last_position[row.policy_id] = max(e.chain_position for e in events)
            if not over[row.policy_id]:
                more = False
                break
            position, row_hash, rows = row.chain_position, row.row_hash, rows + 1
    if rows == 0:
        return None
    emptied = frozenset(p for p, last in last_position.items() if over[p] and last <= position)
    return EventPrefix(ChainPrefix(position, row_hash, rows), emptied)


async def purge_events(
    session: WriteSession, seller_id: str, *, after_position: int, found: EventPrefix
) -> tuple[int, int]:
    """Delete the seller's events of ``found``, their pending examinations and the policies
    left without events; how many events and policies. The transaction must hold a purge
    permit (``audit.guard.purge_permit``)."""
    in_prefix = (
        PolicyEventRow.seller_id == seller_id,
        PolicyEventRow.chain_position > after_position,
        PolicyEventRow.chain_position <= found.prefix.position,
    )
    await session.execute(
        delete(PendingEventRow)
        .where(PendingEventRow.event_id.in_(select(PolicyEventRow.event_id).where(*in_prefix)))
        .execution_options(synchronize_session=False)
    )
    events = await session.execute(
        delete(PolicyEventRow).where(*in_prefix).execution_options(synchronize_session=False)
    )
    policies = 0
    if found.emptied_policy_ids:
        left = exists().where(PolicyEventRow.policy_id == PolicyRow.id)
        result = await session.execute(
            delete(PolicyRow)
            .where(PolicyRow.id.in_(sorted(found.emptied_policy_ids)), ~left)
            .execution_options(synchronize_session=False)
        )
        policies = int(result.rowcount)  # type: ignore[attr-defined]
    return int(events.rowcount), policies  # type: ignore[attr-defined]


# --- the reminder sweep's pages (notifications.sweep) ----------------------------------------


@dataclass(frozen=True)
class PagedPolicy:
    """A policy of a page, with what the expiry reminders need: its seller's marketplace and
    its state derived from every event on record."""

    policy_id: str
    seller_id: str
    marketplace: str
    state: PolicyState


#: The kinds whose ``data`` may set where a policy's period ends (coverage.state).
_PERIOD_KINDS: Final = (EventKind.ISSUED.value, EventKind.RENEWED.value)


#: Where a page of the sweep stopped: the last (period end, policy id) read.
EndingCursor = tuple[str, str]


def ending_events(
    *, after: EndingCursor | None, limit: int, ending: tuple[date, date]
) -> Select[str, str]:
    """(end, policy id) of up to ``limit`` ``issued`` or ``renewed`` events naming an end in the
    UTC days ``ending``, after ``after``, in that order: a range scan of
    ``ix_policy_events_period_end`` (:func:`policies_ending_page`)."""
    end = PeriodEnd()
    wanted = [
        PolicyEventRow.kind.in_(_PERIOD_KINDS),
        end >= ending[0].isoformat(),
        end < ending[1].isoformat(),
    ]
    if after is not None:
        wanted.append(tuple_(end, PolicyEventRow.policy_id) > tuple_(*after))
    # policy_events alone in FROM: PeriodEnd names its column unqualified.
    return (
        select(end, PolicyEventRow.policy_id)
        .where(*wanted)
        .order_by(end, PolicyEventRow.policy_id)
        .limit(limit)
    )


async def policies_ending_page(
    session: WriteSession, *, after: EndingCursor | None, limit: int, ending: tuple[date, date]
) -> tuple[list[PagedPolicy], EndingCursor | None]:
    """The policies with an ``issued`` or ``renewed`` event naming an end in the UTC days
    ``ending`` (first day, day after the last), in (end, policy id) order after ``after``, up
    to ``limit`` events' worth, with their states; and where the page stopped (None: none left).

    Found in SQL, a superset of those whose period ends then (a later event may move or end it),
    so that the states of the others are never derived. The ends are compared as the ISO text
    they are stored as, by their date: widen the range by a day each side for ends stored with
    an offset. Each page is one range scan of ``ix_policy_events_period_end`` from the cursor,
    whatever the registry's size. A policy with two such events may come on two pages: the
    sweep's markers make the second look a no-op. Three statements a page."""
    found = (await session.execute(ending_events(after=after, limit=limit, ending=ending))).all()
    if not found:
        return [], None
    cursor: EndingCursor = (found[-1][0], found[-1][1])
    heads_ = (
        await session.execute(
            select(PolicyRow.id, PolicyRow.seller_id, Seller.marketplace)
            .join(Seller, Seller.id == PolicyRow.seller_id)
            .where(PolicyRow.id.in_({policy_id for _, policy_id in found}))
            .order_by(PolicyRow.id)
        )
    ).all()
    ids = [policy_id for policy_id, _, _ in heads_]
    events: dict[str, list[PolicyEvent]] = defaultdict(list)
    rows = await session.execute(
        select(
            PolicyEventRow.policy_id,
            PolicyEventRow.event_id,
            PolicyEventRow.kind,
            PolicyEventRow.effective_at,
            PolicyEventRow.recorded_at,
            PolicyEventRow.data,
        ).where(PolicyEventRow.policy_id.in_(ids))
    )
    for policy_id, event_id, kind, effective, recorded, data in rows.all():
        events[policy_id].append(to_event(event_id, kind, effective, recorded, data))
    page = [
        PagedPolicy(policy_id, seller_id, marketplace, state)
        for policy_id, seller_id, marketplace in heads_
        if (state := derive_state(events.get(policy_id, []))) is not None
    ]
    return page, cursor
