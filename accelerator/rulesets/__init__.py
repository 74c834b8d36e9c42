"""Marketplace insurance requirement rule sets: versioned data, a loader, and the pure
requirement evaluation."""

from accelerator.rulesets.loader import (
    OVERRIDABLE,
    NoRuleSetVersionError,
    RuleBook,
    RuleSetError,
    RuleSetFileError,
    RuleSetOverrideError,
    UnknownMarketplaceError,
    load_rulesets,
)
from accelerator.rulesets.model import (
    AM_BEST_SCALE,
    RULE_NAMES,
    AmBestRating,
    ConsecutiveMonthsTrigger,
    OneMonthTrigger,
    RuleSetVersion,
    Source,
    rating_at_least,
)
from accelerator.rulesets.requirements import (
    CurrencyMismatchError,
    MinimumCover,
    Month,
    RequirementDecision,
    evaluate_requirement,
)

__all__ = [
    "AM_BEST_SCALE",
    "OVERRIDABLE",
    "RULE_NAMES",
    "AmBestRating",
    "ConsecutiveMonthsTrigger",
    "CurrencyMismatchError",
    "MinimumCover",
    "Month",
    "NoRuleSetVersionError",
    "OneMonthTrigger",
    "RequirementDecision",
    "RuleBook",
    "RuleSetError",
    "RuleSetFileError",
    "RuleSetOverrideError",
    "RuleSetVersion",
    "Source",
    "UnknownMarketplaceError",
    "evaluate_requirement",
    "load_rulesets",
    "rating_at_least",
]
