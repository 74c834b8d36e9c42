"""Tamper evidence: what verifying the sellers' hash chains found (``accelerator audit verify``,
``GET /v1/admin/audit/verify``; docs/audit.md#tamper-evidence)."""

from typing import Literal

import msgspec

#: The chains a seller has: its policy events and its decision receipts.
ChainName = Literal["events", "receipts"]

#: How a chain can be broken, each found at the first row where it shows (docs/audit.md):
#:
#: - ``position_gap``: the positions skip one (a row removed from the middle, or the first
#:   row is not at position 1); the link's ``position`` is the missing one.
#: - ``position_repeated``: two rows hold one position.
#: - ``link_broken``: the row's ``prev_hash`` is not the ``row_hash`` of the row before it
#:   (``GENESIS`` for the first): a row before it was replaced with its hash recomputed.
#: - ``content_altered``: the row's ``row_hash`` is not the hash of its ``prev_hash`` and its
#:   content: a stored value (or the hash itself) was changed.
#: - ``columns_disagree``: a receipt's columns (id, seller, claim reference, decision,
#:   instants) say something other than its hashed document.
#: - ``document_unreadable``: a receipt's document is not a receipt's content.
#: - ``rows_missing_at_end``: the chain's head is beyond its last row (rows removed from the
#:   end); the link's ``position`` is the first missing one.
#: - ``head_mismatch``: the head's hash is not the hash of the row at its position.
#: - ``rows_beyond_head``: rows follow the position the head records (rows added without
#:   moving the head, or the head changed or removed).
ChainProblem = Literal[
    "position_gap",
    "position_repeated",
    "link_broken",
    "content_altered",
    "columns_disagree",
    "document_unreadable",
    "rows_missing_at_end",
    "head_mismatch",
    "rows_beyond_head",
]


class BrokenLink(msgspec.Struct, frozen=True, kw_only=True):
    """The first place where one seller's chain is not as its writer left it.

    ``position`` is the chain position where it breaks; ``row_id`` the row found there (an
    event's ``event_id``, a receipt's id), None when no row is (rows missing at the end).
    ``problem`` is a stable code; ``message`` says the same in words, with the hashes.
    """

    seller_id: str
    chain: ChainName
    position: int
    row_id: str | None
    problem: ChainProblem
    message: str


class AuditVerification(msgspec.Struct, frozen=True, kw_only=True):
    """What a verification of the hash chains found (``GET /v1/admin/audit/verify``).

    ``intact`` is true exactly when ``broken`` is empty. ``sellers_checked`` counts the sellers
    whose chains were walked, ``rows_checked`` the rows examined (a chain's walk stops at its
    first broken link). ``broken`` holds at most one link per chain, the first. When sellers
    are verified a page at a time, ``next_after`` is the ``after`` of the next page; None when
    this page was the last (or one seller was asked for).
    """

    intact: bool
    sellers_checked: int
    rows_checked: int
    broken: list[BrokenLink]
    next_after: str | None = None


__all__ = ["AuditVerification", "BrokenLink", "ChainName", "ChainProblem"]
