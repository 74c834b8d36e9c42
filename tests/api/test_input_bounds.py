"""The contract's bounds, endpoint by endpoint (docs/architecture.md, "Input bounds").

Hostile and careless values (amounts of 1e999999, 400 digits, NaN or -Infinity; instants in year
1 or 9999; NUL bytes; 100 kB of text; a hundred thousand names) are refused with a 422
problem naming the field, and nothing is stored. Around every bound, the largest value allowed
passes and the next is refused. Each test runs on SQLite and on PostgreSQL, where a NUL byte used
to fail in the database.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accelerator.infra.database import Database
from schemas import MAX_BATCH_CHECKS, ClaimsHistory, Money
from tests.api.bounds import (
    AFTER_LAST_DATE,
    AFTER_LAST_INSTANT,
    BEFORE_FIRST_DATE,
    BEFORE_FIRST_INSTANT,
    FIRST_DATE,
    FIRST_INSTANT,
    LAST_DATE,
    LAST_INSTANT,
    MAX,
    OVER_MAX,
    Case,
    assert_outcome,
    ids,
    problems_of,
)
from tests.api.conftest import power_bank_body
from tests.api.policies import bind_policy, certificate, claim, la_today, us_terms
from tests.api.test_quote_request_start_date import cover

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]

YEAR_1, YEAR_9999 = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
NUL = "\x00"


# --- PUT /v1/sellers/{seller_id}/profile ---------------------------------------------------------

SALES = "monthly_sales[0].gross_sales"
PAID = "claims_last_5_years.amount_paid"
PROFILE_CASES = [
    Case("sales-1e999999", f"{SALES}.amount", "1e999999"),
    Case("sales-400-digits", f"{SALES}.amount", "1" * 400),
    Case("sales-nan", f"{SALES}.amount", "NaN"),
    Case("sales-negative", f"{SALES}.amount", "-1"),
    Case("sales-minus-infinity", f"{SALES}.amount", "-Infinity"),
    Case("sales-four-places", f"{SALES}.amount", "14000.0001", refused=None),
    Case("sales-five-places", f"{SALES}.amount", "14000.00001"),
    Case("sales-zeros-beyond-four-places", f"{SALES}.amount", "14000.000000", refused=None),
    # Within its bound, but a year of such months is not: refused by what the service computes.
    Case("sales-max", f"{SALES}.amount", MAX, "annual_sales_too_large", "monthly_sales"),
    Case("sales-currency-unknown", f"{SALES}.currency", "XXX"),
    Case("sales-currency-lower-case", f"{SALES}.currency", "usd"),
    Case("claims-paid-max", f"{PAID}.amount", MAX, refused=None),
    Case("claims-paid-over-max", f"{PAID}.amount", OVER_MAX),
    Case("month-0000", "monthly_sales[0].month", "0000-01"),
    Case("month-1969-12", "monthly_sales[0].month", "1969-12"),
    Case("month-1970-01", "monthly_sales[0].month", "1970-01", refused=None),
    Case("month-2200-12-is-in-the-future", "monthly_sales[0].month", "2200-12", "future_month"),
    Case("month-2201-01", "monthly_sales[0].month", "2201-01"),
    Case("name-300-characters", "legal_name", "V" * 300, refused=None),
    Case("name-301-characters", "legal_name", "V" * 301),
    Case("name-with-nul", "legal_name", f"Volt{NUL}Goods LLC"),
    Case("name-on-two-lines", "legal_name", "Volt Goods\nLLC"),
    Case("name-ending-in-a-line-feed", "legal_name", "Volt Goods LLC\n"),
    Case("name-with-escape", "legal_name", "Volt \x1b[31mGoods"),
    Case("name-in-any-script", "legal_name", "Vølt Gööds 株式会社", refused=None),
    Case("category-with-nul", "categories[0].category", f"electronics/power-banks{NUL}"),
]


async def stored_profile(client: Client, headers: Headers) -> Any:
    """The seller's stored profile as GET answers it, or None before any is stored."""
    response = await client.get("/v1/sellers/s-1/profile", headers=headers)
    assert response.status_code in (200, 404), response.text
    return response.json() if response.status_code == 200 else None


