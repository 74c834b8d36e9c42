"""Where a seller stands today: which of its policies meet the rule set in force, and why the
others do not (the compliance status, DESIGN §4).

Pure: the seller's policies (derived from their events), the rule-set version, the categories
the seller sells, its legal name and the instant in; a :class:`Standing` out. The terms are
judged by the same evaluation as offers and claims (``compliance.evaluate``). How the
qualifying policy is chosen is documented in docs/coverage.md ("Compliance status").
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from accelerator.compliance.evaluate import (
    GAP_ORDER,
    category_covered,
    evaluate_cover,
    terms_of_policy,
)
from accelerator.compliance.history import local_moment
from accelerator.coverage.decision import PolicyCandidate, incident_date, is_verified
from accelerator.coverage.state import EventKind, Interval, PolicyState
from accelerator.rulesets.model import RuleSetVersion
from schemas import PolicySource, PolicyTerms, PolicyVerification


@dataclass(frozen=True)
class Shortfall:
    """One reason a policy does not qualify on its own: a stable code and a sentence."""

    code: str
    message: str


@dataclass(frozen=True)
class HeldPolicy:
    """One policy judged at one instant.

    ``term`` is the term that matters at that instant (the current one, else the next, else
    the last); ``ends_at`` is when cover ends as known then (the term's end, or an earlier
    cancellation or lapse already on record, which is then also ``cancellation_at``).
    ``categories`` are the seller's categories the policy covers.
    """

    policy_id: str
    source: PolicySource
    state: PolicyState
    terms: PolicyTerms
    verified: bool
    in_force: bool
    ended: bool
    term: Interval
    ends_at: datetime
    cancellation_at: datetime | None
    categories: tuple[str, ...]
    shortfalls: tuple[Shortfall, ...]

    @property
    def usable(self) -> bool:
        """In force, verified and meeting every rule for the categories it covers: it counts
        towards compliance for those categories."""
        return bool(self.categories) and all(
            s.code == "category_not_covered" for s in self.shortfalls
        )


@dataclass(frozen=True)
class Standing:
    """A seller's policies judged at ``at``.

    ``qualifying`` holds the policies that meet the requirement, first to end first (one
    policy, or several that split the seller's categories); empty when none does.
    ``explaining`` holds, when nothing qualifies, the policies whose shortfalls explain it,
    closest to qualifying first. ``continues`` says another qualifying policy takes over when
    the qualifying cover ends.
    """

    at: datetime
    held: tuple[HeldPolicy, ...]
    qualifying: tuple[HeldPolicy, ...]
    explaining: tuple[HeldPolicy, ...]
    continues: bool

    @property
    def cover_ends_at(self) -> datetime | None:
        """When the qualifying cover ends (the first of the qualifying policies to end)."""
        return self.qualifying[0].ends_at if self.qualifying else None


def assess_standing(
    policies: Sequence[PolicyCandidate],
    version: RuleSetVersion,
    *,
    categories: Sequence[str],
    legal_name: str | None,
    at: datetime,
) -> Standing:
    """Judge every policy at ``at`` against ``version`` for a seller selling ``categories``.

    Promises: a policy qualifies when it is in force at ``at``, verified (bound here and not
    rejected, or submitted and verified) and its terms then meet ``version`` (the shared
    evaluation; the proof rule's remaining term is not part of it). If one such policy covers
    every category, the one whose cover ends last qualifies (then the highest per-occurrence
    limit, then the lowest policy id). Otherwise, if such policies together cover every
    category, each category takes the one covering it that ends last, and all those qualify.
    When nothing qualifies, the policies that have not ended explain why (or, when all have,
    the one that ended last). The result never depends on the order of ``policies``.
    """
    known = _known(policies)
    held = tuple(_hold(c, version, categories, legal_name, at) for c in known)
    qualifying = _qualifying(held, categories)
    continues = False
    if qualifying:
        # Judged again at the instant the cover ends: does another policy take over then?
        ends = qualifying[0].ends_at
        later = tuple(_hold(c, version, categories, legal_name, ends) for c in known)
        continues = bool(_qualifying(later, categories))
    return Standing(
        at=at,
        held=held,
        qualifying=qualifying,
        explaining=() if qualifying else _explaining(held),
        continues=continues,
    )


def days_until(instant: datetime, at: datetime, timezone: str) -> int:
    """Calendar days from the date of ``at`` to the date of ``instant``, both in ``timezone``
    (0 when they fall on the same local day)."""
    return (incident_date(instant, timezone) - incident_date(at, timezone)).days


def _known(policies: Sequence[PolicyCandidate]) -> list[PolicyCandidate]:
    return sorted((c for c in policies if c.state is not None), key=lambda c: c.policy_id)


def _qualifying(held: Sequence[HeldPolicy], categories: Sequence[str]) -> tuple[HeldPolicy, ...]:
    usable = [h for h in held if h.usable]
    whole = [h for h in usable if len(h.categories) == len(set(categories))]
    if whole:
        # Stable sorts: the lowest policy id wins a tie on both keys.
        by_limit = sorted(whole, key=lambda h: h.terms.per_occurrence_limit.amount, reverse=True)
        return (sorted(by_limit, key=lambda h: h.ends_at, reverse=True)[0],)
    chosen: dict[str, HeldPolicy] = {}
    for category in categories:
        covering = [h for h in usable if category in h.categories]
        if not covering:
            return ()
        best = sorted(covering, key=lambda h: h.ends_at, reverse=True)[0]
        chosen[best.policy_id] = best
    return tuple(sorted(chosen.values(), key=lambda h: (h.ends_at, h.policy_id)))


def _explaining(held: Sequence[HeldPolicy]) -> tuple[HeldPolicy, ...]:
    current = [h for h in held if not h.ended]
    if not current and held:
        # Stable sort: the lowest policy id wins a tie.
        current = [sorted(held, key=lambda h: h.term.end, reverse=True)[0]]
    return tuple(sorted(current, key=lambda h: (len(h.shortfalls), h.policy_id)))


def _hold(
    candidate: PolicyCandidate,
    version: RuleSetVersion,
    categories: Sequence[str],
    legal_name: str | None,
    at: datetime,
) -> HeldPolicy:
    state = candidate.state
    assert state is not None, "only known policies are judged"
    timezone = version.reference_timezone
    terms = state.terms_at(at)
    label = f"Policy {terms.policy_number} ({terms.insurer_name})"
    term = _term_that_matters(state, at)
    in_force, why_not = state.in_force_at(at)
    shortfalls: list[Shortfall] = []
    if why_not == "policy_cancelled":
        change = state.cancelled_by(at)
        assert change is not None
        verb = "lapsed" if change.kind == EventKind.LAPSED else "was cancelled"
        because = f" ({change.reason})" if change.reason else ""
        when = local_moment(change.effective_at, timezone)
        shortfalls.append(
            Shortfall("policy_cancelled", f"{label} {verb} with effect from {when}{because}.")
        )
    elif why_not == "policy_not_in_force":
        shortfalls.append(
            Shortfall("policy_not_in_force", _not_in_force(label, term, at, timezone))
        )
    verified = is_verified(candidate.source, state)
    if not verified:
        shortfalls.append(Shortfall("policy_unverified", _unverified(label, state)))
    covered = tuple(
        c for c in dict.fromkeys(categories) if category_covered(c, terms.covered_categories)
    )
    cover = terms_of_policy(terms)
    every = evaluate_cover(cover, version, categories=categories, legal_name=legal_name)
    if covered:
        # Judge the rules (claims-made, say) only for the categories this policy covers; the
        # categories it leaves out are one more gap, which another policy may fill.
        gaps = evaluate_cover(cover, version, categories=covered, legal_name=legal_name)
        gaps += [g for g in every if g.code == "category_not_covered"]
        gaps.sort(key=lambda g: GAP_ORDER.index(g.code))
    else:
        gaps = every
    shortfalls.extend(Shortfall(g.code, f"{label}: {g.message}") for g in gaps)
    ends_at, cancellation_at = term.end, None
    if in_force:
        upcoming = next(
            (
                c
                for c in state.status_changes
                if c.effective_at > at
                and c.kind in (EventKind.CANCELLED, EventKind.LAPSED)
                # A reinstatement with effect from the same instant means no end at all.
                and state.cancelled_by(c.effective_at) is not None
            ),
            None,
        )
        if upcoming is not None and upcoming.effective_at < term.end:
            ends_at = cancellation_at = upcoming.effective_at
    return HeldPolicy(
        policy_id=candidate.policy_id,
        source=candidate.source,
        state=state,
        terms=terms,
        verified=verified,
        in_force=in_force,
        ended=at >= state.period.end,
        term=term,
        ends_at=ends_at,
        cancellation_at=cancellation_at,
        categories=covered,
        shortfalls=tuple(shortfalls),
    )


def _term_that_matters(state: PolicyState, at: datetime) -> Interval:
    for interval in state.intervals:
        if interval.contains(at) or at < interval.start:
            return interval
    return state.intervals[-1]


def _not_in_force(label: str, term: Interval, at: datetime, timezone: str) -> str:
    start, end = local_moment(term.start, timezone), local_moment(term.end, timezone)
    if at < term.start:
        return f"{label} is not in force yet: its cover starts on {start}."
    return f"{label} expired on {end}; it covered {start} up to {end}."


def _unverified(label: str, state: PolicyState) -> str:
    if state.verification == PolicyVerification.REJECTED:
        because = f": {state.rejection_reason}" if state.rejection_reason else ""
        return f"{label} failed verification{because}."
    return f"{label} has not been verified by the insurer or an administrator yet."
