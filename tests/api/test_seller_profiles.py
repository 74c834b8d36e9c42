from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Client, Headers, power_bank_body

pytestmark = pytest.mark.anyio


async def test_power_bank_importer_must_insure_within_30_days_with_one_million_cover(
    profiled_seller: dict[str, Any],
) -> None:
    profile = profiled_seller["profile"]
    assert profiled_seller["version"] == 1
    assert profile["tier"] in {"C", "D", "E"}
    requirement = profile["requirement"]
    assert requirement["required"] is True
    assert requirement["triggered_by_month"] == "2025-05"
    assert requirement["comply_by"] == "2025-06-30"
    assert requirement["minimum_cover"]["per_occurrence"] == {
        "amount": "1000000",
        "currency": "USD",
    }
    assert requirement["minimum_cover"]["aggregate"] == {"amount": "1000000", "currency": "USD"}
    assert sum(f["points"] for f in profile["factors"]) == profile["score"]
    assert all(f["explanation"] for f in profile["factors"])


async def test_profiles_are_versioned_and_readable_by_version(
    client: Client, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    second = await client.put(
        "/v1/sellers/s-1/profile",
        json=power_bank_body(years_in_business=12),
        headers=seller_headers,
    )
    assert second.json()["version"] == 2
    latest = await client.get("/v1/sellers/s-1/profile", headers=seller_headers)
    first = await client.get("/v1/sellers/s-1/profile?version=1", headers=seller_headers)
    assert latest.json()["version"] == 2
    assert first.json()["profile"] == profiled_seller["profile"]
    missing = await client.get("/v1/sellers/s-1/profile?version=9", headers=seller_headers)
    assert missing.status_code == 404


async def test_a_seller_key_cannot_reach_another_seller(
    client: Client, seller_headers: Headers
) -> None:
    put = await client.put(
        "/v1/sellers/s-2/profile", json=power_bank_body(), headers=seller_headers
    )
    get = await client.get("/v1/sellers/s-2/profile", headers=seller_headers)
    assert put.status_code == 403
    assert get.status_code == 403
    assert put.headers["content-type"].startswith("application/problem+json")


async def test_admin_reaches_every_seller(client: Client, admin_headers: Headers) -> None:
    response = await client.put(
        "/v1/sellers/s-9/profile", json=power_bank_body(), headers=admin_headers
    )
    assert response.status_code == 200


async def test_claims_role_cannot_write_profiles(client: Client, claims_headers: Headers) -> None:
    response = await client.put(
        "/v1/sellers/s-1/profile", json=power_bank_body(), headers=claims_headers
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        (
            {"categories": {"electronics/power-banks": "0.5", "home/furniture": "0.4"}},
            "categories",
            None,
        ),
        ({"marketplace": "ZZ"}, "marketplace", "unknown_marketplace"),
        (
            {"categories": {"electronics/power-bank": "1"}},
            "categories[0].category",
            "unknown_category",
        ),
        ({"sales": {"2099-01": "100"}}, "monthly_sales[0].month", None),
    ],
)
async def test_bad_facts_get_a_422_problem_naming_the_field(
    client: Client, seller_headers: Headers, changes: dict[str, Any], field: str, code: str | None
) -> None:
    response = await client.put(
        "/v1/sellers/s-1/profile", json=power_bank_body(**changes), headers=seller_headers
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"]: e for e in problem["errors"]}
    assert field in fields, problem
    if code:
        assert fields[field]["code"] == code


async def test_duplicate_months_are_refused(client: Client, seller_headers: Headers) -> None:
    body = power_bank_body()
    body["monthly_sales"].append(dict(body["monthly_sales"][0]))
    response = await client.put("/v1/sellers/s-1/profile", json=body, headers=seller_headers)
    assert response.status_code == 422
    assert any(e["field"].startswith("monthly_sales[1]") for e in response.json()["errors"])


async def test_unknown_category_suggests_close_ones(
    client: Client, seller_headers: Headers
) -> None:
    body = power_bank_body(categories={"electronics/power-bank": "1"})
    response = await client.put("/v1/sellers/s-1/profile", json=body, headers=seller_headers)
    [error] = [e for e in response.json()["errors"] if e["code"] == "unknown_category"]
    assert "electronics/power-banks" in error["suggestions"]


async def test_unknown_fields_and_malformed_json_are_422_not_500(
    client: Client, seller_headers: Headers
) -> None:
    body = power_bank_body()
    body["favourite_colour"] = "blue"
    unknown = await client.put("/v1/sellers/s-1/profile", json=body, headers=seller_headers)
    assert unknown.status_code in (400, 422)
    assert "favourite_colour" in unknown.text
    broken = await client.put(
        "/v1/sellers/s-1/profile",
        content=b"{not json",
        headers={**seller_headers, "content-type": "application/json"},
    )
    assert broken.status_code in (400, 422)
    assert broken.headers["content-type"].startswith("application/problem+json")


async def test_compliance_shows_the_requirement_and_no_policy_yet(
    client: Client, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    response = await client.get("/v1/sellers/s-1/compliance", headers=seller_headers)
    assert response.status_code == 200
    status = response.json()
    assert status["requirement"]["required"] is True
    assert status["compliant_now"] is False
    assert [g["code"] for g in status["gaps"]] == ["no_policy"]


async def test_the_category_taxonomy_is_readable_with_any_key(
    client: Client, seller_headers: Headers, claims_headers: Headers
) -> None:
    listed = await client.get("/v1/categories", headers=seller_headers)
    assert listed.status_code == 200
    categories = {c["path"]: c for c in listed.json()}
    assert categories["pets"] == {
        "path": "pets",
        "label": "Pets",
        "parent": None,
        "hazard_class": 2,
        "rationale": categories["pets"]["rationale"],
        "naics": categories["pets"]["naics"],
    }
    assert categories["apparel/childrens-clothing"]["label"] == "Apparel › Children's clothing"
    assert categories["electronics/lighting/led-strips"]["parent"] == "electronics/lighting"
    # Every path listed is one a seller's profile accepts.
    body = power_bank_body(categories={"pets/food": "1"})
    accepted = await client.put("/v1/sellers/s-1/profile", json=body, headers=seller_headers)
    assert accepted.status_code == 200, accepted.text
    assert (await client.get("/v1/categories", headers=claims_headers)).status_code == 200
    assert (await client.get("/v1/categories")).status_code == 401
