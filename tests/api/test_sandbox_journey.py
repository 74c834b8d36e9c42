"""End to end on loopback: the real service (uvicorn) and the real sandbox insurers.

A seller profiles itself, asks for quotes, sees every insurer's outcome by the deadline (also
with one insurer hanging and one failing), binds the best compliant offer exactly once, and the
asynchronous insurer's offers arrive through the signed webhook.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from sqlalchemy import func, select

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.coverage.models import PolicyRow
from accelerator.infra.database import Database
from accelerator.server import create_app
from accelerator.settings import Settings
from accelerator.webhooks.models import InboxEvent
from bench.processes import free_port
from providers.sandbox import SandboxConfig, default_sandbox_provider_settings, start_sandbox
from tests.api.conftest import power_bank_body

pytestmark = pytest.mark.anyio
SECRET = "whsec_" + "c2FuZGJveC1pbnRlZ3JhdGlvbi10ZXN0LXNlY3JldA=="
DEADLINE = 3.0
CALLBACK_DELAY = 1.2


@pytest.fixture
async def service(
    request: pytest.FixtureRequest, database_url: str, database: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The service and the sandbox; parametrise indirectly with rule-set overrides."""
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    sandbox = await start_sandbox(
        "127.0.0.1",
        0,
        SandboxConfig(
            callback_url=f"{api_url}/v1/webhooks/insurers",
            callback_secret=SECRET,
            # Longer than a short deadline, so a quote can finish before the callback comes.
            callback_delay_seconds=CALLBACK_DELAY,
        ),
    )
    providers = default_sandbox_provider_settings(
        sandbox.url, f"{api_url}/v1/webhooks/insurers", [SECRET]
    )
    settings = Settings(
        database_url=database_url,
        sandbox_enabled=False,
        providers=msgspec.to_builtins(providers),
        quote_deadline_seconds=DEADLINE,
        insurer_timeout_seconds=DEADLINE,
        ruleset_overrides=getattr(request, "param", {}),
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=api_port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    key = await create_key(database, Role.SELLER, seller_id="s-1")
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {key.secret}"}, timeout=30
    ) as client:
        # A furniture seller: inside every sandbox insurer's appetite (power banks are declined).
        body = power_bank_body(categories={"home/furniture": "1"})
        put = await client.put("/v1/sellers/s-1/profile", json=body)
        assert put.status_code == 200, put.text
        yield client, sandbox
    server.should_exit = True
    await task
    await sandbox.stop()


async def quote(client: httpx.AsyncClient) -> dict[str, Any]:
    """Ask for quotes and wait for the request to complete: ``?wait=true`` answers by the
    deadline and the API's margin; on a busy machine it may answer 202 still collecting, and
    the request is then read until it completes (30 s at most, far beyond the deadline)."""
    response = await client.post("/v1/quote-requests?wait=true", json={"seller_id": "s-1"})
    assert response.status_code in (200, 202), response.text
    view: dict[str, Any] = response.json()
    for _ in range(300):
        if view["status"] != "collecting":
            break
        await asyncio.sleep(0.1)
        view = (await client.get(f"/v1/quote-requests/{view['id']}")).json()
    assert view["status"] == "complete", view
    return view


async def bind_best_offer(client: httpx.AsyncClient, idempotency_key: str) -> dict[str, Any]:
    """Quote, bind the best compliant bindable offer, and wait for its policy in the registry
    (an asynchronous insurer confirms by callback); the policy."""
    view = await quote(client)
    best = next(
        o for o in view["offers"] if o["compliance"]["compliant"] and o["offer"]["bindable"]
    )
    bound = await client.post(
        f"/v1/offers/{best['id']}/bind", json={}, headers={"Idempotency-Key": idempotency_key}
    )
    assert bound.status_code in (201, 202), bound.text
    for _ in range(300):
        policies = (await client.get("/v1/sellers/s-1/policies")).json()
        if policies:
            break
        await asyncio.sleep(0.1)
    [policy] = policies
    policy_document: dict[str, Any] = policy
    return policy_document


async def test_every_sandbox_insurer_answers_and_compliant_offers_rank_first(service: Any) -> None:
    client, _ = service
    view = await quote(client)
    statuses = {o["provider_id"]: o["status"] for o in view["outcomes"]}
    assert set(statuses) == {"harbor", "summit", "meridian", "acorn"}
    assert "awaiting" not in statuses.values()
    offers = view["offers"]
    assert offers
    compliant = [o["compliance"]["compliant"] for o in offers]
    assert compliant == sorted(compliant, reverse=True)
    assert any(compliant), msgspec.json.encode(view["outcomes"]).decode()


