"""Coverage-check wire types: what the claims engine asks and the decision it gets back.

``POST /v1/coverage/checks`` takes a :class:`CoverageCheckRequest` and answers a
:class:`CoverageDecision`; ``POST /v1/coverage/checks/batch`` takes up to 1,000 checks and
answers, in the same order, a decision or the item's validation errors.
"""

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from schemas._bounds import (
    ONE_LINE_PATTERN,
    CategoryPath,
    Instant,
    MarketplaceCode,
    PositiveMoney,
    SellerRef,
    check_instant,
    enforced,
)
from schemas._decoding import DecodedAs
from schemas._problems import FieldProblem
from schemas._sellers import RuleSetRef

Decision = Literal["exempt", "tender_to_insurer", "not_exempt"]
ReasonCode = Literal[
    "no_policy",
    "policy_not_in_force",
    "policy_cancelled",
    "policy_unverified",
    "currency_mismatch",
    "category_not_covered",
    "territory_not_covered",
    "limit_below_requirement",
    "deductible_above_maximum",
    "additional_insured_missing",
    "named_insured_mismatch",
    "insurer_rating_below_minimum",
    "claims_made_not_permitted",
    "policy_form_not_accepted",
    "notice_period_too_short",
]
FlagCode = Literal["recorded_after_incident"]
#: The facts a decision can rest on, as flags name them.
FlagFact = Literal["bind", "submission", "verification", "endorsement", "reinstatement", "renewal"]
ClaimReference = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        pattern=ONE_LINE_PATTERN,
        description=(
            "The claims engine's own reference for the claim: 1 to 200 characters on one line. "
            "Kept on the decision's receipt, which can be found by it."
        ),
        examples=["CLM-2026-000123"],
    ),
]

#: Batch requests are capped so one call stays within the service's latency budget.
MAX_BATCH_CHECKS = 1000


class CoverageCheckRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One claim to decide (``POST /v1/coverage/checks``).

    ``known_at`` replays the decision as the registry knew it at that instant (events recorded
    later are ignored); omitted, everything known now counts. ``incident_at`` and ``known_at``
    lie between 1970-01-01T00:00:00Z and 2200-12-31T23:59:59.999999Z; ``claim_amount`` is
    greater than 0 (see ``PositiveMoney``).
    """

    seller_id: SellerRef
    incident_at: Instant
    product_category: CategoryPath
    marketplace: MarketplaceCode
    claim_amount: PositiveMoney
    known_at: Instant | None = None
    claim_reference: ClaimReference | None = None

    def __post_init__(self) -> None:
        # Every check runs this (a batch, a thousand times): two comparisons each.
        if enforced():
            check_instant("incident_at", self.incident_at)
            check_instant("known_at", self.known_at)


class PolicyRef(msgspec.Struct, frozen=True, kw_only=True):
    """The policy a decision is about: the one to tender to, or the closest to qualifying."""

    id: str
    insurer: str
    number: str


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """Why a claim is not exempt: a stable code and a sentence for people."""

    code: ReasonCode
    message: str


class DecisionFlag(msgspec.Struct, frozen=True, kw_only=True):
    """Something about a decision a fraud review should look at; it never changes the decision
    (docs/audit.md lists each flag).

    ``recorded_after_incident``: the policy the decision relies on, or a fact that made it
    qualify (``fact``), was first recorded after the incident: at ``recorded_at``,
    ``lag_seconds`` after it.
    """

    code: FlagCode
    fact: FlagFact
    policy_id: str
    event_id: str
    recorded_at: Instant
    lag_seconds: int
    message: str


class CoverageDecision(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="result", tag="decision"
):
    """The answer to one coverage check.

    ``covered`` says a qualifying policy was in force at the incident; ``exempt_from_recovery``
    is true exactly when ``decision`` is ``exempt``. ``reasons`` is empty unless ``decision`` is
    ``not_exempt``. ``result`` is always ``"decision"``: it tells a decision from an item error
    in batch responses. ``receipt_id`` names the stored receipt of this decision
    (``GET /v1/coverage/decisions/{id}``); ``flags`` are for fraud review and never change the
    decision.
    """

    decision: Decision
    exempt_from_recovery: bool
    covered: bool
    policy: PolicyRef | None
    reasons: list[Reason]
    rule_set: RuleSetRef
    incident_at: Instant
    known_at: Instant | None
    evaluated_at: Instant
    flags: list[DecisionFlag] = msgspec.field(default_factory=list)
    claim_reference: str | None = None
    receipt_id: str | None = None


class BatchItemError(msgspec.Struct, frozen=True, tag_field="result", tag="error"):
    """A batch item that could not be decided (its ``index`` in the request), with every
    problem found; ``result`` is always ``"error"``."""

    index: int
    errors: list[FieldProblem]


class CoverageBatchBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Up to 1,000 checks, each a :class:`CoverageCheckRequest`. Each item is validated on its
    own, so one bad item fails alone: its slot in the result holds its errors."""

    checks: Annotated[
        list[Annotated[Any, DecodedAs(CoverageCheckRequest)]],
        Meta(min_length=1, max_length=MAX_BATCH_CHECKS),
    ]


class CoverageBatchResult(msgspec.Struct, frozen=True):
    """One result per check, in the order of the request: a decision or the item's errors."""

    results: list[CoverageDecision | BatchItemError]


__all__ = [
    "MAX_BATCH_CHECKS",
    "BatchItemError",
    "CoverageBatchBody",
    "CoverageBatchResult",
    "CoverageCheckRequest",
    "CoverageDecision",
    "Decision",
    "PolicyRef",
    "Reason",
    "ReasonCode",
]
