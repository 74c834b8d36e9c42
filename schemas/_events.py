"""Insurer events: what partners tell us by signed webhook, after their adapter translated it.

A tagged union on ``type``. Every event carries when it happened (``occurred_at``) and, where the
partner numbers them, a per-subject ``sequence``; events are applied in that order, not arrival.
Decoding is tolerant (unknown fields ignored) because partners add fields without asking us.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from schemas._quotes import Offer, PolicyTerms

Instant = Annotated[datetime, Meta(tz=True)]


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    occurred_at: Instant
    sequence: int | None = None


class QuoteOffered(_Event, frozen=True, tag="quote.offered"):
    quote_reference: str
    offers: list[Offer]


class QuoteDeclined(_Event, frozen=True, tag="quote.declined"):
    quote_reference: str
    reason_code: str
    reason: str = ""


class QuoteReferred(_Event, frozen=True, tag="quote.referred"):
    quote_reference: str
    reason: str = ""


class PolicyBound(_Event, frozen=True, tag="policy.bound"):
    bind_reference: str
    policy: PolicyTerms


class PolicyEndorsed(_Event, frozen=True, tag="policy.endorsed"):
    policy_number: str
    effective_at: Instant
    policy: PolicyTerms
    description: str = ""


class PolicyRenewed(_Event, frozen=True, tag="policy.renewed"):
    policy_number: str
    effective_at: Instant
    expires_at: Instant


class PolicyCancelled(_Event, frozen=True, tag="policy.cancelled"):
    policy_number: str
    effective_at: Instant
    reason: str = ""


class PolicyReinstated(_Event, frozen=True, tag="policy.reinstated"):
    policy_number: str
    effective_at: Instant


class PolicyLapsed(_Event, frozen=True, tag="policy.lapsed"):
    policy_number: str
    effective_at: Instant


class PolicyVerified(_Event, frozen=True, tag="policy.verified"):
    policy_number: str


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
