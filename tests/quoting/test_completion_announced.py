"""A request's completion, written with its last results, and ``quote_request.completed``: the
batch completes a request itself only when no endpoint may want the event, so that it need
not read the endpoints first; otherwise the completion goes again, the endpoints read after it
in its transaction, so that an endpoint registered before the completing write gets the
event."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from accelerator.infra.database import Database
from accelerator.notifications.models import EndpointRow, MessageRow
from accelerator.notifications.outbox import Subscription, may_be_wanted_sql
from accelerator.quoting.models import QuoteRequestRow
from accelerator.quoting.repository import store_results
from schemas import NotificationType
from tests.quoting.storage import ask, declined, offered

pytestmark = pytest.mark.anyio
COMPLETED = NotificationType.QUOTE_REQUEST_COMPLETED.value
_ids = itertools.count(1)


async def endpoint(
    db: Database, event_types: list[str], *, enabled: bool = True, seller_id: str | None = None
) -> str:
    """Register an endpoint as the admin API stores one; its id."""
    endpoint_id = f"ep_{next(_ids)}"
    now = datetime.now(UTC)
    async with db.writing() as session:
        session.add(
            EndpointRow(
                id=endpoint_id,
                url="http://127.0.0.1:9/hook",
                event_types=event_types,
                seller_id=seller_id,
                marketplace=None,
                secrets=[{"secret": "whsec_dGVzdA", "expires_at": None}],
                enabled=enabled,
                created_at=now,
                updated_at=now,
            )
        )
    return endpoint_id


async def messages(db: Database) -> list[tuple[str, str]]:
    async with db.reading() as session:
        rows = await session.execute(
            select(MessageRow.endpoint_id, MessageRow.event_type).order_by(MessageRow.id)
        )
        return [(endpoint_id, event_type) for endpoint_id, event_type in rows.all()]


async def status(db: Database, request_id: str) -> str:
    async with db.reading() as session:
        found = await session.scalar(
            select(QuoteRequestRow.status).where(QuoteRequestRow.id == request_id)
        )
    return str(found)


async def test_a_completion_no_endpoint_wants_writes_no_message_and_is_as_written(
    database: Database, seller: str
) -> None:
    await endpoint(database, ["policy.bound"])
    await endpoint(database, [COMPLETED], enabled=False)
    await ask(database, "req-1", "harbor", "acorn")

    await store_results(database, [("req-1", declined("acorn"))])
    written = await store_results(database, [("req-1", offered("harbor"))], ["req-1"])

    assert list(written) == ["req-1"]
    assert await status(database, "req-1") == "complete"
    assert await messages(database) == []


@pytest.mark.parametrize("event_types", [[], [COMPLETED], ["policy.bound", COMPLETED]])
async def test_an_endpoint_that_wants_the_event_gets_it_with_the_completion(
    database: Database, seller: str, event_types: list[str]
) -> None:
    wanting = await endpoint(database, event_types)
    await endpoint(database, ["policy.bound"])
    await ask(database, "req-1", "harbor")

    written = await store_results(database, [("req-1", offered("harbor"))], ["req-1"])

    # Nothing but the fan-out wrote to it: it may still answer from what it holds.
    assert list(written) == ["req-1"]
    assert await status(database, "req-1") == "complete"
    assert await messages(database) == [(wanting, COMPLETED)]


async def test_an_endpoint_registered_after_the_results_and_before_the_completion_gets_it(
    database: Database, seller: str
) -> None:
    await ask(database, "req-1", "harbor", "acorn")
    await store_results(database, [("req-1", declined("acorn"))])
    await store_results(database, [("req-1", offered("harbor"))])
    wanting = await endpoint(database, [])

    written = await store_results(database, [], ["req-1"])

    assert list(written) == ["req-1"]
    assert await messages(database) == [(wanting, COMPLETED)]


async def test_of_a_batch_only_the_requests_still_collecting_are_completed_and_announced(
    database: Database, seller: str
) -> None:
    wanting = await endpoint(database, [COMPLETED])
    for request_id in ("req-1", "req-2"):
        await ask(database, request_id, "harbor")
    await store_results(database, [("req-1", offered("harbor"))], ["req-1"])

    written = await store_results(database, [("req-2", offered("harbor"))], ["req-1", "req-2"])

    assert list(written) == ["req-2"]
    assert await messages(database) == [(wanting, COMPLETED), (wanting, COMPLETED)]


async def test_an_endpoint_scoped_to_another_seller_completes_the_request_without_a_message(
    database: Database, seller: str
) -> None:
    await endpoint(database, [], seller_id="someone-else")
    await ask(database, "req-1", "harbor")

    written = await store_results(database, [("req-1", offered("harbor"))], ["req-1"])

    assert list(written) == ["req-1"]
    assert await status(database, "req-1") == "complete"
    assert await messages(database) == []


_TYPE_LISTS = [[], [COMPLETED], ["policy.bound"], ["policy.bound", COMPLETED], ["quote_request"]]


@pytest.mark.parametrize(
    "registered",
    [
        [],
        *([(types, True)] for types in _TYPE_LISTS),
        *([(types, False)] for types in _TYPE_LISTS),
        [(["policy.bound"], True), ([COMPLETED], False)],
        [(["policy.bound"], True), ([], True)],
    ],
)
async def test_the_write_s_condition_agrees_with_the_subscriptions_on_who_may_want_it(
    database: Database, registered: list[tuple[list[str], bool]]
) -> None:
    for types, enabled in registered:
        await endpoint(database, types, enabled=enabled)
    condition = may_be_wanted_sql(COMPLETED, sqlite=database.is_sqlite)

    async with database.reading() as session:
        found = bool(await session.scalar(text(f"SELECT {condition}")))

    expected = any(
        Subscription("e", frozenset(types), None, None).wants(COMPLETED, "s-1")
        for types, enabled in registered
        if enabled
    )
    assert found is expected


def test_the_condition_takes_only_an_event_type_into_its_sql() -> None:
    with pytest.raises(ValueError, match="not an event type"):
        may_be_wanted_sql("x') OR (1 = 1", sqlite=True)
