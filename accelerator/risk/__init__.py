"""Risk profiling: the product-category taxonomy, the versioned risk model, recommended cover,
cross-field validation of seller facts, and the composed profile. All pure."""

from accelerator.errors import FieldError
from accelerator.risk.cover import CoverRecommendation, recommend_cover
from accelerator.risk.engine import (
    RISK_MODEL_VERSION,
    CategoryExposure,
    FactorScore,
    RiskAssessment,
    RiskInputs,
    assess_risk,
    tier_for,
)
from accelerator.risk.profile import (
    InvalidSellerFactsError,
    build_risk_profile,
    estimate_annual_sales,
)
from accelerator.risk.taxonomy import (
    Category,
    Taxonomy,
    TaxonomyError,
    UnknownCategoryError,
    load_taxonomy,
)
from accelerator.risk.validation import validate_seller_facts

__all__ = [
    "RISK_MODEL_VERSION",
    "Category",
    "CategoryExposure",
    "CoverRecommendation",
    "FactorScore",
    "FieldError",
    "InvalidSellerFactsError",
    "RiskAssessment",
    "RiskInputs",
    "Taxonomy",
    "TaxonomyError",
    "UnknownCategoryError",
    "assess_risk",
    "build_risk_profile",
    "estimate_annual_sales",
    "load_taxonomy",
    "recommend_cover",
    "tier_for",
    "validate_seller_facts",
]
