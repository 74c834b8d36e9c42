"""Coverage registry: policy state derived from bitemporal events, and the claims decision."""

from accelerator.coverage.decision import (
    REASON_ORDER,
    PolicyCandidate,
    decide,
    incident_date,
    is_verified,
    rule_set_for_incident,
)
from accelerator.coverage.state import (
    POLICY_DAY_START,
    EventKind,
    Interval,
    PolicyEvent,
    PolicyState,
    derive_state,
    policy_period_from_dates,
)

__all__ = [
    "POLICY_DAY_START",
    "REASON_ORDER",
    "EventKind",
    "Interval",
    "PolicyCandidate",
    "PolicyEvent",
    "PolicyState",
    "decide",
    "derive_state",
    "incident_date",
    "is_verified",
    "policy_period_from_dates",
    "rule_set_for_incident",
]
