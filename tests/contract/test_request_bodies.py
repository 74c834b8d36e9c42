"""JSON bodies: sent as JSON, within their size, not nested without end; every refusal is a
problem document and stores nothing (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.infra.bodies import BATCH_BODY_MAX_BYTES, JSON_BODY_MAX_BYTES
from schemas import MAX_BATCH_CHECKS
from tests.api.conftest import power_bank_body

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
PROFILE = "/v1/sellers/s-1/profile"


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


async def nothing_stored(client: Client, headers: Headers) -> None:
    stored = await client.get(PROFILE, headers=headers)
    problem(stored, 404, "seller_profile_not_found")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_json_body_sent_as_another_media_type_is_a_415_naming_it(
    client: Client, admin_headers: Headers, content_type: str
) -> None:
    response = await client.put(
        PROFILE,
        content=json.dumps(power_bank_body()),
        headers={**admin_headers, "content-type": content_type},
    )
    body = problem(response, 415, "unsupported_media_type")
    assert content_type in body["detail"]
    await nothing_stored(client, admin_headers)


async def test_a_json_body_without_a_content_type_is_a_415_too(
    client: Client, admin_headers: Headers
) -> None:
    # What `curl -d` without `-H 'Content-Type: application/json'` would meet, had it not sent
    # a form type: a body of unknown type is not parsed as JSON.
    response = await client.put(
        PROFILE, content=json.dumps(power_bank_body()).encode(), headers=admin_headers
    )
    assert "content-type" not in {name.lower() for name in response.request.headers}
    body = problem(response, 415, "unsupported_media_type")
    assert "without a Content-Type" in body["detail"]
    await nothing_stored(client, admin_headers)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/x+json"]
)
async def test_json_and_json_suffixed_media_types_are_accepted(
    client: Client, admin_headers: Headers, content_type: str
) -> None:
    response = await client.put(
        PROFILE,
        content=json.dumps(power_bank_body()),
        headers={**admin_headers, "content-type": content_type},
    )
    assert response.status_code == 200, response.text


async def test_an_empty_optional_body_needs_no_media_type(
    client: Client, admin_headers: Headers
) -> None:
    # The bind body is optional: no body, no Content-Type, and the request reaches the service.
    response = await client.post(
        "/v1/offers/no-such-offer/bind", headers={**admin_headers, "Idempotency-Key": "k-1"}
    )
    problem(response, 404, "offer_not_found")


async def test_a_body_that_is_not_json_is_a_400(client: Client, admin_headers: Headers) -> None:
    response = await client.put(
        PROFILE,
        content=b'{"legal_name": ',
        headers={**admin_headers, "content-type": "application/json"},
    )
    problem(response, 400, "malformed_json")
    await nothing_stored(client, admin_headers)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps(power_bank_body()).encode()[:-1] + b', "extra": ' + b"[" * 100_000,
    ],
    ids=["arrays", "objects", "well-formed", "inside-a-body"],
)
async def test_a_body_nested_100000_deep_is_a_4xx_problem_and_stores_nothing(
    client: Client, admin_headers: Headers, body: bytes
) -> None:
    # Decoded straight into the seller's facts, it is refused where it stops fitting them
    # (422), or as JSON too deep or broken (400): never a 500, never stored.
    response = await client.put(
        PROFILE, content=body, headers={**admin_headers, "content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] in ("json_too_deep", "malformed_json", "validation_error")
    await nothing_stored(client, admin_headers)


async def test_nesting_past_the_decoder_s_limit_is_json_too_deep(
    client: Client, admin_headers: Headers
) -> None:
    # A batch's checks are decoded one by one later, so the body decoder descends into them.
    deep = b"[" * 100_000 + b"]" * 100_000
    response = await client.post(
        "/v1/coverage/checks/batch",
        content=b'{"checks": [' + deep + b"]}",
        headers={**admin_headers, "content-type": "application/json"},
    )
    problem(response, 400, "json_too_deep")


async def test_a_value_of_the_wrong_json_type_is_refused_not_converted(
    client: Client, admin_headers: Headers
) -> None:
    # Decoded strictly: a number is not an instant, a string is not a number.
    body = power_bank_body(years_in_business=2)
    body["years_in_business"] = "2"
    response = await client.put(
        PROFILE,
        content=json.dumps(body),
        headers={**admin_headers, "content-type": "application/json"},
    )
    refused = problem(response, 422, "validation_error")
    assert [e["field"] for e in refused["errors"]] == ["years_in_business"]
    await nothing_stored(client, admin_headers)


async def test_a_whole_number_written_as_a_float_is_an_integer_as_json_says(
    client: Client, admin_headers: Headers
) -> None:
    body = power_bank_body()
    body["years_in_business"] = 2.0
    accepted = await client.put(
        PROFILE,
        content=json.dumps(body),
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["profile"] is not None
    body["years_in_business"] = 2.5
    refused = await client.put(
        PROFILE,
        content=json.dumps(body),
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert [e["field"] for e in problem(refused, 422, "validation_error")["errors"]] == [
        "years_in_business"
    ]


async def test_a_body_over_the_json_limit_is_a_413_naming_the_limit(
    client: Client, admin_headers: Headers
) -> None:
    padded = json.dumps(power_bank_body()) + " " * JSON_BODY_MAX_BYTES
    response = await client.put(
        PROFILE, content=padded, headers={**admin_headers, "content-type": "application/json"}
    )
    body = problem(response, 413, "payload_too_large")
    assert f"{JSON_BODY_MAX_BYTES:,} bytes" in body["detail"]
    await nothing_stored(client, admin_headers)


def longest_check(index: int) -> dict[str, Any]:
    """A check with every field as long as its type allows: a 64-character seller id and a
    200-character category path, which ``json.dumps`` writes as 6-byte escapes."""
    return {
        "seller_id": f"{index:04d}-" + "x" * 59,
        "incident_at": "2026-03-01T18:30:00.123456+00:00",
        "product_category": "é" * 200,
        "marketplace": "US",
        "claim_amount": {"amount": "123456789.12", "currency": "USD"},
        "known_at": "2026-03-02T09:00:00.123456+00:00",
    }


async def test_a_batch_of_1000_of_the_longest_checks_fits_its_limit(
    client: Client, admin_headers: Headers
) -> None:
    body = json.dumps(
        {"checks": [longest_check(i) for i in range(MAX_BATCH_CHECKS)]}, indent=2
    ).encode()
    assert JSON_BODY_MAX_BYTES < len(body) < BATCH_BODY_MAX_BYTES
    response = await client.post(
        "/v1/coverage/checks/batch",
        content=body,
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text[:500]
    results = response.json()["results"]
    assert len(results) == MAX_BATCH_CHECKS
    # Each item is answered on its own: these name an unknown category.
    assert {item["errors"][0]["code"] for item in results} == {"unknown_category"}


async def test_a_batch_over_its_limit_is_a_413(client: Client, admin_headers: Headers) -> None:
    body = json.dumps({"checks": [longest_check(0)]}) + " " * BATCH_BODY_MAX_BYTES
    response = await client.post(
        "/v1/coverage/checks/batch",
        content=body,
        headers={**admin_headers, "content-type": "application/json"},
    )
    body_ = problem(response, 413, "payload_too_large")
    assert f"{BATCH_BODY_MAX_BYTES:,} bytes" in body_["detail"]


async def test_a_413_comes_before_reading_a_body_announced_too_large(
    client: Client, admin_headers: Headers
) -> None:
    response = await client.post(
        "/v1/coverage/checks",
        content=b"{}",
        headers={
            **admin_headers,
            "content-type": "application/json",
            "content-length": str(JSON_BODY_MAX_BYTES + 1),
        },
    )
    problem(response, 413, "payload_too_large")
