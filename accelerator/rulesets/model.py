"""The shape of a marketplace rule-set file, and the resolved version the service uses.

A data file (``accelerator/rulesets/data/*.toml``) is decoded into :class:`RuleSetFile`; the
loader then resolves it into one :class:`RuleSetVersion` per (marketplace, version). Every rule
names its public source by a key into the file's ``[sources]`` table.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from schemas import Money

#: Figures in the data files are whole units of the rule set's currency.
Amount = Annotated[int, Meta(gt=0, le=10**12)]
Days = Annotated[int, Meta(ge=1, le=3650)]
Code = Annotated[str, Meta(pattern=r"^[A-Z]{2}$")]
SourceKey = Annotated[str, Meta(pattern=r"^[a-z0-9_]+$")]

#: The AM Best financial strength rating scale, best first. The order is what makes
#: "at least A-" computable; ``S`` (suspended) is last on purpose.
AM_BEST_SCALE: Final = ("A++", "A+", "A", "A-", "B++", "B+", "B", "B-", "C++", "C+", "C", "C-",
                        "D", "E", "F", "S")  # fmt: skip
AmBestRating = Literal[
    "A++", "A+", "A", "A-", "B++", "B+", "B", "B-", "C++", "C+", "C", "C-", "D", "E", "F", "S"
]
PolicyForm = Literal["occurrence", "claims_made"]


def rating_at_least(rating: AmBestRating, minimum: AmBestRating) -> bool:
    """True when ``rating`` is ``minimum`` or better on the AM Best scale."""
    return AM_BEST_SCALE.index(rating) <= AM_BEST_SCALE.index(minimum)


class _Rule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Common to every rule: where it is publicly documented, and whether sources disagree."""

    source: SourceKey
    disputed: bool = False
    note: str = ""


