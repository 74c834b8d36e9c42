"""Decision receipts (docs/audit.md): every decision is kept, can be fetched, found, replayed,
marked when a later event would change it, and flagged when it rests on cover recorded after
the incident. Both databases."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar

from accelerator.audit.affected import SETTLE, AffectedSweep
from accelerator.auth.principal import Role
from accelerator.coverage.state import EventKind
from accelerator.infra.database import Database
from tests.api.conftest import Client, Headers
from tests.api.policies import (
    affected_sweep,
    bind_policy,
    certificate,
    claim,
    la_today,
    record_event,
    us_terms,
)

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)


def sweep(app: Litestar, database: Database) -> AffectedSweep:
    """The app's sweep on the test's own database connections, taking events at once."""
    return affected_sweep(app, database)


@pytest.fixture
async def bound(database: Database, profiled_seller: dict[str, Any]) -> str:
    """Seller s-1's compliant policy, bound through us a year ago, in force since then."""
    today = la_today()
    terms = us_terms(today - timedelta(days=300), today + timedelta(days=65))
    return await bind_policy(database, terms, recorded_at=NOW - timedelta(days=301))


async def check(client: Client, headers: Headers, **changes: Any) -> dict[str, Any]:
    response = await client.post("/v1/coverage/checks", json=claim(**changes), headers=headers)
    assert response.status_code == 200, response.text
    decision: dict[str, Any] = response.json()
    return decision


async def receipt(client: Client, headers: Headers, receipt_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/coverage/decisions/{receipt_id}", headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_check_is_kept_as_a_receipt_with_its_inputs_rule_set_reasons_and_events(
    client: Client, claims_headers: Headers, bound: str
) -> None:
    decision = await check(client, claims_headers, claim_reference="CLM-1")
    assert decision["decision"] == "exempt"
    assert decision["claim_reference"] == "CLM-1"

    kept = await receipt(client, claims_headers, decision["receipt_id"])
    assert kept["id"] == decision["receipt_id"]
    assert kept["claim_reference"] == "CLM-1"
    assert kept["request"]["claim_amount"] == {"amount": "400", "currency": "USD"}
    assert kept["decision"] == decision
    assert kept["decision"]["rule_set"]["marketplace"] == "US"
    assert kept["known_at"] == kept["evaluated_at"] == decision["evaluated_at"]
    # In the order they apply: the bind's verification was recorded a day before cover began.
    assert kept["event_ids"] == ["bind.GL-100.verified", "bind.GL-100"]
    assert sorted(kept["considered_event_ids"]) == ["bind.GL-100", "bind.GL-100.verified"]
    assert kept["chain"]["position"] == 1
    assert kept["affected"] is False
    assert kept["affected_by"] == []


async def test_every_decided_item_of_a_batch_gets_its_receipt_and_a_bad_item_none(
    client: Client, claims_headers: Headers, bound: str
) -> None:
    checks = [
        claim(claim_reference="B-1"),
        claim(claim_reference="B-2", claim_amount={"amount": "NaN", "currency": "USD"}),
        claim(claim_reference="B-3", amount="9000"),
    ]
    response = await client.post(
        "/v1/coverage/checks/batch", json={"checks": checks}, headers=claims_headers
    )
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["decision", "error", "decision"]
    assert "receipt_id" not in results[1]
    for result, reference in ((results[0], "B-1"), (results[2], "B-3")):
        kept = await receipt(client, claims_headers, result["receipt_id"])
        assert kept["claim_reference"] == reference
        assert kept["decision"]["decision"] == result["decision"]
    listed = await client.get(
        "/v1/coverage/decisions", params={"seller_id": "s-1"}, headers=claims_headers
    )
    assert {r["claim_reference"] for r in listed.json()} == {"B-1", "B-3"}


