"""Seller wire types: the facts a seller gives us and the risk profile we return.

``SellerFacts`` is the body of ``PUT /v1/sellers/{seller_id}/profile``; ``RiskProfile`` is the
answer. Checks that need more than one field (category shares summing to 1, duplicate months,
currencies matching the marketplace, known categories) are done by the service after decoding,
so a client gets every problem at once with the field that caused it. The bounds of single
values (amounts, months, names) are their types' (``schemas._bounds``), checked while decoding.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas._bounds import (
    CategoryPath,
    CountryCode,
    MarketplaceCode,
    Money,
    Name,
    YearMonth,
)

# msgspec cannot bound a Decimal; the 0..1 range is checked with the other cross-field rules.
RevenueShare = Annotated[
    Decimal,
    Meta(
        description="Share of the seller's revenue, a decimal string from 0 to 1.",
        examples=["0.75"],
        extra_json_schema={"pattern": r"^(?:0(?:\.[0-9]+)?|1(?:\.0+)?)$"},
    ),
]
BusinessModel = Literal["reseller", "private_label", "importer", "manufacturer"]
Fulfilment = Literal["marketplace_fulfilled", "merchant_fulfilled", "mixed"]
RiskTier = Literal["A", "B", "C", "D", "E"]


class MonthlySales(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Gross sales of one calendar month in the marketplace."""

    month: YearMonth
    gross_sales: Money


class CategoryInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A product category of the taxonomy (``GET /v1/categories``): the ``path`` sellers name in
    their profile and insurers in their appetite, a ``label`` to show, its ``parent`` (null at
    the top level), its hazard class (1 lowest to 5 highest) with the ``rationale``, and the
    NAICS industry code where one fits."""

    path: str
    label: str
    parent: str | None
    hazard_class: int
    rationale: str
    naics: str | None = None


class CategoryShare(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One product category the seller sells and its share of revenue."""

    category: CategoryPath
    revenue_share: RevenueShare


class ClaimsHistory(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Product-liability claims in the last five years."""

    count: Annotated[int, Meta(ge=0, le=10_000, examples=[0])]
    amount_paid: Money


class SellerFacts(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What a seller tells us about its business (``PUT /v1/sellers/{id}/profile``)."""

    legal_name: Name
    marketplace: MarketplaceCode
    monthly_sales: Annotated[list[MonthlySales], Meta(max_length=120)]
    categories: Annotated[list[CategoryShare], Meta(min_length=1, max_length=50)]
    business_model: BusinessModel
    fulfilment: Fulfilment
    years_in_business: Annotated[int, Meta(ge=0, le=500, examples=[2])]
    claims_last_5_years: ClaimsHistory
    recalls_last_5_years: Annotated[int, Meta(ge=0, le=1_000, examples=[0])]
    manufacturing_countries: Annotated[list[CountryCode], Meta(max_length=50)]


class FactorContribution(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How many points one factor added to the risk score, and why."""

    factor: str
    points: Annotated[int, Meta(ge=0, le=100)]
    max_points: Annotated[int, Meta(ge=0, le=100)]
    explanation: str


class CategoryHazard(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A category the seller sells, with its hazard class (1 lowest .. 5 highest)."""

    category: str
    hazard_class: Annotated[int, Meta(ge=1, le=5)]
    rationale: str
    revenue_share: Decimal


class RuleSetRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Which marketplace rule set version a decision used.

    ``overridden`` lists the figures that deployment settings replaced in that version.
    """

    marketplace: str
    version: str
    overridden: list[str] = msgspec.field(default_factory=list)


class MinimumCover(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The least cover the marketplace accepts."""

    per_occurrence: Money
    aggregate: Money
    max_deductible: Money


class Requirement(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Whether the marketplace requires insurance, since when, and by when.

    ``rule_set`` is the version in force on the profile date (its minimum cover applies);
    ``triggered_under`` is the version whose trigger fired, which may be an older one.
    """

    required: bool
    triggered_by_month: YearMonth | None
    triggered_under: RuleSetRef | None
    comply_by: date | None
    rule_set: RuleSetRef
    minimum_cover: MinimumCover
    reason: str


class RecommendedCover(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The limits we recommend and an indicative (not quoted) annual premium range."""

    per_occurrence: Money
    aggregate: Money
    premium_low: Money
    premium_high: Money
    basis: str


class RiskProfile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A seller's product-liability risk profile and insurance requirement."""

    risk_model_version: str
    as_of: date
    marketplace: str
    score: Annotated[int, Meta(ge=0, le=100, examples=[64])]
    tier: RiskTier
    annual_sales_estimate: Money
    factors: list[FactorContribution]
    categories: list[CategoryHazard]
    requirement: Requirement
    recommended_cover: RecommendedCover
