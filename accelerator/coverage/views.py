"""The policy document: current terms, verification, whether in force, gaps and history.

Pure: the stored policy, its events, its seller (None when the seller has no profile) and the
instant in; the document out. ``coverage.service.policy_document`` reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from accelerator.compliance.evaluate import evaluate_cover, evaluate_submission, terms_of_policy
from accelerator.coverage.events import to_event
from accelerator.coverage.models import PolicyEventRow, PolicyRow
from accelerator.coverage.state import EventKind, derive_state, event_order
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.repository import SellerRecord
from schemas import PolicyDocument, PolicyEventView, PolicySource, PolicyVerification

_OPERATOR_ONLY = (EventKind.LINKED, EventKind.UNLINKED)


def _detail(kind: str, data: dict[str, object]) -> str:
    if kind == EventKind.RENEWED and "expires_at" in data:
        return f"renewed to {data['expires_at']}"
    if kind == EventKind.LINKED:
        return f"linked to {data.get('provider_id')}"
    if kind == EventKind.UNLINKED:
        return f"unlinked from {data.get('provider_id')}"
    if reason := data.get("reason"):
        return str(reason)
    return ""


def render_policy(
    policy: PolicyRow,
    rows: Sequence[PolicyEventRow],
    seller: SellerRecord | None,
    rulebook: RuleBook,
    now: datetime,
    *,
    operator: bool = False,
) -> PolicyDocument:
    """The document of ``policy`` as of ``now``; ``rows`` are its events in the order they take
    effect. Its gaps are judged against the seller's marketplace rules in force today; its
    history is in the world's order, as the state is derived (``coverage.state.event_order``)."""
    history = sorted(
        ((to_event(r.event_id, r.kind, r.effective_at, r.recorded_at, r.data), r) for r in rows),
        key=lambda pair: event_order(pair[0]),
    )
    state = derive_state(event for event, _ in history)
    assert state is not None, "a registered policy always has its issued event"
    terms = state.terms_at(now)
    source = PolicySource(policy.source)
    gaps = []
    if seller is not None:
        version = rulebook.version_at(seller.marketplace, now.date())
        cover = terms_of_policy(terms)
        # Judged for the categories the policy covers: with none, a claims-made policy would
        # be refused even for the categories the rule set accepts it for.
        gaps = evaluate_cover(
            cover, version, categories=terms.covered_categories, legal_name=seller.legal_name
        )
        if source is PolicySource.SUBMITTED:
            gaps += evaluate_submission(cover, version, policy.created_at.date())
    verification = (
        PolicyVerification.VERIFIED
        if source is PolicySource.BOUND and state.verification != PolicyVerification.REJECTED
        else state.verification
    )
    return PolicyDocument(
        id=policy.id,
        seller_id=policy.seller_id,
        source=source,
        verification=verification,
        in_force_now=state.in_force_at(now)[0],
        terms=terms,
        gaps=gaps,
        events=[
            PolicyEventView(
                event_id=event.event_id,
                kind=event.kind,
                effective_at=event.effective_at,
                recorded_at=event.recorded_at,
                detail=_detail(row.kind, row.data),
                occurred_at=event.occurred_at,
                sequence=event.sequence,
                reason=event.reason,
                evidence_reference=str(row.data.get("evidence_reference", "")),
                recorded_by=str(row.data.get("recorded_by", "")),
            )
            for event, row in history
            # Links are operators' bookkeeping, and their notes may name another seller's
            # policy (a review of a shared number): never in a seller's view.
            if operator or event.kind not in _OPERATOR_ONLY
        ],
    )
