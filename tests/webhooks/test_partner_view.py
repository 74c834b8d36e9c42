"""What a partner key sees: its own webhook deliveries and quote calls, never another insurer's,
and nothing else of the service."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from accelerator.auth.guards import PUBLIC_PATHS
from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from accelerator.quoting.fanout import InsurerResult
from accelerator.webhooks.worker import InboxWorker
from tests.webhooks.callbacks import envelope, hex_signed_headers, policy_change, signed_headers
from tests.webhooks.conftest import REQUEST_ID, meridian_request

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
DELIVERIES = "/v1/partners/me/deliveries"


async def partner_headers(database: Database, provider_id: str) -> Headers:
    issued = await create_key(database, Role.PARTNER, provider_id=provider_id, name=provider_id)
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
async def meridian_headers(database: Database) -> Headers:
    return await partner_headers(database, "meridian")


@pytest.fixture
async def acorn_headers(database: Database) -> Headers:
    return await partner_headers(database, "acorn")


async def deliver(client: Client, body: bytes) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks/insurers/meridian", content=body, headers=signed_headers(body)
    )
    assert response.status_code == 200, response.text
    ack: dict[str, Any] = response.json()
    return ack


def mystery_event() -> bytes:
    return envelope("submission.mystery", {}, occurred_at="2026-11-26T18:01:00Z", seq=1)


def unknown_policy_cancelled() -> bytes:
    return policy_change(
        "policy.cancelled", "2027-03-01T08:01:00Z", occurred_at="2027-02-20T00:00:00Z", seq=9,
        number="MSI-GL-NOBODY-KNOWS",
    )  # fmt: skip


async def test_the_receipt_tells_the_partner_where_to_follow_its_delivery(
    client: Client, meridian_headers: Headers
) -> None:
    ack = await deliver(client, mystery_event())
    assert ack["status_url"] == f"{DELIVERIES}/{ack['inbox_id']}"
    assert (ack["status"], ack["duplicate"]) == ("received", False)

    followed = await client.get(ack["status_url"], headers=meridian_headers)
    assert followed.status_code == 200, followed.text
    assert (followed.json()["id"], followed.json()["status"]) == (ack["inbox_id"], "received")


async def test_a_partner_sees_why_its_deliveries_were_not_applied(
    client: Client, worker: InboxWorker, meridian_headers: Headers
) -> None:
    unreadable = await deliver(client, mystery_event())
    waiting = await deliver(client, unknown_policy_cancelled())
    await worker.run_until_idle()

    response = await client.get(DELIVERIES, headers=meridian_headers)
    assert response.status_code == 200, response.text
    newest, oldest = response.json()
    assert (newest["id"], oldest["id"]) == (waiting["inbox_id"], unreadable["inbox_id"])
    assert oldest["status"] == "failed"
    assert oldest["reason"] == (
        "unreadable event: meridian event: unsupported eventType 'submission.mystery'"
    )
    assert (oldest["attempts"], oldest["applied_at"], oldest["next_attempt_at"]) == (1, None, None)
    assert newest["status"] == "parked"
    assert "MSI-GL-NOBODY-KNOWS" in newest["reason"]
    assert newest["next_attempt_at"] is not None
    assert newest["body"] is None  # lists carry no bodies

    failed = await client.get(DELIVERIES, params={"status": "failed"}, headers=meridian_headers)
    assert [d["id"] for d in failed.json()] == [unreadable["inbox_id"]]

    one = await client.get(f"{DELIVERIES}/{unreadable['inbox_id']}", headers=meridian_headers)
    assert one.json()["reason"] == oldest["reason"]
    assert "submission.mystery" in one.json()["body"]


async def test_an_error_on_the_services_side_is_not_spelled_out_to_the_partner(
    client: Client, worker: InboxWorker, meridian_headers: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accelerator.webhooks import worker as worker_module

    async def broken(*_: Any) -> None:
        raise RuntimeError("connection to db-primary.internal:5432 lost")

    monkeypatch.setattr(worker_module, "apply_event", broken)
    body = policy_change(
        "policy.cancelled", "2027-03-01T08:01:00Z", occurred_at="2027-02-20T00:00:00Z", seq=9
    )
    await deliver(client, body)
    await worker.run_until_idle()
    [delivery] = (await client.get(DELIVERIES, headers=meridian_headers)).json()
    assert delivery["status"] == "retrying"
    assert "db-primary" not in delivery["reason"]
    assert delivery["reason"].startswith("The service could not apply it")


async def test_a_partner_never_sees_another_partners_deliveries(
    client: Client, meridian_headers: Headers, acorn_headers: Headers
) -> None:
    ack = await deliver(client, mystery_event())
    xml = b"<event/>"
    acorn = await client.post(
        "/v1/webhooks/insurers/acorn", content=xml, headers=hex_signed_headers(xml)
    )
    assert acorn.status_code == 200, acorn.text

    mine = (await client.get(DELIVERIES, headers=acorn_headers)).json()
    assert [d["id"] for d in mine] == [acorn.json()["inbox_id"]]
    theirs = await client.get(f"{DELIVERIES}/{ack['inbox_id']}", headers=acorn_headers)
    assert theirs.status_code == 404
    assert theirs.headers["content-type"].startswith("application/problem+json")
    assert theirs.json()["code"] == "delivery_not_found"
    # The same answer as for a delivery that does not exist at all.
    nowhere = await client.get(f"{DELIVERIES}/999999", headers=acorn_headers)
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "delivery_not_found")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (DELIVERIES, {"limit": "0"}),
        (DELIVERIES, {"limit": "201"}),
        (DELIVERIES, {"offset": "-1"}),
        (DELIVERIES, {"offset": str(2**63)}),
        (DELIVERIES, {"status": "lost"}),
        (f"{DELIVERIES}/0", {}),
        (f"{DELIVERIES}/{2**40}", {}),
        (f"{DELIVERIES}/abc", {}),
        ("/v1/partners/me/quotes", {"status": "maybe"}),
        ("/v1/partners/me/quotes", {"offset": "x"}),
    ],
)
async def test_bad_paging_and_ids_are_problems_naming_the_parameter_not_500s(
    client: Client, meridian_headers: Headers, path: str, params: dict[str, str]
) -> None:
    response = await client.get(path, params=params, headers=meridian_headers)
    assert response.status_code in (400, 404, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_huge_offset_within_bounds_is_an_empty_page(
    client: Client, meridian_headers: Headers
) -> None:
    await deliver(client, mystery_event())
    for path in (DELIVERIES, "/v1/partners/me/quotes"):
        response = await client.get(path, params={"offset": 2**31 - 1}, headers=meridian_headers)
        assert (response.status_code, response.json()) == (200, [])


async def test_a_partner_key_sees_its_quote_calls_with_the_reason_of_an_error(
    client: Client,
    app: Litestar,
    database: Database,
    seller: str,
    meridian_headers: Headers,
    acorn_headers: Headers,
) -> None:
    unreadable = InsurerResult(
        provider_id="meridian",
        insurer_name="Meridian",
        status="error",  # type: ignore[arg-type]
        reason_code="malformed_response",
        reason="unreadable answer: premiumMinor: Expected `int`, got `str`",
        elapsed_ms=84.2,
    )
    await meridian_request(app, database, unreadable)

    response = await client.get("/v1/partners/me/quotes", headers=meridian_headers)
    assert response.status_code == 200, response.text
    [call] = response.json()
    assert call["request_id"] == REQUEST_ID
    assert (call["status"], call["reason_code"]) == ("error", "malformed_response")
    assert call["reason"] == "unreadable answer: premiumMinor: Expected `int`, got `str`"
    assert call["elapsed_ms"] == 84.2
    assert call["requested_at"] is not None
    # Nothing of the seller beyond what the insurer was sent: the request's id and time.
    assert "seller_id" not in call
    assert "s-1" not in response.text

    offered = await client.get(
        "/v1/partners/me/quotes", params={"status": "offered"}, headers=meridian_headers
    )
    assert offered.json() == []
    assert (await client.get("/v1/partners/me/quotes", headers=acorn_headers)).json() == []


def guarded_operations(app: Litestar) -> list[tuple[str, str]]:
    """Every operation that takes an API key, as (method, path with its parameters filled)."""
    operations = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and not any(
            re.match(pattern, route.path) for pattern in PUBLIC_PATHS
        ):
            path = re.sub(r"\{[^}:]+:int\}", "1", route.path)
            path = re.sub(r"\{[^}]+\}", "x", path)
            operations += [(method, path) for method in route.methods if method != "OPTIONS"]
    return operations


async def test_a_partner_key_is_refused_everything_but_its_own_view(
    client: Client, app: Litestar, meridian_headers: Headers
) -> None:
    operations = guarded_operations(app)
    assert ("GET", "/v1/admin/webhook-inbox") in operations  # the routes are read right
    answered = {}
    for method, path in operations:
        response = await client.request(method, path, headers=meridian_headers, json={})
        answered[method, path] = response.status_code
    allowed = {key for key, status in answered.items() if status != 403}
    assert allowed == {
        ("GET", "/v1/me"),
        ("GET", "/v1/categories"),  # the taxonomy its appetite is written in
        ("GET", DELIVERIES),
        ("GET", f"{DELIVERIES}/1"),
        ("GET", "/v1/partners/me/quotes"),
    }
    assert answered["GET", f"{DELIVERIES}/1"] == 404  # none yet


async def test_seller_claims_and_admin_keys_are_refused_the_partner_view(
    client: Client, database: Database, admin_headers: Headers
) -> None:
    seller = await create_key(database, Role.SELLER, seller_id="s-1")
    claims = await create_key(database, Role.CLAIMS)
    for headers in (
        admin_headers,
        {"Authorization": f"Bearer {seller.secret}"},
        {"Authorization": f"Bearer {claims.secret}"},
    ):
        for path in (DELIVERIES, f"{DELIVERIES}/1", "/v1/partners/me/quotes"):
            assert (await client.get(path, headers=headers)).status_code == 403


async def test_a_partner_key_names_its_insurer_on_me(
    client: Client, meridian_headers: Headers
) -> None:
    me = (await client.get("/v1/me", headers=meridian_headers)).json()
    assert (me["role"], me["provider_id"], me["seller_id"]) == ("partner", "meridian", None)
