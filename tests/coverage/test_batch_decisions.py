"""A batch decides each claim as a check of its own would, though it looks up what its claims
share (the rule set of a marketplace, incident and category) once; so do single checks that
arrive together and share a read (coverage.together)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import msgspec
import pytest

from accelerator.audit.receipts import ReceiptWriter
from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.coverage import repository
from accelerator.coverage.service import CoverageService
from accelerator.errors import InvalidInput
from accelerator.infra.database import Database
from accelerator.infra.lookups import Lookups
from accelerator.risk.taxonomy import load_taxonomy
from accelerator.rulesets.loader import load_rulesets
from schemas import CoverageCheckRequest, CoverageDecision
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


async def _outcome(service: CoverageService, check: dict[str, Any]) -> Any:
    """The service's answer to ``check``: its decision, or the errors it was refused with."""
    try:
        return await service.check(msgspec.convert(check, CoverageCheckRequest, strict=False))
    except InvalidInput as refused:
        return refused.errors


async def test_single_checks_arriving_together_share_a_read_and_are_each_answered_as_alone(
    client: Client,
    database: Database,
    claims_key: Headers,
    verified_policy: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A service of the test's own, on the app's database: the test client serves the app on
    # an event loop of its own, one request at a time.
    service = CoverageService(database, load_rulesets(), load_taxonomy(), ReceiptWriter(database))
    checks = [
        claim("400"),
        claim("5000"),
        claim("400", marketplace="ZZ"),
        claim("400", seller_id="s-unknown"),
        claim("400", product_category="no/such-thing"),
        claim("400", seller_id="s-2"),
        claim("400"),
        claim("5000", seller_id="s-unknown"),
    ]
    alone = [await _outcome(service, check) for check in checks]
    # Every registry read waits until all the checks have reached the service: without the
    # shared read each check would be a read of its own.
    reads: list[int] = []
    release = asyncio.Event()
    arrived = 0
    real_read, real_decide = repository.sellers_with_events, CoverageService.decide

    async def held_read(lookups: Lookups, seller_ids: Collection[str]) -> Any:
        reads.append(len(seller_ids))
        await release.wait()
        return await real_read(lookups, seller_ids)

    async def counted_decide(service: CoverageService, check: CoverageCheckRequest) -> Any:
        nonlocal arrived
        arrived += 1
        return await real_decide(service, check)

    monkeypatch.setattr(repository, "sellers_with_events", held_read)
    monkeypatch.setattr(CoverageService, "decide", counted_decide)
    sent = [asyncio.ensure_future(_outcome(service, check)) for check in checks]
    for _ in range(10_000):  # turns of the event loop, not a clock
        if arrived == len(checks):
            break
        await asyncio.sleep(0)
    release.set()
    together = await asyncio.gather(*sent)

    assert arrived == len(checks)
    assert len(reads) < len(checks), reads
    for check, single, shared in zip(checks, alone, together, strict=True):
        if isinstance(single, CoverageDecision):
            assert isinstance(shared, CoverageDecision), (check, shared)
            assert (shared.decision, shared.reasons, shared.policy) == (
                single.decision,
                single.reasons,
                single.policy,
            )
            assert shared.receipt_id != single.receipt_id
            kept = await client.get(
                f"/v1/coverage/decisions/{shared.receipt_id}", headers=claims_key
            )
            assert kept.status_code == 200, kept.text
            assert kept.json()["request"]["seller_id"] == check["seller_id"]
        else:
            assert shared == single, check
