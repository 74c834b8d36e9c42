"""The quote page asks for cover through the same service as the API, so the same rule on when
cover starts holds there: it offers no start date and asks from tomorrow on the marketplace's
calendar (the service's clock is set here)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.server import runtime_of
from tests.api.conftest import power_bank_body
from tests.web.signing_in import sign_in

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]


async def test_quotes_asked_on_the_page_start_tomorrow_in_the_marketplace_time_zone(
    client: Client, app: Litestar, database: Database
) -> None:
    secret = (await create_key(database, Role.SELLER, seller_id="s-1")).secret
    put = await client.put(
        "/v1/sellers/s-1/profile",
        json=power_bank_body(),
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert put.status_code == 200, put.text
    token = await sign_in(client, secret)
    form = (await client.get("/app/quotes")).text
    assert 'type="date"' not in form  # nothing to pick: the start is the service's to set
    # 23:30 on 9 March in Los Angeles (already the 10th in UTC): tomorrow there is the 10th.
    runtime = runtime_of(app)
    at = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    runtime.replace(quoting=dataclasses.replace(runtime.services.quoting, clock=lambda: at))

    asked = await client.post("/app/quotes", data={"csrf_token": token})

    assert asked.status_code == 200, asked.text
    assert "from 10 March 2026 for 12 months" in asked.text
