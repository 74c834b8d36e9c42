"""The benchmark's checks keeping no receipt, against which what receipts cost is measured
(docs/performance.md): the same decisions as the service's checks, under the same guard, and
nothing but the receipt missing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.server import create_app
from accelerator.settings import Settings
from bench import registry
from bench.baselines import add_baselines
from tests.health.scrape import scrape, value

pytestmark = pytest.mark.anyio

DECISIONS = "accelerator_coverage_decisions_total"


def _without_receipt(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k not in ("receipt_id", "evaluated_at")}


async def test_the_checks_keeping_no_receipt_decide_as_the_service_does_and_keep_none(
    settings: Settings, database: Database
) -> None:
    now = datetime.now(UTC)
    await asyncio.to_thread(
        registry.grow_registry, settings.database_url, first_seller=0, sellers=3, now=now
    )
    claims = {"Authorization": f"Bearer {(await create_key(database, Role.CLAIMS)).secret}"}
    seller = await create_key(database, Role.SELLER, seller_id=registry.seller_id(1))
    app = create_app(settings)
    add_baselines(app, settings)
    bodies = [registry.check_body(number, now) for number in range(3)]
    exempt = {"decision": "exempt", "reason": "none"}
    async with AsyncTestClient(app) as client:
        before = await scrape(client)
        checked = await client.post("/v1/coverage/checks", json=bodies[1], headers=claims)
        unkept = await client.post("/bench/check-without-receipt", json=bodies[1], headers=claims)
        assert checked.status_code == unkept.status_code == 200, (checked.text, unkept.text)
        assert checked.json()["receipt_id"]
        assert unkept.json()["receipt_id"] is None
        assert _without_receipt(unkept.json()) == _without_receipt(checked.json())
        # Counted in the metrics as the service's own decisions are: one each.
        assert (
            value(await scrape(client), DECISIONS, **exempt) - value(before, DECISIONS, **exempt)
            == 2
        )

        # A batch answered item by item as the service answers it, an invalid item included.
        batch = {"checks": [*bodies, {"seller_id": registry.seller_id(0)}]}
        checked = await client.post("/v1/coverage/checks/batch", json=batch, headers=claims)
        unkept = await client.post("/bench/batch-without-receipts", json=batch, headers=claims)
        assert checked.status_code == unkept.status_code == 200, (checked.text, unkept.text)
        assert checked.json()["results"][3]["result"] == "error"
        assert [_without_receipt(d) for d in unkept.json()["results"]] == [
            _without_receipt(d) for d in checked.json()["results"]
        ]

        # Only the service's own checks kept receipts: one single, three in the batch.
        kept = await client.get("/v1/coverage/decisions?limit=100", headers=claims)
        assert kept.status_code == 200, kept.text
        assert len(kept.json()) == 4

        # Guarded as the service's checks are: a seller's key may not use them.
        refused = {"Authorization": f"Bearer {seller.secret}"}
        for path, body in (
            ("/v1/coverage/checks", bodies[1]),
            ("/bench/check-without-receipt", bodies[1]),
            ("/bench/batch-without-receipts", batch),
        ):
            answer = await client.post(path, json=body, headers=refused)
            assert answer.status_code == 403, (path, answer.text)
