"""``GET /v1/sellers/{seller_id}/compliance`` through the database: the requirement, the
qualifying policy, the gaps, the days left and the history a seller sees."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from accelerator.auth.principal import Principal, Role
from accelerator.compliance.service import ComplianceService
from accelerator.infra.database import Database
from accelerator.risk import load_taxonomy
from accelerator.rulesets import load_rulesets
from accelerator.sellers.service import SellerService
from tests.api.conftest import Client, Headers, power_bank_body
from tests.api.policies import bind_policy, la_time, la_today, record_event, us_terms
from tests.compliance.factories import US_TZ, usd

pytestmark = pytest.mark.anyio

OPERATOR = "Amazon.com Services LLC and its affiliates and assignees"


async def status_of(client: Client, headers: Headers) -> dict[str, Any]:
    response = await client.get("/v1/sellers/s-1/compliance", headers=headers)
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    return status


def local_day(instant: str) -> date:
    """The Los Angeles date of an instant from a response."""
    return datetime.fromisoformat(instant).astimezone(ZoneInfo(US_TZ)).date()


def certificate(number: str, effective: date, expiry: date) -> dict[str, Any]:
    money = {"currency": "USD"}
    return {
        "insurer_name": "Harbor Mutual",
        "insurer_rating": "A",
        "policy_number": number,
        "named_insured": "Volt Goods LLC",
        "policy_form": "occurrence",
        "each_occurrence": {**money, "amount": "1000000"},
        "general_aggregate": {**money, "amount": "2000000"},
        "products_completed_operations_aggregate": {**money, "amount": "2000000"},
        "deductible": {**money, "amount": "5000"},
        "additional_insureds": [OPERATOR],
        "territories": ["US"],
        "covered_categories": ["electronics"],
        "effective_date": effective.isoformat(),
        "expiry_date": expiry.isoformat(),
    }


async def test_a_seller_without_policies_has_only_the_no_policy_gap(
    client: Client, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    status = await status_of(client, seller_headers)

    assert status["requirement"]["required"] is True
    assert status["compliant_now"] is False
    assert status["qualifying_policy"] is None
    assert [g["code"] for g in status["gaps"]] == ["no_policy"]
    assert status["policies"] == []
    assert status["history"] == []
    comply_by = date.fromisoformat(status["requirement"]["comply_by"])
    assert status["days_until_deadline"] == (comply_by - local_day(status["as_of"])).days
    assert status["rule_set"]["version"] == "us-2021-09-01"


async def test_a_seller_below_the_threshold_is_compliant_without_a_policy(
    client: Client, seller_headers: Headers
) -> None:
    facts = power_bank_body(sales={"2025-05": "4000.00"})
    profiled = await client.put("/v1/sellers/s-1/profile", json=facts, headers=seller_headers)
    assert profiled.status_code == 200, profiled.text

    status = await status_of(client, seller_headers)

    assert status["requirement"]["required"] is False
    assert status["compliant_now"] is True
    assert status["days_until_deadline"] is None
    assert status["gaps"] == []


@pytest.mark.parametrize(("days_left", "expiring_soon"), [(30, True), (59, True), (60, False)])
async def test_a_bound_policy_in_force_qualifies_with_the_days_left_until_it_expires(
    client: Client,
    seller_headers: Headers,
    database: Database,
    profiled_seller: dict[str, Any],
    days_left: int,
    expiring_soon: bool,
) -> None:
    today = la_today()
    expiry = today + timedelta(days=days_left)
    policy_id = await bind_policy(database, us_terms(today - timedelta(days=100), expiry))

    status = await status_of(client, seller_headers)

    assert status["compliant_now"] is True
    assert status["gaps"] == []
    qualifying = status["qualifying_policy"]
    assert qualifying["policy_id"] == policy_id
    assert (qualifying["insurer_name"], qualifying["policy_number"]) == ("Harbor Mutual", "GL-100")
    assert qualifying["source"] == "bound"
    assert datetime.fromisoformat(qualifying["expires_at"]) == la_time(expiry, 0, 1)
    assert qualifying["days_until_expiry"] == (expiry - local_day(status["as_of"])).days
    assert qualifying["categories"] == ["electronics/power-banks"]
    assert qualifying["cancellation_effective_at"] is None
    assert status["qualifying_policies"] == [qualifying]
    # The US proof rule wants 60 days left: fewer means the seller should renew now.
    assert status["expiring_soon"] is expiring_soon
    assert [(p["policy_id"], p["qualifies"]) for p in status["policies"]] == [(policy_id, True)]


async def test_cover_continuing_under_a_next_policy_is_not_expiring_soon(
    client: Client, seller_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    today = la_today()
    current = await bind_policy(
        database, us_terms(today - timedelta(days=300), today + timedelta(days=10))
    )
    await bind_policy(
        database,
        us_terms(today + timedelta(days=10), today + timedelta(days=375), policy_number="GL-NEXT"),
    )

    status = await status_of(client, seller_headers)

    assert status["qualifying_policy"]["policy_id"] == current
    assert status["expiring_soon"] is False


async def test_an_unverified_submitted_policy_does_not_qualify_and_the_seller_sees_why(
    client: Client,
    seller_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    today = la_today()
    body = certificate("HM-PENDING", today - timedelta(days=10), today + timedelta(days=355))
    submitted = (
        await client.post("/v1/sellers/s-1/policies", json=body, headers=seller_headers)
    ).json()

    pending = await status_of(client, seller_headers)
    await client.post(f"/v1/policies/{submitted['id']}/verify", json={}, headers=admin_headers)
    verified = await status_of(client, seller_headers)

    assert pending["compliant_now"] is False
    assert pending["qualifying_policy"] is None
    assert [(g["code"], g["policy_id"], g["policy_number"]) for g in pending["gaps"]] == [
        ("policy_unverified", submitted["id"], "HM-PENDING")
    ]
    [standing] = pending["policies"]
    assert (standing["verification"], standing["in_force_now"], standing["qualifies"]) == (
        "pending_verification",
        True,
        False,
    )
    assert [e["kind"] for e in pending["history"]] == ["issued"]
    assert pending["history"][0]["summary"].startswith("Submitted by the seller")

    assert verified["compliant_now"] is True
    assert verified["qualifying_policy"]["policy_id"] == submitted["id"]
    assert verified["qualifying_policy"]["source"] == "submitted"
    assert verified["gaps"] == []


async def test_a_seller_key_cannot_read_another_sellers_status(
    client: Client, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    response = await client.get("/v1/sellers/s-2/compliance", headers=seller_headers)
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


async def test_a_seller_without_a_profile_has_no_status(
    client: Client, admin_headers: Headers
) -> None:
    response = await client.get("/v1/sellers/s-9/compliance", headers=admin_headers)
    assert (response.status_code, response.json()["code"]) == (404, "seller_profile_not_found")


async def test_a_rejected_submission_gives_the_rejection_reason(
    client: Client,
    seller_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
) -> None:
    today = la_today()
    body = certificate("HM-FORGED", today - timedelta(days=10), today + timedelta(days=355))
    submitted = (
        await client.post("/v1/sellers/s-1/policies", json=body, headers=seller_headers)
    ).json()
    await client.post(
        f"/v1/policies/{submitted['id']}/reject",
        json={"reason": "the insurer has no such policy"},
        headers=admin_headers,
    )

    status = await status_of(client, seller_headers)

    [gap] = status["gaps"]
    assert gap["code"] == "policy_unverified"
    assert "the insurer has no such policy" in gap["message"]
    assert status["policies"][0]["verification"] == "rejected"
    assert status["history"][-1]["kind"] == "verification_rejected"


async def test_an_expired_policy_leaves_the_seller_non_compliant_and_says_when_it_expired(
    client: Client, seller_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    today = la_today()
    expired_on = today - timedelta(days=10)
    policy_id = await bind_policy(database, us_terms(expired_on - timedelta(days=365), expired_on))

    status = await status_of(client, seller_headers)

    assert status["compliant_now"] is False
    assert status["qualifying_policy"] is None
    [gap] = status["gaps"]
    assert (gap["code"], gap["policy_id"]) == ("policy_not_in_force", policy_id)
    assert f"expired on {expired_on.isoformat()}" in gap["message"]
    assert status["policies"][0]["in_force_now"] is False
    assert {e["policy_id"] for e in status["history"]} == {policy_id}


async def test_of_several_policies_the_compliant_verified_one_in_force_that_expires_last_qualifies(
    client: Client,
    seller_headers: Headers,
    database: Database,
    profiled_seller: dict[str, Any],
) -> None:
    today = la_today()
    start = today - timedelta(days=60)

    def terms(number: str, expiry: date, **changes: Any) -> Any:
        return us_terms(start, expiry, policy_number=number, **changes)

    await bind_policy(database, us_terms(start - timedelta(days=365), start, policy_number="OLD"))
    await bind_policy(database, terms("SOONER", today + timedelta(days=100)))
    later = await bind_policy(database, terms("LATER", today + timedelta(days=300)))
    await bind_policy(
        database, terms("HIGH-DEDUCTIBLE", today + timedelta(days=500), deductible=usd(25_000))
    )
    await bind_policy(
        database,
        us_terms(today + timedelta(days=1), today + timedelta(days=600), policy_number="FUTURE"),
    )
    cancelled = await bind_policy(database, terms("CANCELLED", today + timedelta(days=700)))
    await record_event(
        database, cancelled, "cancelled", datetime.now(UTC) - timedelta(days=1), reason="fraud"
    )

    status = await status_of(client, seller_headers)

    assert status["compliant_now"] is True
    assert status["qualifying_policy"]["policy_id"] == later
    assert status["qualifying_policy"]["policy_number"] == "LATER"
    assert status["gaps"] == []
    qualifies = {p["policy_number"]: p["qualifies"] for p in status["policies"]}
    assert qualifies == {
        "OLD": False,
        "SOONER": False,
        "LATER": True,
        "HIGH-DEDUCTIBLE": False,
        "FUTURE": False,
        "CANCELLED": False,
    }
    gaps = {p["policy_number"]: [g["code"] for g in p["gaps"]] for p in status["policies"]}
    assert gaps["HIGH-DEDUCTIBLE"] == ["deductible_above_maximum"]
    assert gaps["FUTURE"] == ["policy_not_in_force"]
    assert gaps["CANCELLED"] == ["policy_cancelled"]
    assert {e["policy_id"] for e in status["history"]} == {later}


async def test_a_seller_whose_categories_are_split_across_policies_is_compliant_with_both(
    client: Client, seller_headers: Headers, database: Database
) -> None:
    facts = power_bank_body(categories={"electronics/power-banks": "0.6", "toys/plush": "0.4"})
    profiled = await client.put("/v1/sellers/s-1/profile", json=facts, headers=seller_headers)
    assert profiled.status_code == 200, profiled.text
    today = la_today()
    start = today - timedelta(days=30)
    electronics = await bind_policy(
        database, us_terms(start, today + timedelta(days=100), policy_number="ELEC")
    )
    alone = await status_of(client, seller_headers)
    toys = await bind_policy(
        database,
        us_terms(
            start, today + timedelta(days=200), policy_number="TOYS", covered_categories=["toys"]
        ),
    )

    both = await status_of(client, seller_headers)

    assert alone["compliant_now"] is False
    assert [(g["code"], g["policy_number"]) for g in alone["gaps"]] == [
        ("category_not_covered", "ELEC")
    ]
    assert "toys/plush" in alone["gaps"][0]["message"]
    assert both["compliant_now"] is True
    assert [(p["policy_id"], p["categories"]) for p in both["qualifying_policies"]] == [
        (electronics, ["electronics/power-banks"]),
        (toys, ["toys/plush"]),
    ]
    # Cover for every category ends when the first of the two policies expires.
    assert both["qualifying_policy"]["policy_id"] == electronics
    assert both["gaps"] == []
    history = [(e["effective_at"], e["recorded_at"], e["event_id"]) for e in both["history"]]
    assert {e["policy_id"] for e in both["history"]} == {electronics, toys}
    assert [datetime.fromisoformat(h[0]) for h in history] == sorted(
        datetime.fromisoformat(h[0]) for h in history
    )


async def test_the_history_lists_the_qualifying_policys_events_in_order_with_summaries(
    client: Client, seller_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    today = la_today()
    terms = us_terms(today - timedelta(days=100), today + timedelta(days=30))
    bound_at = terms.effective_at - timedelta(days=7)
    policy_id = await bind_policy(database, terms, recorded_at=bound_at)
    endorsed_at = la_time(today - timedelta(days=50), 9, 0)
    await record_event(
        database,
        policy_id,
        "endorsed",
        endorsed_at,
        terms=us_terms(
            today - timedelta(days=100),
            today + timedelta(days=30),
            per_occurrence_limit=usd(2_000_000),
        ),
    )
    renewal_recorded = datetime.now(UTC) - timedelta(days=5)
    renewed_to = la_time(today + timedelta(days=395), 0, 1)
    await record_event(
        database,
        policy_id,
        "renewed",
        terms.expires_at,
        recorded_at=renewal_recorded,
        expires_at=renewed_to,
    )
    cancellation_recorded = datetime.now(UTC) - timedelta(minutes=5)
    cancelled_from = la_time(today + timedelta(days=20), 0, 1)
    await record_event(
        database,
        policy_id,
        "cancelled",
        cancelled_from,
        recorded_at=cancellation_recorded,
        reason="cancelled at the seller's request",
    )

    status = await status_of(client, seller_headers)

    history = status["history"]
    assert [e["kind"] for e in history] == [
        "verified",
        "issued",
        "endorsed",
        "cancelled",
        "renewed",
    ]
    assert [datetime.fromisoformat(e["effective_at"]) for e in history] == [
        bound_at,
        terms.effective_at,
        endorsed_at,
        cancelled_from,
        terms.expires_at,
    ]
    assert [datetime.fromisoformat(e["recorded_at"]) for e in history] == [
        bound_at,
        bound_at,
        endorsed_at,
        cancellation_recorded,
        renewal_recorded,
    ]
    summaries = [e["summary"] for e in history]
    assert summaries[1].startswith("Bound through the service: Harbor Mutual (A) policy GL-100")
    assert "per-occurrence limit 1,000,000 USD → 2,000,000 USD" in summaries[2]
    assert "cancelled at the seller's request" in summaries[3]
    assert f"until {(today + timedelta(days=395)).isoformat()}" in summaries[4]
    # The cancellation already on record ends cover before the renewed term does.
    qualifying = status["qualifying_policy"]
    assert datetime.fromisoformat(qualifying["expires_at"]) == cancelled_from
    assert datetime.fromisoformat(qualifying["cancellation_effective_at"]) == cancelled_from
    assert (
        qualifying["days_until_expiry"]
        == (today + timedelta(days=20) - local_day(status["as_of"])).days
    )
    assert status["expiring_soon"] is True


async def test_on_its_expiry_date_a_policy_qualifies_until_00_01_local_time(
    database: Database, profiled_seller: dict[str, Any]
) -> None:
    expiry = date(2026, 7, 1)
    policy_id = await bind_policy(database, us_terms(date(2025, 7, 1), expiry))
    # The endpoint always answers for now; the service answers for any instant. It gets its own
    # connections, because the test client's run on another event loop.
    rulebook = load_rulesets()
    service = ComplianceService(
        database, SellerService(database, rulebook, load_taxonomy()), rulebook
    )
    seller = Principal(key_id="k-1", role=Role.SELLER, seller_id="s-1")

    evening_before = await service.status(seller, "s-1", now=la_time(date(2026, 6, 30), 23, 59))
    midnight = await service.status(seller, "s-1", now=la_time(expiry, 0, 0))
    expired = await service.status(seller, "s-1", now=la_time(expiry, 0, 1))

    # 23:59 in Los Angeles is already 1 July in UTC: the days count in local dates.
    assert evening_before.qualifying_policy is not None
    assert evening_before.qualifying_policy.days_until_expiry == 1
    assert midnight.compliant_now is True
    assert midnight.qualifying_policy is not None
    assert midnight.qualifying_policy.policy_id == policy_id
    assert midnight.qualifying_policy.days_until_expiry == 0
    assert midnight.expiring_soon is True
    assert expired.compliant_now is False
    assert [gap.code for gap in expired.gaps] == ["policy_not_in_force"]
    assert "expired on 2026-07-01" in expired.gaps[0].message
