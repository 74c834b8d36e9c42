"""Pin the public surface of the two contract packages: a change here is a contract change."""

from __future__ import annotations

import tomllib
from pathlib import Path

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
    "dedupe_key",
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
    "ACTIVE_CURRENCIES",
    "EARLIEST_DATE",
    "EARLIEST_INSTANT",
    "LATEST_DATE",
    "LATEST_INSTANT",
    "LINES_PATTERN",
    "MAX_ADDITIONAL_INSUREDS",
    "MAX_AMOUNT",
    "MAX_AMOUNT_PLACES",
    "MAX_BATCH_CHECKS",
    "MAX_COVERED_CATEGORIES",
    "MAX_EXCLUSIONS",
    "MAX_OFFERS",
    "MAX_TERRITORIES",
    "MAX_TEXT_LENGTH",
    "ONE_LINE_PATTERN",
    "AdditionalInsured",
    "AffectedBy",
    "AuditRecord",
    "AuditVerification",
    "BatchItemError",
    "BindBody",
    "BindFailure",
    "BindResponse",
    "BreakerState",
    "BrokenLink",
    "BusinessModel",
    "CalendarDate",
    "CapturedMessage",
    "CategoryHazard",
    "CategoryPath",
    "CategoryShare",
    "CertificateSubmission",
    "ChainLink",
    "ClaimReference",
    "ChainName",
    "ChainProblem",
    "ClaimsHistory",
    "ComplianceGap",
    "ComplianceHistoryEntry",
    "ComplianceResult",
    "ComplianceStatus",
    "CountryCode",
    "CoverageBatchBody",
    "CoverageBatchResult",
    "CoverageCheckRequest",
    "CoverageDecision",
    "CoverageType",
    "CurrencyCode",
    "Decision",
    "DecisionEffectRecord",
    "DecisionFlag",
    "DecisionReceipt",
    "DecisionReceiptRecord",
    "DecisionReplay",
    "DecodedAs",
    "DesiredCover",
    "FactorContribution",
    "FieldProblem",
    "FlagCode",
    "FlagFact",
    "Fulfilment",
    "Gap",
    "GapCode",
    "Health",
    "InboxEntry",
    "InboxStatus",
    "Instant",
    "InsurerAttempt",
    "InsurerEvent",
    "InsurerOutcomeView",
    "InsurerProgress",
    "InsurerRating",
    "MarketplaceCode",
    "MinimumCover",
    "Money",
    "MonthlySales",
    "Offer",
    "OfferStatus",
    "OutOfBounds",
    "OutcomeStatus",
    "PolicyAdminView",
    "PolicyBound",
    "PolicyCancelled",
    "PolicyDocument",
    "PolicyEndorsed",
    "PolicyEventRecord",
    "PolicyEventView",
    "PolicyForm",
    "PolicyLapsed",
    "PolicyLinkBody",
    "PolicyRef",
    "PolicyReinstated",
    "PolicyRenewed",
    "PolicySource",
    "PolicyStanding",
    "PolicyTerms",
    "PolicyVerification",
    "PolicyVerified",
    "PositiveMoney",
    "Principal",
    "Problem",
    "Progress",
    "ProviderInfo",
    "QualifyingPolicy",
    "QuoteDeclined",
    "QuoteOffered",
    "QuoteReferred",
    "QuoteRequest",
    "QuoteRequestBody",
    "QuoteRequestStatus",
    "QuoteRequestSummary",
    "QuoteRequestView",
    "RankedOffer",
    "Reason",
    "ReasonCode",
    "ReceiptContent",
    "RecommendedCover",
    "RecordCancellation",
    "RecordEndorsement",
    "RecordLapse",
    "RecordReinstatement",
    "RecordRejection",
    "RecordRenewal",
    "RecordVerification",
    "RecordedPolicyEvent",
    "ReplayDifference",
    "ReprocessCount",
    "ReprocessRange",
    "Requirement",
    "RevenueBandView",
    "ReviewBody",
    "RiskProfile",
    "RiskTier",
    "Role",
    "RuleSetRef",
    "ScoreBreakdown",
    "ScoreComponent",
    "ScoreComponentName",
    "SellerFacts",
    "SellerProfileDocument",
    "SellerSnapshot",
    "ShortText",
    "Text",
    "UtcInstant",
    "WebhookAck",
    "WebhookSignatureScheme",
    "YearMonth",
    "decode_event",
    "reading_stored",
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


def test_every_private_module_of_the_contract_packages_is_banned_outside_them() -> None:
    root = Path(__file__).resolve().parents[2]
    ruff = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    banned = set(ruff["flake8-tidy-imports"]["banned-api"])
    private = {
        f"{package.replace('/', '.')}.{module.stem}"
        for package in ("schemas", "providers", "providers/sandbox")
        for module in (root / package).glob("_*.py")
        if module.name != "__init__.py"
    }
    assert private <= banned, f"add to banned-api in pyproject.toml: {sorted(private - banned)}"
    assert "TID251" in ruff["per-file-ignores"]["schemas/**"]
    assert "TID251" in ruff["per-file-ignores"]["providers/**"]
