"""No cover after the loss: a quote request's cover starts today at the earliest, "today" being
the date in the seller's marketplace's reference time zone (the service's clock is set here)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.server import runtime_of
from tests.api.conftest import power_bank_body
from tests.api.policies import la_time

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
# An accepted request is answered 202 while its insurers are being asked, or 200 if it is already
# complete: with no insurer configured here, that can happen before the answer is made.
ACCEPTED = (200, 202)

# Noon in Los Angeles (the US marketplace's zone): the same date in UTC, far from midnight.
TODAY = date(2026, 12, 7)
NOON = la_time(TODAY, 12, 0)


def set_clock(app: Litestar, at: datetime) -> None:
    runtime = runtime_of(app)
    runtime.replace(quoting=dataclasses.replace(runtime.services.quoting, clock=lambda: at))


def cover(effective_date: date, currency: str = "USD") -> dict[str, Any]:
    def money(amount: str) -> dict[str, str]:
        return {"amount": amount, "currency": currency}

    return {
        "per_occurrence": money("1000000"),
        "aggregate": money("2000000"),
        "max_deductible": money("10000"),
        "effective_date": effective_date.isoformat(),
        "term_months": 12,
    }


async def ask(
    client: Client, headers: Headers, effective_date: date, seller_id: str = "s-1", **more: Any
) -> Any:
    body = {"seller_id": seller_id, "cover": cover(effective_date, **more)}
    return await client.post("/v1/quote-requests", json=body, headers=headers)


async def requests_of(client: Client, headers: Headers) -> list[Any]:
    response = await client.get("/v1/quote-requests", headers=headers)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()
    return found


async def test_cover_starting_yesterday_is_refused_naming_the_field_and_nothing_is_stored(
    client: Client, app: Litestar, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    set_clock(app, NOON)
    response = await ask(client, seller_headers, TODAY - timedelta(days=1))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["field"] == "cover.effective_date"
    assert error["code"] == "effective_date_in_past"
    assert "2026-12-07" in error["message"]
    assert await requests_of(client, seller_headers) == []


@pytest.mark.parametrize("days_ahead", [0, 1], ids=["today", "tomorrow"])
async def test_cover_starting_today_or_later_is_accepted(
    client: Client,
    app: Litestar,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
    days_ahead: int,
) -> None:
    set_clock(app, NOON)
    effective = TODAY + timedelta(days=days_ahead)
    response = await ask(client, seller_headers, effective)

    assert response.status_code in ACCEPTED, response.text
    assert response.json()["cover"]["effective_date"] == effective.isoformat()
    assert [r["id"] for r in await requests_of(client, seller_headers)] == [response.json()["id"]]


@pytest.mark.parametrize(
    ("at", "accepted"),
    [
        # 23:30 on 9 March in Los Angeles, already 10 March in UTC: the 9th is still today.
        (datetime(2026, 3, 10, 6, 30, tzinfo=UTC), True),
        # Half an hour after midnight in Los Angeles: the 9th is now yesterday there too.
        (datetime(2026, 3, 10, 7, 30, tzinfo=UTC), False),
    ],
    ids=["before-midnight-in-los-angeles", "after-midnight-in-los-angeles"],
)
async def test_today_is_the_date_in_the_marketplace_time_zone_not_in_utc(
    client: Client,
    app: Litestar,
    seller_headers: Headers,
    profiled_seller: dict[str, Any],
    at: datetime,
    accepted: bool,
) -> None:
    set_clock(app, at)
    response = await ask(client, seller_headers, date(2026, 3, 9))
    if accepted:
        assert response.status_code in ACCEPTED, response.text
    else:
        assert response.status_code == 422, response.text


async def test_in_a_marketplace_ahead_of_utc_today_starts_before_it_does_in_utc(
    client: Client, app: Litestar, admin_headers: Headers
) -> None:
    facts = power_bank_body(
        marketplace="JP", currency="JPY", sales={"2025-05": "2000000"}, legal_name="Volt KK"
    )
    profile = await client.put("/v1/sellers/s-jp/profile", json=facts, headers=admin_headers)
    assert profile.status_code == 200, profile.text
    # 20:00 on 9 March in UTC is 05:00 on 10 March in Tokyo: the 9th is yesterday there.
    set_clock(app, datetime(2026, 3, 9, 20, 0, tzinfo=UTC))

    refused = await ask(client, admin_headers, date(2026, 3, 9), "s-jp", currency="JPY")
    accepted = await ask(client, admin_headers, date(2026, 3, 10), "s-jp", currency="JPY")

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "cover.effective_date"
    assert accepted.status_code in ACCEPTED, accepted.text


async def test_without_a_cover_the_request_starts_tomorrow_in_the_marketplace_time_zone(
    client: Client, app: Litestar, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    # 23:30 on 9 March in Los Angeles: tomorrow there is the 10th (in UTC it would be the 11th).
    set_clock(app, datetime(2026, 3, 10, 6, 30, tzinfo=UTC))
    response = await client.post(
        "/v1/quote-requests", json={"seller_id": "s-1"}, headers=seller_headers
    )

    assert response.status_code in ACCEPTED, response.text
    assert response.json()["cover"]["effective_date"] == "2026-03-10"
