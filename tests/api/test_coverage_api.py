from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from tests.api.conftest import Client, Headers
from tests.api.policies import certificate, claim, record_event, usd

pytestmark = pytest.mark.anyio


@pytest.fixture
async def submitted_policy(
    client: Client, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/v1/sellers/s-1/policies", json=certificate(), headers=seller_headers
    )
    assert response.status_code == 201, response.text
    policy: dict[str, Any] = response.json()
    return policy


async def test_a_submitted_policy_waits_for_verification_and_does_not_exempt_until_then(
    client: Client,
    claims_headers: Headers,
    admin_headers: Headers,
    submitted_policy: dict[str, Any],
) -> None:
    assert submitted_policy["verification"] == "pending_verification"
    before = (await client.post("/v1/coverage/checks", json=claim(), headers=claims_headers)).json()
    assert before["decision"] == "not_exempt"
    assert [r["code"] for r in before["reasons"]] == ["policy_unverified"]

    verified = await client.post(
        f"/v1/policies/{submitted_policy['id']}/verify", json={}, headers=admin_headers
    )
    assert verified.json()["verification"] == "verified"
    after = (await client.post("/v1/coverage/checks", json=claim(), headers=claims_headers)).json()
    assert after["decision"] == "exempt"
    assert after["exempt_from_recovery"] is True
    assert after["policy"]["number"] == "HM-1"
    assert after["rule_set"]["marketplace"] == "US"


async def test_submission_reports_gaps_such_as_a_missing_additional_insured(
    client: Client, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    body = certificate(additional_insureds=[], policy_number="HM-2", deductible=usd("25000"))
    response = await client.post("/v1/sellers/s-1/policies", json=body, headers=seller_headers)
    assert response.status_code == 201
    codes = {g["code"] for g in response.json()["gaps"]}
    assert {"additional_insured_missing", "deductible_above_maximum"} <= codes


async def test_a_seller_cannot_read_another_sellers_policy(
    client: Client, key_for: Any, submitted_policy: dict[str, Any]
) -> None:
    other = await key_for(Role.SELLER, "s-2")
    response = await client.get(f"/v1/policies/{submitted_policy['id']}", headers=other)
    assert response.status_code == 404


async def test_a_seller_key_lists_and_submits_only_for_its_own_seller_and_claims_lists_any(
    client: Client,
    key_for: Any,
    seller_headers: Headers,
    claims_headers: Headers,
    submitted_policy: dict[str, Any],
) -> None:
    listed = await client.get("/v1/sellers/s-1/policies", headers=claims_headers)
    others = await client.get("/v1/sellers/s-1/policies", headers=await key_for(Role.SELLER, "s-2"))
    submitted = await client.post(
        "/v1/sellers/s-2/policies", json=certificate(policy_number="HM-2"), headers=seller_headers
    )

    assert [p["id"] for p in listed.json()] == [submitted_policy["id"]]
    assert (others.status_code, others.json()["code"]) == (403, "forbidden")
    assert (submitted.status_code, submitted.json()["code"]) == (403, "forbidden")
    assert submitted.json()["detail"] == "This key may not act for seller 's-2'."


async def test_a_rejection_without_a_reason_is_refused_naming_the_field(
    client: Client, admin_headers: Headers, submitted_policy: dict[str, Any]
) -> None:
    response = await client.post(
        f"/v1/policies/{submitted_policy['id']}/reject", json={}, headers=admin_headers
    )
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["detail"]) == ("validation_error", "A rejection needs a reason.")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("reason", "required")]


async def test_a_back_dated_cancellation_changes_the_decision_only_from_when_it_was_recorded(
    client: Client,
    claims_headers: Headers,
    admin_headers: Headers,
    database: Database,
    submitted_policy: dict[str, Any],
) -> None:
    await client.post(
        f"/v1/policies/{submitted_policy['id']}/verify", json={}, headers=admin_headers
    )
    decided_at = datetime.now(UTC)
    incident = decided_at - timedelta(days=10)
    await record_event(
        database,
        submitted_policy["id"],
        "cancelled",
        incident - timedelta(days=5),
        recorded_at=decided_at + timedelta(seconds=1),
        reason="non-payment",
    )
    as_then = claim(incident_at=incident.isoformat(), known_at=decided_at.isoformat())
    as_now = claim(incident_at=incident.isoformat())
    then = (await client.post("/v1/coverage/checks", json=as_then, headers=claims_headers)).json()
    now = (await client.post("/v1/coverage/checks", json=as_now, headers=claims_headers)).json()
    assert then["decision"] == "exempt"
    assert now["decision"] == "not_exempt"
    assert "policy_cancelled" in [r["code"] for r in now["reasons"]]


