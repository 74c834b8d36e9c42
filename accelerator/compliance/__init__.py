"""Compliance: how an offer or a policy measures up to a marketplace rule set version."""

from accelerator.compliance.evaluate import (
    ACCEPTED_COVERAGE_TYPES,
    GAP_ORDER,
    CoverTerms,
    category_covered,
    evaluate_cover,
    evaluate_submission,
    terms_of_offer,
    terms_of_policy,
)
from accelerator.compliance.text import entity_key, normalise

__all__ = [
    "ACCEPTED_COVERAGE_TYPES",
    "GAP_ORDER",
    "CoverTerms",
    "category_covered",
    "entity_key",
    "evaluate_cover",
    "evaluate_submission",
    "normalise",
    "terms_of_offer",
    "terms_of_policy",
]
