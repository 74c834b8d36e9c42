"""The adapter contract: what an insurer adapter translates, and nothing more.

An adapter builds the insurer's HTTP request from our canonical one and parses the insurer's
answer back. The core (``accelerator.quoting``) owns everything else: HTTP clients, deadlines,
retries, circuit breakers, idempotency keys, metrics and capture. So an adapter never performs
I/O, never sleeps and never reads a clock; it is a pair of pure translations per operation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

import msgspec

from schemas import InsurerEvent, Offer, PolicyTerms, QuoteRequest

SignatureScheme = Literal["standard-webhooks", "hex-hmac-sha256"]


class ProviderSettings(msgspec.Struct, frozen=True, kw_only=True):
    """One partner's deployment settings (from the service configuration).

    ``adapter`` names the registered adapter to use when the provider id is not itself an
    adapter's name, so one adapter can serve several partners with the same API style.
    ``appetite``, when given, replaces the adapter's declared appetite for this partner (two
    partners behind one adapter rarely write the same business).
    """

    base_url: str
    adapter: str | None = None
    insurer_name: str | None = None
    api_key: str = ""
    callback_secrets: list[str] = msgspec.field(default_factory=list)
    callback_url: str = ""
    timeout_seconds: float | None = None
    enabled: bool = True
    appetite: Appetite | None = None


@dataclass(frozen=True)
class HttpCall:
    """A request the adapter wants sent; ``path`` is relative to the partner's base URL."""

    method: Literal["GET", "POST", "PUT"]
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class HttpReply:
    """The insurer's answer as the core received it."""

    status: int
    headers: Mapping[str, str]
    body: bytes


# What a quote call can come back as. Transport failures, timeouts, 5xx and 429 never reach the
# adapter: the core handles them. Everything else the adapter must classify.
@dataclass(frozen=True)
class Offered:
    offers: Sequence[Offer]


@dataclass(frozen=True)
class Declined:
    reason_code: str
    reason: str


@dataclass(frozen=True)
class Referred:
    reason: str


@dataclass(frozen=True)
class Pending:
    """Accepted for asynchronous processing; the result arrives by webhook (or by polling)."""

    quote_reference: str


QuoteResult = Offered | Declined | Referred | Pending


@dataclass(frozen=True)
class BindRequest:
    """What binding needs beyond the offer itself."""

    request_id: str
    seller_id: str
    named_insured: str
    additional_insured_name: str


@dataclass(frozen=True)
class Bound:
    policy: PolicyTerms


@dataclass(frozen=True)
class BindPending:
    bind_reference: str


@dataclass(frozen=True)
class BindRefused:
    reason_code: str
    reason: str


BindResult = Bound | BindPending | BindRefused


class MalformedResponse(Exception):
    """The insurer answered something the adapter cannot understand (recorded as ``error``)."""


class RevenueBand(msgspec.Struct, frozen=True):
    """Annual sales an insurer writes, in one currency."""

    currency: str
    minimum: Decimal
    maximum: Decimal


class Appetite(msgspec.Struct, frozen=True, kw_only=True):
    """What an insurer is willing to quote; a request outside it is ``skipped`` unasked."""

    marketplaces: frozenset[str]
    # Category path prefixes written ("" would mean everything); excluded prefixes win.
    categories: tuple[str, ...]
    excluded_categories: tuple[str, ...] = ()
    revenue_bands: tuple[RevenueBand, ...]
    max_per_occurrence: Decimal
    max_risk_score: int = 100


@runtime_checkable
class InsurerAdapter(Protocol):
    """Implemented by every adapter.

    An adapter class is registered under the ``accelerator.providers`` entry-point group and
    constructed once per configured partner as ``AdapterClass(provider_id, settings)``.
    """

    provider_id: str
    insurer_name: str
    appetite: Appetite
    signature_scheme: SignatureScheme
    # Header names whose values are secrets, removed from captured exchanges.
    secret_headers: frozenset[str]

    def quote_call(self, request: QuoteRequest, settings: ProviderSettings) -> HttpCall: ...

    def parse_quote(self, request: QuoteRequest, reply: HttpReply) -> QuoteResult: ...

    def poll_call(self, quote_reference: str, settings: ProviderSettings) -> HttpCall | None:
        """A request that asks for a pending quote's state, or None if the partner has none."""
        ...

    def bind_call(
        self, offer: Offer, bind: BindRequest, settings: ProviderSettings
    ) -> HttpCall: ...

    def parse_bind(self, offer: Offer, reply: HttpReply) -> BindResult: ...

    def parse_events(self, body: bytes, headers: Mapping[str, str]) -> Sequence[InsurerEvent]:
        """Translate one authentic callback body into canonical events.

        Raises MalformedResponse if the body is not an event this partner sends.
        """
        ...
