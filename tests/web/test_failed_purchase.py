"""A purchase the insurer refused (or never confirmed) is explained on the seller's quote page."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from accelerator.infra.database import Database
from accelerator.quoting.models import QuoteRequestRow
from schemas import BindFailure
from tests.api.conftest import power_bank_body
from tests.web.test_sessions_and_csrf import a_request_with_an_offer, seller_key, sign_in

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]


async def test_the_quote_page_says_why_the_last_purchase_did_not_go_through(
    client: Client, database: Database
) -> None:
    owner = await seller_key(database, "s-1")
    put = await client.put(
        "/v1/sellers/s-1/profile",
        json=power_bank_body(categories={"home/furniture": "1"}),
        headers={"Authorization": f"Bearer {owner}"},
    )
    assert put.status_code == 200
    request_id, offer_id = await a_request_with_an_offer(database)
    await sign_in(client, owner)
    before = await client.get(f"/app/quotes/{request_id}")

    failure = BindFailure(
        offer_id=offer_id,
        code="bind_refused",
        reason_code="quote_expired",
        reason="Quote HMI-Q-1 expired <today>.",
        failed_at=datetime.now(UTC),
    )
    async with database.writing() as session:
        await session.execute(
            update(QuoteRequestRow)
            .where(QuoteRequestRow.id == request_id)
            .values(status="complete", bind_failure=msgspec.to_builtins(failure))
        )
    after = await client.get(f"/app/quotes/{request_id}")

    assert "did not go through" not in before.text
    assert "Your last purchase from harbor insurance did not go through." in after.text
    assert "Quote HMI-Q-1 expired &lt;today&gt;. You can buy an offer again." in after.text
