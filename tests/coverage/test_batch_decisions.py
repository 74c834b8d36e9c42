"""A batch decides each claim as a check of its own would, though it looks up what its claims
share (the rule set of a marketplace, incident and category) once."""

from __future__ import annotations

import pytest

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from tests.api.conftest import Client, Headers, power_bank_body
from tests.api.policies import certificate, claim

pytestmark = pytest.mark.anyio


async def _headers(database: Database, role: Role, seller_id: str | None = None) -> Headers:
    issued = await create_key(database, role, seller_id=seller_id)
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
async def claims_key(database: Database) -> Headers:
    return await _headers(database, Role.CLAIMS)


@pytest.fixture
async def verified_policy(client: Client, database: Database, admin_headers: Headers) -> None:
    seller = await _headers(database, Role.SELLER, "s-1")
    profile = await client.put("/v1/sellers/s-1/profile", json=power_bank_body(), headers=seller)
    assert profile.status_code == 200, profile.text
    submitted = await client.post("/v1/sellers/s-1/policies", json=certificate(), headers=seller)
    assert submitted.status_code == 201, submitted.text
    verified = await client.post(
        f"/v1/policies/{submitted.json()['id']}/verify", json={}, headers=admin_headers
    )
    assert verified.status_code == 200, verified.text


async def test_claims_sharing_an_incident_are_each_decided_and_each_refused_as_alone(
    client: Client, claims_key: Headers, verified_policy: None
) -> None:
    checks = [
        claim("400"),
        claim("400", marketplace="ZZ"),
        claim("5000"),
        claim("400", product_category="no/such-thing"),
        claim("400", marketplace="ZZ"),
        claim("400", product_category="no/such-thing"),
        claim("400"),
    ]
    batch = await client.post(
        "/v1/coverage/checks/batch", json={"checks": checks}, headers=claims_key
    )
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    singles = [
        await client.post("/v1/coverage/checks", json=check, headers=claims_key) for check in checks
    ]
    for index, (result, single) in enumerate(zip(results, singles, strict=True)):
        if single.status_code == 200:
            decided = single.json()
            assert result["decision"] == decided["decision"]
            assert result["reasons"] == decided["reasons"]
            assert result["policy"] == decided["policy"]
        else:
            assert result["result"] == "error"
            assert result["index"] == index
            assert result["errors"] == single.json()["errors"]
    assert [r.get("decision", "error") for r in results] == [
        "exempt",
        "error",
        "tender_to_insurer",
        "error",
        "error",
        "error",
        "exempt",
    ]
