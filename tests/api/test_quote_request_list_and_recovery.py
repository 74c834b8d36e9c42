"""Listing quote requests (paginated, each seller its own) and finishing, on restart, a request
whose fan-out died with its process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.models import OfferRow
from accelerator.quoting.runner import record_request, record_result
from accelerator.server import create_app
from accelerator.settings import Settings
from tests.api.conftest import power_bank_body
from tests.quoting.fakes import make_offer, make_request

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]


async def ask(client: Client, headers: Headers, seller_id: str = "s-1") -> str:
    response = await client.post(
        "/v1/quote-requests?wait=true", json={"seller_id": seller_id}, headers=headers
    )
    assert response.status_code in (200, 202), response.text
    request_id: str = response.json()["id"]
    return request_id


async def test_a_seller_lists_its_own_requests_newest_first_page_by_page(
    client: Client,
    seller_headers: Headers,
    admin_headers: Headers,
    key_for: Callable[..., Awaitable[Headers]],
    profiled_seller: dict[str, Any],
) -> None:
    mine = [await ask(client, seller_headers) for _ in range(3)]
    other_headers = await key_for(Role.SELLER, "s-2")
    profile = await client.put(
        "/v1/sellers/s-2/profile", json=power_bank_body(), headers=other_headers
    )
    assert profile.status_code == 200
    theirs = await ask(client, other_headers, "s-2")

    first = await client.get("/v1/quote-requests?limit=2", headers=seller_headers)
    assert first.status_code == 200, first.text
    second = await client.get("/v1/quote-requests?limit=2&offset=2", headers=seller_headers)
    everyone = await client.get("/v1/quote-requests", headers=admin_headers)

    assert [r["id"] for r in first.json() + second.json()] == mine[::-1]
    assert {r["seller_id"] for r in first.json()} == {"s-1"}
    assert first.json()[0]["status"] == "complete"
    assert first.json()[0]["progress"] == {"insurers": 0, "answered": 0, "offers": 0}
    assert {r["id"] for r in everyone.json()} == {*mine, theirs}


async def test_a_seller_cannot_list_another_sellers_requests(
    client: Client, seller_headers: Headers
) -> None:
    response = await client.get("/v1/quote-requests?seller_id=s-2", headers=seller_headers)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "status=lost"])
async def test_bad_paging_is_a_problem_naming_the_parameter(
    client: Client, seller_headers: Headers, query: str
) -> None:
    response = await client.get(f"/v1/quote-requests?{query}", headers=seller_headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert query.split("=")[0] in response.text


async def test_a_request_abandoned_by_a_crash_is_finished_when_the_service_restarts(
    client: Client,
    settings: Settings,
    database: Database,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    # What a process killed mid fan-out leaves: `collecting`, insurers still `awaiting`.
    insurers: Any = {
        "harbor": SimpleNamespace(adapter=SimpleNamespace(insurer_name="Harbor Mutual")),
        "acorn": SimpleNamespace(adapter=SimpleNamespace(insurer_name="Acorn Casualty")),
    }
    deadline = datetime.now(UTC) - timedelta(minutes=1)
    await record_request(database, make_request("crashed-1"), insurers, deadline)

    async with AsyncTestClient(create_app(settings)) as restarted:
        view = (await restarted.get("/v1/quote-requests/crashed-1", headers=admin_headers)).json()

    assert view["status"] == "complete"
    assert {(o["provider_id"], o["status"], o["reason_code"]) for o in view["outcomes"]} == {
        ("harbor", "timed_out", "service_restarted"),
        ("acorn", "timed_out", "service_restarted"),
    }


async def test_a_nul_character_is_a_client_error_not_a_500(
    client: Client, admin_headers: Headers, database_url: str
) -> None:
    response = await client.get("/v1/quote-requests/a%00b", headers=admin_headers)
    # SQLite stores NUL and finds nothing; PostgreSQL cannot hold it in text at all.
    expected = 404 if database_url.startswith("sqlite") else 422
    assert response.status_code == expected
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_list_counts_answers_and_the_offers_still_on_the_table(
    client: Client,
    database: Database,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    insurers: Any = {
        "harbor": SimpleNamespace(adapter=SimpleNamespace(insurer_name="Harbor Mutual")),
        "acorn": SimpleNamespace(adapter=SimpleNamespace(insurer_name="Acorn Casualty")),
    }
    await record_request(
        database, make_request("counted-1"), insurers, datetime.now(UTC) + timedelta(minutes=1)
    )
    offers = [make_offer("harbor", "1200.00"), make_offer("harbor", "900.00")]
    await record_result(
        database,
        "counted-1",
        InsurerResult(provider_id="harbor", insurer_name="Harbor", status="offered", offers=offers),
    )
    async with database.writing() as session:  # the insurer withdrew one of them
        withdrawn = await session.scalar(select(OfferRow).limit(1))
        assert withdrawn is not None
        withdrawn.status = "withdrawn"

    [summary] = (await client.get("/v1/quote-requests", headers=seller_headers)).json()
    assert summary["status"] == "collecting"
    assert summary["progress"] == {"insurers": 2, "answered": 1, "offers": 1}