class Source(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A public document a rule comes from."""

    title: Annotated[str, Meta(min_length=1)]
    url: Annotated[str, Meta(pattern=r"^https://")]


class OneMonthTrigger(_Rule, frozen=True, tag="one_month", tag_field="window"):
    """Required once gross sales of any one calendar month are strictly above ``threshold``."""

    threshold: Amount


class ConsecutiveMonthsTrigger(_Rule, frozen=True, tag="consecutive_months", tag_field="window"):
    """Required once gross sales are strictly above ``threshold`` in each of ``months``
    consecutive calendar months."""

    threshold: Amount
    months: Annotated[int, Meta(ge=2, le=12)]


Trigger = OneMonthTrigger | ConsecutiveMonthsTrigger


class ComplianceRule(_Rule, frozen=True):
    """Days after the trigger date by which the seller must be insured."""

    days: Days


class LimitsRule(_Rule, frozen=True):
    """Minimum limits of liability."""

    min_per_occurrence: Amount
    min_aggregate: Amount


class DeductibleRule(_Rule, frozen=True):
    """Largest deductible the marketplace accepts."""

    max_deductible: Amount


class PolicyFormRule(_Rule, frozen=True):
    """Accepted policy forms; claims-made only for the listed categories (and their children)."""

    accepted: Annotated[list[PolicyForm], Meta(min_length=1)]
    claims_made_categories: list[str] = msgspec.field(default_factory=list)


class AdditionalInsuredRule(_Rule, frozen=True):
    """The operator's entity that must be named as additional insured, and the wording."""

    entity_name: Annotated[str, Meta(min_length=1)]
    wording_suffix: str = "and its affiliates and assignees"

    @property
    def wording(self) -> str:
        """The full wording, e.g. ``"X LLC and its affiliates and assignees"``."""
        return f"{self.entity_name} {self.wording_suffix}".strip()


class InsurerRatingRule(_Rule, frozen=True):
    """Minimum financial strength rating of the insurer."""

    minimum: AmBestRating
    scale: Literal["am_best"] = "am_best"


class NoticeRule(_Rule, frozen=True):
    """Days of notice the insurer gives the operator of cancellation, change or non-renewal."""

    days: Days


class ProofRule(_Rule, frozen=True):
    """Days a policy must still run when the seller submits it."""

    min_remaining_term_days: Days


class SmallClaimsRule(_Rule, frozen=True):
    """Claims at or below this amount are paid by the operator without recovery."""

    threshold: Amount


class TerritoryRule(_Rule, frozen=True):
    """Countries in which the policy must respond to claims."""

    countries: Annotated[list[Code], Meta(min_length=1)]


class SalesScopeRule(_Rule, frozen=True):
    """Which sales count toward the trigger: this store's, or summed across a group of stores."""

    scope: Literal["store", "store_group"] = "store"
    fulfilment: Literal["all", "marketplace_fulfilled"] = "all"


class VersionData(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One effective-dated version of a rule set, as written in the data file."""

    id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9._-]+$")]
    effective_from: date
    effective_to: date | None = None
    status: Literal["current", "superseded", "historic"]
    note: str = ""
    trigger: Trigger
    sales_scope: SalesScopeRule
    compliance: ComplianceRule
    limits: LimitsRule
    deductible: DeductibleRule
    policy_forms: PolicyFormRule
    additional_insured: AdditionalInsuredRule
    insurer_rating: InsurerRatingRule
    notice: NoticeRule
    proof: ProofRule
    small_claims: SmallClaimsRule
    territories: TerritoryRule


class MarketplaceData(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A marketplace (store) governed by a rule-set file."""

    code: Code
    name: Annotated[str, Meta(min_length=1)]
    reference_timezone: Annotated[str, Meta(min_length=1)]


class RuleSetFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A whole rule-set data file: one currency, one or more stores sharing the versions."""

    rule_set: Annotated[str, Meta(pattern=r"^[a-z]{2,10}$")]
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
    marketplaces: Annotated[list[MarketplaceData], Meta(min_length=1)]
    sources: dict[SourceKey, Source]
    versions: Annotated[list[VersionData], Meta(min_length=1)]


RULE_NAMES: Final = (
    "trigger",
    "sales_scope",
    "compliance",
    "limits",
    "deductible",
    "policy_forms",
    "additional_insured",
    "insurer_rating",
    "notice",
    "proof",
    "small_claims",
    "territories",
)


class RuleSetVersion(msgspec.Struct, frozen=True, kw_only=True):
    """One rule-set version as it applies to one marketplace, overrides applied.

    Dates are half-open: the version is in force on ``effective_from`` and up to, not
    including, ``effective_to`` (``None``: no end announced).
    """

    marketplace: str
    marketplace_name: str
    version: str
    effective_from: date
    effective_to: date | None
    status: Literal["current", "superseded", "historic"]
    note: str
    currency: str
    reference_timezone: str
    trigger: Trigger
    sales_scope: SalesScopeRule
    compliance: ComplianceRule
    limits: LimitsRule
    deductible: DeductibleRule
    policy_forms: PolicyFormRule
    additional_insured: AdditionalInsuredRule
    insurer_rating: InsurerRatingRule
    notice: NoticeRule
    proof: ProofRule
    small_claims: SmallClaimsRule
    territories: TerritoryRule
    sources: dict[str, Source]
    overridden: tuple[str, ...] = ()

    def in_force_on(self, day: date) -> bool:
        """True when ``day`` falls in ``[effective_from, effective_to)``."""
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def money(self, amount: int | Decimal) -> Money:
        """``amount`` in this rule set's currency."""
        return Money(amount=Decimal(amount), currency=self.currency)

    def source_of(self, rule: str) -> Source:
        """The public source of one rule (a name from :data:`RULE_NAMES`)."""
        if rule not in RULE_NAMES:
            raise KeyError(rule)
        rule_data: _Rule = getattr(self, rule)
        return self.sources[rule_data.source]

    def claims_made_allowed_for(self, category: str) -> bool:
        """True when a claims-made policy is acceptable for ``category`` (or a parent of it)."""
        if "claims_made" in self.policy_forms.accepted:
            return True
        return any(
            category == allowed or category.startswith(allowed + "/")
            for allowed in self.policy_forms.claims_made_categories
        )
