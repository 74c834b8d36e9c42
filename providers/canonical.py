"""Canonical partners: an insurer that implements our own quote/bind JSON API.

Configuration only, no Python on the partner's side (docs/canonical-api.md is the contract):

- ``POST /quotes`` sends the canonical ``schemas.QuoteRequest`` exactly as msgspec encodes it;
  the answer is ``{"outcome": "offered" | "declined" | "referred" | "pending", ...}`` whose
  offers are canonical ``schemas.Offer`` objects without ``provider_id`` (we fill it in from the
  configuration; an offer naming another provider id is refused as unreadable).
- ``GET /quotes/{quote_reference}`` answers a pending quote the same way (or ``pending`` again).
- ``POST /binds`` answers ``bound`` with a canonical ``schemas.PolicyTerms``, ``pending`` (the
  policy follows in a ``policy.bound`` event) or ``refused``.
- Callbacks are canonical ``schemas.InsurerEvent`` JSON, one event or an array of events,
  signed per Standard Webhooks.

Decoding is tolerant (unknown fields are ignored) and bounded like the contract types; anything
unreadable raises :class:`MalformedResponse` naming the field. A canonical partner declares no
appetite of its own, so ``appetite`` is a required setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import msgspec
from msgspec import Meta

from providers._protocol import (
    Appetite,
    BindPending,
    BindRefused,
    BindRequest,
    BindResult,
    Bound,
    Declined,
    HttpCall,
    HttpReply,
    MalformedResponse,
    Offered,
    Pending,
    ProviderSettings,
    QuoteResult,
    Referred,
    SignatureScheme,
)
from providers._wire import checked_total, require_status
from schemas import (
    MAX_OFFERS,
    InsurerEvent,
    Money,
    Offer,
    PolicyBound,
    PolicyCancelled,
    PolicyEndorsed,
    PolicyLapsed,
    PolicyReinstated,
    PolicyRenewed,
    PolicyTerms,
    PolicyVerified,
    QuoteDeclined,
    QuoteOffered,
    QuoteReferred,
    QuoteRequest,
)
from schemas._bounds import Code, Reference, Text

__all__ = ["MAX_EVENTS_PER_CALLBACK", "CanonicalAdapter"]

#: The most events one callback body may carry (an array longer than this is unreadable).
MAX_EVENTS_PER_CALLBACK = 100

_QUOTE_STATUSES = frozenset({200, 201, 202})
_BIND_STATUSES = frozenset({200, 201, 202, 409, 422})


# --- the wire shapes: canonical types, decoded tolerantly ----------------------------------


class _PartnerOffer(Offer, frozen=True, kw_only=True):
    """A canonical Offer as a partner sends it: ``provider_id`` is ours to fill in.

    A subclass, so that every field Offer gains is read (with its bounds) without a change here;
    it never leaves this module: ``_offer`` turns it into a real Offer.
    """

    provider_id: Code | None = None  # type: ignore[assignment]


_Offers = Annotated[list[_PartnerOffer], Meta(min_length=1, max_length=MAX_OFFERS)]


class _Offered(msgspec.Struct, frozen=True, kw_only=True, tag_field="outcome", tag="offered"):
    offers: _Offers


class _Declined(msgspec.Struct, frozen=True, kw_only=True, tag_field="outcome", tag="declined"):
    reason_code: Code
    reason: Text = ""


class _Referred(msgspec.Struct, frozen=True, kw_only=True, tag_field="outcome", tag="referred"):
    reason: Text = ""


class _Pending(msgspec.Struct, frozen=True, kw_only=True, tag_field="outcome", tag="pending"):
    quote_reference: Reference


_QuoteAnswer = _Offered | _Declined | _Referred | _Pending


class _BindBody(msgspec.Struct, frozen=True, kw_only=True):
    quote_reference: str
    request_id: str
    seller_id: str
    named_insured: str
    additional_insured_name: str


class _Bound(msgspec.Struct, frozen=True, kw_only=True, tag_field="outcome", tag="bound"):
    policy: PolicyTerms


class _BindPending(msgspec.Struct, frozen=True, kw_only=True, tag_field="outcome", tag="pending"):
    bind_reference: Reference


class _Refused(msgspec.Struct, frozen=True, kw_only=True, tag_field="outcome", tag="refused"):
    reason_code: Code
    reason: Text = ""


_BindAnswer = _Bound | _BindPending | _Refused


class _PartnerQuoteOffered(QuoteOffered, frozen=True, tag="quote.offered"):
    """``quote.offered`` as a partner sends it: offers without ``provider_id``."""

    offers: _Offers  # type: ignore[assignment]


_PartnerEvent = (
    _PartnerQuoteOffered
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
_Callback = (
    _PartnerEvent
    | Annotated[list[_PartnerEvent], Meta(min_length=1, max_length=MAX_EVENTS_PER_CALLBACK)]
)

# Built once, reused for every answer.
_quote_decoder: msgspec.json.Decoder[_QuoteAnswer] = msgspec.json.Decoder(_QuoteAnswer)
_bind_decoder: msgspec.json.Decoder[_BindAnswer] = msgspec.json.Decoder(_BindAnswer)
_callback_decoder: msgspec.json.Decoder[_Callback] = msgspec.json.Decoder(_Callback)

T = TypeVar("T")


def _decode(decoder: msgspec.json.Decoder[T], body: bytes, what: str) -> T:
    """Decode or raise MalformedResponse naming the field (msgspec's error path)."""
    try:
        return decoder.decode(body)
    # ValidationError subclasses DecodeError, so it must be caught first.
    except msgspec.ValidationError as exc:
        raise MalformedResponse(f"{what}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise MalformedResponse(f"{what}: invalid JSON") from exc


# --- translation --------------------------------------------------------------------------


def _one_currency(terms: msgspec.Struct, what: str) -> None:
    """Every amount of an offer or a policy is in one currency."""
    currencies = {
        value.currency
        for name in terms.__struct_fields__
        if isinstance(value := getattr(terms, name), Money)
    }
    if len(currencies) > 1:
        raise MalformedResponse(f"{what}: amounts in several currencies {sorted(currencies)}")


class CanonicalAdapter:
    """Adapter for partners that implement the accelerator's own canonical API."""

    signature_scheme: SignatureScheme = "standard-webhooks"
    secret_headers: frozenset[str] = frozenset({"authorization"})

    def __init__(self, provider_id: str, settings: ProviderSettings) -> None:
        if settings.appetite is None:
            # ValueError: configure() reports it as an invalid `providers` setting, in one line.
            raise ValueError(
                f"provider {provider_id!r} uses the canonical adapter, which declares no "
                f"appetite of its own: set providers.{provider_id}.appetite"
            )
        self.provider_id = provider_id
        self.insurer_name = settings.insurer_name or provider_id
        self.appetite: Appetite = settings.appetite

    def _headers(self, settings: ProviderSettings) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {settings.api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _offer(self, offer: _PartnerOffer, what: str) -> Offer:
        if offer.provider_id is not None and offer.provider_id != self.provider_id:
            raise MalformedResponse(
                f"{what}: the offer names provider {offer.provider_id!r}, not {self.provider_id!r}"
            )
        _one_currency(offer, what)
        checked_total(
            offer.premium.amount,
            offer.taxes.amount,
            offer.fees.amount,
            offer.total.amount,
            what,
        )
        fields: dict[str, Any] = msgspec.structs.asdict(offer)
        fields["provider_id"] = self.provider_id
        return Offer(**fields)

    def _offers(self, offers: Sequence[_PartnerOffer], what: str) -> list[Offer]:
        return [self._offer(offer, f"{what}: offers[{i}]") for i, offer in enumerate(offers)]

    def quote_call(self, request: QuoteRequest, settings: ProviderSettings) -> HttpCall:
        return HttpCall("POST", "/quotes", self._headers(settings), msgspec.json.encode(request))

    def parse_quote(self, request: QuoteRequest, reply: HttpReply) -> QuoteResult:
        require_status(reply.status, _QUOTE_STATUSES, "canonical quote")
        answer = _decode(_quote_decoder, reply.body, "canonical quote")
        if isinstance(answer, _Offered):
            return Offered(self._offers(answer.offers, "canonical quote"))
        if isinstance(answer, _Declined):
            return Declined(answer.reason_code, answer.reason)
        if isinstance(answer, _Referred):
            return Referred(answer.reason)
        return Pending(answer.quote_reference)

    def poll_call(self, quote_reference: str, settings: ProviderSettings) -> HttpCall | None:
        path = f"/quotes/{quote(quote_reference, safe='')}"
        headers = {k: v for k, v in self._headers(settings).items() if k != "Content-Type"}
        return HttpCall("GET", path, headers)

    def bind_call(self, offer: Offer, bind: BindRequest, settings: ProviderSettings) -> HttpCall:
        body = _BindBody(
            quote_reference=offer.quote_reference,
            request_id=bind.request_id,
            seller_id=bind.seller_id,
            named_insured=bind.named_insured,
            additional_insured_name=bind.additional_insured_name,
        )
        return HttpCall("POST", "/binds", self._headers(settings), msgspec.json.encode(body))

    def parse_bind(self, offer: Offer, reply: HttpReply) -> BindResult:
        require_status(reply.status, _BIND_STATUSES, "canonical bind")
        answer = _decode(_bind_decoder, reply.body, "canonical bind")
        if isinstance(answer, _Refused):
            return BindRefused(answer.reason_code, answer.reason)
        if reply.status >= 400:
            raise MalformedResponse(
                f"canonical bind: HTTP {reply.status} with outcome {type(answer).__name__}"
            )
        if isinstance(answer, _BindPending):
            return BindPending(answer.bind_reference)
        _one_currency(answer.policy, "canonical bind: policy")
        return Bound(answer.policy)

    def parse_events(self, body: bytes, headers: Mapping[str, str]) -> Sequence[InsurerEvent]:
        decoded = _decode(_callback_decoder, body, "canonical event")
        events = decoded if isinstance(decoded, list) else [decoded]
        return [self._event(event, i) for i, event in enumerate(events)]

    def _event(self, event: _PartnerEvent, index: int) -> InsurerEvent:
        what = f"canonical event [{index}]"
        if isinstance(event, PolicyBound | PolicyEndorsed):
            _one_currency(event.policy, f"{what}: policy")
        if not isinstance(event, _PartnerQuoteOffered):
            return event
        return QuoteOffered(
            occurred_at=event.occurred_at,
            sequence=event.sequence,
            quote_reference=event.quote_reference,
            offers=self._offers(event.offers, what),
        )