async def test_receipts_are_found_by_claim_reference_and_paginated_newest_first(
    client: Client, claims_headers: Headers, bound: str
) -> None:
    made = [(await check(client, claims_headers, claim_reference=f"P-{i}")) for i in range(3)]
    first = await client.get("/v1/coverage/decisions", params={"limit": 2}, headers=claims_headers)
    second = await client.get(
        "/v1/coverage/decisions", params={"limit": 2, "offset": 2}, headers=claims_headers
    )
    assert [r["id"] for r in first.json() + second.json()] == [
        d["receipt_id"] for d in reversed(made)
    ]
    by_reference = await client.get(
        "/v1/coverage/decisions", params={"claim_reference": "P-1"}, headers=claims_headers
    )
    assert [r["id"] for r in by_reference.json()] == [made[1]["receipt_id"]]


async def test_a_replay_gives_the_same_decision_as_known_at_the_receipt(
    client: Client, claims_headers: Headers, admin_headers: Headers, bound: str
) -> None:
    decision = await check(client, claims_headers, amount="9000")
    # A cancellation recorded since does not change what was known then.
    cancelled = await client.post(
        f"/v1/admin/policies/{bound}/events",
        json={
            "kind": "cancelled",
            "effective_at": (NOW - timedelta(days=30)).isoformat(),
            "reason": "non-payment",
            "evidence_reference": "letter 7",
        },
        headers=admin_headers,
    )
    assert cancelled.status_code == 201, cancelled.text
    replay = await client.post(
        f"/v1/coverage/decisions/{decision['receipt_id']}/replay", headers=claims_headers
    )
    assert replay.status_code == 200, replay.text
    body = replay.json()
    assert body["same"] is True, body
    assert body["replayed"]["decision"] == "tender_to_insurer"
    assert body["differences"] == []
    assert body["explanation"] == []


async def test_a_back_dated_cancellation_marks_exactly_the_receipts_it_changes(
    app: Litestar,
    database: Database,
    client: Client,
    claims_headers: Headers,
    bound: str,
) -> None:
    before_cut = await check(
        client, claims_headers, incident_at=(NOW - timedelta(days=40)).isoformat()
    )
    after_cut = await check(
        client, claims_headers, incident_at=(NOW - timedelta(days=10)).isoformat()
    )
    no_cover = await check(client, claims_headers, seller_id="s-2")
    await sweep(app, database).run_until_idle()  # the bind's own events: they change nothing
    cancellation_at = NOW - timedelta(days=20)
    await record_event(
        database,
        bound,
        EventKind.CANCELLED,
        cancellation_at,
        recorded_at=datetime.now(UTC),
        event_id="cancel-1",
    )
    assert await sweep(app, database).run_until_idle() == 1

    affected = await client.get(
        "/v1/coverage/decisions", params={"affected": "true"}, headers=claims_headers
    )
    assert [r["id"] for r in affected.json()] == [after_cut["receipt_id"]]
    marked = await receipt(client, claims_headers, after_cut["receipt_id"])
    assert marked["affected"] is True
    [mark] = marked["affected_by"]
    assert mark["event_id"] == "cancel-1"
    assert mark["changed"] is True
    assert mark["decision"]["decision"] == "not_exempt"
    assert [r["code"] for r in mark["decision"]["reasons"]] == ["policy_cancelled"]
    for untouched in (before_cut, no_cover):
        kept = await receipt(client, claims_headers, untouched["receipt_id"])
        assert kept["affected"] is False
        assert kept["affected_by"] == []
    # Examined once: the sweep has nothing left.
    assert await sweep(app, database).run_until_idle() == 0


async def test_a_reinstatement_brings_a_marked_receipt_back_to_its_own_decision(
    app: Litestar, database: Database, client: Client, claims_headers: Headers, bound: str
) -> None:
    decision = await check(client, claims_headers)
    cut = NOW - timedelta(days=20)
    recorded = datetime.now(UTC)
    await record_event(
        database, bound, EventKind.CANCELLED, cut, recorded_at=recorded, event_id="c"
    )
    await sweep(app, database).run_until_idle()
    later = datetime.now(UTC)
    await record_event(database, bound, EventKind.REINSTATED, cut, recorded_at=later, event_id="r")
    await sweep(app, database).run_until_idle()

    kept = await receipt(client, claims_headers, decision["receipt_id"])
    assert [(m["event_id"], m["changed"]) for m in kept["affected_by"]] == [
        ("c", True),
        ("r", False),
    ]
    assert kept["affected"] is False
    listed = await client.get(
        "/v1/coverage/decisions", params={"affected": "true"}, headers=claims_headers
    )
    assert listed.json() == []


