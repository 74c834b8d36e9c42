"""Coverage checks at the edges of time and scope (DESIGN §3.2, §3.3), through the API and the
database: the last minute of a policy, the minute around a cancellation, a policy that starts
tomorrow, policies split by category, claims-made cover and renewals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from accelerator.infra.database import Database
from tests.api.conftest import Client, Headers
from tests.api.policies import bind_policy, la_time, la_today, record_event, us_terms

pytestmark = pytest.mark.anyio

OPERATOR = "Amazon.com Services LLC and its affiliates and assignees"


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def check(
    client: Client,
    headers: Headers,
    incident_at: datetime,
    *,
    category: str = "electronics/power-banks",
    amount: str = "400",
    known_at: datetime | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "seller_id": "s-1",
        "incident_at": iso(incident_at),
        "product_category": category,
        "marketplace": "US",
        "claim_amount": usd(amount),
    }
    if known_at is not None:
        body["known_at"] = iso(known_at)
    response = await client.post("/v1/coverage/checks", json=body, headers=headers)
    assert response.status_code == 200, response.text
    decision: dict[str, Any] = response.json()
    return decision


def codes(decision: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in decision["reasons"]]


@pytest.mark.parametrize(
    ("expiry", "expires_utc"),
    [
        # Pacific standard time (UTC-8) in winter, daylight time (UTC-7) in summer.
        (date(2026, 2, 1), datetime(2026, 2, 1, 8, 1, tzinfo=UTC)),
        (date(2026, 7, 1), datetime(2026, 7, 1, 7, 1, tzinfo=UTC)),
    ],
)
async def test_a_policy_expiring_today_covers_until_00_01_local_time_and_not_from_then(
    client: Client,
    seller_headers: Headers,
    claims_headers: Headers,
    admin_headers: Headers,
    profiled_seller: dict[str, Any],
    expiry: date,
    expires_utc: datetime,
) -> None:
    certificate = {
        "insurer_name": "Harbor Mutual",
        "insurer_rating": "A",
        "policy_number": f"HM-{expiry.isoformat()}",
        "named_insured": "Volt Goods LLC",
        "policy_form": "occurrence",
        "each_occurrence": usd("1000000"),
        "general_aggregate": usd("2000000"),
        "products_completed_operations_aggregate": usd("2000000"),
        "deductible": usd("5000"),
        "additional_insureds": [OPERATOR],
        "territories": ["US"],
        "covered_categories": ["electronics"],
        "effective_date": date(expiry.year - 1, expiry.month, expiry.day).isoformat(),
        "expiry_date": expiry.isoformat(),
    }
    submitted = await client.post(
        "/v1/sellers/s-1/policies", json=certificate, headers=seller_headers
    )
    assert submitted.status_code == 201, submitted.text
    policy = submitted.json()
    assert datetime.fromisoformat(policy["terms"]["expires_at"]) == expires_utc
    await client.post(f"/v1/policies/{policy['id']}/verify", json={}, headers=admin_headers)

    evening_before = await check(
        client, claims_headers, la_time(expiry - timedelta(days=1), 23, 59)
    )
    midnight = await check(client, claims_headers, la_time(expiry, 0, 0))
    last_second = await check(client, claims_headers, expires_utc - timedelta(seconds=1))
    at_expiry = await check(client, claims_headers, la_time(expiry, 0, 1))
    minute_after = await check(client, claims_headers, la_time(expiry, 0, 2))

    assert [d["decision"] for d in (evening_before, midnight, last_second)] == ["exempt"] * 3
    for decision in (at_expiry, minute_after):
        assert decision["decision"] == "not_exempt"
        assert decision["covered"] is False
        assert codes(decision) == ["policy_not_in_force"]
        assert decision["policy"]["number"] == certificate["policy_number"]


async def test_an_incident_one_minute_before_a_cancellation_is_covered_and_one_minute_after_is_not(
    client: Client, claims_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    policy_id = await bind_policy(database, us_terms(date(2026, 1, 1), date(2027, 1, 1)))
    cancelled_from = datetime(2026, 3, 15, 17, 30, tzinfo=UTC)
    recorded = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    await record_event(
        database,
        policy_id,
        "cancelled",
        cancelled_from,
        recorded_at=recorded,
        reason="non-payment",
    )

    before = await check(client, claims_headers, cancelled_from - timedelta(minutes=1))
    at = await check(client, claims_headers, cancelled_from)
    after = await check(client, claims_headers, cancelled_from + timedelta(minutes=1))
    after_as_known_before_recording = await check(
        client,
        claims_headers,
        cancelled_from + timedelta(minutes=1),
        known_at=recorded - timedelta(seconds=1),
    )

    assert before["decision"] == "exempt"
    assert before["policy"]["id"] == policy_id
    for decision in (at, after):
        assert decision["decision"] == "not_exempt"
        assert codes(decision) == ["policy_cancelled"]
        assert "2026-03-15T17:30:00Z" in decision["reasons"][0]["message"]
    assert after_as_known_before_recording["decision"] == "exempt"


async def test_a_policy_starting_tomorrow_does_not_cover_an_incident_today(
    client: Client, claims_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    tomorrow = la_today() + timedelta(days=1)
    await bind_policy(
        database,
        us_terms(tomorrow, tomorrow + timedelta(days=365), policy_number="GL-TOMORROW"),
        recorded_at=datetime.now(UTC) - timedelta(hours=1),
    )

    today = await check(client, claims_headers, datetime.now(UTC) - timedelta(minutes=1))
    last_minute_before = await check(client, claims_headers, la_time(tomorrow, 0, 0))
    first_minute = await check(client, claims_headers, la_time(tomorrow, 0, 1))

    assert today["decision"] == "not_exempt"
    assert today["covered"] is False
    assert codes(today) == ["policy_not_in_force"]
    assert today["policy"]["number"] == "GL-TOMORROW"
    assert f"it covers {iso(la_time(tomorrow, 0, 1))}" in today["reasons"][0]["message"]
    assert codes(last_minute_before) == ["policy_not_in_force"]
    assert first_minute["decision"] == "exempt"


async def test_with_a_policy_per_product_line_the_check_uses_the_one_covering_the_category(
    client: Client, claims_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    electronics = await bind_policy(
        database,
        us_terms(date(2026, 1, 1), date(2027, 1, 1), policy_number="GL-ELEC"),
    )
    toys = await bind_policy(
        database,
        us_terms(
            date(2026, 1, 1),
            date(2027, 1, 1),
            policy_number="GL-TOYS",
            insurer_name="Cedar Re",
            covered_categories=["toys"],
        ),
    )
    incident = datetime(2026, 5, 10, 18, 0, tzinfo=UTC)

    power_bank = await check(client, claims_headers, incident, category="electronics/power-banks")
    plush = await check(client, claims_headers, incident, category="toys/plush", amount="5000")
    lipstick = await check(client, claims_headers, incident, category="beauty/cosmetics")

    assert power_bank["decision"] == "exempt"
    assert (power_bank["policy"]["id"], power_bank["policy"]["number"]) == (electronics, "GL-ELEC")
    assert plush["decision"] == "tender_to_insurer"
    assert plush["policy"] == {"id": toys, "insurer": "Cedar Re", "number": "GL-TOYS"}
    assert lipstick["decision"] == "not_exempt"
    assert codes(lipstick) == ["category_not_covered"]


async def test_claims_made_cover_is_accepted_only_for_the_categories_the_rule_set_allows(
    client: Client, claims_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    await bind_policy(
        database,
        us_terms(
            date(2026, 1, 1),
            date(2027, 1, 1),
            policy_form="claims_made",
            covered_categories=["health/dietary-supplements", "electronics"],
        ),
    )
    incident = datetime(2026, 5, 10, 18, 0, tzinfo=UTC)

    # The US rules accept claims-made cover for dietary supplements only.
    supplements = await check(
        client, claims_headers, incident, category="health/dietary-supplements"
    )
    power_bank = await check(client, claims_headers, incident, category="electronics/power-banks")

    assert supplements["decision"] == "exempt"
    assert power_bank["decision"] == "not_exempt"
    assert codes(power_bank) == ["claims_made_not_permitted"]
    assert "electronics/power-banks" in power_bank["reasons"][0]["message"]


async def test_a_renewal_taking_effect_at_expiry_leaves_no_gap_in_cover(
    client: Client, claims_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    terms = us_terms(date(2025, 6, 1), date(2026, 6, 1))
    policy_id = await bind_policy(database, terms)
    renewed_to = la_time(date(2027, 6, 1), 0, 1)
    await record_event(
        database,
        policy_id,
        "renewed",
        terms.expires_at,
        recorded_at=terms.expires_at - timedelta(days=20),
        expires_at=renewed_to,
    )

    before = await check(client, claims_headers, terms.expires_at - timedelta(minutes=1))
    boundary = await check(client, claims_headers, terms.expires_at)
    end = await check(client, claims_headers, renewed_to)

    assert before["decision"] == boundary["decision"] == "exempt"
    assert before["policy"]["id"] == boundary["policy"]["id"] == policy_id
    assert codes(end) == ["policy_not_in_force"]


async def test_a_renewal_under_a_new_policy_number_takes_over_at_the_old_expiry(
    client: Client, claims_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    await bind_policy(database, us_terms(date(2025, 6, 1), date(2026, 6, 1), policy_number="GL-25"))
    await bind_policy(database, us_terms(date(2026, 6, 1), date(2027, 6, 1), policy_number="GL-26"))
    boundary = la_time(date(2026, 6, 1), 0, 1)

    before = await check(client, claims_headers, boundary - timedelta(minutes=1))
    at = await check(client, claims_headers, boundary)

    assert (before["decision"], before["policy"]["number"]) == ("exempt", "GL-25")
    assert (at["decision"], at["policy"]["number"]) == ("exempt", "GL-26")


async def test_a_renewal_taking_effect_after_expiry_leaves_the_days_between_uncovered(
    client: Client, claims_headers: Headers, database: Database, profiled_seller: dict[str, Any]
) -> None:
    terms = us_terms(date(2025, 6, 1), date(2026, 6, 1))
    policy_id = await bind_policy(database, terms)
    resumed = la_time(date(2026, 6, 4), 0, 1)
    await record_event(
        database,
        policy_id,
        "renewed",
        resumed,
        expires_at=la_time(date(2027, 6, 4), 0, 1),
    )

    in_between = await check(client, claims_headers, la_time(date(2026, 6, 2), 12, 0))
    resumed_cover = await check(client, claims_headers, resumed)

    assert codes(in_between) == ["policy_not_in_force"]
    assert resumed_cover["decision"] == "exempt"


@pytest.mark.parametrize(
    ("covered", "claims_made_gap"),
    [(["health/dietary-supplements"], False), (["health/dietary-supplements", "toys"], True)],
)
async def test_a_submitted_claims_made_policy_has_a_gap_only_for_categories_that_need_occurrence(
    client: Client,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
    covered: list[str],
    claims_made_gap: bool,
) -> None:
    today = la_today()
    certificate = {
        "insurer_name": "Harbor Mutual",
        "insurer_rating": "A",
        "policy_number": "HM-CM",
        "named_insured": "Volt Goods LLC",
        "policy_form": "claims_made",
        "each_occurrence": usd("1000000"),
        "general_aggregate": usd("2000000"),
        "products_completed_operations_aggregate": usd("2000000"),
        "deductible": usd("5000"),
        "additional_insureds": [OPERATOR],
        "territories": ["US"],
        "covered_categories": covered,
        "effective_date": (today - timedelta(days=10)).isoformat(),
        "expiry_date": (today + timedelta(days=355)).isoformat(),
    }

    response = await client.post(
        "/v1/sellers/s-1/policies", json=certificate, headers=seller_headers
    )

    assert response.status_code == 201, response.text
    gaps = {gap["code"]: gap["message"] for gap in response.json()["gaps"]}
    assert ("claims_made_not_permitted" in gaps) is claims_made_gap
    if claims_made_gap:
        assert "toys" in gaps["claims_made_not_permitted"]