async def test_seller_facts_out_of_bounds_are_refused_and_not_stored(
    client: Client, seller_headers: Headers
) -> None:
    # Every case against one service (a test per case spent most of its time starting the
    # service and issuing the key again): a refused case leaves the stored profile as it was,
    # none at first and then the last one accepted; an accepted one stores a profile.
    failures = []
    for case in PROFILE_CASES:
        # One claim, so that an amount paid on claims may be above 0.
        body = case.applied_to(
            power_bank_body(claims_last_5_years=ClaimsHistory(count=1, amount_paid=Money(0, "USD")))
        )
        before = await stored_profile(client, seller_headers)
        response = await client.put("/v1/sellers/s-1/profile", json=body, headers=seller_headers)
        after = await stored_profile(client, seller_headers)
        try:
            assert_outcome(case, response, accepted=(200,))
            if case.refused:
                assert after == before, f"the profile changed: {before} -> {after}"
            else:
                assert after is not None, "no profile stored"
        except AssertionError as failure:
            failures.append(f"{case.id}: {failure}")
    assert not failures, "\n".join(failures)


# --- POST /v1/coverage/checks and /batch ---------------------------------------------------------

CLAIM = "claim_amount.amount"
CHECK_CASES = [
    Case("incident-year-1", "incident_at", YEAR_1),
    Case("incident-year-9999", "incident_at", YEAR_9999),
    Case("incident-before-1970", "incident_at", BEFORE_FIRST_INSTANT),
    Case("incident-before-1970-by-its-offset", "incident_at", "1970-01-01T00:30:00+01:00"),
    # Within bounds, but no US rule set was in force then.
    Case("incident-in-1970", "incident_at", FIRST_INSTANT, "no_rule_set_in_force"),
    Case("incident-last-instant", "incident_at", LAST_INSTANT, refused=None),
    Case("incident-after-2200", "incident_at", AFTER_LAST_INSTANT),
    Case("incident-naive", "incident_at", "2026-01-01T00:00:00"),
    Case("known-at-year-1", "known_at", YEAR_1),
    Case("known-at-first-instant", "known_at", FIRST_INSTANT, refused=None),
    Case("known-at-after-2200", "known_at", AFTER_LAST_INSTANT),
    Case("amount-nan", CLAIM, "NaN"),
    Case("amount-minus-one", CLAIM, "-1"),
    Case("amount-minus-a-million", CLAIM, "-1000000"),
    Case("amount-minus-infinity", CLAIM, "-Infinity"),
    Case("amount-infinity", CLAIM, "Infinity"),
    Case("amount-zero", CLAIM, "0"),
    Case("amount-minus-zero", CLAIM, "-0"),
    Case("amount-1e999999", CLAIM, "1e999999"),
    Case("amount-400-digits", CLAIM, "1" * 400),
    Case("amount-smallest", CLAIM, "0.0001", refused=None),
    Case("amount-five-places", CLAIM, "0.00001"),
    Case("amount-max", CLAIM, MAX, refused=None),
    Case("amount-over-max", CLAIM, OVER_MAX),
    Case("amount-a-400-digit-json-number", CLAIM, 10**400),
    Case("currency-not-a-currency", "claim_amount.currency", "XXX"),
    Case("seller-id-64-characters", "seller_id", "s" * 64, refused=None),
    Case("seller-id-65-characters", "seller_id", "s" * 65),
    Case("seller-id-with-nul", "seller_id", f"s-1{NUL}"),
    Case("category-with-nul", "product_category", f"electronics/power-banks{NUL}"),
    Case("category-200-characters", "product_category", "e" * 200, "unknown_category"),
    Case("category-201-characters", "product_category", "e" * 201),
]


@pytest.fixture
async def covered_seller(database: Database, profiled_seller: dict[str, Any]) -> str:
    """Seller s-1 with a qualifying policy in force: a claim within bounds is decided on it."""
    today = la_today()
    await bind_policy(
        database,
        us_terms(today - timedelta(days=30), today + timedelta(days=300)),
        recorded_at=datetime.now(UTC) - timedelta(days=40),
    )
    return "s-1"