@pytest.mark.parametrize(
    "service", [{"US.additional_insured_name": "Example Marketplace Inc."}], indirect=True
)
async def test_insurers_endorse_the_operator_the_marketplace_names(service: Any) -> None:
    # The quote request carries the rule set's endorsement, so another operator than the
    # sandbox's default is named on the offers, and they comply with the marketplace.
    client, _ = service
    view = await quote(client)
    offers = [o["offer"] for o in view["offers"]]
    endorsements = [o["additional_insured"] for o in offers if o["additional_insured"]]
    assert endorsements
    assert {e["name"] for e in endorsements} == {"Example Marketplace Inc."}
    assert {e["wording"] for e in endorsements} == {
        "Example Marketplace Inc. and its affiliates and assignees"
    }
    assert any(o["compliance"]["compliant"] for o in view["offers"])


async def test_a_hanging_and_a_failing_insurer_still_finish_on_time(service: Any) -> None:
    client, sandbox = service
    async with httpx.AsyncClient(base_url=sandbox.url) as control:
        assert (
            await control.put("/_control/harbor/faults", json={"hang_rate": 1.0})
        ).status_code == 200
        assert (
            await control.put("/_control/acorn/faults", json={"error_rate": 1.0})
        ).status_code == 200
    view = await quote(client)
    statuses = {o["provider_id"]: o for o in view["outcomes"]}
    # Finished at its deadline, not by a time measured here (load would move that): the hung
    # insurer never answers while the sandbox runs, so the request completed without it, and
    # no earlier than the deadline it was given, which the timed-out outcome waited for.
    completed_at = datetime.fromisoformat(view["completed_at"])
    assert completed_at >= datetime.fromisoformat(view["deadline_at"])
    assert statuses["harbor"]["status"] == "timed_out"
    assert statuses["acorn"]["status"] == "error"
    assert statuses["acorn"]["reason_code"] == "http_500"


async def test_binding_the_best_compliant_offer_twice_gives_one_policy(service: Any) -> None:
    client, _ = service
    view = await quote(client)
    best = next(
        o for o in view["offers"] if o["compliance"]["compliant"] and o["offer"]["bindable"]
    )
    first = await client.post(
        f"/v1/offers/{best['id']}/bind", json={}, headers={"Idempotency-Key": "k-1"}
    )
    again = await client.post(
        f"/v1/offers/{best['id']}/bind", json={}, headers={"Idempotency-Key": "k-1"}
    )
    assert first.status_code in (201, 202), first.text
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    other = next(o for o in view["offers"] if o["id"] != best["id"])
    refused = await client.post(
        f"/v1/offers/{other['id']}/bind",
        json={"acknowledge_gaps": True},
        headers={"Idempotency-Key": "k-2"},
    )
    assert refused.status_code == 409
    reused = await client.post(
        f"/v1/offers/{other['id']}/bind", json={}, headers={"Idempotency-Key": "k-1"}
    )
    assert reused.status_code == 422
    after = (await client.get(f"/v1/quote-requests/{view['id']}")).json()
    assert {o["status"] for o in after["offers"] if o["id"] != best["id"]} == {"superseded"}


async def test_twenty_concurrent_binds_of_one_request_make_exactly_one_policy(
    service: Any, database: Database
) -> None:
    client, _ = service
    view = await quote(client)
    bindable = [o for o in view["offers"] if o["offer"]["bindable"]]
    assert bindable

    async def bind(i: int) -> httpx.Response:
        offer = bindable[i % len(bindable)]
        return await client.post(
            f"/v1/offers/{offer['id']}/bind",
            json={"acknowledge_gaps": True},
            headers={"Idempotency-Key": f"race-{i}"},
        )

    responses = await asyncio.gather(*(bind(i) for i in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(409) == 19, [r.text for r in responses if r.status_code != 409]
    assert codes[0] in (201, 202)
    bound = (await client.get(f"/v1/quote-requests/{view['id']}")).json()
    assert bound["status"] in ("bound", "bind_pending")
    # An asynchronous insurer's policy arrives by callback: wait for it, then make sure no
    # second one follows.
    for _ in range(300):
        if await policy_count(database) == 1:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    assert await policy_count(database) == 1


async def policy_count(database: Database) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(PolicyRow)) or 0)


def outcome(view: dict[str, Any], provider_id: str) -> dict[str, Any]:
    [found] = [o for o in view["outcomes"] if o["provider_id"] == provider_id]
    return found


