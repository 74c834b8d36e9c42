"""Decision receipts: every coverage decision as it was given, what it rested on, and whether a
fact recorded since would change it (``/v1/coverage/decisions``)."""

import msgspec

from schemas._bounds import Instant
from schemas._coverage import CoverageCheckRequest, CoverageDecision


class ReceiptContent(msgspec.Struct, frozen=True, kw_only=True):
    """What a receipt records, stored as its canonical JSON (the content its hash covers).

    ``known_at`` is the instant the registry was read as of: the check's own ``known_at``, or
    the evaluation instant. ``event_ids`` are the events of the policy the decision names, in
    the order they apply; ``considered_event_ids`` every event of the seller's policies known
    at ``known_at``, the whole of what was decided on. ``service_version`` is the version of
    the service that decided.
    """

    id: str
    seller_id: str
    claim_reference: str | None
    request: CoverageCheckRequest
    known_at: Instant
    evaluated_at: Instant
    decision: CoverageDecision
    event_ids: list[str]
    considered_event_ids: list[str]
    service_version: str = ""


class ChainLink(msgspec.Struct, frozen=True, kw_only=True):
    """A row's place in its seller's hash chain: ``row_hash`` is SHA-256 of ``prev_hash``, a
    line feed and the row's canonical content (docs/audit.md)."""

    position: int
    prev_hash: str
    row_hash: str


class AffectedBy(msgspec.Struct, frozen=True, kw_only=True):
    """An event recorded after the decision that would change it, and the decision the claim
    would get with that event known. ``changed`` is false when the event brings the decision
    back to the receipt's own (a reinstatement after the cancellation that had changed it)."""

    event_id: str
    detected_at: Instant
    changed: bool
    decision: CoverageDecision


class DecisionReceipt(ReceiptContent, frozen=True, kw_only=True):
    """A stored decision (``GET /v1/coverage/decisions/{id}``): its content, its place in the
    seller's chain of receipts, and the marks of later events that would change it (oldest
    first). ``affected`` is true when the latest mark's decision differs from the receipt's."""

    chain: ChainLink
    affected: bool
    affected_by: list[AffectedBy]


class ReplayDifference(msgspec.Struct, frozen=True, kw_only=True):
    """A field whose value the replay does not reproduce."""

    field: str
    original: str
    replayed: str


class DecisionReplay(msgspec.Struct, frozen=True, kw_only=True):
    """The receipt's claim decided again, as known at its ``known_at``, by today's code and
    data (``POST /v1/coverage/decisions/{id}/replay``). ``same`` is true when the decision,
    reasons, policy, rule set and flags are all as recorded; otherwise ``differences`` lists
    what changed and ``explanation`` says why, as far as the records show. ``replayed`` is null
    when the claim can no longer be decided at all (``explanation`` says why)."""

    receipt_id: str
    same: bool
    known_at: Instant
    original: CoverageDecision
    replayed: CoverageDecision | None
    differences: list[ReplayDifference]
    explanation: list[str]
