"""The claims decision against the US rule set (DESIGN §3.3)."""

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelerator.coverage import PolicyEvent, decide, derive_state, rule_set_for_incident
from accelerator.rulesets import load_rulesets
from schemas import CoverageCheckRequest, CoverageDecision, Money
from tests.compliance.factories import (
    SELLER,
    change,
    issued,
    make_claim,
    make_terms,
    us_rules,
    usd,
    utc,
)

EVALUATED_AT = utc(2026, 4, 1)

Policy = tuple[str, str, list[PolicyEvent]]


def policy(policy_id: str = "pol_1", *events: PolicyEvent, source: str = "bound") -> Policy:
    return (policy_id, source, list(events) or [issued()])


def check(
    claim: CoverageCheckRequest, *policies: Policy, legal_name: str | None = SELLER
) -> CoverageDecision:
    """Derive each policy as known at the claim's known_at, then decide."""
    candidates = [
        (pid, source, derive_state(events, known_at=claim.known_at))
        for pid, source, events in policies
    ]
    version = rule_set_for_incident(load_rulesets(), claim.marketplace, claim.incident_at)
    return decide(claim, candidates, version, legal_name=legal_name, evaluated_at=EVALUATED_AT)


def codes(decision: CoverageDecision) -> list[str]:
    return [reason.code for reason in decision.reasons]


def test_a_small_claim_under_a_qualifying_policy_is_exempt() -> None:
    decision = check(make_claim(), policy())
    assert (decision.decision, decision.exempt_from_recovery, decision.covered) == (
        "exempt",
        True,
        True,
    )
    assert decision.reasons == []
    assert decision.policy is not None
    assert decision.policy.number == "GL-100"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("1000", "exempt"), ("1000.00", "exempt"), ("1000.01", "tender_to_insurer")],
)
def test_exactly_the_small_claim_threshold_is_exempt_and_a_cent_more_is_tendered(
    amount: str, expected: str
) -> None:
    decision = check(make_claim(claim_amount=usd(amount)), policy())
    assert decision.decision == expected


def test_a_tender_names_the_policy_and_insurer_and_does_not_exempt() -> None:
    decision = check(make_claim(claim_amount=usd(50_000)), policy())
    assert decision.decision == "tender_to_insurer"
    assert not decision.exempt_from_recovery
    assert decision.covered
    assert decision.policy is not None
    assert (decision.policy.id, decision.policy.insurer, decision.policy.number) == (
        "pol_1",
        "Harbor Mutual",
        "GL-100",
    )


def test_a_seller_without_policies_is_not_exempt() -> None:
    decision = check(make_claim())
    assert (decision.decision, codes(decision), decision.policy) == (
        "not_exempt",
        ["no_policy"],
        None,
    )


def test_the_decision_records_the_rule_set_and_the_instants() -> None:
    claim = make_claim(known_at=utc(2026, 3, 30))
    decision = check(claim, policy())
    assert (decision.rule_set.marketplace, decision.rule_set.version) == ("US", "us-2021-09-01")
    assert (decision.incident_at, decision.known_at, decision.evaluated_at) == (
        claim.incident_at,
        claim.known_at,
        EVALUATED_AT,
    )


def test_the_rule_set_is_the_one_in_force_on_the_local_date_of_the_incident() -> None:
    # 2021-09-01 03:00 UTC is still 2021-08-31 in Los Angeles: the 2018 version applies.
    book = load_rulesets()
    assert rule_set_for_incident(book, "US", utc(2021, 9, 1, 3)).version == "us-2018"
    assert rule_set_for_incident(book, "US", utc(2021, 9, 1, 8)).version == "us-2021-09-01"


def test_deciding_with_a_version_not_in_force_at_the_incident_is_refused() -> None:
    with pytest.raises(ValueError, match="not in force"):
        decide(
            make_claim(), [], us_rules(date(2020, 1, 1)), legal_name=None, evaluated_at=EVALUATED_AT
        )


