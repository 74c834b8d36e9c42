"""The profile form: what sellers type becomes seller facts, and every problem finds its field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from accelerator.errors import InvalidInput
from accelerator.infra.errors import problem_for
from accelerator.risk import Taxonomy, load_taxonomy
from accelerator.rulesets import RuleBook, load_rulesets
from accelerator.sellers.service import SellerService
from accelerator.web.forms import (
    FormLayout,
    ProfileForm,
    form_from_facts,
    place_problems,
    read_profile_form,
)
from accelerator.web.wording import long_date
from schemas import SellerFacts
from tests.risk.conftest import power_bank_seller

TODAY = date(2026, 11, 26)


@pytest.fixture
def rulebook() -> RuleBook:
    return load_rulesets()


@pytest.fixture
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def posted(**changes: str) -> dict[str, str]:
    return {
        "legal_name": "Volt Goods LLC",
        "marketplace": "US",
        "sales_2026-10": "14000",
        "category_0": "electronics/power-banks",
        "share_0": "100",
        "business_model": "importer",
        "fulfilment": "marketplace_fulfilled",
        "years_in_business": "2",
        "claims_count": "0",
        "claims_paid": "0",
        "recalls": "0",
        "manufacturing_countries": "CN",
        **changes,
    }


def read(
    rulebook: RuleBook,
    taxonomy: Taxonomy,
    form: dict[str, str],
    previous: SellerFacts | None = None,
) -> tuple[ProfileForm, SellerFacts | None, FormLayout]:
    return read_profile_form(form, TODAY, rulebook, [c.path for c in taxonomy], previous)


def test_amounts_may_be_typed_with_thousands_separators_and_a_currency_symbol(
    rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    _, facts, _ = read(rulebook, taxonomy, posted(**{"sales_2026-10": "$14,000.50"}))
    assert facts is not None
    [month] = facts.monthly_sales
    assert (month.month, month.gross_sales.amount, month.gross_sales.currency) == (
        "2026-10",
        Decimal("14000.50"),
        "USD",
    )


def test_shares_are_percentages_and_a_single_category_may_leave_its_share_empty(
    rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    _, facts, _ = read(rulebook, taxonomy, posted(share_0=""))
    assert facts is not None
    assert [(c.category, c.revenue_share) for c in facts.categories] == [
        ("electronics/power-banks", Decimal(1))
    ]
    _, split, _ = read(
        rulebook, taxonomy, posted(share_0="75%", category_2="toys/plush", share_2="25")
    )
    assert split is not None
    assert [c.revenue_share for c in split.categories] == [Decimal("0.75"), Decimal("0.25")]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"legal_name": " "}, "legal_name", "legal name"),
        ({"sales_2026-09": "lots"}, "sales_2026-09", "September 2026 as a number"),
        ({"sales_2026-09": "-5"}, "sales_2026-09", "cannot be negative"),
        ({"years_in_business": "2.5"}, "years_in_business", "whole number"),
        ({"category_0": "", "share_0": ""}, "categories", "at least one"),
        ({"share_0": "120"}, "share_0", "from 0 to 100"),
        ({"category_1": "electronics/power-bank", "share_1": "0"}, "category_1", "from the list"),
        ({"manufacturing_countries": "CN, China"}, "manufacturing_countries", "not China"),
        ({"marketplace": "XX"}, "marketplace", "Choose the marketplace"),
    ],
)
def test_a_mistake_is_reported_on_its_own_field(
    rulebook: RuleBook, taxonomy: Taxonomy, changes: dict[str, str], field: str, words: str
) -> None:
    form, facts, _ = read(rulebook, taxonomy, posted(**changes))
    assert facts is None
    assert set(form.errors) == {field}
    assert words in form.errors[field][0]
    # What was typed is shown again.
    for name, value in changes.items():
        assert form.values[name] == value.strip()


def test_the_risk_services_problems_land_on_the_form_fields_in_percent(
    rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    form, facts, layout = read(
        rulebook,
        taxonomy,
        posted(share_0="60", category_3="toys/plush", share_3="30", **{"sales_2026-06": "5"}),
    )
    assert facts is not None
    sellers = SellerService(db=None, rulebook=rulebook, taxonomy=taxonomy)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as raised:
        sellers.profile_for(facts, TODAY)
    place_problems(form, problem_for(raised.value).errors or [], layout)
    assert form.errors == {"categories": ["The shares of your categories must add up to 100%."]}


def test_months_before_the_form_are_kept_from_the_last_profile_in_the_same_marketplace(
    rulebook: RuleBook, taxonomy: Taxonomy
) -> None:
    earlier = power_bank_seller(sales={"2025-01": "30000.00", "2026-10": "9000.00"})
    _, facts, _ = read(rulebook, taxonomy, posted(), previous=earlier)
    assert facts is not None
    assert {m.month: m.gross_sales.amount for m in facts.monthly_sales} == {
        "2026-10": Decimal("14000"),
        "2025-01": Decimal("30000.00"),
    }
    # In another marketplace's currency the old figures would be wrong: they are not carried.
    moved = posted(marketplace="CA")
    _, elsewhere, _ = read(rulebook, taxonomy, moved, previous=earlier)
    assert elsewhere is not None
    assert [m.month for m in elsewhere.monthly_sales] == ["2026-10"]
    assert elsewhere.monthly_sales[0].gross_sales.currency == "CAD"


def test_a_stored_profile_fills_the_form_back_in(rulebook: RuleBook, taxonomy: Taxonomy) -> None:
    facts = power_bank_seller(
        categories={"electronics/power-banks": "0.8", "electronics/cables": "0.2"},
        manufacturing_countries=["CN", "VN"],
    )
    form = form_from_facts(facts)
    assert form.values["share_0"] == "80"
    assert form.values["share_1"] == "20"
    assert form.values["manufacturing_countries"] == "CN, VN"
    _, again, _ = read(rulebook, taxonomy, {**form.values}, previous=facts)
    assert again is not None
    assert again.categories == facts.categories
    assert again.monthly_sales == facts.monthly_sales


def test_an_instant_is_shown_as_the_date_it_is_in_the_marketplace() -> None:
    starts = datetime(2026, 5, 31, 22, 1, tzinfo=UTC)  # 00:01 on 1 June in Berlin
    assert long_date(starts, "Europe/Berlin") == "1 June 2026"
    assert long_date(starts, "America/Los_Angeles") == "31 May 2026"
