"""The claims engine's view of past decisions: fetch a receipt, find receipts, replay one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from accelerator import __version__
from accelerator.audit import anchors, receipts
from accelerator.audit.chain import Chain
from accelerator.audit.models import AuditAnchorRow
from accelerator.coverage.service import CoverageService
from accelerator.errors import InvalidInput, NotFound
from accelerator.infra.database import Database
from accelerator.infra.errors import problem_for
from schemas import (
    CoverageDecision,
    DecisionReceipt,
    DecisionReplay,
    ReceiptContent,
    ReplayDifference,
)

# What a replay must reproduce, each with how it is shown when it does not. The instants the
# decision was asked about and given, its receipt and the claim's reference are the request's.
_COMPARED: dict[str, Callable[[CoverageDecision], Any]] = {
    "decision": lambda d: d.decision,
    "covered": lambda d: d.covered,
    "exempt_from_recovery": lambda d: d.exempt_from_recovery,
    "policy": lambda d: d.policy,
    "reasons": lambda d: d.reasons,
    "rule_set": lambda d: d.rule_set,
    "flags": lambda d: d.flags,
}


def _shown(value: Any) -> str:
    return msgspec.json.encode(value).decode()


@dataclass(frozen=True)
class DecisionService:
    db: Database
    coverage: CoverageService

    async def receipt(self, receipt_id: str) -> DecisionReceipt:
        async with self.db.reading() as session:
            found = await receipts.receipt(session, receipt_id)
        if found is None:
            raise NotFound("decision", f"No decision receipt {receipt_id!r}.")
        return found

    async def page(
        self,
        *,
        seller_id: str | None,
        claim_reference: str | None,
        affected: bool | None,
        limit: int,
        offset: int,
    ) -> list[DecisionReceipt]:
        async with self.db.reading() as session:
            return await receipts.page(
                session,
                seller_id=seller_id,
                claim_reference=claim_reference,
                affected=affected,
                limit=limit,
                offset=offset,
            )

    async def replay(self, receipt_id: str) -> DecisionReplay:
        """The receipt's claim decided again as known at the receipt's ``known_at``, at its
        evaluation instant, by the code and data of today; compared and explained."""
        async with self.db.reading() as session:
            original = await receipts.content(session, receipt_id)
            purged = (
                None
                if original is None
                else await anchors.latest(session, Chain.EVENTS, original.seller_id)
            )
        if original is None:
            raise NotFound("decision", f"No decision receipt {receipt_id!r}.")
        # The claim as it was asked (its wording depends on it), read as known then.
        [outcome] = await self.coverage.decide_many(
            [original.request], now=original.evaluated_at, read_as_of=original.known_at
        )
        if isinstance(outcome, InvalidInput):
            problems = problem_for(outcome).errors or []
            return DecisionReplay(
                receipt_id=receipt_id,
                same=False,
                known_at=original.known_at,
                original=original.decision,
                replayed=None,
                differences=[],
                explanation=[
                    "The claim can no longer be decided: "
                    + "; ".join(f"{p.field}: {p.message}" for p in problems)
                ],
            )
        replayed = msgspec.structs.replace(
            outcome.decision,
            claim_reference=original.claim_reference,
            receipt_id=receipt_id,
        )
        differences = [
            ReplayDifference(
                field=name,
                original=_shown(read(original.decision)),
                replayed=_shown(read(replayed)),
            )
            for name, read in _COMPARED.items()
            if read(original.decision) != read(replayed)
        ]
        explanation = (
            _explain(original, outcome.considered, replayed, purged) if differences else []
        )
        return DecisionReplay(
            receipt_id=receipt_id,
            same=not differences,
            known_at=original.known_at,
            original=original.decision,
            replayed=replayed,
            differences=differences,
            explanation=explanation,
        )


def _explain(
    original: ReceiptContent,
    considered_now: list[str],
    replayed: CoverageDecision,
    events_anchor: AuditAnchorRow | None,
) -> list[str]:
    """Why a replay differs, from what the receipt recorded and what the registry holds now
    (``events_anchor``: the seller's events chain's latest anchor, if retention purged some)."""
    said: list[str] = []
    then, now = set(original.considered_event_ids), set(considered_now)
    if missing := sorted(then - now):
        gone = (
            f"Events the decision was made on are no longer in the registry: {', '.join(missing)}."
        )
        if events_anchor is not None:
            said.append(
                f"{gone} They may have been purged by retention: the seller's events chain begins "
                f"after position {events_anchor.position} (events of policies over before "
                f"{events_anchor.cutoff.isoformat()} purged at "
                f"{events_anchor.purged_at.isoformat()}); `accelerator audit verify` shows "
                "whether the rest of the chain is intact."
            )
        else:
            said.append(
                f"{gone} Events are append-only: `accelerator audit verify` shows where the "
                "chain is broken."
            )
    if extra := sorted(now - then):
        said.append(
            f"Events recorded by {original.known_at.isoformat()} that the decision did not see: "
            f"{', '.join(extra)}. They were committed after the decision read the registry."
        )
    if original.decision.rule_set != replayed.rule_set:
        said.append(
            f"The rule set in force on the incident's date is now {replayed.rule_set.version}; "
            f"the decision applied {original.decision.rule_set.version}: the rule sets changed."
        )
    if not said:
        if original.service_version != __version__:
            said.append(
                "The same events and rule set give another decision: the decision logic changed "
                f"between service versions {original.service_version or 'before 0.1.0'} and "
                f"{__version__}."
            )
        else:
            said.append(
                "The same events, rule set and service version give another decision: a defect. "
                "Please report it with this receipt."
            )
    return said
