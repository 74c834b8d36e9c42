"""Compliance wire types: how an offer or policy measures up to a marketplace rule set, and
how an offer scored in the ranking.

Gap codes are stable: clients may switch on them. Messages are for people and may change.
"""

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas._sellers import RuleSetRef

GapCode = Literal[
    "currency_mismatch",
    "policy_form_not_accepted",
    "claims_made_not_permitted",
    "limit_below_requirement",
    "deductible_above_maximum",
    "additional_insured_missing",
    "named_insured_mismatch",
    "insurer_rating_below_minimum",
    "category_not_covered",
    "territory_not_covered",
    "notice_period_too_short",
    "remaining_term_too_short",
]
ScoreComponentName = Literal["cost", "deductible", "rating", "firmness"]


class Gap(msgspec.Struct, frozen=True, kw_only=True):
    """One way cover falls short of the rule set.

    ``rule`` names the rule-set rule that is not met (``limits``, ``deductible``, …; ``scope``
    for product categories, ``named_insured`` and ``currency`` for checks every rule set shares).
    """

    code: GapCode
    message: str
    rule: str


class ComplianceResult(msgspec.Struct, frozen=True, kw_only=True):
    """Whether cover meets a rule set version, with every gap."""

    compliant: bool
    gaps: list[Gap]
    rule_set: RuleSetRef


class ScoreComponent(msgspec.Struct, frozen=True, kw_only=True):
    """One part of an offer's ranking score.

    ``weight`` is the normalised weight (weights sum to 1); ``points`` is what this component
    contributed to the 0-100 total; ``value`` shows the figure it was computed from.
    """

    component: ScoreComponentName
    weight: Annotated[float, Meta(ge=0, le=1)]
    value: str
    points: Annotated[float, Meta(ge=0, le=100)]


class ScoreBreakdown(msgspec.Struct, frozen=True, kw_only=True):
    """An offer's ranking score (0-100, higher is better) and the components it sums."""

    total: Annotated[float, Meta(ge=0, le=100)]
    components: list[ScoreComponent]


__all__ = [
    "ComplianceResult",
    "Gap",
    "GapCode",
    "ScoreBreakdown",
    "ScoreComponent",
    "ScoreComponentName",
]
