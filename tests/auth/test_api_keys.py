from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.auth.keys import (
    KeyRequestError,
    create_key,
    list_keys,
    no_seller_key_yet,
    revoke_key,
)
from accelerator.auth.principal import Role
from accelerator.infra.database import Database, open_database

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]


async def test_seller_key_identifies_its_seller_on_me(client: Client, database: Database) -> None:
    issued = await create_key(database, Role.SELLER, seller_id="s-1", name="shop")
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {issued.secret}"})
    assert response.status_code == 200
    assert response.json() == {
        "key_id": issued.id,
        "role": "seller",
        "seller_id": "s-1",
        "name": "shop",
        "provider_id": None,
    }


async def test_unknown_key_gets_a_401_problem_document(client: Client) -> None:
    response = await client.get("/v1/me", headers={"Authorization": "Bearer acc_nope"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "unauthenticated"
    assert body["type"].endswith("/unauthenticated")
    assert "revoked" in body["detail"]


async def test_missing_key_gets_a_401_asking_for_a_bearer_token(client: Client) -> None:
    response = await client.get("/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


async def test_revoked_key_stops_working(client: Client, database: Database) -> None:
    issued = await create_key(database, Role.CLAIMS)
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert (await client.get("/v1/me", headers=headers)).status_code == 200
    revoked = await revoke_key(database, issued.prefix)
    assert revoked is not None
    assert revoked.revoked_at is not None
    # Refused as soon as the service hears of it: milliseconds (tests/auth/test_key_cache.py).
    with anyio.fail_after(10):
        while (await client.get("/v1/me", headers=headers)).status_code != 401:  # noqa: ASYNC110
            await anyio.sleep(0.01)


async def test_only_a_digest_and_a_prefix_of_the_key_are_stored(database: Database) -> None:
    issued = await create_key(database, Role.ADMIN, name="ops")
    [info] = await list_keys(database)
    assert info.prefix == issued.secret[:12]
    async with database.reading() as session:
        from sqlalchemy import text

        stored = (await session.execute(text("SELECT digest, prefix FROM api_keys"))).one()
    assert issued.secret not in stored.digest
    assert len(stored.digest) == 64


async def test_seller_keys_need_a_seller_and_others_must_not_have_one(database: Database) -> None:
    with pytest.raises(KeyRequestError):
        await create_key(database, Role.SELLER)
    with pytest.raises(KeyRequestError):
        await create_key(database, Role.CLAIMS, seller_id="s-1")


async def test_bootstrap_admin_key_is_accepted(
    client: Client, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/me", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["role"] == "admin"


async def test_every_response_carries_a_request_id(client: Client) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health/live")
    assert len(generated.headers["x-request-id"]) == 16


async def test_a_seller_key_acting_for_another_seller_gets_the_forbidden_problem(
    client: Client, database: Database
) -> None:
    issued = await create_key(database, Role.SELLER, seller_id="s-1")
    response = await client.get(
        "/v1/sellers/s-2/profile", headers={"Authorization": f"Bearer {issued.secret}"}
    )
    assert response.status_code == 403
    body = response.json()
    assert (body["code"], body["title"], body["detail"]) == (
        "forbidden",
        "Not allowed",
        "This key may not act for seller 's-2'.",
    )


async def test_a_database_not_migrated_has_no_first_seller_key_to_make(tmp_path: Path) -> None:
    db = open_database(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    try:
        assert await no_seller_key_yet(db) is False
    finally:
        await db.dispose()


async def test_partner_keys_need_a_provider_and_others_must_not_have_one(
    database: Database,
) -> None:
    with pytest.raises(KeyRequestError) as no_provider:
        await create_key(database, Role.PARTNER)
    assert no_provider.value.field == "provider_id"
    with pytest.raises(KeyRequestError) as provider_on_seller:
        await create_key(database, Role.SELLER, seller_id="s-1", provider_id="meridian")
    assert provider_on_seller.value.field == "provider_id"
    with pytest.raises(KeyRequestError) as seller_on_partner:
        await create_key(database, Role.PARTNER, provider_id="meridian", seller_id="s-1")
    assert seller_on_partner.value.field == "seller_id"
    with pytest.raises(KeyRequestError) as odd_provider:
        await create_key(database, Role.PARTNER, provider_id="meridian/../acorn")
    assert odd_provider.value.field == "provider_id"
    assert await list_keys(database) == []


async def test_a_partner_key_for_an_insurer_not_configured_is_issued_and_reads_nothing(
    client: Client, database: Database
) -> None:
    # Keys outlive configuration: a key for an insurer configured later (or no longer) is valid.
    issued = await create_key(database, Role.PARTNER, provider_id="harbor", name="harbor ops")
    [info] = await list_keys(database)
    assert (info.role, info.provider_id, info.seller_id) == (Role.PARTNER, "harbor", None)
    headers = {"Authorization": f"Bearer {issued.secret}"}
    me = await client.get("/v1/me", headers=headers)
    assert me.json() == {
        "key_id": issued.id,
        "role": "partner",
        "seller_id": None,
        "name": "harbor ops",
        "provider_id": "harbor",
    }
    deliveries = await client.get("/v1/partners/me/deliveries", headers=headers)
    assert (deliveries.status_code, deliveries.json()) == (200, [])
