"""The admin console's tables on SQLite and PostgreSQL: the action log (newest first, in pages),
the insurer switches, and the quote funnel read from stored outcomes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from accelerator.admin.actions import ACTIONS_PER_PAGE, actions_page, add_action, record_action
from accelerator.admin.funnel import funnels_since
from accelerator.admin.switches import skip_reasons, switch_off, switch_on, switched_off
from accelerator.auth.principal import Principal, Role
from accelerator.infra.database import Database
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.runner import record_request, record_result
from accelerator.sellers.models import Seller
from schemas import OutcomeStatus
from tests.quoting.fakes import make_offer, make_request

pytestmark = pytest.mark.anyio

DANA = Principal("key-dana", Role.ADMIN, None, "Dana (operations)")
SAM = Principal("key-sam", Role.ADMIN, None, "Sam")


async def test_actions_are_listed_newest_first_in_pages_with_who_and_when(
    database: Database,
) -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    async with database.writing() as session:
        for n in range(ACTIONS_PER_PAGE + 1):
            add_action(session, DANA, "key.created", f"key {n}", now=start + timedelta(minutes=n))
    await record_action(database, SAM, "key.revoked", "key 0", "seller key")

    first = await actions_page(database, 1)
    assert (first.total, first.pages) == (ACTIONS_PER_PAGE + 2, 2)
    assert len(first.actions) == ACTIONS_PER_PAGE
    newest = first.actions[0]
    assert (newest.key_id, newest.key_name, newest.action, newest.target, newest.detail) == (
        "key-sam",
        "Sam",
        "key.revoked",
        "key 0",
        "seller key",
    )
    assert newest.at > start
    assert first.actions[1].target == f"key {ACTIONS_PER_PAGE}"
    assert [a.at for a in first.actions] == sorted((a.at for a in first.actions), reverse=True)
    second = await actions_page(database, 2)
    assert [(a.target, a.at) for a in second.actions] == [
        ("key 1", start + timedelta(minutes=1)),
        ("key 0", start),
    ]
    assert (await actions_page(database, 3)).actions == []


async def test_two_operators_switching_one_insurer_off_at_once_get_one_switch_and_no_error(
    database: Database,
) -> None:
    # Both look before either inserts: a "look, then add" switch failed the loser's commit on
    # the primary key (a 500 for the second operator on PostgreSQL).
    outcomes = await asyncio.gather(
        switch_off(database, DANA, "harbor", "first"),
        switch_off(database, SAM, "harbor", "second"),
    )
    assert sorted(outcomes) == [False, True]
    off = await switched_off(database)
    assert list(off) == ["harbor"]
    winner = "Dana (operations)" if outcomes[0] else "Sam"
    assert off["harbor"].key_name == winner
    log = (await actions_page(database, 1)).actions
    assert [(a.action, a.key_name) for a in log] == [("insurer.switched_off", winner)]


async def test_an_insurer_switched_off_stays_off_until_switched_on_each_time_recorded(
    database: Database,
) -> None:
    assert await switched_off(database) == {}
    assert await switch_off(database, DANA, "harbor", "renewing their API certificates")
    assert not await switch_off(database, SAM, "harbor", "again")
    off = await switched_off(database)
    assert list(off) == ["harbor"]
    assert (off["harbor"].key_name, off["harbor"].reason) == (
        "Dana (operations)",
        "renewing their API certificates",
    )
    assert await skip_reasons(database) == {
        "harbor": "an operator switched this insurer off: renewing their API certificates"
    }
    assert await switch_on(database, SAM, "harbor")
    assert not await switch_on(database, SAM, "harbor")
    assert await switched_off(database) == {}
    assert await skip_reasons(database) == {}
    log = (await actions_page(database, 1)).actions
    assert [(a.action, a.key_name, a.target) for a in log] == [
        ("insurer.switched_on", "Sam", "harbor"),
        ("insurer.switched_off", "Dana (operations)", "harbor"),
    ]


async def store(database: Database, request_id: str, *results: InsurerResult) -> None:
    insurers: Any = {
        r.provider_id: SimpleNamespace(adapter=SimpleNamespace(insurer_name=r.insurer_name))
        for r in results
    }
    await record_request(
        database, make_request(request_id), insurers, datetime.now(UTC) + timedelta(seconds=5)
    )
    for result in results:
        await record_result(database, request_id, result)


async def test_the_funnel_counts_each_insurers_answers_and_reasons_in_the_period(
    database: Database,
) -> None:
    now = datetime.now(UTC)
    async with database.writing() as session:
        session.add(
            Seller(id="s-1", legal_name="Volt", marketplace="US", created_at=now, updated_at=now)
        )

    def result(provider: str, status: str, code: str | None = None, **more: Any) -> InsurerResult:
        return InsurerResult(provider, provider.title(), OutcomeStatus(status), code, **more)

    await store(
        database,
        "r-1",
        result("harbor", "offered", offers=[make_offer("harbor")]),
        result("meridian", "declined", "category_excluded"),
    )
    await store(
        database,
        "r-2",
        result("harbor", "declined", "claims_history"),
        result("meridian", "declined", "category_excluded"),
    )
    await store(
        database,
        "r-3",
        result("harbor", "skipped", "switched_off"),
        result("meridian", "error", "http_503"),
    )

    funnels = await funnels_since(database, now - timedelta(minutes=1))
    harbor, meridian = funnels["harbor"], funnels["meridian"]
    assert harbor.requests == 3
    assert harbor.answers == {"offered": 1, "declined": 1, "skipped": 1}
    assert harbor.reasons[OutcomeStatus.DECLINED] == {"claims_history": 1}
    assert harbor.reasons[OutcomeStatus.SKIPPED] == {"switched_off": 1}
    assert meridian.answers == {"declined": 2, "error": 1}
    assert meridian.reasons[OutcomeStatus.DECLINED] == {"category_excluded": 2}
    assert meridian.reasons[OutcomeStatus.ERROR] == {"http_503": 1}
    # Requests made before the period began are left out.
    assert await funnels_since(database, datetime.now(UTC) + timedelta(minutes=1)) == {}
