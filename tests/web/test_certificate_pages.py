"""The certificate pages without a browser, on both databases: an upload needs the form's
token, a file the service cannot read is a page naming the field (never a 500), another
seller's certificate is out of reach, and an incomplete confirmation stores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database
from tests.api.conftest import power_bank_body
from tests.api.policies import bind_policy, la_today, us_terms
from tests.certificates.pdfs import flattened_certificate, scanned_certificate
from tests.web.signing_in import sign_in

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]


async def signed_in_seller(client: Client, database: Database, seller_id: str) -> str:
    key = await create_key(database, Role.SELLER, seller_id=seller_id)
    response = await client.put(
        f"/v1/sellers/{seller_id}/profile",
        json=power_bank_body(),
        headers={"Authorization": f"Bearer {key.secret}"},
    )
    assert response.status_code == 200, response.text
    return await sign_in(client, key.secret)


def pdf(data: bytes) -> dict[str, Any]:
    return {"file": ("certificate.pdf", data, "application/pdf")}


async def test_an_upload_without_the_form_token_is_refused(
    client: Client, database: Database
) -> None:
    await signed_in_seller(client, database, "s-1")
    response = await client.post("/app/certificates", files=pdf(flattened_certificate()))
    assert response.status_code == 403
    assert "This form could not be accepted" in response.text


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (scanned_certificate(), "could not read any text"),
        (b'{"policy_number": "HM-1"}', "not a PDF"),
        (flattened_certificate()[:300], "could not"),
        (b"", "empty"),
    ],
    ids=["scan", "json", "truncated", "empty"],
)
async def test_a_file_that_cannot_be_read_is_a_page_naming_the_field(
    data: bytes, words: str, client: Client, database: Database
) -> None:
    token = await signed_in_seller(client, database, "s-1")
    response = await client.post("/app/certificates", files=pdf(data), data={"csrf_token": token})
    assert response.status_code == 422
    assert 'id="certificate-error"' in response.text
    assert words in response.text


async def test_an_incomplete_confirmation_stores_nothing(
    client: Client, database: Database
) -> None:
    token = await signed_in_seller(client, database, "s-1")
    response = await client.post(
        "/app/certificates/confirm", data={"csrf_token": token, "policy_number": "X"}
    )
    assert response.status_code == 422
    assert 'id="insurer_name-error"' in response.text
    listed = await client.get("/app/coverage")
    assert "You have no policies on record yet" in listed.text


async def test_another_seller_s_certificate_is_not_found(
    client: Client, database: Database
) -> None:
    await signed_in_seller(client, database, "s-2")
    owner = await create_key(database, Role.SELLER, seller_id="s-1")
    await client.put(
        "/v1/sellers/s-1/profile",
        json=power_bank_body(),
        headers={"Authorization": f"Bearer {owner.secret}"},
    )
    today = la_today()
    policy_id = await bind_policy(database, us_terms(today, today.replace(year=today.year + 1)))
    response = await client.get(f"/app/certificates/{policy_id}/certificate.pdf")
    assert response.status_code == 404
    assert "Page not found" in response.text


async def test_a_typed_submission_names_each_problem_next_to_its_field_and_stores_nothing(
    client: Client, database: Database
) -> None:
    token = await signed_in_seller(client, database, "s-1")
    blank = await client.get("/app/certificates/details")
    assert blank.status_code == 200
    assert "Type the details as your certificate of insurance states them" in blank.text
    today = la_today()
    fields = {
        "csrf_token": token,
        "insurer_name": "Harbor Mutual",
        "insurer_rating": "A",
        "policy_number": "HM-9",
        "named_insured": "Volt Goods LLC",
        "policy_form": "occurrence",
        "effective_date": today.isoformat(),
        "expiry_date": today.replace(year=today.year + 1).isoformat(),
        "each_occurrence": "1,000,000",
        "general_aggregate": "2000000",
        "products_completed_operations_aggregate": "lots",
        "deductible": "5000",
        "additional_insureds": "Amazon.com Services LLC and its affiliates and assignees",
        "territories": "US",
        "covered_categories": "electronics, gadgets",
        "cancellation_notice_days": "30",
    }
    refused = await client.post("/app/certificates/confirm", data=fields)
    assert refused.status_code == 422
    assert 'id="products_completed_operations_aggregate-error"' in refused.text
    fields["products_completed_operations_aggregate"] = "2000000"
    unknown = await client.post("/app/certificates/confirm", data=fields)
    assert unknown.status_code == 422
    assert 'id="covered_categories-error"' in unknown.text
    assert "Unknown product category" in unknown.text
    assert "You have no policies on record yet" in (await client.get("/app/coverage")).text

    fields["covered_categories"] = "electronics"
    accepted = await client.post("/app/certificates/confirm", data=fields, follow_redirects=False)
    assert accepted.status_code == 303
    assert accepted.headers["location"].startswith("/app/coverage?notice=submitted#policy-")
