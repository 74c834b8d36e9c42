"""Offers and policies against the US rule set: every gap code, at and just past its boundary."""

from datetime import date
from typing import Any

import pytest

from accelerator.compliance import (
    evaluate_cover,
    evaluate_submission,
    terms_of_offer,
    terms_of_policy,
)
from schemas import AdditionalInsured, Money
from tests.compliance.factories import (
    AI_WORDING,
    OPERATOR,
    SELLER,
    make_offer,
    make_terms,
    us_rules,
    usd,
)


def offer_gaps(
    categories: tuple[str, ...] = ("electronics/power-banks",),
    legal_name: str | None = SELLER,
    **changes: Any,
) -> list[str]:
    terms = terms_of_offer(make_offer(**changes), named_insured=SELLER)
    return [
        gap.code
        for gap in evaluate_cover(terms, us_rules(), categories=categories, legal_name=legal_name)
    ]


def policy_gaps(
    categories: tuple[str, ...] = ("electronics/power-banks",),
    legal_name: str | None = SELLER,
    **changes: Any,
) -> list[str]:
    terms = terms_of_policy(make_terms(**changes))
    return [
        gap.code
        for gap in evaluate_cover(terms, us_rules(), categories=categories, legal_name=legal_name)
    ]


def test_the_default_offer_and_policy_meet_every_us_rule() -> None:
    assert offer_gaps() == []
    assert policy_gaps() == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"deductible": usd("10000")}, []),
        ({"deductible": usd("10000.01")}, ["deductible_above_maximum"]),
        ({"deductible": usd("25000")}, ["deductible_above_maximum"]),
        ({"per_occurrence_limit": usd("1000000")}, []),
        ({"per_occurrence_limit": usd("999999.99")}, ["limit_below_requirement"]),
        ({"aggregate_limit": usd("1000000")}, []),
        ({"aggregate_limit": usd("999999.99")}, ["limit_below_requirement"]),
        (
            {"products_completed_operations_aggregate": usd("999999.99")},
            ["limit_below_requirement"],
        ),
        ({"insurer_rating": "A-"}, []),
        ({"insurer_rating": "B++"}, ["insurer_rating_below_minimum"]),
        ({"cancellation_notice_days": 30}, []),
        ({"cancellation_notice_days": 29}, ["notice_period_too_short"]),
        ({"territories": ["US", "CA"]}, []),
        ({"territories": ["CA"]}, ["territory_not_covered"]),
        ({"covered_categories": ["toys"]}, ["category_not_covered"]),
        ({"covered_categories": ["electronics/power-banks"]}, []),
        ({"covered_categories": ["electronics-accessories"]}, ["category_not_covered"]),
        ({"policy_form": "claims_made"}, ["claims_made_not_permitted"]),
        ({"coverage_type": "umbrella"}, []),
        ({"deductible": Money(amount=1000, currency="EUR")}, ["currency_mismatch"]),
    ],
)
def test_offer_gaps_at_each_boundary(changes: dict[str, Any], expected: list[str]) -> None:
    assert offer_gaps(**changes) == expected


@pytest.mark.parametrize(
    "additional_insured",
    [
        AdditionalInsured(name=OPERATOR, wording=AI_WORDING),
        AdditionalInsured(name=OPERATOR, wording=f"{OPERATOR} {AI_WORDING}"),
        AdditionalInsured(
            name="AMAZON.COM SERVICES, LLC", wording="And its Affiliates and Assignees."
        ),
        AdditionalInsured(
            name="amazon.com  services llc", wording=f"{AI_WORDING}, 410 Terry Ave N"
        ),
    ],
)
def test_additional_insured_matches_whatever_the_case_spacing_and_punctuation(
    additional_insured: AdditionalInsured,
) -> None:
    assert offer_gaps(additional_insured=additional_insured) == []


@pytest.mark.parametrize(
    ("changes", "expected_phrase"),
    [
        ({"additional_insured": None}, "no additional insured is named"),
        (
            {"additional_insured": None, "certificate_holder_only": True},
            "only as certificate holder",
        ),
        (
            {"additional_insured": AdditionalInsured(name="Amazon.com, Inc.", wording=AI_WORDING)},
            "Amazon.com, Inc.",
        ),
        (
            {"additional_insured": AdditionalInsured(name=OPERATOR, wording="")},
            "additional insured is",
        ),
        (
            {"additional_insured": AdditionalInsured(name=OPERATOR + "x", wording=AI_WORDING)},
            "additional insured is",
        ),
    ],
)
def test_additional_insured_is_missing_without_the_operator_and_the_wording(
    changes: dict[str, Any], expected_phrase: str
) -> None:
    gaps = evaluate_cover(
        terms_of_offer(make_offer(**changes)),
        us_rules(),
        categories=["electronics"],
        legal_name=None,
    )
    assert [gap.code for gap in gaps] == ["additional_insured_missing"]
    assert expected_phrase in gaps[0].message


def test_a_certificate_holder_mention_alone_does_not_count_even_with_the_right_name() -> None:
    terms = terms_of_policy(make_terms(additional_insureds=[OPERATOR]))
    gaps = evaluate_cover(terms, us_rules(), categories=["electronics"], legal_name=None)
    assert [gap.code for gap in gaps] == ["additional_insured_missing"]


def test_the_2018_rule_set_wants_amazon_com_inc_as_additional_insured() -> None:
    terms = terms_of_policy(make_terms(additional_insureds=[f"Amazon.com, Inc. {AI_WORDING}"]))
    assert (
        evaluate_cover(
            terms, us_rules(date(2020, 1, 1)), categories=["electronics"], legal_name=None
        )
        == []
    )
    gaps = evaluate_cover(terms, us_rules(), categories=["electronics"], legal_name=None)
    assert [gap.code for gap in gaps] == ["additional_insured_missing"]