async def test_a_policy_bound_after_the_incident_is_flagged_and_the_decision_unchanged(
    database: Database, client: Client, claims_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    today = la_today()
    terms = us_terms(today - timedelta(days=30), today + timedelta(days=335))
    await bind_policy(database, terms, recorded_at=NOW - timedelta(days=2))
    decision = await check(client, claims_headers)  # the incident was ten days ago
    assert decision["decision"] == "exempt"
    [flag] = decision["flags"]
    assert flag["code"] == "recorded_after_incident"
    assert flag["fact"] == "bind"
    assert flag["event_id"] == "bind.GL-100"
    assert 7 * 86400 < flag["lag_seconds"] <= 8 * 86400
    assert flag["message"].startswith("The bind of policy GL-100 was first recorded at ")
    assert flag["message"].endswith(" after the incident.")
    kept = await receipt(client, claims_headers, decision["receipt_id"])
    assert kept["decision"]["flags"] == decision["flags"]


async def test_a_submission_verified_after_the_incident_is_flagged_twice(
    client: Client,
    claims_headers: Headers,
    seller_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    submitted = await client.post(
        "/v1/sellers/s-1/policies", json=certificate(), headers=seller_headers
    )
    policy_id = submitted.json()["id"]
    await client.post(f"/v1/policies/{policy_id}/verify", json={}, headers=admin_headers)
    decision = await check(client, claims_headers)
    assert decision["decision"] == "exempt"
    assert [f["fact"] for f in decision["flags"]] == ["submission", "verification"]


async def test_cover_recorded_before_the_incident_carries_no_flag(
    client: Client, claims_headers: Headers, bound: str
) -> None:
    decision = await check(client, claims_headers)
    assert decision["decision"] == "exempt"
    assert decision["flags"] == []


async def test_an_unknown_receipt_is_a_404_and_a_seller_key_may_not_read_receipts(
    client: Client, claims_headers: Headers, key_for: Any, bound: str
) -> None:
    missing = await client.get("/v1/coverage/decisions/nope", headers=claims_headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "decision_not_found"
    decision = await check(client, claims_headers)
    seller = await key_for(Role.SELLER, "s-1")
    refused = await client.get(f"/v1/coverage/decisions/{decision['receipt_id']}", headers=seller)
    assert refused.status_code == 403


async def test_an_event_is_examined_once_it_has_settled(
    app: Litestar, database: Database, bound: str
) -> None:
    quick = sweep(app, database)
    await quick.run_until_idle()  # the bind's own events
    patient = dataclasses.replace(quick, settle=SETTLE)
    recorded = datetime.now(UTC)
    await record_event(database, bound, EventKind.CANCELLED, NOW, recorded_at=recorded)
    assert await patient.run_once(now=recorded + SETTLE - timedelta(seconds=1)) == 0
    assert await patient.run_once(now=recorded + SETTLE) == 1


async def test_a_decision_without_any_policy_replays_the_same_to_the_word(
    client: Client, claims_headers: Headers
) -> None:
    # Its reason's sentence names the known_at only when the check asked for one: the replay
    # reads the registry as known then without asking differently.
    decision = await check(client, claims_headers, seller_id="nobody")
    assert [r["code"] for r in decision["reasons"]] == ["no_policy"]
    replay = await client.post(
        f"/v1/coverage/decisions/{decision['receipt_id']}/replay", headers=claims_headers
    )
    body = replay.json()
    assert body["same"] is True, body
    assert body["replayed"]["reasons"] == decision["reasons"]
