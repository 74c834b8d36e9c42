"""The audit purge: receipts and policy events older than the audit retention leave each seller's
chain as a prefix, an anchor says where the chain now begins, and the rest still verifies."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from accelerator.audit import anchors, verify
from accelerator.audit.chain import Chain
from accelerator.audit.decisions import _explain
from accelerator.audit.models import AuditAnchorRow, PurgePermitRow
from accelerator.audit.retention import AuditPurged, RetentionService
from accelerator.audit.verify import ChainVerifier
from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.coverage.models import PolicyEventRow, PolicyRow
from accelerator.coverage.state import EventKind
from accelerator.infra.database import Database
from accelerator.settings import SettingsError, load_settings
from tests.api.policies import bind_policy, claim, record_event, us_terms
from tests.audit.trail import add_receipt, add_seller, receipt_content
from tests.retention.trail import add_effect, audited_rows

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
CAPTURES = timedelta(days=90)
AUDIT = timedelta(days=2557)
NOW = datetime.now(UTC)


def years_ago(years: int) -> datetime:
    return NOW - timedelta(days=365 * years)


def purge_service(database: Database) -> RetentionService:
    return RetentionService(database, CAPTURES, AUDIT)


async def receipts_evaluated(database: Database, seller_id: str, *instants: datetime) -> list[str]:
    """Receipts of ``seller_id`` chained in this order, each evaluated at its instant."""
    return [
        await add_receipt(database, receipt_content(seller_id, evaluated_at=at)) for at in instants
    ]


async def expired_policy(database: Database, number: str, seller_id: str = "s-1") -> str:
    """A policy bound and recorded nine years ago that expired eight years ago."""
    start = years_ago(9).date()
    terms = us_terms(start, start + timedelta(days=365), policy_number=number)
    return await bind_policy(database, terms, seller_id=seller_id, recorded_at=years_ago(9))


async def current_policy(database: Database, seller_id: str = "s-1") -> str:
    today = date.today()
    terms = us_terms(
        today - timedelta(days=30), today + timedelta(days=335), policy_number="HM-NOW"
    )
    return await bind_policy(database, terms, seller_id=seller_id, recorded_at=NOW)


async def count(database: Database, model: Any) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def policy_ids(database: Database) -> set[str]:
    async with database.reading() as session:
        return set((await session.scalars(select(PolicyRow.id))).all())


async def event_ids(database: Database) -> list[str]:
    async with database.reading() as session:
        rows = await session.scalars(select(PolicyEventRow.event_id).order_by(PolicyEventRow.id))
        return list(rows.all())


async def claims_headers(database: Database) -> dict[str, str]:
    issued = await create_key(database, Role.CLAIMS)
    return {"Authorization": f"Bearer {issued.secret}"}


async def test_old_receipts_leave_as_a_prefix_with_their_marks_and_the_chain_still_verifies(
    client: Client, database: Database
) -> None:
    await add_seller(database, "s-1")
    old = years_ago(8)
    # Old, old, old, recent, old: only the first three form the purgeable prefix.
    ids = await receipts_evaluated(
        database, "s-1", old, old + timedelta(minutes=1), old + timedelta(minutes=2), NOW, old
    )
    await add_effect(database, "s-1", ids[1], "some-event")
    await add_effect(database, "s-1", ids[3], "some-event")

    report = await purge_service(database).purge(NOW)

    assert report.audit == AuditPurged(receipts=3, marks=1)
    assert "3 receipt(s) with 1 mark(s)" in report.describe()
    async with database.reading() as session:
        anchor = await anchors.latest(session, Chain.RECEIPTS, "s-1")
    assert anchor is not None
    assert (anchor.position, anchor.cutoff) == (3, NOW - AUDIT)
    verified = await ChainVerifier(database).verify_seller("s-1")
    assert verified.intact, verified.broken
    headers = await claims_headers(database)
    for gone in ids[:3]:
        response = await client.get(f"/v1/coverage/decisions/{gone}", headers=headers)
        assert response.status_code == 404
    for kept in ids[3:]:
        response = await client.get(f"/v1/coverage/decisions/{kept}", headers=headers)
        assert response.status_code == 200, response.text
    assert (await purge_service(database).purge(NOW)).audit == AuditPurged()
    assert await count(database, PurgePermitRow) == 0


async def test_small_batches_leave_one_anchor_each_and_the_same_chain(database: Database) -> None:
    await add_seller(database, "s-1")
    old = years_ago(8)
    await receipts_evaluated(database, "s-1", *(old + timedelta(minutes=n) for n in range(5)))

    report = await RetentionService(database, CAPTURES, AUDIT, batch_size=2).purge(NOW)

    assert report.audit.receipts == 5
    assert await count(database, AuditAnchorRow) == 3
    # Fully purged: no rows, its head at the latest anchor: intact.
    verified = await ChainVerifier(database).verify_seller("s-1")
    assert verified.intact, verified.broken


async def test_an_expired_policy_leaves_with_its_events_and_the_current_one_still_decides(
    client: Client, database: Database
) -> None:
    await add_seller(database, "s-1")
    old = await expired_policy(database, "HM-OLD")
    current = await current_policy(database)
    headers = await claims_headers(database)
    before = await client.post("/v1/coverage/checks", json=claim(), headers=headers)
    assert before.status_code == 200, before.text

    report = await purge_service(database).purge(NOW)

    assert (report.audit.events, report.audit.policies) == (2, 1)
    assert await policy_ids(database) == {current}
    assert old not in await policy_ids(database)
    assert await event_ids(database) == ["bind.HM-NOW", "bind.HM-NOW.verified"]
    after = await client.post("/v1/coverage/checks", json=claim(), headers=headers)
    assert after.status_code == 200, after.text
    for field in ("decision", "covered", "exempt_from_recovery", "policy"):
        assert after.json()[field] == before.json()[field], field
    verified = await ChainVerifier(database).verify_seller("s-1")
    assert verified.intact, verified.broken

    admin = await create_key(database, Role.ADMIN)
    exported = await client.get(
        "/v1/sellers/s-1/audit-export", headers={"Authorization": f"Bearer {admin.secret}"}
    )
    assert exported.status_code == 200, exported.text
    lines = [json.loads(line) for line in exported.text.splitlines()]
    anchor, *events = [line for line in lines if line["record"] in {"chain_anchor", "policy_event"}]
    assert anchor["record"] == "chain_anchor"
    assert (anchor["chain"], anchor["seller_id"], anchor["position"]) == ("events", "s-1", 2)
    prev_hash, position = anchor["row_hash"], anchor["position"]
    for line in events:
        position += 1
        assert (line["chain_position"], line["prev_hash"]) == (position, prev_hash)
        digest = hashlib.sha256((prev_hash + "\n" + line["content"]).encode()).hexdigest()
        assert digest == line["row_hash"]
        prev_hash = line["row_hash"]
    assert position == 4


async def test_an_old_policy_with_a_recent_event_stays_and_so_does_everything_after_it(
    database: Database,
) -> None:
    await add_seller(database, "s-1")
    first = await expired_policy(database, "HM-A")
    second = await expired_policy(database, "HM-B")
    third = await expired_policy(database, "HM-C")
    # The second policy learns of a cancellation only now: not over, whatever its dates.
    await record_event(
        database, second, EventKind.CANCELLED, years_ago(8), recorded_at=NOW, event_id="late"
    )

    report = await purge_service(database).purge(NOW)

    assert (report.audit.events, report.audit.policies) == (2, 1)
    assert await policy_ids(database) == {second, third}
    assert first not in await policy_ids(database)
    assert len(await event_ids(database)) == 5
    verified = await ChainVerifier(database).verify_seller("s-1")
    assert verified.intact, verified.broken


async def test_a_dry_run_counts_the_audit_purge_and_changes_nothing(database: Database) -> None:
    await add_seller(database, "s-1")
    await expired_policy(database, "HM-OLD")
    await current_policy(database)
    ids = await receipts_evaluated(database, "s-1", years_ago(8), NOW)
    await add_effect(database, "s-1", ids[0], "some-event")
    before = await audited_rows(database)

    dry = await purge_service(database).purge(NOW, dry_run=True)

    assert dry.audit == AuditPurged(receipts=1, marks=1, events=2, policies=1)
    assert dry.describe().startswith("would purge")
    assert "1 receipt(s) with 1 mark(s), 2 policy event(s) and 1 policy(ies)" in dry.describe()
    assert await audited_rows(database) == before
    assert await count(database, AuditAnchorRow) == 0
    assert (await purge_service(database).purge(NOW)).audit == dry.audit


@pytest.mark.parametrize(
    "statement",
    ["DELETE FROM decision_receipts", "DELETE FROM policy_events", "DELETE FROM audit_anchors"],
)
async def test_outside_the_purge_a_delete_is_still_refused(
    database: Database, statement: str
) -> None:
    await add_seller(database, "s-1")
    await expired_policy(database, "HM-OLD")
    await current_policy(database)
    await receipts_evaluated(database, "s-1", years_ago(8), NOW)
    await purge_service(database).purge(NOW)

    with pytest.raises(DBAPIError, match="append-only"):
        async with database.writing() as session:
            await session.execute(text(statement))
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.writing() as session:
            await session.execute(text("UPDATE audit_anchors SET position = 0"))
    assert await count(database, AuditAnchorRow) == 2


async def test_a_replay_missing_events_says_retention_may_have_purged_them() -> None:
    content = receipt_content("s-1")
    anchor = AuditAnchorRow(
        chain="events",
        seller_id="s-1",
        position=2,
        row_hash="0" * 64,
        cutoff=years_ago(7),
        purged_at=NOW,
    )
    considered = msgspec.structs.replace(content, considered_event_ids=["bind.HM-OLD"])
    purged = _explain(considered, [], considered.decision, anchor)
    assert "may have been purged by retention" in purged[0]
    assert "after position 2" in purged[0]
    never = _explain(considered, [], considered.decision, None)
    assert "append-only" in never[0]


def test_the_audit_retention_is_at_least_the_capture_retention() -> None:
    assert load_settings({}).audit_retention_days == 2557
    with pytest.raises(SettingsError, match="audit_retention_days"):
        load_settings({"ACCELERATOR_AUDIT_RETENTION_DAYS": "30"})
    with pytest.raises(SettingsError, match="audit_retention_days"):
        load_settings({"ACCELERATOR_AUDIT_RETENTION_DAYS": "0"})


async def test_two_purges_at_once_remove_each_row_once_and_leave_the_chains_intact(
    database: Database,
) -> None:
    for seller_id in ("s-1", "s-2", "s-3"):
        await add_seller(database, seller_id)
        await expired_policy(database, f"HM-{seller_id}", seller_id=seller_id)
        old = years_ago(8)
        await receipts_evaluated(
            database, seller_id, *(old + timedelta(minutes=n) for n in range(4))
        )
    service = RetentionService(database, CAPTURES, AUDIT, batch_size=3)

    one, two = await asyncio.gather(service.purge(NOW), service.purge(NOW))

    assert one.audit + two.audit == AuditPurged(receipts=12, events=6, policies=3)
    verified = await ChainVerifier(database).verify_page(after=None, limit=10)
    assert verified.intact, verified.broken
    assert verified.sellers_checked == 3


async def test_a_purge_while_a_chain_is_verified_is_not_taken_for_tampering(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_seller(database, "s-1")
    old = years_ago(8)
    await receipts_evaluated(database, "s-1", old, old + timedelta(minutes=1), NOW)
    read_rows = verify.chain_rows
    purged: list[AuditPurged] = []

    async def purge_first(*args: Any, **kwargs: Any) -> Any:
        # The purge commits after the verifier read where the chain begins, before its rows.
        if args[1] == Chain.RECEIPTS and not purged:
            purged.append((await purge_service(database).purge(NOW)).audit)
        return await read_rows(*args, **kwargs)

    monkeypatch.setattr(verify, "chain_rows", purge_first)

    verified = await ChainVerifier(database).verify_seller("s-1")

    assert purged == [AuditPurged(receipts=2)]
    assert verified.intact, verified.broken
