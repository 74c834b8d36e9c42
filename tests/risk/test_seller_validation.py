"""Cross-field validation of seller facts: every problem, with its field path and code."""

from datetime import date
from decimal import Decimal

import msgspec
import pytest

from accelerator.risk import FieldError, Taxonomy, validate_seller_facts
from accelerator.rulesets import RuleBook
from schemas import ClaimsHistory, Money, SellerFacts
from tests.risk.conftest import FactsFactory

TODAY = date(2025, 6, 10)


def problems(facts: SellerFacts, rulebook: RuleBook, taxonomy: Taxonomy) -> list[FieldError]:
    return validate_seller_facts(facts, TODAY, rulebook, taxonomy)


def codes(errors: list[FieldError]) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in errors}


def test_reference_seller_is_valid(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    assert problems(make_facts(), rulebook, taxonomy) == []


def test_shares_within_a_thousandth_of_one_are_accepted(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    facts = make_facts(
        categories={"electronics/power-banks": "0.6", "electronics/cables": "0.3995"}
    )
    assert problems(facts, rulebook, taxonomy) == []


def test_shares_not_summing_to_one_are_rejected(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    facts = make_facts(categories={"electronics/power-banks": "0.6", "electronics/cables": "0.398"})
    assert codes(problems(facts, rulebook, taxonomy)) == {
        ("categories", "shares_do_not_sum_to_one")
    }


def test_duplicate_and_future_months_are_rejected_at_their_index(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    facts = make_facts(sales={"2025-04": "1", "2025-05": "2", "2025-07": "3"})
    facts = msgspec.structs.replace(
        facts, monthly_sales=[*facts.monthly_sales, facts.monthly_sales[1]]
    )
    assert codes(problems(facts, rulebook, taxonomy)) == {
        ("monthly_sales[2].month", "future_month"),
        ("monthly_sales[3].month", "duplicate_month"),
    }


def test_the_current_month_is_not_in_the_future(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    assert problems(make_facts(sales={"2025-06": "100"}), rulebook, taxonomy) == []


@pytest.mark.parametrize("amount", ["-1", "NaN", "-Infinity", "1e999999"])
def test_negative_and_non_numeric_sales_cannot_even_be_stated(
    make_facts: FactsFactory, amount: str
) -> None:
    # Their bounds are the amount's own (schemas.Money), checked while decoding, so these
    # cross-field checks never see them.
    body = msgspec.to_builtins(make_facts())
    body["monthly_sales"][0]["gross_sales"]["amount"] = amount
    with pytest.raises(msgspec.ValidationError) as refused:
        msgspec.convert(body, SellerFacts)
    assert str(refused.value).startswith("`amount` must")
    assert str(refused.value).endswith("- at `$.monthly_sales[0].gross_sales`")


def test_unknown_marketplace_is_rejected(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    errors = problems(make_facts(marketplace="XX"), rulebook, taxonomy)
    assert codes(errors) == {("marketplace", "unknown_marketplace")}
    assert "US" in errors[0].message


def test_unknown_category_is_rejected_with_suggestions(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    facts = make_facts(categories={"electronics/cables": "0.5", "electronics/powerbanks": "0.5"})
    [error] = problems(facts, rulebook, taxonomy)
    assert (error.field, error.code) == ("categories[1].category", "unknown_category")
    assert "electronics/power-banks" in error.suggestions
    assert "Did you mean" in error.message


def test_duplicate_category_is_rejected(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    facts = make_facts(categories={"electronics/power-banks": "0.5"})
    facts = msgspec.structs.replace(facts, categories=facts.categories * 2)
    assert codes(problems(facts, rulebook, taxonomy)) == {
        ("categories[1].category", "duplicate_category")
    }


def test_share_outside_zero_to_one_is_rejected(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    facts = make_facts(categories={"electronics/power-banks": "1.5", "electronics/cables": "-0.5"})
    assert codes(problems(facts, rulebook, taxonomy)) >= {
        ("categories[0].revenue_share", "share_out_of_range"),
        ("categories[1].revenue_share", "share_out_of_range"),
    }


def test_currency_mismatch_is_rejected_for_sales_and_claims(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    facts = make_facts(marketplace="UK")
    assert codes(problems(facts, rulebook, taxonomy)) == {
        ("monthly_sales[0].gross_sales.currency", "currency_mismatch"),
        ("claims_last_5_years.amount_paid.currency", "currency_mismatch"),
    }


def test_claims_paid_without_any_claim_is_rejected(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    claims = ClaimsHistory(count=0, amount_paid=Money(amount=Decimal(50), currency="USD"))
    facts = make_facts(claims_last_5_years=claims)
    assert codes(problems(facts, rulebook, taxonomy)) == {
        ("claims_last_5_years.amount_paid", "claims_amount_without_count")
    }


def test_marketplace_with_no_version_in_force_is_rejected(
    make_facts: FactsFactory, rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    errors = validate_seller_facts(make_facts(sales={}), date(2010, 1, 1), rulebook, taxonomy)
    assert codes(errors) == {("marketplace", "no_rule_set_in_force")}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"legal_name": "x", "surprise": 1}', "unknown field `surprise`"),
        (b'{"monthly_sales": [{"month": "2025-13"}]}', "$.monthly_sales[0].month"),
        (b'{"marketplace": "usa"}', "$.marketplace"),
        (b'{"business_model": "dropshipper"}', "$.business_model"),
        (b'{"manufacturing_countries": ["China"]}', "$.manufacturing_countries[0]"),
    ],
)
def test_wire_type_rejects_malformed_fields(body: bytes, fragment: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(body, type=SellerFacts)
    assert fragment in str(caught.value)
