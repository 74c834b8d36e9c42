"""Defence in depth: nothing stored makes a read fail later.

The contract's bounds keep year 1, year 9999 and NaN out of what the service takes in, but rows
written before them (an insurer's event dated year 1, a quote request starting in year 1 with a
limit of NaN) are still stored. They are written here through the service's own storage code, as
they once were, and every read that shows or judges them must still answer: the compliance API,
the policy documents, the coverage check and page, the quote request and its pages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.coverage.state import EventKind
from accelerator.infra.database import Database
from accelerator.quoting.fanout import InsurerResult
from accelerator.quoting.runner import record_request, record_result
from schemas import Money, OutcomeStatus, PositiveMoney, reading_stored
from tests.api.policies import bind_policy, claim, la_today, record_event, us_terms
from tests.quoting.fakes import make_offer, make_request
from tests.web.signing_in import sign_in

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]

YEAR_1 = datetime(1, 1, 1, tzinfo=UTC)
YEAR_9999 = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)


async def reads(
    client: Client, database: Database, headers: Headers, claims: Headers, policy_id: str
) -> dict[str, int]:
    """The status of every read that shows or judges the seller's policies."""
    statuses = {
        path: (await client.get(path, headers=headers)).status_code
        for path in (
            "/v1/sellers/s-1/compliance",
            "/v1/sellers/s-1/policies",
            f"/v1/policies/{policy_id}",
        )
    }
    check = await client.post("/v1/coverage/checks", json=claim(), headers=claims)
    statuses["coverage check"] = check.status_code
    secret = (await create_key(database, Role.SELLER, seller_id="s-1")).secret
    await sign_in(client, secret)
    statuses["coverage page"] = (await client.get("/app/coverage")).status_code
    return statuses


@pytest.mark.parametrize("when", [YEAR_1, YEAR_9999], ids=["year-1", "year-9999"])
@pytest.mark.parametrize(
    "kind",
    [EventKind.CANCELLED, EventKind.REINSTATED, EventKind.LAPSED, EventKind.RENEWED],
    ids=str,
)
async def test_a_policy_event_at_the_ends_of_time_does_not_fail_any_read(
    client: Client,
    database: Database,
    seller_headers: Headers,
    claims_headers: Headers,
    profiled_seller: dict[str, Any],
    when: datetime,
    kind: EventKind,
) -> None:
    today = la_today()
    policy_id = await bind_policy(
        database, us_terms(today - timedelta(days=10), today + timedelta(days=300))
    )
    await record_event(
        database,
        policy_id,
        kind,
        when,
        recorded_at=datetime.now(UTC),
        expires_at=when if kind == EventKind.RENEWED else None,
    )

    statuses = await reads(client, database, seller_headers, claims_headers, policy_id)

    assert set(statuses.values()) == {200}, statuses


@pytest.mark.parametrize(
    ("start", "end"),
    [(YEAR_1, YEAR_1 + timedelta(days=365)), (YEAR_9999 - timedelta(days=365), YEAR_9999)],
    ids=["year-1", "year-9999"],
)
async def test_terms_at_the_ends_of_time_do_not_fail_any_read(
    client: Client,
    database: Database,
    seller_headers: Headers,
    claims_headers: Headers,
    profiled_seller: dict[str, Any],
    start: datetime,
    end: datetime,
) -> None:
    today = la_today()
    policy_id = await bind_policy(
        database, us_terms(today - timedelta(days=10), today + timedelta(days=300))
    )
    with reading_stored():  # terms such as the service took before it had bounds
        terms = us_terms(today, today + timedelta(days=1))
        terms = msgspec.structs.replace(terms, effective_at=start, expires_at=end)
    await record_event(
        database, policy_id, EventKind.ENDORSED, datetime.now(UTC) - timedelta(days=1), terms=terms
    )

    statuses = await reads(client, database, seller_headers, claims_headers, policy_id)

    assert set(statuses.values()) == {200}, statuses


async def test_a_quote_request_from_year_1_with_a_limit_of_nan_does_not_fail_any_read(
    client: Client, database: Database, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    request = make_request("11111111-2222-3333-4444-000000000001")
    offer = make_offer("harbor")
    with reading_stored():  # what the service took before it had bounds
        request = msgspec.structs.replace(
            request,
            cover=msgspec.structs.replace(
                request.cover,
                effective_date=date(1, 1, 1),
                per_occurrence=PositiveMoney(amount=Decimal("NaN"), currency="USD"),
                max_deductible=Money(amount=Decimal("-1"), currency="USD"),
            ),
        )
        offer = msgspec.structs.replace(
            offer, effective_date=date(1, 1, 1), expiry_date=date(2, 1, 1)
        )
    await record_request(database, request, {}, datetime.now(UTC) + timedelta(seconds=30))
    await record_result(
        database,
        request.request_id,
        InsurerResult(
            provider_id="harbor",
            insurer_name="Harbor Mutual",
            status=OutcomeStatus.OFFERED,
            offers=[offer],
            quote_reference="harbor-q1",
        ),
    )
    url = f"/v1/quote-requests/{request.request_id}"

    read = await client.get(url, headers=seller_headers)
    listed = await client.get("/v1/quote-requests", headers=seller_headers)
    secret = (await create_key(database, Role.SELLER, seller_id="s-1")).secret
    await sign_in(client, secret)
    page = await client.get(f"/app/quotes/{request.request_id}")

    assert (read.status_code, listed.status_code, page.status_code) == (200, 200, 200), read.text
    assert read.json()["cover"]["effective_date"] == "0001-01-01"
    assert read.json()["cover"]["per_occurrence"]["amount"] == "NaN"
    assert read.json()["offers"][0]["offer"]["effective_date"] == "0001-01-01"