@pytest.mark.parametrize(
    ("minutes", "expected", "reasons"),
    [
        (-1, "exempt", []),
        (0, "not_exempt", ["policy_cancelled"]),
        (1, "not_exempt", ["policy_cancelled"]),
    ],
)
def test_an_incident_one_minute_before_a_cancellation_is_exempt_and_at_or_after_it_is_not(
    minutes: int, expected: str, reasons: list[str]
) -> None:
    cancelled_at = utc(2026, 3, 1, 12)
    claim = make_claim(incident_at=cancelled_at + timedelta(minutes=minutes))
    decision = check(claim, policy("pol_1", issued(), change("cancelled", cancelled_at)))
    assert (decision.decision, codes(decision)) == (expected, reasons)


@pytest.mark.parametrize(
    ("incident", "expected"),
    [
        (utc(2027, 1, 1, 8, 0), "exempt"),
        (utc(2027, 1, 1, 8, 1), "not_exempt"),
    ],  # 00:00 / 00:01 in LA
)
def test_a_policy_expiring_today_covers_until_one_minute_past_midnight_local_time(
    incident: datetime, expected: str
) -> None:
    assert check(make_claim(incident_at=incident), policy()).decision == expected


def test_a_policy_starting_tomorrow_does_not_cover_today() -> None:
    decision = check(make_claim(incident_at=utc(2025, 12, 31, 20)), policy())
    assert codes(decision) == ["policy_not_in_force"]
    assert decision.policy is not None
    assert decision.policy.id == "pol_1"


def test_a_back_dated_cancellation_recorded_after_a_decision_replays_both_ways() -> None:
    backdated = change("cancelled", utc(2026, 2, 15), recorded_at=utc(2026, 3, 20))
    history = policy("pol_1", issued(), backdated)
    before = check(make_claim(known_at=utc(2026, 3, 10)), history)
    after = check(make_claim(known_at=utc(2026, 3, 25)), history)
    now = check(make_claim(), history)
    assert (before.decision, codes(before)) == ("exempt", [])
    assert (after.decision, codes(after)) == ("not_exempt", ["policy_cancelled"])
    assert (now.decision, codes(now)) == ("not_exempt", ["policy_cancelled"])


def test_known_at_before_the_policy_was_recorded_means_no_policy() -> None:
    decision = check(make_claim(known_at=utc(2025, 12, 1)), policy())
    assert codes(decision) == ["no_policy"]


def test_with_two_policies_the_one_covering_the_claims_category_decides() -> None:
    electronics = policy("pol_a", issued(make_terms(policy_number="GL-A")))
    toys = policy(
        "pol_b",
        issued(make_terms(policy_number="GL-B", covered_categories=["toys"]), event_id="e-b"),
    )
    assert (
        check(make_claim(product_category="toys/plush"), electronics, toys).policy.number == "GL-B"
    )  # type: ignore[union-attr]
    assert check(make_claim(), electronics, toys).policy.number == "GL-A"  # type: ignore[union-attr]
    decision = check(make_claim(product_category="garden"), electronics, toys)
    assert codes(decision) == ["category_not_covered"]


def test_among_qualifying_policies_the_highest_per_occurrence_limit_wins() -> None:
    small = policy("pol_a", issued(make_terms(policy_number="GL-A")))
    large = policy(
        "pol_b", issued(make_terms(policy_number="GL-B", per_occurrence_limit=usd(2_000_000)))
    )
    assert check(make_claim(claim_amount=usd(5_000)), small, large).policy.number == "GL-B"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("health/dietary-supplements", "exempt"),
        ("health/dietary-supplements/protein", "exempt"),
        ("health/vitamins", "not_exempt"),
    ],
)
def test_claims_made_policies_count_only_for_categories_the_rule_set_allows(
    category: str, expected: str
) -> None:
    terms = make_terms(policy_form="claims_made", covered_categories=["health"])
    decision = check(make_claim(product_category=category), policy("pol_1", issued(terms)))
    assert decision.decision == expected
    if expected == "not_exempt":
        assert codes(decision) == ["claims_made_not_permitted"]


@pytest.mark.parametrize(
    ("source", "events", "expected"),
    [
        ("submitted", [], ["policy_unverified"]),
        ("submitted", [change("verified", utc(2026, 1, 10))], []),
        ("bound", [], []),
        (
            "bound",
            [change("verification_rejected", utc(2026, 1, 10), reason="wrong insurer")],
            ["policy_unverified"],
        ),
    ],
)
def test_a_submitted_policy_counts_only_once_verified(
    source: str, events: list[PolicyEvent], expected: list[str]
) -> None:
    decision = check(make_claim(), policy("pol_1", issued(), *events, source=source))
    assert codes(decision) == expected