@pytest.mark.parametrize(
    ("named_insured", "legal_name", "matches"),
    [
        ("Volt Goods LLC", "Volt Goods LLC", True),
        ("VOLT GOODS, L.L.C.", "Volt Goods LLC", True),
        ("Volt Goods", "Volt Goods Inc.", True),
        ("Volt Goods Co., Ltd.", "volt goods", True),
        ("Volt-Goods GmbH", "Volt Goods", True),
        ("Volt Goods Trading LLC", "Volt Goods LLC", False),
        ("Watt Goods LLC", "Volt Goods LLC", False),
    ],
)
def test_named_insured_matches_the_legal_name_ignoring_case_punctuation_and_legal_form(
    named_insured: str, legal_name: str, matches: bool
) -> None:
    expected = [] if matches else ["named_insured_mismatch"]
    assert policy_gaps(named_insured=named_insured, legal_name=legal_name) == expected


def test_named_insured_is_not_checked_without_a_legal_name() -> None:
    assert policy_gaps(named_insured="Someone Else Ltd", legal_name=None) == []


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (("health/dietary-supplements",), []),
        (("health/dietary-supplements/protein",), []),
        (("health/dietary-supplements", "electronics"), ["claims_made_not_permitted"]),
        (("electronics",), ["claims_made_not_permitted"]),
        ((), ["claims_made_not_permitted"]),
    ],
)
def test_claims_made_is_accepted_only_when_every_category_allows_it(
    categories: tuple[str, ...], expected: list[str]
) -> None:
    covered = ["health", "electronics"]
    assert (
        policy_gaps(categories=categories, policy_form="claims_made", covered_categories=covered)
        == expected
    )


def test_a_policy_category_covers_its_children_but_not_its_parent() -> None:
    assert policy_gaps(categories=("electronics/power-banks/usb-c",)) == []
    assert policy_gaps(
        categories=("electronics",), covered_categories=["electronics/power-banks"]
    ) == ["category_not_covered"]


def test_every_category_the_seller_lists_must_be_covered() -> None:
    assert policy_gaps(categories=("electronics/power-banks", "toys")) == ["category_not_covered"]


def test_a_policy_with_every_gap_lists_each_code_once_in_a_stable_order() -> None:
    codes = policy_gaps(
        categories=("toys",),
        legal_name="Other Seller Inc",
        policy_form="claims_made",
        per_occurrence_limit=usd(500_000),
        aggregate_limit=usd(500_000),
        deductible=usd(50_000),
        additional_insureds=[],
        insurer_rating="B",
        territories=["MX"],
        cancellation_notice_days=10,
    )
    assert codes == [
        "claims_made_not_permitted",
        "limit_below_requirement",
        "deductible_above_maximum",
        "additional_insured_missing",
        "named_insured_mismatch",
        "insurer_rating_below_minimum",
        "category_not_covered",
        "territory_not_covered",
        "notice_period_too_short",
    ]


def test_messages_are_sentences_with_the_figures() -> None:
    terms = terms_of_offer(
        make_offer(deductible=usd(25_000), per_occurrence_limit=usd("999999.99"))
    )
    messages = {
        g.code: g.message
        for g in evaluate_cover(terms, us_rules(), categories=["electronics"], legal_name=None)
    }
    assert messages["deductible_above_maximum"] == (
        "Deductible 25,000 USD is above the marketplace maximum of 10,000 USD."
    )
    assert messages["limit_below_requirement"] == (
        "Per-occurrence limit 999,999.99 USD is below the marketplace minimum of 1,000,000 USD."
    )


def test_gaps_name_the_rule_they_break() -> None:
    terms = terms_of_offer(make_offer(deductible=usd(25_000), insurer_rating="B"))
    gaps = evaluate_cover(terms, us_rules(), categories=["electronics"], legal_name=None)
    assert [(g.code, g.rule) for g in gaps] == [
        ("deductible_above_maximum", "deductible"),
        ("insurer_rating_below_minimum", "insurer_rating"),
    ]


def test_amounts_in_another_currency_are_flagged_not_compared() -> None:
    eur = Money(amount=1, currency="EUR")
    gaps = evaluate_cover(
        terms_of_offer(make_offer(per_occurrence_limit=eur, total=eur)),
        us_rules(),
        categories=[],
        legal_name=None,
    )
    assert [g.code for g in gaps] == ["currency_mismatch"]
    assert "per-occurrence limit in EUR and total annual cost in EUR" in gaps[0].message


@pytest.mark.parametrize(
    ("submitted_on", "expected"),
    [(date(2026, 11, 2), []), (date(2026, 11, 3), ["remaining_term_too_short"])],
)
def test_a_submitted_policy_needs_sixty_days_left(submitted_on: date, expected: list[str]) -> None:
    # make_terms() expires 2027-01-01 00:01 Los Angeles time: 60 days after 2026-11-02.
    gaps = evaluate_submission(terms_of_policy(make_terms()), us_rules(), submitted_on)
    assert [g.code for g in gaps] == expected


def test_remaining_term_reads_the_expiry_in_the_marketplace_time_zone() -> None:
    # 2027-01-01 00:01 in Los Angeles is 08:01 UTC; in Tokyo the local date would differ.
    gaps = evaluate_submission(terms_of_policy(make_terms()), us_rules(), date(2026, 12, 31))
    assert "has 1 day left on 2026-12-31 (expires 2027-01-01)" in gaps[0].message
