"""Does a marketplace require a seller to be insured, since which month, and by when?

Pure: sales history, marketplace, as-of date and rule book in; a decision out. Choices, all
documented in docs/risk.md:

* Sales of a month are known at its end, so a month is evaluated only once its last day is on or
  before ``as_of``, and the *trigger date* is that last day. comply-by = trigger date +
  compliance days.
* Each month is judged by the rule-set version in force on its last day.
* "Above the threshold" is strictly greater: exactly the threshold does not trigger.
* A month missing from the history counts as zero sales (it breaks a consecutive-month run).
* Once triggered, insurance stays required: the *earliest* triggering month is reported.
* The minimum cover is that of the version in force on ``as_of`` (what a policy bought now must
  meet), which may be newer than the version that triggered.
* Amounts must be in the rule set's currency; nothing is converted.
"""

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final, Self

from accelerator.rulesets.loader import NoRuleSetVersionError, RuleBook, RuleSetError
from accelerator.rulesets.model import ConsecutiveMonthsTrigger, RuleSetVersion
from schemas import Money

_MONTH: Final = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise ValueError(f"not a calendar month: {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Self:
        """``"2025-05"`` -> Month(2025, 5); raises ValueError otherwise."""
        match = _MONTH.match(text)
        if match is None:
            raise ValueError(f"not a YYYY-MM month: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Self:
        """The month ``day`` falls in."""
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        """The first day of the month."""
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        """The last day of the month."""
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def shift(self, months: int) -> "Month":
        """The month ``months`` later (earlier when negative)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


class CurrencyMismatchError(RuleSetError, ValueError):
    """Sales are in another currency than the marketplace's rules; they are not converted."""

    def __init__(self, month: Month, got: str, expected: str) -> None:
        self.month = month
        self.got = got
        self.expected = expected
        super().__init__(
            f"sales of {month} are in {got}, but the marketplace's rules are stated in {expected}"
        )


@dataclass(frozen=True)
class MinimumCover:
    """The least cover a policy must have under one rule-set version."""

    per_occurrence: Money
    aggregate: Money
    max_deductible: Money

    @classmethod
    def of(cls, version: RuleSetVersion) -> "MinimumCover":
        """The minimum cover stated by ``version``."""
        return cls(
            per_occurrence=version.money(version.limits.min_per_occurrence),
            aggregate=version.money(version.limits.min_aggregate),
            max_deductible=version.money(version.deductible.max_deductible),
        )


@dataclass(frozen=True)
class RequirementDecision:
    """The outcome of :func:`evaluate_requirement`."""

    required: bool
    triggered_by_month: Month | None
    trigger_date: date | None
    comply_by: date | None
    triggered_under: RuleSetVersion | None
    rule_set: RuleSetVersion
    minimum_cover: MinimumCover
    reason: str


def evaluate_requirement(
    sales: Sequence[tuple[Month, Money]],
    marketplace: str,
    as_of: date,
    rulebook: RuleBook,
) -> RequirementDecision:
    """Decide whether ``marketplace`` requires insurance given monthly gross ``sales``.

    Promises: deterministic; raises CurrencyMismatchError if any amount is not in the rule set's
    currency, UnknownMarketplaceError / NoRuleSetVersionError if no rule applies on ``as_of``,
    ValueError for a month given twice. Months after ``as_of`` or not yet ended are ignored.
    """
    current = rulebook.version_at(marketplace, as_of)
    by_month = _index_sales(sales, current.currency)
    for month in sorted(by_month):
        if month.last_day > as_of:
            break
        try:
            version = rulebook.version_at(marketplace, month.last_day)
        except NoRuleSetVersionError:
            continue  # no rule in force then: that month cannot trigger anything
        run = _triggering_run(month, version, by_month)
        if run is not None:
            trigger_date = month.last_day
            comply_by = trigger_date + timedelta(days=version.compliance.days)
            return RequirementDecision(
                required=True,
                triggered_by_month=month,
                trigger_date=trigger_date,
                comply_by=comply_by,
                triggered_under=version,
                rule_set=current,
                minimum_cover=MinimumCover.of(current),
                reason=_triggered_reason(run, by_month, version, comply_by),
            )
    return RequirementDecision(
        required=False,
        triggered_by_month=None,
        trigger_date=None,
        comply_by=None,
        triggered_under=None,
        rule_set=current,
        minimum_cover=MinimumCover.of(current),
        reason=_not_triggered_reason(by_month, current, as_of),
    )


def _index_sales(sales: Sequence[tuple[Month, Money]], currency: str) -> dict[Month, Decimal]:
    by_month: dict[Month, Decimal] = {}
    for month, money in sales:
        if money.currency != currency:
            raise CurrencyMismatchError(month, money.currency, currency)
        if month in by_month:
            raise ValueError(f"sales of {month} are given twice")
        by_month[month] = money.amount
    return by_month


def _triggering_run(
    month: Month, version: RuleSetVersion, by_month: Mapping[Month, Decimal]
) -> list[Month] | None:
    """The months (oldest first) that make ``month`` trigger under ``version``, or None."""
    trigger = version.trigger
    length = trigger.months if isinstance(trigger, ConsecutiveMonthsTrigger) else 1
    run = [month.shift(-offset) for offset in range(length - 1, -1, -1)]
    threshold = Decimal(trigger.threshold)
    if all(by_month.get(m, Decimal(0)) > threshold for m in run):
        return run
    return None


def _amount(amount: Decimal | int, currency: str) -> str:
    return f"{Decimal(amount):,.2f} {currency}"


def _triggered_reason(
    run: list[Month], by_month: Mapping[Month, Decimal], version: RuleSetVersion, comply_by: date
) -> str:
    threshold = _amount(version.trigger.threshold, version.currency)
    rule = f"rule set {version.marketplace} {version.version}"
    if len(run) == 1:
        sales = _amount(by_month[run[0]], version.currency)
        what = f"Gross sales of {sales} in {run[0]} were above the {threshold} monthly threshold"
    else:
        what = (
            f"Gross sales were above {threshold} in each of the {len(run)} consecutive months "
            f"{run[0]} to {run[-1]}"
        )
    return (
        f"{what} of {rule}; insurance is required within {version.compliance.days} days "
        f"of {run[-1].last_day.isoformat()}, i.e. by {comply_by.isoformat()}."
    )


def _not_triggered_reason(
    by_month: Mapping[Month, Decimal], version: RuleSetVersion, as_of: date
) -> str:
    threshold = _amount(version.trigger.threshold, version.currency)
    complete = [m for m in by_month if m.last_day <= as_of]
    if not complete:
        return (
            f"No complete month of sales up to {as_of.isoformat()}; insurance is not yet "
            f"required by rule set {version.marketplace} {version.version} "
            f"(threshold {threshold})."
        )
    best = max(complete, key=lambda m: (by_month[m], m))
    window = (
        f"in each of {version.trigger.months} consecutive months"
        if isinstance(version.trigger, ConsecutiveMonthsTrigger)
        else "in any one month"
    )
    return (
        f"Gross sales never went above {threshold} {window} as rule set "
        f"{version.marketplace} {version.version} requires (highest month: {best}, "
        f"{_amount(by_month[best], version.currency)}); insurance is not required yet."
    )