async def test_the_asynchronous_insurers_offers_arrive_through_the_signed_webhook(
    service: Any, database: Database
) -> None:
    client, _ = service
    response = await client.post(
        "/v1/quote-requests?wait=true", json={"seller_id": "s-1", "deadline_seconds": 0.6}
    )
    view = response.json()
    assert outcome(view, "meridian")["status"] == "pending"  # answered after the deadline

    for _ in range(300):
        await asyncio.sleep(0.1)
        view = (await client.get(f"/v1/quote-requests/{view['id']}")).json()
        if outcome(view, "meridian")["status"] != "pending":
            break
    assert outcome(view, "meridian")["status"] == "offered"
    assert any(o["offer"]["provider_id"] == "meridian" for o in view["offers"])
    async with database.reading() as session:
        deliveries = (
            await session.execute(
                select(InboxEvent.status, InboxEvent.headers).where(
                    InboxEvent.provider_id == "meridian"
                )
            )
        ).all()
    assert [status for status, _ in deliveries] == ["applied"]
    assert all("webhook-signature" in headers for _, headers in deliveries)


async def test_a_policy_bound_here_exempts_the_seller_from_recovery(
    service: Any, database: Database
) -> None:
    client, _ = service
    policy = await bind_best_offer(client, "exempt-1")
    claims = await create_key(database, Role.CLAIMS)
    incident = datetime.fromisoformat(policy["terms"]["effective_at"]) + timedelta(days=30)
    check = await client.post(
        "/v1/coverage/checks",
        json={
            "seller_id": "s-1",
            "incident_at": incident.isoformat(),
            "product_category": "home/furniture",
            "marketplace": "US",
            "claim_amount": {"amount": "250.00", "currency": "USD"},
        },
        headers={"Authorization": f"Bearer {claims.secret}"},
    )
    assert check.status_code == 200, check.text
    assert check.json()["decision"] == "exempt", check.json()["reasons"]


SANDBOX_INSURERS = {
    "HMI": "Harbor Mutual Insurance Company",
    "SSI": "Summit Specialty Insurance Company",
    "MSI": "Meridian Specialty Insurance Company",
    "ACC": "Acorn Casualty Company",
}


async def test_a_seller_squatting_the_insurers_next_numbers_blocks_no_bind_and_learns_nothing(
    service: Any, database: Database
) -> None:
    client, _ = service
    squatter = await create_key(database, Role.SELLER, seller_id="s-2")
    as_squatter = {"Authorization": f"Bearer {squatter.secret}"}
    body = power_bank_body(categories={"home/furniture": "1"}, legal_name="Squat Trading LLC")
    assert (
        await client.put("/v1/sellers/s-2/profile", json=body, headers=as_squatter)
    ).status_code == 200
    # Every sandbox insurer numbers its policies PREFIX-GL-YEAR-NNNNNN from 1: easy to guess.
    today = datetime.now().date()
    squatted = [
        (name, f"{prefix}-GL-{year}-{sequence:06d}")
        for prefix, name in SANDBOX_INSURERS.items()
        for year in (today.year, today.year + 1)
        for sequence in (1, 2)
    ]
    for insurer, number in squatted:
        certificate = {
            "insurer_name": insurer,
            "insurer_rating": "A",
            "policy_number": number,
            "named_insured": "Squat Trading LLC",
            "policy_form": "occurrence",
            "each_occurrence": {"amount": "1000000", "currency": "USD"},
            "general_aggregate": {"amount": "2000000", "currency": "USD"},
            "products_completed_operations_aggregate": {"amount": "2000000", "currency": "USD"},
            "deductible": {"amount": "1000", "currency": "USD"},
            "territories": ["US"],
            "covered_categories": ["home/furniture"],
            "effective_date": today.isoformat(),
            "expiry_date": (today + timedelta(days=365)).isoformat(),
        }
        submitted = await client.post(
            "/v1/sellers/s-2/policies", json=certificate, headers=as_squatter
        )
        assert submitted.status_code == 201, submitted.text

    policy = await bind_best_offer(client, "squat-1")
    assert (policy["terms"]["insurer_name"], policy["terms"]["policy_number"]) in squatted
    assert policy["verification"] == "verified"
    # The squatter's view of its own certificates says nothing of the real policy.
    own = await client.get("/v1/sellers/s-2/policies?limit=100", headers=as_squatter)
    assert policy["id"] not in own.text
    assert "s-1" not in own.text
    assert {p["verification"] for p in own.json()} == {"pending_verification"}
    admin = await create_key(database, Role.ADMIN)
    queue = await client.get(
        "/v1/admin/policies/in-review", headers={"Authorization": f"Bearer {admin.secret}"}
    )
    assert [p["namesakes"] for p in queue.json()] == [[policy["id"]]]
