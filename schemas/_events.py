"""Insurer events: what partners tell us by signed webhook, after their adapter translated it.

A tagged union on ``type``. Every event carries when it happened (``occurred_at``) and, where the
partner numbers them, a per-subject ``sequence``; events are applied in that order, not arrival.
Decoding is tolerant (unknown fields ignored) because partners add fields without asking us; the
values are held to the contract's bounds like what our clients send (``schemas._bounds``): the
inbox worker refuses an event out of them, with the reason, instead of applying it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from schemas._bounds import (
    MAX_OFFERS,
    Code,
    Instant,
    PolicyNumber,
    Reference,
    Text,
    check_instant,
    enforced,
)
from schemas._quotes import Offer, PolicyTerms

# A partner's own numbering (epoch milliseconds, say): any 64-bit count.
Sequence = Annotated[int, Meta(ge=0, le=2**63 - 1)]


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    occurred_at: Instant
    sequence: Sequence | None = None

    def __post_init__(self) -> None:
        if enforced():
            check_instant("occurred_at", self.occurred_at)


class _PolicyChange(_Event, frozen=True):
    policy_number: PolicyNumber
    effective_at: Instant

    def __post_init__(self) -> None:
        if enforced():
            check_instant("occurred_at", self.occurred_at)
            check_instant("effective_at", self.effective_at)


class QuoteOffered(_Event, frozen=True, tag="quote.offered"):
    quote_reference: Reference
    offers: Annotated[list[Offer], Meta(max_length=MAX_OFFERS, description="At most 50 offers.")]


class QuoteDeclined(_Event, frozen=True, tag="quote.declined"):
    quote_reference: Reference
    reason_code: Code
    reason: Text = ""


class QuoteReferred(_Event, frozen=True, tag="quote.referred"):
    quote_reference: Reference
    reason: Text = ""


class PolicyBound(_Event, frozen=True, tag="policy.bound"):
    bind_reference: Reference
    policy: PolicyTerms


class PolicyEndorsed(_PolicyChange, frozen=True, tag="policy.endorsed"):
    policy: PolicyTerms
    description: Text = ""


class PolicyRenewed(_PolicyChange, frozen=True, tag="policy.renewed"):
    expires_at: Instant

    def __post_init__(self) -> None:
        if enforced():
            check_instant("occurred_at", self.occurred_at)
            check_instant("effective_at", self.effective_at)
            check_instant("expires_at", self.expires_at)


class PolicyCancelled(_PolicyChange, frozen=True, tag="policy.cancelled"):
    reason: Text = ""


class PolicyReinstated(_PolicyChange, frozen=True, tag="policy.reinstated"):
    pass


class PolicyLapsed(_PolicyChange, frozen=True, tag="policy.lapsed"):
    pass


class PolicyVerified(_Event, frozen=True, tag="policy.verified"):
    policy_number: PolicyNumber


InsurerEvent = (
    QuoteOffered
    | QuoteDeclined
    | QuoteReferred
    | PolicyBound
    | PolicyEndorsed
    | PolicyRenewed
    | PolicyCancelled
    | PolicyReinstated
    | PolicyLapsed
    | PolicyVerified
)

_decoder: msgspec.json.Decoder[InsurerEvent] = msgspec.json.Decoder(InsurerEvent)


def decode_event(body: bytes) -> InsurerEvent:
    """Decode one canonical event; raises msgspec.DecodeError/ValidationError if it is not one."""
    event: InsurerEvent = _decoder.decode(body)
    return event
