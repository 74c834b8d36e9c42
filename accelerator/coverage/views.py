"""The policy document: current terms, verification, whether in force, gaps and history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from accelerator.compliance.evaluate import evaluate_cover, evaluate_submission, terms_of_policy
from accelerator.coverage.models import PolicyEventRow, PolicyRow
from accelerator.coverage.queries import to_event
from accelerator.coverage.state import derive_state
from accelerator.infra.database import ReadSession, WriteSession
from accelerator.infra.errors import not_found
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.models import Seller
from schemas import PolicyDocument, PolicyEventView


def _detail(kind: str, data: dict[str, object]) -> str:
    if kind == "renewed" and "expires_at" in data:
        return f"renewed to {data['expires_at']}"
    if reason := data.get("reason"):
        return str(reason)
    return ""


async def policy_document(
    session: ReadSession | WriteSession, policy_id: str, rulebook: RuleBook, now: datetime
) -> PolicyDocument:
    policy = await session.get(PolicyRow, policy_id)
    if policy is None:
        raise not_found("policy", f"No policy {policy_id!r}.")
    seller = await session.get(Seller, policy.seller_id)
    rows = (
        await session.scalars(
            select(PolicyEventRow)
            .where(PolicyEventRow.policy_id == policy_id)
            .order_by(
                PolicyEventRow.effective_at, PolicyEventRow.recorded_at, PolicyEventRow.event_id
            )
        )
    ).all()
    events = [to_event(r.event_id, r.kind, r.effective_at, r.recorded_at, r.data) for r in rows]
    state = derive_state(events)
    assert state is not None, "a registered policy always has its issued event"
    terms = state.terms_at(now)
    gaps = []
    if seller is not None:
        version = rulebook.version_at(seller.marketplace, now.date())
        cover = terms_of_policy(terms)
        # Judged for the categories the policy covers: with none, a claims-made policy would
        # be refused even for the categories the rule set accepts it for.
        gaps = evaluate_cover(
            cover, version, categories=terms.covered_categories, legal_name=seller.legal_name
        )
        if policy.source == "submitted":
            gaps += evaluate_submission(cover, version, policy.created_at.date())
    verification = (
        "verified"
        if policy.source == "bound" and state.verification != "rejected"
        else state.verification
    )
    return PolicyDocument(
        id=policy.id,
        seller_id=policy.seller_id,
        source=policy.source,  # type: ignore[arg-type]
        verification=verification,
        in_force_now=state.in_force_at(now)[0],
        terms=terms,
        gaps=gaps,
        events=[
            PolicyEventView(
                event_id=r.event_id,
                kind=r.kind,
                effective_at=r.effective_at,
                recorded_at=r.recorded_at,
                detail=_detail(r.kind, r.data),
            )
            for r in rows
        ],
    )