async def test_a_claim_out_of_bounds_is_refused_before_it_is_decided(
    client: Client, claims_headers: Headers, covered_seller: str
) -> None:
    # Every case against one service and seller: a check changes nothing another case reads
    # (a test per case spent most of its time starting the service and the seller again).
    failures = []
    for case in CHECK_CASES:
        response = await client.post(
            "/v1/coverage/checks", json=case.applied_to(claim()), headers=claims_headers
        )
        try:
            assert_outcome(case, response, accepted=(200,))
        except AssertionError as failure:
            failures.append(f"{case.id}: {failure}")
    assert not failures, "\n".join(failures)


async def test_a_negative_claim_is_not_decided_exempt_nor_an_infinite_one_tendered(
    client: Client, claims_headers: Headers, covered_seller: str
) -> None:
    within = await client.post("/v1/coverage/checks", json=claim("400"), headers=claims_headers)
    assert within.json()["decision"] == "exempt"  # the policy qualifies
    for amount in ("-1", "-1000000", "-Infinity", "Infinity"):
        response = await client.post(
            "/v1/coverage/checks", json=claim(amount), headers=claims_headers
        )
        assert problems_of(response) == [(CLAIM, "invalid")], amount


async def test_a_batch_item_out_of_bounds_gets_its_own_error_and_the_others_are_decided(
    client: Client, claims_headers: Headers, covered_seller: str
) -> None:
    # One batch with every case, each between two valid checks: each item is judged on its own.
    checks = [claim()]
    for case in CHECK_CASES:
        checks += [case.applied_to(claim()), claim()]
    response = await client.post(
        "/v1/coverage/checks/batch", json={"checks": checks}, headers=claims_headers
    )

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == len(checks)
    valid = results[0::2]
    assert {(item["result"], item["decision"]) for item in valid} == {("decision", "exempt")}
    wrong = []
    for index, (case, item) in enumerate(zip(CHECK_CASES, results[1::2], strict=True)):
        if case.refused is None:
            expected: object = ("decision",)
            got: object = (item["result"],)
        else:
            expected = ("error", 2 * index + 1, True)
            problems = [(error["field"], error["code"]) for error in item.get("errors", [])]
            got = (
                item["result"],
                item.get("index"),
                (case.expected_field, case.refused) in problems,
            )
        if got != expected:
            wrong.append(f"{case.id}: {item}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("size", "accepted"), [(MAX_BATCH_CHECKS, True), (1001, False)])
async def test_a_batch_holds_at_most_a_thousand_checks(
    client: Client, claims_headers: Headers, size: int, accepted: bool
) -> None:
    response = await client.post(
        "/v1/coverage/checks/batch", json={"checks": [claim()] * size}, headers=claims_headers
    )
    if accepted:
        assert response.status_code == 200, response.text
        assert len(response.json()["results"]) == size
    else:
        assert problems_of(response) == [("checks", "invalid")]


# --- POST /v1/quote-requests ---------------------------------------------------------------------

PER_OCCURRENCE = "cover.per_occurrence"
QUOTE_CASES = [
    Case("limit-nan", f"{PER_OCCURRENCE}.amount", "NaN"),
    Case("limit-negative", f"{PER_OCCURRENCE}.amount", "-1000000"),
    Case("limit-zero", f"{PER_OCCURRENCE}.amount", "0"),
    Case("limit-infinity", f"{PER_OCCURRENCE}.amount", "Infinity"),
    Case("limit-1e999999", f"{PER_OCCURRENCE}.amount", "1e999999"),
    Case("limit-max", f"{PER_OCCURRENCE}.amount", MAX, refused=None),
    Case("limit-over-max", f"{PER_OCCURRENCE}.amount", OVER_MAX),
    Case("aggregate-negative", "cover.aggregate.amount", "-1"),
    Case("deductible-zero", "cover.max_deductible.amount", "0", refused=None),
    Case("deductible-negative", "cover.max_deductible.amount", "-0.01"),
    Case("deductible-five-places", "cover.max_deductible.amount", "0.00001"),
    Case("limit-in-euros", f"{PER_OCCURRENCE}.currency", "EUR", "currency_mismatch"),
    Case("deductible-in-pounds", "cover.max_deductible.currency", "GBP", "currency_mismatch"),
    Case("limit-in-no-currency", f"{PER_OCCURRENCE}.currency", "XTS"),
    Case("start-year-1", "cover.effective_date", "0001-01-01"),
    Case("start-year-9999", "cover.effective_date", "9999-12-31"),
    Case("start-last-date", "cover.effective_date", LAST_DATE, refused=None),
    Case("start-after-2200", "cover.effective_date", AFTER_LAST_DATE),
    Case("term-25-months", "cover.term_months", 25),
    Case("seller-id-with-nul", "seller_id", f"s-1{NUL}"),
]


async def quote_requests(client: Client, headers: Headers) -> list[Any]:
    # The largest page: the grouped tests below count every request stored so far.
    response = await client.get("/v1/quote-requests", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()
    return found


async def test_a_quote_requests_cover_out_of_bounds_is_refused_and_not_stored(
    client: Client, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    # Every case against one service and seller: a refused case stores no request, an
    # accepted one exactly one.
    failures = []
    for case in QUOTE_CASES:
        body = {"seller_id": "s-1", "cover": cover(la_today() + timedelta(days=1))}
        before = len(await quote_requests(client, seller_headers))
        response = await client.post(
            "/v1/quote-requests", json=case.applied_to(body), headers=seller_headers
        )
        after = len(await quote_requests(client, seller_headers))
        try:
            assert_outcome(case, response, accepted=(200, 202))
            assert after == before + (0 if case.refused else 1), f"{before} -> {after} requests"
        except AssertionError as failure:
            failures.append(f"{case.id}: {failure}")
    assert not failures, "\n".join(failures)


# --- POST /v1/sellers/{seller_id}/policies (certificates) ----------------------------------------

CERTIFICATE_CASES = [
    Case(
        "category-not-in-the-taxonomy",
        "covered_categories[0]",
        "electronics/powerbanks",
        "unknown_category",
    ),
    Case("category-with-nul", "covered_categories[0]", f"electronics{NUL}"),
    Case("categories-200", "covered_categories", ["electronics"] * 200, refused=None),
    Case("categories-201", "covered_categories", ["electronics"] * 201),
    Case("insurer-name-200-characters", "insurer_name", "H" * 200, refused=None),
    Case("insurer-name-201-characters", "insurer_name", "H" * 201),
    # (A megabyte is over the body limit: 413, tests/contract/test_request_bodies.py.)
    Case("insurer-name-100-kb", "insurer_name", "H" * 100_000),
    Case("policy-number-100-characters", "policy_number", "N" * 100, refused=None),
    Case("policy-number-101-characters", "policy_number", "N" * 101),
    Case("policy-number-with-nul", "policy_number", f"HM-1{NUL}"),
    Case("policy-number-on-two-lines", "policy_number", "HM-1\nHM-2"),
    Case("named-insured-300-characters", "named_insured", "V" * 300, refused=None),
    Case("named-insured-301-characters", "named_insured", "V" * 301),
    Case("insureds-100", "additional_insureds", ["Amazon.com Services LLC"] * 100, refused=None),
    Case("insureds-101", "additional_insureds", ["Amazon.com Services LLC"] * 101),
    Case("insureds-100000", "additional_insureds", ["A"] * 100_000),
    Case("insured-with-nul", "additional_insureds[0]", f"Amazon{NUL}"),
    Case("holder-on-several-lines", "certificate_holder", "Volt Goods LLC\n1 Main St\r\n", None),
    Case("holder-1000-characters", "certificate_holder", "h" * 1000, refused=None),
    Case("holder-1001-characters", "certificate_holder", "h" * 1001),
    Case("holder-with-nul", "certificate_holder", f"Volt{NUL}"),
    Case("territories-250", "territories", ["US"] * 250, refused=None),
    Case("territories-251", "territories", ["US"] * 251),
    Case("effective-first-date", "effective_date", FIRST_DATE, refused=None),
    Case("effective-before-1970", "effective_date", BEFORE_FIRST_DATE),
    Case("effective-year-1", "effective_date", "0001-01-01"),
    Case("expiry-last-date", "expiry_date", LAST_DATE, refused=None),
    Case("expiry-after-2200", "expiry_date", AFTER_LAST_DATE),
    Case("expiry-year-9999", "expiry_date", "9999-12-31"),
    Case("limit-nan", "each_occurrence.amount", "NaN"),
    Case("limit-negative", "general_aggregate.amount", "-1"),
    Case("limit-max", "each_occurrence.amount", MAX, refused=None),
    Case("limit-over-max", "each_occurrence.amount", OVER_MAX),
    Case("deductible-1e999999", "deductible.amount", "1e999999"),
    Case("deductible-in-euros", "deductible.currency", "EUR", "currency_mismatch"),
    Case("deductible-in-no-currency", "deductible.currency", "XXX"),
]


async def seller_policies(client: Client, headers: Headers) -> list[Any]:
    # The largest page: the certificates' test below lists every policy its cases stored.
    response = await client.get("/v1/sellers/s-1/policies", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()
    return found


async def test_a_certificate_out_of_bounds_is_refused_and_not_stored(
    client: Client, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    # Every case against one service and seller, each under a policy number of its own (the
    # cases on the policy number put their own), or an earlier case's policy would be
    # registered again (409). In the end the seller holds exactly the accepted cases'
    # policies, one each: a refused case stored nothing. (The policies are listed once at the
    # end: listing them around each case was most of this test's time.)
    failures = []
    accepted: dict[str, str] = {}  # policy number -> case
    refused: dict[str, str] = {}
    for number, case in enumerate(CERTIFICATE_CASES, start=1):
        body = case.applied_to(certificate(policy_number=f"HM-{number}"))
        (refused if case.refused else accepted)[body["policy_number"]] = case.id
        response = await client.post("/v1/sellers/s-1/policies", json=body, headers=seller_headers)
        try:
            assert_outcome(case, response, accepted=(201,))
        except AssertionError as failure:
            failures.append(f"{case.id}: {failure}")
    listed = await seller_policies(client, seller_headers)
    stored = Counter(policy["terms"]["policy_number"] for policy in listed)
    failures += [
        f"{accepted.get(n) or refused.get(n) or n}: stored {times} times"
        for n, times in stored.items()
        if times != 1 or n not in accepted
    ]
    failures += [f"{case}: not stored" for n, case in accepted.items() if n not in stored]
    assert not failures, "\n".join(failures)


async def test_an_unknown_category_on_a_certificate_comes_with_suggestions(
    client: Client, seller_headers: Headers, profiled_seller: dict[str, Any]
) -> None:
    body = certificate(covered_categories=["electronics", "electronics/powerbanks"])
    response = await client.post("/v1/sellers/s-1/policies", json=body, headers=seller_headers)

    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("covered_categories[1]", "unknown_category")
    assert "electronics/power-banks" in error["suggestions"]


# --- POST /v1/admin/policies/{policy_id}/events --------------------------------------------------

EVENT_CASES = [
    Case("effective-year-1", "effective_at", YEAR_1),
    Case("effective-year-9999", "effective_at", YEAR_9999),
    Case("effective-before-1970", "effective_at", BEFORE_FIRST_INSTANT),
    Case("effective-first-instant", "effective_at", FIRST_INSTANT, refused=None),
    Case("effective-last-instant", "effective_at", LAST_INSTANT, refused=None),
    Case("effective-after-2200", "effective_at", AFTER_LAST_INSTANT),
    Case("effective-naive", "effective_at", "2026-06-01T00:00:00"),
    Case("reason-1000-characters", "reason", "r" * 1000, refused=None),
    Case("reason-1001-characters", "reason", "r" * 1001),
    Case("reason-on-several-lines", "reason", "Insurer's letter\nof 2 June", refused=None),
    Case("reason-with-nul", "reason", f"letter{NUL}"),
    Case("evidence-500-characters", "evidence_reference", "e" * 500, refused=None),
    Case("evidence-501-characters", "evidence_reference", "e" * 501),
    Case("evidence-on-two-lines", "evidence_reference", "OPS-1\nOPS-2"),
]


def fact(kind: str = "cancelled", **fields: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "effective_at": "2026-06-01T00:00:00Z",
        "reason": "insurer's letter",
        "evidence_reference": "OPS-1432",
        **fields,
    }


def endorsement() -> dict[str, Any]:
    today = la_today()
    terms = us_terms(today - timedelta(days=30), today + timedelta(days=300))
    return fact("endorsed", policy=msgspec.to_builtins(terms))


@pytest.fixture
async def policy_id(database: Database, profiled_seller: dict[str, Any]) -> str:
    today = la_today()
    return await bind_policy(
        database, us_terms(today - timedelta(days=30), today + timedelta(days=300))
    )


async def event_count(client: Client, headers: Headers, policy_id: str) -> int:
    response = await client.get(f"/v1/policies/{policy_id}", headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["events"])


async def record(
    client: Client, headers: Headers, policy_id: str, body: dict[str, Any]
) -> tuple[Any, int]:
    """The answer to recording ``body``, and how many events the policy has after it."""
    response = await client.post(
        f"/v1/admin/policies/{policy_id}/events", json=body, headers=headers
    )
    return response, await event_count(client, headers, policy_id)


@pytest.mark.parametrize("case", EVENT_CASES, ids=ids(EVENT_CASES))
async def test_an_operators_fact_out_of_bounds_is_refused_and_not_recorded(
    client: Client, admin_headers: Headers, policy_id: str, case: Case
) -> None:
    before = await event_count(client, admin_headers, policy_id)
    response, after = await record(client, admin_headers, policy_id, case.applied_to(fact()))

    assert_outcome(case, response, accepted=(201,))
    assert after == (before if case.refused else before + 1)


TERMS = "policy"
TERMS_CASES = [
    Case("renewed-to-last-instant", "expires_at", LAST_INSTANT, refused=None),
    Case("renewed-past-2200", "expires_at", AFTER_LAST_INSTANT),
    Case("renewed-to-year-9999", "expires_at", YEAR_9999),
    Case("terms-limit-nan", f"{TERMS}.per_occurrence_limit.amount", "NaN"),
    Case("terms-limit-over-max", f"{TERMS}.per_occurrence_limit.amount", OVER_MAX),
    Case("terms-start-year-1", f"{TERMS}.effective_at", YEAR_1),
    Case("terms-end-after-2200", f"{TERMS}.expires_at", AFTER_LAST_INSTANT),
    Case("terms-insureds-101", f"{TERMS}.additional_insureds", ["Amazon"] * 101),
    Case("terms-number-with-nul", f"{TERMS}.policy_number", f"GL-100{NUL}"),
    Case("terms-within-bounds", f"{TERMS}.insurer_name", "Harbor Mutual", refused=None),
]


@pytest.mark.parametrize("case", TERMS_CASES, ids=ids(TERMS_CASES))
async def test_an_operators_renewal_or_endorsement_out_of_bounds_is_refused_and_not_recorded(
    client: Client, admin_headers: Headers, policy_id: str, case: Case
) -> None:
    body = fact("renewed", expires_at=LAST_INSTANT) if case.id.startswith("renewed") else None
    body = case.applied_to(body or endorsement())
    before = await event_count(client, admin_headers, policy_id)
    response, after = await record(client, admin_headers, policy_id, body)

    assert_outcome(case, response, accepted=(201,))
    assert after == (before if case.refused else before + 1)


# --- ids in paths and queries ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/policies/p%00", "policy_id"),
        ("/v1/admin/policies/p%00", "policy_id"),
        ("/v1/quote-requests/r%00", "request_id"),
        ("/v1/quote-requests/r%0A/attempts", "request_id"),
        ("/v1/quote-requests?seller_id=s-1%00", "seller_id"),
    ],
)
async def test_an_id_with_a_control_character_is_refused_before_any_lookup(
    client: Client, admin_headers: Headers, path: str, field: str
) -> None:
    # PostgreSQL refused the NUL in its lookup, with no field named; SQLite found nothing.
    response = await client.get(path, headers=admin_headers)

    assert (field, "invalid") in problems_of(response)
