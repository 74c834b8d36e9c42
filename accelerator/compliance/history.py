"""A policy's event log told for people: one sentence per event, in the marketplace's time.

Pure: the events (as :func:`~accelerator.coverage.state.derive_state` ordered them), where the
policy came from and the marketplace's reference time zone in; sentences out.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final

from accelerator.compliance.text import money
from accelerator.coverage.state import POLICY_DAY_START, EventKind, PolicyEvent
from accelerator.rulesets.zones import local_time
from schemas import PolicySource, PolicyTerms

#: A change recorded this long after it took effect is called back-dated in its summary.
BACK_DATED_AFTER: Final = timedelta(hours=1)

#: The terms an endorsement summary compares, with how each reads.
_COMPARED: Final[tuple[tuple[str, Callable[[PolicyTerms], str]], ...]] = (
    ("insurer rating", lambda t: t.insurer_rating),
    ("named insured", lambda t: t.named_insured),
    ("policy form", lambda t: t.policy_form.replace("_", "-")),
    ("per-occurrence limit", lambda t: money(t.per_occurrence_limit)),
    ("aggregate limit", lambda t: money(t.aggregate_limit)),
    (
        "products/completed-operations aggregate",
        lambda t: money(t.products_completed_operations_aggregate),
    ),
    ("deductible", lambda t: money(t.deductible)),
    ("additional insureds", lambda t: _listing(t.additional_insureds)),
    ("territories", lambda t: _listing(t.territories)),
    ("covered categories", lambda t: _listing(t.covered_categories)),
    ("cancellation notice", lambda t: f"{t.cancellation_notice_days} days"),
)


def local_moment(instant: datetime, timezone: str) -> str:
    """``instant`` as people in the marketplace read it: the bare date when it is the start of a
    policy day (00:01 local), else the local date, time and zone abbreviation."""
    local = local_time(instant, timezone)
    if local.time() == POLICY_DAY_START:
        return local.date().isoformat()
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def event_detail(event: PolicyEvent) -> str:
    """The short detail of an event: the reason given, or a renewal's new expiry."""
    if event.kind == EventKind.RENEWED and event.expires_at is not None:
        return f"renewed to {event.expires_at.isoformat()}"
    return event.reason


def about_cover(event: PolicyEvent) -> bool:
    """Whether the event is a fact about cover; linking a policy to an insurer (and undoing
    it) is operators' bookkeeping (coverage.linking), left out of the history."""
    return event.kind not in (EventKind.LINKED, EventKind.UNLINKED)


def summarise(events: Sequence[PolicyEvent], *, source: PolicySource, timezone: str) -> list[str]:
    """One sentence per event :func:`about_cover`, in the order given; endorsements name each
    term they changed. ``source`` says how the policy entered the registry.
    """
    sentences: list[str] = []
    terms: PolicyTerms | None = None
    for event in events:
        if not about_cover(event):
            continue
        sentences.append(_sentence(event, terms, source, timezone))
        if event.terms is not None:
            terms = event.terms
    return sentences


def _sentence(
    event: PolicyEvent, previous: PolicyTerms | None, source: PolicySource, timezone: str
) -> str:
    when = local_moment(event.effective_at, timezone)
    because = f" ({event.reason})" if event.reason else ""
    match event.kind:
        case EventKind.ISSUED if event.terms is not None and previous is None:
            return _issued(event.terms, source, timezone)
        case EventKind.ISSUED | EventKind.ENDORSED if event.terms is not None:
            verb = "Endorsed" if event.kind == EventKind.ENDORSED else "Re-issued"
            return _changed_terms(verb, event.terms, previous, when)
        case EventKind.RENEWED if event.expires_at is not None:
            until = local_moment(event.expires_at, timezone)
            return f"Renewed with effect from {when}; cover now runs until {until}."
        case EventKind.CANCELLED:
            return f"Cancelled with effect from {when}{because}.{_back_dated(event, timezone)}"
        case EventKind.LAPSED:
            return f"Lapsed with effect from {when}{because}.{_back_dated(event, timezone)}"
        case EventKind.REINSTATED:
            return f"Reinstated with effect from {when}.{_back_dated(event, timezone)}"
        case EventKind.VERIFIED:
            note = f": {event.reason}" if event.reason else ""
            return f"Verified on {when}{note}."
        case EventKind.VERIFICATION_REJECTED:
            note = f": {event.reason}" if event.reason else ""
            return f"Verification rejected on {when}{note}."
    return f"{event.kind.replace('_', ' ').capitalize()} with effect from {when}."


def _issued(terms: PolicyTerms, source: PolicySource, timezone: str) -> str:
    how = "Bound through the service" if source == PolicySource.BOUND else "Submitted by the seller"
    start = local_moment(terms.effective_at, timezone)
    end = local_moment(terms.expires_at, timezone)
    return (
        f"{how}: {terms.insurer_name} ({terms.insurer_rating}) policy {terms.policy_number}, "
        f"cover from {start} up to {end}, {money(terms.per_occurrence_limit)} per occurrence."
    )


def _changed_terms(verb: str, terms: PolicyTerms, previous: PolicyTerms | None, when: str) -> str:
    if previous is None:
        return f"{verb} with effect from {when}."
    changes = [
        f"{label} {read(previous)} → {read(terms)}"
        for label, read in _COMPARED
        if read(previous) != read(terms)
    ]
    if not changes:
        return f"{verb} with effect from {when}; the terms did not change."
    return f"{verb} with effect from {when}: {'; '.join(changes)}."


def _back_dated(event: PolicyEvent, timezone: str) -> str:
    if event.recorded_at - event.effective_at < BACK_DATED_AFTER:
        return ""
    return f" Back-dated: recorded on {local_moment(event.recorded_at, timezone)}."


def _listing(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"
