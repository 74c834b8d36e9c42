"""Producers wired so far besides the registry's policy events: ``quote_request.completed``, on
the quote writes' plain-driver path and on the sweep that completes abandoned requests, each in
the transaction that completes the request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import select

from accelerator.infra.database import Database
from accelerator.notifications.models import MessageRow
from accelerator.quoting import repository
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.runner import record_request
from accelerator.server import runtime_of
from schemas import decode_notification
from tests.notifications.conftest import Client, Headers, register
from tests.quoting.fakes import make_request

pytestmark = pytest.mark.anyio
REQUEST_ID = "11111111-2222-3333-4444-555555555555"


async def messages(db: Database) -> list[MessageRow]:
    async with db.reading() as session:
        return list((await session.scalars(select(MessageRow).order_by(MessageRow.id))).all())


async def asked(app: Litestar, database: Database, deadline: datetime) -> None:
    await record_request(
        database,
        make_request(REQUEST_ID),
        {"meridian": runtime_of(app).services.partners["meridian"]},
        deadline,
    )


async def test_a_completed_quote_request_is_announced_to_the_endpoints_that_want_it(
    client: Client, admin_headers: Headers, app: Litestar, database: Database, seller: str
) -> None:
    wanted = await register(
        client, admin_headers, "http://127.0.0.1:9/a", event_types=["quote_request.completed"]
    )
    await register(client, admin_headers, "http://127.0.0.1:9/b", event_types=["policy.bound"])
    await register(client, admin_headers, "http://127.0.0.1:9/c", marketplace="UK")
    await asked(app, database, datetime.now(UTC) + timedelta(seconds=30))
    declined = InsurerResult(
        provider_id="meridian", insurer_name="Meridian", status="declined", reason_code="x"
    )

    await repository.store_results(database, [(REQUEST_ID, declined)], [REQUEST_ID])
    await repository.store_results(database, [], [REQUEST_ID])  # completes nothing again

    [message] = await messages(database)
    assert message.endpoint_id == wanted["endpoint"]["id"]
    event = decode_notification(message.body)
    assert event.id == message.event_id
    assert event_type(message.body) == "quote_request.completed"
    assert event.data.request_id == REQUEST_ID  # type: ignore[union-attr]


async def test_a_result_stored_with_no_endpoint_writes_no_message(
    app: Litestar, database: Database, seller: str, client: Client
) -> None:
    await asked(app, database, datetime.now(UTC) + timedelta(seconds=30))
    await repository.store_results(database, [], [REQUEST_ID])
    assert await messages(database) == []


async def test_an_abandoned_request_completed_by_the_sweep_is_announced(
    client: Client, admin_headers: Headers, app: Litestar, database: Database, seller: str
) -> None:
    await register(client, admin_headers, "http://127.0.0.1:9/a")
    await asked(app, database, datetime.now(UTC) - timedelta(minutes=5))
    now = datetime.now(UTC)
    assert await repository.complete_abandoned(database, deadline_before=now, now=now) == 1
    [message] = await messages(database)
    assert message.event_type == "quote_request.completed"


def event_type(body: bytes) -> Any:
    return json.loads(body)["type"]
