"""The lines of a seller's audit export (``GET /v1/sellers/{seller_id}/audit-export``).

The export is JSON lines (``application/x-ndjson``): one object per line, its kind in
``record``. A chained record carries its place in the seller's chain and ``content``, the exact
text its hash covers: ``row_hash`` is the SHA-256 (hex) of ``prev_hash``, a line feed and
``content`` (UTF-8), so anyone can check the chain with nothing but SHA-256 (docs/retention.md).
"""

import msgspec

from schemas._audit import ChainName
from schemas._bounds import Instant
from schemas._coverage import Decision


class PolicyEventRecord(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="record", tag="policy_event"
):
    """A policy event, in its seller's chain of events. ``content`` is its canonical JSON
    (event id, policy, seller, kind, instants and data)."""

    event_id: str
    policy_id: str
    seller_id: str
    chain_position: int
    prev_hash: str
    row_hash: str
    content: str


class DecisionReceiptRecord(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="record", tag="decision_receipt"
):
    """A decision receipt, in its seller's chain of receipts. ``content`` is the receipt's
    document as stored (a ``ReceiptContent`` as canonical JSON)."""

    receipt_id: str
    seller_id: str
    chain_position: int
    prev_hash: str
    row_hash: str
    content: str


class DecisionEffectRecord(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="record", tag="decision_effect"
):
    """A receipt marked affected: the event recorded later that would change its decision,
    and the decision it would get now (``document``, a ``CoverageDecision`` as stored);
    ``changed`` is false on a mark that brings the decision back to the receipt's own (see
    docs/audit.md). Marks are not chained; each names the receipt (chained) and the event
    (chained) it joins."""

    effect_id: int
    receipt_id: str
    seller_id: str
    event_id: str
    decision: Decision
    changed: bool
    detected_at: Instant
    document: str


class ChainAnchorRecord(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="record", tag="chain_anchor"
):
    """Where one of the seller's chains begins: a retention purge removed its positions 1 to
    ``position`` (rows older than ``cutoff``) at ``purged_at``, and ``row_hash`` is the hash of
    the row that stood at ``position``. The chain's first exported row, at ``position`` + 1,
    links to it (its ``prev_hash``). Comes first among its chain's lines."""

    chain: ChainName
    seller_id: str
    position: int
    row_hash: str
    cutoff: Instant
    purged_at: Instant


#: One line of an audit export.
AuditRecord = ChainAnchorRecord | PolicyEventRecord | DecisionReceiptRecord | DecisionEffectRecord

__all__ = [
    "AuditRecord",
    "ChainAnchorRecord",
    "DecisionEffectRecord",
    "DecisionReceiptRecord",
    "PolicyEventRecord",
]
