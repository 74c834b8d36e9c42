"""Each insurer's quote funnel over a period, from the stored outcomes of quote requests: how
often it was asked, how many HTTP calls that took, and how it answered (with the reasons of
declines, errors and skips)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from accelerator.infra.database import Database
from accelerator.quoting.models import InsurerOutcomeRow, QuoteRequestRow
from schemas import OutcomeStatus

#: The answers whose reasons the funnel breaks down.
BY_REASON = (OutcomeStatus.DECLINED, OutcomeStatus.ERROR, OutcomeStatus.SKIPPED)


@dataclass
class Funnel:
    """One insurer's answers to the quote requests made since the period began."""

    requests: int = 0
    calls: int = 0
    answers: Counter[OutcomeStatus] = field(default_factory=Counter)
    reasons: dict[OutcomeStatus, Counter[str]] = field(
        default_factory=lambda: {status: Counter() for status in BY_REASON}
    )


async def funnels_since(db: Database, since: datetime) -> dict[str, Funnel]:
    """Every insurer's funnel over the quote requests created at or after ``since``."""
    statement = (
        select(
            InsurerOutcomeRow.provider_id,
            InsurerOutcomeRow.status,
            InsurerOutcomeRow.reason_code,
            func.count(),
            func.coalesce(func.sum(InsurerOutcomeRow.attempts), 0),
        )
        .join(QuoteRequestRow, QuoteRequestRow.id == InsurerOutcomeRow.request_id)
        .where(QuoteRequestRow.created_at >= since)
        .group_by(
            InsurerOutcomeRow.provider_id, InsurerOutcomeRow.status, InsurerOutcomeRow.reason_code
        )
    )
    funnels: dict[str, Funnel] = {}
    async with db.reading() as session:
        for provider_id, status, reason_code, count, attempts in await session.execute(statement):
            funnel = funnels.setdefault(provider_id, Funnel())
            answer = OutcomeStatus(status)
            funnel.requests += count
            funnel.calls += int(attempts)
            funnel.answers[answer] += count
            if answer in funnel.reasons:
                funnel.reasons[answer][reason_code or "unstated"] += count
    return funnels