def test_a_rejected_verification_gives_its_reason() -> None:
    rejected = change("verification_rejected", utc(2026, 1, 10), reason="certificate forged")
    decision = check(make_claim(), policy("pol_1", issued(), rejected, source="submitted"))
    assert "certificate forged" in decision.reasons[0].message


def test_without_a_qualifying_policy_every_reason_is_reported_and_the_closest_named() -> None:
    near = policy("pol_z", issued(make_terms(policy_number="GL-NEAR", deductible=usd(20_000))))
    far = policy(
        "pol_a",
        issued(
            make_terms(
                policy_number="GL-FAR",
                deductible=usd(30_000),
                insurer_rating="B",
                territories=["CA"],
            ),
            event_id="e-far",
        ),
        change("cancelled", utc(2026, 2, 1)),
    )
    decision = check(make_claim(), far, near)
    assert codes(decision) == [
        "policy_cancelled",
        "territory_not_covered",
        "deductible_above_maximum",
        "insurer_rating_below_minimum",
    ]
    assert decision.policy is not None
    assert decision.policy.number == "GL-NEAR"
    deductible = next(r for r in decision.reasons if r.code == "deductible_above_maximum")
    assert deductible.message.startswith("Policy GL-NEAR (Harbor Mutual): Deductible 20,000 USD")


def test_policy_rule_gaps_become_reasons() -> None:
    terms = make_terms(
        per_occurrence_limit=usd("999999.99"),
        additional_insureds=["Amazon.com Services LLC"],
        named_insured="Someone Else LLC",
    )
    decision = check(make_claim(), policy("pol_1", issued(terms)))
    assert codes(decision) == [
        "limit_below_requirement",
        "additional_insured_missing",
        "named_insured_mismatch",
    ]


def test_a_claim_in_another_currency_is_never_exempt() -> None:
    decision = check(make_claim(claim_amount=Money(amount=Decimal(10), currency="EUR")), policy())
    assert (decision.decision, decision.covered, codes(decision)) == (
        "not_exempt",
        True,
        ["currency_mismatch"],
    )


def test_a_policy_in_another_currency_does_not_qualify() -> None:
    eur = Money(amount=Decimal(2_000_000), currency="EUR")
    decision = check(make_claim(), policy("pol_1", issued(make_terms(per_occurrence_limit=eur))))
    assert codes(decision) == ["currency_mismatch"]


HISTORIES: list[Policy] = [
    policy(
        "pol_1",
        issued(),
        change("cancelled", utc(2026, 3, 1, 12), recorded_at=utc(2026, 3, 15)),
        change("reinstated", utc(2026, 3, 3), recorded_at=utc(2026, 3, 20)),
        change("endorsed", utc(2026, 5, 1), terms=make_terms(deductible=usd(12_000))),
        change("renewed", make_terms().expires_at, expires_at=utc(2028, 1, 1, 8, 1)),
    ),
    policy(
        "pol_2",
        issued(make_terms(policy_number="GL-2", covered_categories=["toys"]), event_id="e-2"),
        source="submitted",
    ),
]
CLAIMS = [
    make_claim(
        incident_at=utc(2026, 3, 2),
        known_at=known,
        claim_amount=usd(amount),
        product_category=category,
    )
    for known in (None, utc(2026, 3, 10), utc(2026, 3, 16))
    for amount in ("1000", "1000.01")
    for category in ("electronics", "toys")
] + [make_claim(incident_at=utc(2026, 6, 1)), make_claim(incident_at=utc(2027, 6, 1))]


@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_order_of_events_and_policies_gives_the_same_decisions(seed: int) -> None:
    shuffler = random.Random(seed)
    shuffled: list[Policy] = []
    for pid, source, events in HISTORIES:
        events = [*events, shuffler.choice(events)]  # a redelivered event, too
        shuffler.shuffle(events)
        shuffled.append((pid, source, events))
    shuffler.shuffle(shuffled)
    for claim in CLAIMS:
        assert check(claim, *shuffled) == check(claim, *HISTORIES)
