"""``/metrics`` after what an operator watches: a quote request, single and batch coverage
checks and insurer webhooks move their counters, with route templates (never raw paths) as the
HTTP label. The registry is the process's, shared by every test: each assertion is about what
one request added."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.infra.database import Database
from accelerator.server import create_app
from accelerator.settings import Settings
from tests.api.conftest import power_bank_body
from tests.api.policies import claim
from tests.conftest import shared_app
from tests.health.scrape import scrape, value, with_label

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
HTTP_REQUESTS = "accelerator_http_requests_total"


def harbor_declines(request: httpx.Request) -> httpx.Response:
    decline = {"code": "capacity_full", "message": "no capacity this quarter"}
    return httpx.Response(200, json={"outcome": "declined", "decline": decline})


@pytest.fixture
def settings(settings: Settings) -> Settings:
    providers: dict[str, dict[str, Any]] = {
        "harbor": {"base_url": "http://harbor.test", "api_key": "harbor-key"}
    }
    return msgspec.structs.replace(settings, providers=providers)


#: Stateless, so one app built with it serves every test (tests/conftest.py, ``shared_app``).
_DECLINING = httpx.MockTransport(harbor_declines)


@pytest.fixture
def app(settings: Settings, database: Database) -> Litestar:
    return shared_app(
        settings,
        lambda: create_app(settings, insurer_transport=_DECLINING),
        "harbor declines every quote",
    )


async def test_metrics_need_no_key_and_are_not_in_the_api_document(client: Client) -> None:
    await scrape(client)
    document = (await client.get("/schema/openapi.json")).json()
    assert "/metrics" not in document["paths"]


async def test_a_quote_request_counts_each_insurer_answer_and_the_request(
    client: Client, admin_headers: Headers
) -> None:
    await client.put("/v1/sellers/s-1/profile", json=power_bank_body(), headers=admin_headers)
    before = await scrape(client)
    answer = await client.post(
        "/v1/quote-requests?wait=true", json={"seller_id": "s-1"}, headers=admin_headers
    )
    assert answer.status_code in (200, 202), answer.text
    [outcome] = answer.json()["outcomes"]
    assert (outcome["status"], outcome["reason_code"]) == ("declined", "capacity_full")
    after = await scrape(client)

    labels = {"insurer": "harbor", "outcome": "declined", "reason": "capacity_full"}
    moved = value(after, "accelerator_insurer_quotes_total", **labels) - value(
        before, "accelerator_insurer_quotes_total", **labels
    )
    assert moved == 1
    timing = {"insurer": "harbor", "outcome": "declined"}
    name = "accelerator_insurer_quote_duration_seconds_count"
    assert value(after, name, **timing) - value(before, name, **timing) == 1
    finished = value(after, "accelerator_quote_requests_total", status="no_offer") - value(
        before, "accelerator_quote_requests_total", status="no_offer"
    )
    assert finished == 1
    # The request's route as its template; the raw path with its id is never a label.
    request_id = answer.json()["id"]
    await client.get(f"/v1/quote-requests/{request_id}", headers=admin_headers)
    paths = with_label(await scrape(client), HTTP_REQUESTS, "path")
    assert (
        "/v1/quote-requests/{request_id:str}" in paths or "/v1/quote-requests/{request_id}" in paths
    )
    assert not any(request_id in path for path in paths)


async def test_single_and_batch_checks_count_decisions_by_decision_and_reason(
    client: Client, admin_headers: Headers
) -> None:
    before = await scrape(client)
    single = await client.post("/v1/coverage/checks", json=claim(), headers=admin_headers)
    assert single.status_code == 200, single.text
    assert single.json()["reasons"][0]["code"] == "no_policy"
    batch = await client.post(
        "/v1/coverage/checks/batch",
        json={"checks": [claim(), claim(), {"seller_id": "s-1"}]},
        headers=admin_headers,
    )
    assert batch.status_code == 200, batch.text
    after = await scrape(client)

    labels = {"decision": "not_exempt", "reason": "no_policy"}
    name = "accelerator_coverage_decisions_total"
    assert value(after, name, **labels) - value(before, name, **labels) == 3  # not the error
    ok = {"method": "POST", "path": "/v1/coverage/checks/batch", "status_code": "200"}
    assert (
        value(after, HTTP_REQUESTS, app_name="accelerator", **ok)
        - value(before, HTTP_REQUESTS, app_name="accelerator", **ok)
        == 1
    )


async def test_webhook_receipts_count_by_provider_and_result(client: Client) -> None:
    before = await scrape(client)
    unsigned = await client.post(
        "/v1/webhooks/insurers/harbor", content=b"{}", headers={"content-type": "application/json"}
    )
    assert unsigned.status_code in (400, 401), unsigned.text
    stranger = await client.post(
        "/v1/webhooks/insurers/nobody-we-know",
        content=b"{}",
        headers={"content-type": "application/json"},
    )
    assert stranger.status_code == 404
    after = await scrape(client)

    name = "accelerator_webhook_receipts_total"
    refused = {"provider": "harbor", "result": unsigned.json()["code"]}
    assert value(after, name, **refused) - value(before, name, **refused) == 1
    # A path the sender chose is never a label value: an unknown provider is "unknown".
    unknown = {"provider": "unknown", "result": stranger.json()["code"]}
    assert value(after, name, **unknown) - value(before, name, **unknown) == 1
    assert "nobody-we-know" not in with_label(after, name, "provider")


async def test_metrics_switched_off_serve_no_metrics_route(
    settings: Settings, database: Database
) -> None:
    quiet = msgspec.structs.replace(settings, metrics_enabled=False)
    async with AsyncTestClient(create_app(quiet)) as client:
        assert (await client.get("/metrics")).status_code == 404


async def test_a_request_refused_for_want_of_a_key_counts_with_its_401(client: Client) -> None:
    before = await scrape(client)
    assert (await client.get("/v1/quote-requests/abc")).status_code == 401
    after = await scrape(client)
    refused = {
        "app_name": "accelerator",
        "method": "GET",
        "path": "/v1/quote-requests/{request_id}",
        "status_code": "401",
    }
    assert value(after, HTTP_REQUESTS, **refused) - value(before, HTTP_REQUESTS, **refused) == 1
