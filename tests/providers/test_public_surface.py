"""Pin the public surface of the two contract packages: a change here is a contract change."""

from __future__ import annotations

import providers
import providers.sandbox
import schemas

PROVIDERS_ALL = [
    "ENTRY_POINT_GROUP",
    "AdapterFactory",
    "Appetite",
    "BadSignature",
    "BindPending",
    "BindRefused",
    "BindRequest",
    "BindResult",
    "Bound",
    "Declined",
    "HttpCall",
    "HttpReply",
    "InsurerAdapter",
    "InvalidAdapter",
    "MalformedHeaders",
    "MalformedResponse",
    "MissingHeaders",
    "Offered",
    "Pending",
    "ProviderSettings",
    "QuoteResult",
    "Referred",
    "RevenueBand",
    "SignatureError",
    "SignatureScheme",
    "StaleTimestamp",
    "UnknownAdapter",
    "available_adapters",
    "build_adapters",
    "eligibility",
    "sign",
    "sign_hex",
    "signature_headers",
    "verify",
    "verify_hex",
    "verify_signature",
]

SANDBOX_ALL = [
    "DEFAULT_ADDITIONAL_INSURED",
    "DEFAULT_API_KEYS",
    "DEFAULT_CALLBACK_SECRET",
    "SUMMIT_APPETITE",
    "Faults",
    "Latency",
    "SandboxConfig",
    "SandboxHandle",
    "create_sandbox_app",
    "default_sandbox_provider_settings",
    "hazard_class",
    "run_sandbox",
    "start_sandbox",
]

SCHEMAS_ALL = [
    "MAX_BATCH_CHECKS",
    "AdditionalInsured",
    "BusinessModel",
    "CategoryHazard",
    "CategoryPath",
    "CategoryShare",
    "ClaimsHistory",
    "ComplianceResult",
    "CountryCode",
    "CoverageCheckRequest",
    "CoverageDecision",
    "CoverageType",
    "CurrencyCode",
    "DesiredCover",
    "FactorContribution",
    "Fulfilment",
    "Gap",
    "GapCode",
    "InsurerEvent",
    "InsurerRating",
    "MarketplaceCode",
    "MinimumCover",
    "Money",
    "MonthlySales",
    "Offer",
    "OutcomeStatus",
    "PolicyBound",
    "PolicyCancelled",
    "PolicyEndorsed",
    "PolicyForm",
    "PolicyLapsed",
    "PolicyRef",
    "PolicyReinstated",
    "PolicyRenewed",
    "PolicyTerms",
    "PolicyVerified",
    "QuoteDeclined",
    "QuoteOffered",
    "QuoteReferred",
    "QuoteRequest",
    "Reason",
    "ReasonCode",
    "RecommendedCover",
    "Requirement",
    "RiskProfile",
    "RiskTier",
    "RuleSetRef",
    "ScoreBreakdown",
    "ScoreComponent",
    "SellerFacts",
    "SellerSnapshot",
    "UtcInstant",
    "YearMonth",
    "decode_event",
]


def test_providers_exports_exactly_the_documented_names() -> None:
    assert sorted(providers.__all__) == sorted(PROVIDERS_ALL)
    assert all(hasattr(providers, name) for name in providers.__all__)


def test_sandbox_exports_exactly_the_documented_names() -> None:
    assert sorted(providers.sandbox.__all__) == sorted(SANDBOX_ALL)
    assert all(hasattr(providers.sandbox, name) for name in providers.sandbox.__all__)


def test_schemas_exports_exactly_the_documented_names() -> None:
    assert sorted(schemas.__all__) == sorted(SCHEMAS_ALL)
    assert all(hasattr(schemas, name) for name in schemas.__all__)
