"""Table tests: each marketplace and rule version, at and around its boundaries."""

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from accelerator.rulesets import CurrencyMismatchError, Month, RuleBook, evaluate_requirement
from accelerator.rulesets.requirements import RequirementDecision
from schemas import Money

Sales = Callable[[str, dict[str, str]], list[tuple[Month, Money]]]


def decide(
    rulebook: RuleBook,
    sales: Sales,
    marketplace: str,
    currency: str,
    amounts: dict[str, str],
    as_of: date,
) -> RequirementDecision:
    return evaluate_requirement(sales(currency, amounts), marketplace, as_of, rulebook)


# marketplace, currency, monthly amounts, as_of, required, triggering month, comply_by, version
CASES = [
    # US, one-month rule from 2021-09-01: strictly above 10,000 USD.
    ("US", "USD", {"2025-05": "10000.00"}, date(2025, 6, 15), False, None, None, "us-2021-09-01"),
    (
        "US",
        "USD",
        {"2025-05": "10000.01"},
        date(2025, 6, 15),
        True,
        "2025-05",
        date(2025, 6, 30),
        "us-2021-09-01",
    ),
    (
        "US",
        "USD",
        {"2021-09": "12000"},
        date(2021, 10, 1),
        True,
        "2021-09",
        date(2021, 10, 30),
        "us-2021-09-01",
    ),
    # US, three-month rule before 2021-09-01.
    (
        "US",
        "USD",
        {"2021-06": "11000", "2021-07": "11000", "2021-08": "11000"},
        date(2021, 8, 31),
        True,
        "2021-08",
        date(2021, 9, 30),
        "us-2018",
    ),
    (
        "US",
        "USD",
        {"2021-06": "11000", "2021-07": "10000", "2021-08": "11000"},
        date(2021, 8, 31),
        False,
        None,
        None,
        "us-2018",
    ),
    # a gap month breaks the run
    (
        "US",
        "USD",
        {"2020-01": "20000", "2020-02": "20000", "2020-04": "20000", "2020-05": "20000"},
        date(2020, 7, 1),
        False,
        None,
        None,
        "us-2018",
    ),
    (
        "US",
        "USD",
        {
            "2020-01": "20000",
            "2020-02": "20000",
            "2020-04": "20000",
            "2020-05": "20000",
            "2020-06": "20000",
        },
        date(2020, 7, 1),
        True,
        "2020-06",
        date(2020, 7, 30),
        "us-2018",
    ),
    # one big month under the old rule is not enough
    ("US", "USD", {"2021-07": "90000"}, date(2021, 8, 31), False, None, None, "us-2018"),
    # Canada
    ("CA", "CAD", {"2025-01": "10000"}, date(2025, 3, 1), False, None, None, "ca-2024-05-29"),
    (
        "CA",
        "CAD",
        {"2025-01": "10000.01"},
        date(2025, 3, 1),
        True,
        "2025-01",
        date(2025, 3, 2),
        "ca-2024-05-29",
    ),
    # United Kingdom
    ("UK", "GBP", {"2024-07": "4000.00"}, date(2024, 9, 1), False, None, None, "uk-2024-05-29"),
    (
        "UK",
        "GBP",
        {"2024-07": "4000.01"},
        date(2024, 9, 1),
        True,
        "2024-07",
        date(2024, 8, 30),
        "uk-2024-05-29",
    ),
    (
        "UK",
        "GBP",
        {"2023-01": "5000", "2023-02": "5000", "2023-03": "5000"},
        date(2023, 4, 1),
        True,
        "2023-03",
        date(2023, 4, 30),
        "uk-2021",
    ),
    # EU stores (DE rule set, shared by FR)
    ("DE", "EUR", {"2024-06": "5000.00"}, date(2024, 7, 1), False, None, None, "eu-2024-05-29"),
    (
        "DE",
        "EUR",
        {"2024-06": "5000.01"},
        date(2024, 7, 1),
        True,
        "2024-06",
        date(2024, 7, 30),
        "eu-2024-05-29",
    ),
    (
        "FR",
        "EUR",
        {"2024-06": "5000.01"},
        date(2024, 7, 1),
        True,
        "2024-06",
        date(2024, 7, 30),
        "eu-2024-05-29",
    ),
    # May 2024 ends after 2024-05-29, so the new one-month rule judges it
    (
        "DE",
        "EUR",
        {"2024-05": "6000"},
        date(2024, 6, 1),
        True,
        "2024-05",
        date(2024, 6, 30),
        "eu-2024-05-29",
    ),
    ("DE", "EUR", {"2024-04": "6000"}, date(2024, 5, 28), False, None, None, "eu-2021"),
    # Sweden and Poland
    ("SE", "SEK", {"2025-02": "50000"}, date(2025, 3, 1), False, None, None, "se-2024-05-29"),
    (
        "SE",
        "SEK",
        {"2025-02": "50000.01"},
        date(2025, 3, 1),
        True,
        "2025-02",
        date(2025, 3, 30),
        "se-2024-05-29",
    ),
    (
        "PL",
        "PLN",
        {"2025-02": "22500.01"},
        date(2025, 3, 1),
        True,
        "2025-02",
        date(2025, 3, 30),
        "pl-2024-05-29",
    ),
    # Japan (historic three-month rule)
    (
        "JP",
        "JPY",
        {"2024-01": "1000001", "2024-02": "1000001", "2024-03": "1000001"},
        date(2024, 4, 1),
        True,
        "2024-03",
        date(2024, 4, 30),
        "jp-2018",
    ),
    (
        "JP",
        "JPY",
        {"2024-01": "1000000", "2024-02": "1000001", "2024-03": "1000001"},
        date(2024, 4, 1),
        False,
        None,
        None,
        "jp-2018",
    ),
]