async def test_a_claim_above_the_threshold_is_tendered_to_the_insurer(
    client: Client,
    claims_headers: Headers,
    admin_headers: Headers,
    submitted_policy: dict[str, Any],
) -> None:
    await client.post(
        f"/v1/policies/{submitted_policy['id']}/verify", json={}, headers=admin_headers
    )
    at = (
        await client.post("/v1/coverage/checks", json=claim("1000.00"), headers=claims_headers)
    ).json()
    above = (
        await client.post("/v1/coverage/checks", json=claim("1000.01"), headers=claims_headers)
    ).json()
    assert at["decision"] == "exempt"
    assert above["decision"] == "tender_to_insurer"
    assert above["policy"]["insurer"] == "Harbor Mutual"


async def test_a_batch_of_a_thousand_answers_in_order_and_a_bad_item_fails_alone(
    client: Client,
    claims_headers: Headers,
    admin_headers: Headers,
    submitted_policy: dict[str, Any],
) -> None:
    await client.post(
        f"/v1/policies/{submitted_policy['id']}/verify", json={}, headers=admin_headers
    )
    checks = [claim("400") if i % 2 else claim("5000") for i in range(1000)]
    checks[7] = claim(product_category="no/such-thing")
    checks[8] = {"seller_id": "s-1"}
    response = await client.post(
        "/v1/coverage/checks/batch", json={"checks": checks}, headers=claims_headers
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 1000
    assert results[1]["decision"] == "exempt"
    assert results[2]["decision"] == "tender_to_insurer"
    assert results[7]["result"] == "error"
    assert results[7]["errors"][0]["field"] == "product_category"
    assert results[8]["result"] == "error"
    assert results[9]["decision"] == "exempt"


async def test_a_seller_without_policies_is_not_exempt_with_no_policy(
    client: Client, claims_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    decision = (
        await client.post("/v1/coverage/checks", json=claim(), headers=claims_headers)
    ).json()
    assert decision["decision"] == "not_exempt"
    assert [r["code"] for r in decision["reasons"]] == ["no_policy"]


async def test_coverage_checks_need_the_claims_role(
    client: Client, seller_headers: Headers
) -> None:
    response = await client.post("/v1/coverage/checks", json=claim(), headers=seller_headers)
    assert response.status_code == 403
    batch = await client.post(
        "/v1/coverage/checks/batch", json={"checks": [claim()]}, headers=seller_headers
    )
    assert (batch.status_code, batch.json()["code"]) == (403, "forbidden")
    anonymous = await client.post("/v1/coverage/checks/batch", json={"checks": [claim()]})
    assert anonymous.status_code == 401


async def test_a_naive_incident_time_is_refused_naming_the_field(
    client: Client, claims_headers: Headers
) -> None:
    response = await client.post(
        "/v1/coverage/checks", json=claim(incident_at="2026-01-01T10:00:00"), headers=claims_headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "incident_at"


async def test_a_batch_replayed_at_a_past_known_at_gives_that_moments_decisions(
    client: Client,
    claims_headers: Headers,
    admin_headers: Headers,
    database: Database,
    submitted_policy: dict[str, Any],
) -> None:
    await client.post(
        f"/v1/policies/{submitted_policy['id']}/verify", json={}, headers=admin_headers
    )
    checks = [
        claim(
            "400" if i % 3 else "2500",
            incident_at=(datetime.now(UTC) - timedelta(days=1 + i % 20)).isoformat(),
        )
        for i in range(1000)
    ]
    before = (
        await client.post(
            "/v1/coverage/checks/batch", json={"checks": checks}, headers=claims_headers
        )
    ).json()["results"]
    decided_at = datetime.now(UTC)
    # Later we learn the policy was cancelled 30 days ago: every incident above falls after it.
    await record_event(
        database,
        submitted_policy["id"],
        "cancelled",
        decided_at - timedelta(days=30),
        recorded_at=decided_at + timedelta(seconds=1),
        reason="non-payment",
    )
    replay = [{**check, "known_at": decided_at.isoformat()} for check in checks]
    then = (
        await client.post(
            "/v1/coverage/checks/batch", json={"checks": replay}, headers=claims_headers
        )
    ).json()["results"]
    now = (
        await client.post(
            "/v1/coverage/checks/batch", json={"checks": checks}, headers=claims_headers
        )
    ).json()["results"]

    decisions = [r["decision"] for r in before]
    assert decisions.count("exempt") == 666
    assert decisions.count("tender_to_insurer") == 334
    assert [r["decision"] for r in then] == decisions
    assert {r["decision"] for r in now} == {"not_exempt"}
    assert all("policy_cancelled" in [x["code"] for x in r["reasons"]] for r in now)
    assert {(r["rule_set"]["marketplace"], r["rule_set"]["version"]) for r in now} == {
        (before[0]["rule_set"]["marketplace"], before[0]["rule_set"]["version"])
    }
