"""Listing quote requests (paginated, each seller its own), finishing, on restart, a request
whose fan-out died with its process, and reading its insurers' captured exchanges."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.insurers.capture import AttemptCapture
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.models import OfferRow
from accelerator.quoting.runner import record_request, record_result
from accelerator.server import create_app
from accelerator.settings import Settings
from providers.sandbox import default_sandbox_provider_settings
from schemas import CapturedMessage, InsurerAttempt
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
    client: Client, admin_headers: Headers
) -> None:
    response = await client.get("/v1/quote-requests/a%00b", headers=admin_headers)
    # Refused before any lookup, so alike on both databases (SQLite would find nothing, and
    # PostgreSQL cannot hold a NUL in text at all).
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == ["request_id"]


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


async def test_an_admin_reads_the_captured_attempts_as_they_were_stored(
    client: Client,
    database: Database,
    admin_headers: Headers,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    insurers: Any = {"harbor": SimpleNamespace(adapter=SimpleNamespace(insurer_name="Harbor"))}
    await record_request(
        database, make_request("captured-1"), insurers, datetime.now(UTC) + timedelta(minutes=1)
    )
    sent = CapturedMessage(headers={"authorization": "[redacted]"}, body='{"q": 1}')
    attempts = (
        AttemptCapture(
            number=1,
            method="POST",
            url="https://harbor.test/quotes",
            idempotency_key="captured-1.harbor.quote",
            started_at="2026-11-26T10:00:00+00:00",
            duration_ms=12.5,
            request=sent,
            error="timeout: ReadTimeout()",
        ),
        AttemptCapture(
            number=2,
            method="POST",
            url="https://harbor.test/quotes",
            idempotency_key="captured-1.harbor.quote",
            started_at="2026-11-26T10:00:01+00:00",
            duration_ms=30.0,
            request=sent,
            response_status=200,
            response=CapturedMessage(headers={"content-type": "application/json"}, body="{}"),
        ),
    )
    await record_result(
        database,
        "captured-1",
        InsurerResult(
            provider_id="harbor", insurer_name="Harbor", status="declined", attempts=attempts
        ),
    )

    response = await client.get("/v1/quote-requests/captured-1/attempts", headers=admin_headers)
    refused = await client.get("/v1/quote-requests/captured-1/attempts", headers=seller_headers)

    assert response.status_code == 200, response.text
    # Each stored capture as it was stored (defaults left out), after its insurer's id; its
    # start is an instant, served in UTC like every other.
    assert response.json() == [
        {
            "provider_id": "harbor",
            **msgspec.to_builtins(attempt),
            "started_at": attempt.started_at.replace("+00:00", "Z"),
        }
        for attempt in attempts
    ]
    assert [next(iter(item)) for item in response.json()] == ["provider_id", "provider_id"]
    assert refused.status_code == 403


def test_a_served_attempt_has_the_fields_of_a_stored_capture() -> None:
    assert InsurerAttempt.__struct_fields__ == ("provider_id", *AttemptCapture.__struct_fields__)
    assert InsurerAttempt.__struct_config__.omit_defaults
    assert AttemptCapture.__struct_config__.omit_defaults


async def test_the_provider_directory_lists_each_configured_insurer_and_its_breaker(
    settings: Settings, database: Database, seller_headers: Headers
) -> None:
    providers = default_sandbox_provider_settings("http://127.0.0.1:9", "http://callbacks", [])
    configured = msgspec.structs.replace(settings, providers=msgspec.to_builtins(providers))
    async with AsyncTestClient(create_app(configured)) as client:
        response = await client.get("/v1/providers", headers=seller_headers)

    assert response.status_code == 200, response.text
    listed = response.json()
    assert [p["provider_id"] for p in listed] == sorted(providers)
    assert {p["breaker"] for p in listed} == {"closed"}