@pytest.mark.parametrize(
    ("marketplace", "currency", "amounts", "as_of", "required", "month", "comply_by", "version"),
    CASES,
)
def test_requirement_matches_the_marketplace_rule_table(
    rulebook: RuleBook,
    sales: Sales,
    marketplace: str,
    currency: str,
    amounts: dict[str, str],
    as_of: date,
    required: bool,
    month: str | None,
    comply_by: date | None,
    version: str,
) -> None:
    decision = decide(rulebook, sales, marketplace, currency, amounts, as_of)
    assert decision.required is required
    assert (str(decision.triggered_by_month) if decision.triggered_by_month else None) == month
    assert decision.comply_by == comply_by
    used = decision.triggered_under if decision.required else decision.rule_set
    assert used is not None
    assert used.version == version


def test_trigger_on_the_last_day_of_the_month_counts_that_month(
    rulebook: RuleBook, sales: Sales
) -> None:
    decision = decide(rulebook, sales, "US", "USD", {"2025-05": "14000"}, date(2025, 5, 31))
    assert decision.required
    assert decision.trigger_date == date(2025, 5, 31)
    assert decision.comply_by == date(2025, 6, 30)


def test_month_not_yet_ended_does_not_trigger(rulebook: RuleBook, sales: Sales) -> None:
    decision = decide(rulebook, sales, "US", "USD", {"2025-05": "14000"}, date(2025, 5, 30))
    assert not decision.required
    assert "No complete month" in decision.reason


def test_february_of_a_leap_year_triggers_on_the_29th(rulebook: RuleBook, sales: Sales) -> None:
    decision = decide(rulebook, sales, "US", "USD", {"2024-02": "10500"}, date(2024, 3, 5))
    assert decision.trigger_date == date(2024, 2, 29)
    assert decision.comply_by == date(2024, 3, 30)


def test_earliest_triggering_month_is_reported(rulebook: RuleBook, sales: Sales) -> None:
    amounts = {"2025-01": "11000", "2025-02": "500", "2025-03": "30000"}
    decision = decide(rulebook, sales, "US", "USD", amounts, date(2025, 4, 2))
    assert decision.triggered_by_month == Month(2025, 1)


def test_minimum_cover_comes_from_the_version_in_force_on_the_as_of_date(
    rulebook: RuleBook, sales: Sales
) -> None:
    amounts = {"2021-01": "11000", "2021-02": "11000", "2021-03": "11000"}
    decision = decide(rulebook, sales, "US", "USD", amounts, date(2025, 1, 1))
    assert decision.triggered_under is not None
    assert decision.triggered_under.version == "us-2018"
    assert decision.rule_set.version == "us-2021-09-01"
    assert decision.minimum_cover.per_occurrence.amount == 1_000_000
    assert decision.minimum_cover.max_deductible.amount == 10_000


def test_us_minimum_cover_is_one_million_per_occurrence_and_aggregate(
    rulebook: RuleBook, sales: Sales
) -> None:
    decision = decide(rulebook, sales, "US", "USD", {"2025-05": "14000"}, date(2025, 6, 10))
    cover = decision.minimum_cover
    assert cover.per_occurrence.amount == cover.aggregate.amount == Decimal(1_000_000)
    assert cover.per_occurrence.currency == "USD"


def test_sales_in_another_currency_are_rejected_not_converted(
    rulebook: RuleBook, sales: Sales
) -> None:
    with pytest.raises(CurrencyMismatchError) as caught:
        decide(rulebook, sales, "UK", "USD", {"2025-05": "14000"}, date(2025, 6, 10))
    assert (caught.value.got, caught.value.expected) == ("USD", "GBP")
    assert caught.value.month == Month(2025, 5)


def test_a_month_given_twice_is_rejected(rulebook: RuleBook, sales: Sales) -> None:
    history = sales("USD", {"2025-05": "1"}) + sales("USD", {"2025-05": "2"})
    with pytest.raises(ValueError, match="twice"):
        evaluate_requirement(history, "US", date(2025, 6, 10), rulebook)


def test_reason_names_the_months_of_a_three_month_run(rulebook: RuleBook, sales: Sales) -> None:
    amounts = {"2021-06": "11000", "2021-07": "11000", "2021-08": "11000"}
    decision = decide(rulebook, sales, "US", "USD", amounts, date(2021, 9, 1))
    assert "3 consecutive months 2021-06 to 2021-08" in decision.reason
    assert "by 2021-09-30" in decision.reason
