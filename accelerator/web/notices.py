"""The notices at the top of a seller's pages: the facts the reminders announce
(``policy.expiring``, ``compliance.deadline``), a cancellation scheduled and renewal offers
ready, said in one line each, linking to the page where the whole story is (the coverage page,
a renewal's page).

:func:`seller_notices` is pure: the coverage page's standing (``web.standing``) and the
compliance status in, the notices out. :func:`notices_for` reads what it needs for a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from accelerator.auth.principal import Principal
from accelerator.compliance.service import ComplianceService
from accelerator.coverage.decision import rule_set_for_incident
from accelerator.renewals.service import RenewalReady, RenewalService
from accelerator.rulesets.loader import RuleBook
from accelerator.rulesets.zones import local_date
from accelerator.web import wording
from accelerator.web.standing import CoverageStanding, coverage_standing
from schemas import ComplianceStatus, PolicyVerification

NoticeCode = Literal["cancellation_scheduled", "cover_expiring", "deadline_close", "renewal_ready"]

#: As the reminders: cover ending within 60 days, a deadline within 30.
EXPIRING_WITHIN_DAYS: Final = 60
DEADLINE_WITHIN_DAYS: Final = 30
COVERAGE_PAGE: Final = "/app/coverage"
SEE_COVERAGE: Final = "See your coverage"


def renewal_page(policy_id: str) -> str:
    """The page comparing a policy's renewal offers with its current terms."""
    return f"/app/renewals/{policy_id}"


@dataclass(frozen=True)
class Notice:
    """One line for the top of a seller's page: ``code`` is stable, ``href`` the page to act."""

    code: NoticeCode
    text: str
    href: str = COVERAGE_PAGE
    link: str = SEE_COVERAGE


def seller_notices(
    current: CoverageStanding,
    status: ComplianceStatus,
    *,
    timezone: str,
    renewals: Sequence[RenewalReady] = (),
) -> tuple[Notice, ...]:
    """What the seller should hear first, most urgent first, at most one of each code.

    Promises: ``cancellation_scheduled`` when a cancellation or lapse of a policy is on record
    for later (the first of them); ``cover_expiring`` when the qualifying cover ends by expiry
    within 60 calendar days (0: today) and no verified policy on record takes over at its end;
    ``deadline_close`` when insurance is required, the seller is not compliant and the
    comply-by date is within 30 days (today included); ``renewal_ready`` for each of
    ``renewals`` (a renewal with offers to buy), linking to its page, in place of
    ``cover_expiring`` when it renews the expiring cover. Day counts are the marketplace's
    calendar days, as the reminders count them."""
    notices: list[Notice] = [
        Notice(
            "renewal_ready",
            f"Renewal offers are ready for policy {renewal.policy_number} with "
            f"{renewal.insurer_name}, which ends on "
            f"{wording.long_date(local_date(renewal.ends_at, timezone))}: {renewal.offers} "
            f"{'offer' if renewal.offers == 1 else 'offers'} to start when it ends.",
            href=renewal_page(renewal.policy_id),
            link="Compare and renew",
        )
        for renewal in renewals
    ]
    renewed = {renewal.policy_id for renewal in renewals}
    if current.scheduled:
        end = current.scheduled[0]
        verb = "lapses" if end.cause == "lapse" else "is cancelled"
        notices.append(
            Notice(
                "cancellation_scheduled",
                f"Policy {end.policy_number} {verb} from "
                f"{wording.long_date(local_date(end.effective_at, timezone))}.",
            )
        )
    if (
        current.headline in ("covered", "ending")
        and current.end_cause == "expiry"
        and current.ends_at is not None
        and current.days_to_end is not None
        and 0 <= current.days_to_end <= EXPIRING_WITHIN_DAYS
        and not _taken_over(status, current)
        and current.policy_id not in renewed
    ):
        notices.append(
            Notice(
                "cover_expiring",
                f"Your cover with {current.insurer_name} ends on "
                f"{wording.long_date(local_date(current.ends_at, timezone))}"
                f" ({_in_days(current.days_to_end)}): renew it or add the next policy.",
            )
        )
    days = status.days_until_deadline
    comply_by = status.requirement.comply_by
    if (
        status.requirement.required
        and not status.compliant_now
        and comply_by is not None
        and days is not None
        and 0 <= days <= DEADLINE_WITHIN_DAYS
    ):
        notices.append(
            Notice(
                "deadline_close",
                f"The marketplace needs your insurance by {wording.long_date(comply_by)}"
                f" ({_in_days(days)}) and you are not covered yet.",
            )
        )
    urgency = {
        "deadline_close": 0,
        "cancellation_scheduled": 1,
        "cover_expiring": 2,
        "renewal_ready": 3,
    }
    return tuple(sorted(notices, key=lambda n: urgency[n.code]))


async def notices_for(
    compliance: ComplianceService,
    renewals: RenewalService,
    rulebook: RuleBook,
    principal: Principal,
    seller_id: str,
    marketplace: str,
    now: datetime,
) -> tuple[Notice, ...]:
    """The seller's notices at ``now`` (its status, its policies and its open renewals)."""
    status = await compliance.status(principal, seller_id, now)
    held = await compliance.held_policies(principal, seller_id)
    timezone = rule_set_for_incident(rulebook, marketplace, now).reference_timezone
    current = coverage_standing(held, status, now=now, timezone=timezone)
    ready = await renewals.ready(principal, seller_id, now)
    return seller_notices(current, status, timezone=timezone, renewals=ready)


def _taken_over(status: ComplianceStatus, current: CoverageStanding) -> bool:
    ends = current.ends_at
    assert ends is not None
    return any(
        p.policy_id != current.policy_id
        and p.verification == PolicyVerification.VERIFIED
        and p.effective_at <= ends < p.expires_at
        for p in status.policies
    )


def _in_days(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days} days"


__all__ = ["Notice", "NoticeCode", "notices_for", "renewal_page", "seller_notices"]
