"""Coverage checks (claims engine), the policy registry, and admin verification."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from accelerator.audit.decisions import DecisionService
from accelerator.auth.guards import guarded_post, requires
from accelerator.auth.principal import Principal, Role
from accelerator.coverage.admin import PolicyAdminService
from accelerator.coverage.service import CoverageService
from accelerator.errors import InvalidInput
from accelerator.infra.bodies import BATCH_BODY_MAX_BYTES
from accelerator.infra.errors import decode_error_field, problem_for
from accelerator.infra.openapi import declares
from accelerator.infra.params import PageOffset, PolicyId, ReceiptId, SellerId, SellerIdFilter
from schemas import (
    ONE_LINE_PATTERN,
    BatchItemError,
    CertificateSubmission,
    CoverageBatchBody,
    CoverageBatchResult,
    CoverageCheckRequest,
    CoverageDecision,
    DecisionReceipt,
    DecisionReplay,
    FieldProblem,
    PolicyAdminView,
    PolicyDocument,
    PolicyLinkBody,
    RecordedPolicyEvent,
    ReviewBody,
)


def _item_problems(exc: msgspec.ValidationError) -> list[FieldProblem]:
    field, message = decode_error_field(str(exc))
    return [FieldProblem(field, "invalid", message)]


#: How a batch's valid claims are decided: each one's decision or InvalidInput, same order.
DecideAll = Callable[
    [list[CoverageCheckRequest]], Awaitable[Sequence[CoverageDecision | InvalidInput]]
]


async def batch_result(data: CoverageBatchBody, decide: DecideAll) -> CoverageBatchResult:
    """A batch's results in its order: each item validated on its own, the valid ones decided
    together by ``decide``, an item that fails either way answered with its errors."""
    claims: list[CoverageCheckRequest] = []
    slots: list[int | BatchItemError] = []
    for index, raw in enumerate(data.checks):
        try:
            claims.append(msgspec.convert(raw, CoverageCheckRequest))
            slots.append(len(claims) - 1)
        except msgspec.ValidationError as exc:
            slots.append(BatchItemError(index, _item_problems(exc)))
    decided = await decide(claims)
    results: list[CoverageDecision | BatchItemError] = []
    for index, slot in enumerate(slots):
        if isinstance(slot, BatchItemError):
            results.append(slot)
            continue
        outcome = decided[slot]
        results.append(
            BatchItemError(index, problem_for(outcome).errors or [])
            if isinstance(outcome, InvalidInput)
            else outcome
        )
    return CoverageBatchResult(results)


class CoverageController(Controller):
    path = "/v1/coverage/checks"
    tags = ["coverage"]
    guards = [requires(Role.CLAIMS)]

    # guarded_post: the two hot routes skip Litestar's copy of the handler per guard.
    @guarded_post(
        operation_id="checkCoverage",
        summary="Was the seller validly covered at the incident?",
        status_code=HTTP_200_OK,
    )
    async def check(
        self,
        coverage: NamedDependency[CoverageService],
        data: JSONBody[CoverageCheckRequest],
    ) -> CoverageDecision:
        return await coverage.check(data)

    @guarded_post(
        "/batch",
        operation_id="checkCoverageBatch",
        summary="Up to 1,000 checks, answered in the same order",
        description=(
            "Each check is validated on its own: a check that is not a valid "
            "CoverageCheckRequest gets its errors in its slot of the results (`result: error`), "
            "and the others are decided."
        ),
        status_code=HTTP_200_OK,
        request_max_body_size=BATCH_BODY_MAX_BYTES,
    )
    async def batch(
        self,
        coverage: NamedDependency[CoverageService],
        request: Request[Principal, Any, Any],
        data: JSONBody[CoverageBatchBody],
    ) -> CoverageBatchResult:
        return await batch_result(data, coverage.check_many)


#: A claim reference as an optional query filter (constraints inside, as for SellerIdFilter).
ClaimReferenceFilter = Annotated[
    str | None, Parameter(min_length=1, max_length=200, pattern=ONE_LINE_PATTERN)
]


class DecisionController(Controller):
    """Receipts of past decisions (docs/audit.md): fetch, find, replay."""

    path = "/v1/coverage/decisions"
    tags = ["coverage"]
    guards = [requires(Role.CLAIMS)]

    @get(
        operation_id="listDecisions",
        summary="Receipts of past decisions, newest first (paginated)",
        description=(
            "Filter by `seller_id`, by the claims engine's `claim_reference`, or with "
            "`affected=true` to the decisions a fact recorded since would change (false: those "
            "it would not). Filters combine."
        ),
    )
    async def list_decisions(
        self,
        decisions: NamedDependency[DecisionService],
        seller_id: FromQuery[SellerIdFilter] = None,
        claim_reference: FromQuery[ClaimReferenceFilter] = None,
        affected: FromQuery[bool | None] = None,
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=100)]] = 20,
        offset: FromQuery[PageOffset] = 0,
    ) -> list[DecisionReceipt]:
        return await decisions.page(
            seller_id=seller_id,
            claim_reference=claim_reference,
            affected=affected,
            limit=limit,
            offset=offset,
        )

    @get(
        "/{receipt_id:str}",
        operation_id="getDecision",
        summary="A decision as it was given: inputs, rule set, reasons, events, later marks",
        opt=declares({404: ["decision_not_found"]}),
    )
    async def read(
        self, decisions: NamedDependency[DecisionService], receipt_id: FromPath[ReceiptId]
    ) -> DecisionReceipt:
        return await decisions.receipt(receipt_id)

    @post(
        "/{receipt_id:str}/replay",
        operation_id="replayDecision",
        summary="Decide the claim again as known then; is it the same decision?",
        description=(
            "Re-decides the receipt's claim as the registry knew it at the receipt's `known_at`, "
            "with today's code, rule sets and records. `same` is true when the decision, "
            "reasons, policy, rule set and flags are as recorded; otherwise `differences` and "
            "`explanation` say what differs and why. Records nothing."
        ),
        status_code=HTTP_200_OK,
        opt=declares({404: ["decision_not_found"]}),
    )
    async def replay(
        self, decisions: NamedDependency[DecisionService], receipt_id: FromPath[ReceiptId]
    ) -> DecisionReplay:
        return await decisions.replay(receipt_id)


class SellerPolicyController(Controller):
    path = "/v1/sellers/{seller_id:str}/policies"
    tags = ["coverage"]
    guards = [requires(Role.SELLER, Role.CLAIMS)]

    # The guard lets every role in; the service refuses a seller key another seller's policies.
    @get(
        operation_id="listSellerPolicies",
        summary="The seller's policies (paginated)",
        opt=declares({403: ["forbidden"]}),
    )
    async def list_policies(
        self,
        coverage: NamedDependency[CoverageService],
        request: Request[Principal, Any, Any],
        seller_id: FromPath[SellerId],
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=100)]] = 20,
        # Bounded: a huge number failed in the database driver (a 500 the schemathesis drill found).
        offset: FromQuery[PageOffset] = 0,
    ) -> list[PolicyDocument]:
        return await coverage.seller_policies(request.user, seller_id, limit=limit, offset=offset)

    @post(
        operation_id="submitSellerPolicy",
        summary="Submit a policy bought elsewhere (certificate data)",
        description=(
            "Recorded as pending verification, with the gaps found against the marketplace rules."
        ),
        status_code=HTTP_201_CREATED,
        guards=[requires(Role.SELLER)],
        opt=declares({404: ["seller_not_found"], 409: ["policy_already_registered"]}),
    )
    async def submit(
        self,
        coverage: NamedDependency[CoverageService],
        request: Request[Principal, Any, Any],
        seller_id: FromPath[SellerId],
        data: JSONBody[CertificateSubmission],
    ) -> PolicyDocument:
        return await coverage.submit(request.user, seller_id, data)


class PolicyController(Controller):
    path = "/v1/policies/{policy_id:str}"
    tags = ["coverage"]
    guards = [requires(Role.SELLER, Role.CLAIMS)]

    @get(
        operation_id="getPolicy",
        summary="A policy with its event history",
        opt=declares({404: ["policy_not_found"]}),
    )
    async def read(
        self,
        coverage: NamedDependency[CoverageService],
        request: Request[Principal, Any, Any],
        policy_id: FromPath[PolicyId],
    ) -> PolicyDocument:
        return await coverage.document(request.user, policy_id)

    @post(
        "/verify",
        operation_id="verifyPolicy",
        summary="Verify a submitted policy (admin)",
        guards=[requires()],
        status_code=HTTP_200_OK,
        opt=declares({404: ["policy_not_found"]}),
    )
    async def verify(
        self,
        coverage: NamedDependency[CoverageService],
        request: Request[Principal, Any, Any],
        policy_id: FromPath[PolicyId],
        data: JSONBody[ReviewBody],
    ) -> PolicyDocument:
        return await coverage.review(request.user, policy_id, verified=True, reason=data.reason)

    @post(
        "/reject",
        operation_id="rejectPolicy",
        summary="Reject a submitted policy (admin)",
        guards=[requires()],
        status_code=HTTP_200_OK,
        opt=declares({404: ["policy_not_found"]}),
    )
    async def reject(
        self,
        coverage: NamedDependency[CoverageService],
        request: Request[Principal, Any, Any],
        policy_id: FromPath[PolicyId],
        data: JSONBody[ReviewBody],
    ) -> PolicyDocument:
        return await coverage.review(request.user, policy_id, verified=False, reason=data.reason)


class PolicyAdminController(Controller):
    """Operators' side of the registry (admin keys only)."""

    path = "/v1/admin/policies"
    tags = ["admin"]
    guards = [requires()]

    @get(
        "/in-review",
        operation_id="listPoliciesInReview",
        summary="Policies waiting for an operator's review, oldest first (admin, paginated)",
        description=(
            "A submitted policy sharing its insurer and number with another policy waits here, "
            "as does any unconfirmed policy it collides with; no insurer event applies to it "
            "until an operator links or unlinks it (PUT .../link)."
        ),
    )
    async def in_review(
        self,
        policy_admin: NamedDependency[PolicyAdminService],
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=100)]] = 20,
        offset: FromQuery[PageOffset] = 0,
    ) -> list[PolicyAdminView]:
        return await policy_admin.in_review(limit=limit, offset=offset)

    @get(
        "/{policy_id:str}",
        operation_id="getPolicyAsAdmin",
        summary="A policy with its link, review state and namesakes (admin)",
        opt=declares({404: ["policy_not_found"]}),
    )
    async def read(
        self, policy_admin: NamedDependency[PolicyAdminService], policy_id: FromPath[PolicyId]
    ) -> PolicyAdminView:
        return await policy_admin.view(policy_id)

    @post(
        "/{policy_id:str}/events",
        operation_id="recordPolicyEvent",
        summary="Record a lifecycle fact about a policy, with reason and evidence (admin)",
        description=(
            "Cancellation, reinstatement, lapse, endorsement, renewal, verification or its "
            "rejection, tagged by `kind`: appended to the policy's event log like an insurer's "
            "event, with the admin key that recorded it. `effective_at` may lie in the past."
        ),
        status_code=HTTP_201_CREATED,
        opt=declares({404: ["policy_not_found"]}),
    )
    async def record(
        self,
        policy_admin: NamedDependency[PolicyAdminService],
        request: Request[Principal, Any, Any],
        policy_id: FromPath[PolicyId],
        data: JSONBody[RecordedPolicyEvent],
    ) -> PolicyAdminView:
        return await policy_admin.record(request.user, policy_id, data)

    @put(
        "/{policy_id:str}/link",
        operation_id="linkPolicy",
        summary="Decide which insurer's events reach a policy; settles its review (admin)",
        opt=declares({404: ["policy_not_found"], 409: ["policy_bound_here"]}),
    )
    async def link(
        self,
        policy_admin: NamedDependency[PolicyAdminService],
        request: Request[Principal, Any, Any],
        policy_id: FromPath[PolicyId],
        data: JSONBody[PolicyLinkBody],
    ) -> PolicyAdminView:
        return await policy_admin.link(request.user, policy_id, data)
