"""Helpers the built-in adapters share to turn partner data into canonical types safely.

Everything here raises :class:`MalformedResponse` with a short reason instead of letting a
decoding or validation error escape, so the core records the attempt as ``error``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import msgspec

from providers._protocol import MalformedResponse
from schemas import Offer, PolicyTerms

T = TypeVar("T")

# ISO 4217 minor-unit exponents that differ from 2, for partners that send integer minor units.
_EXPONENTS = {"JPY": 0, "KRW": 0, "HUF": 2, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}


def decode_json(body: bytes, kind: type[T], what: str) -> T:
    """Decode a partner's JSON into ``kind`` (unknown fields ignored) or raise MalformedResponse."""
    try:
        return msgspec.json.decode(body, type=kind)
    # ValidationError subclasses DecodeError, so it must be caught first.
    except msgspec.ValidationError as exc:
        raise MalformedResponse(f"{what}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise MalformedResponse(f"{what}: invalid JSON") from exc


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in integer minor units (cents), rounded half-up."""
    exponent = _EXPONENTS.get(currency, 2)
    return int((amount * (Decimal(10) ** exponent)).to_integral_value(rounding="ROUND_HALF_UP"))


def from_minor(minor: int, currency: str) -> Decimal:
    """An integer minor-unit amount as a Decimal in major units."""
    return Decimal(minor).scaleb(-_EXPONENTS.get(currency, 2))


def parse_decimal(raw: str, what: str) -> Decimal:
    """A decimal from text, or MalformedResponse naming the field."""
    try:
        value = Decimal(raw.strip())
    except InvalidOperation as exc:
        raise MalformedResponse(f"{what} is not a decimal: {raw!r}") from exc
    if not value.is_finite():
        raise MalformedResponse(f"{what} is not a finite decimal")
    return value


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def checked_total(
    premium: Decimal, taxes: Decimal, fees: Decimal, total: Decimal | None, what: str
) -> Decimal:
    """premium + taxes + fees; if the partner stated a total, it must agree."""
    for name, value in (("premium", premium), ("taxes", taxes), ("fees", fees)):
        if value < 0:
            raise MalformedResponse(f"{what}: {name} is negative")
    computed = premium + taxes + fees
    if total is not None and total != computed:
        raise MalformedResponse(f"{what}: total {total} is not premium + taxes + fees")
    return computed


def build_offer(fields: dict[str, Any], what: str) -> Offer:
    """An Offer validated against the schema's constraints (ratings, codes, currencies)."""
    try:
        return msgspec.convert(fields, Offer)
    except msgspec.ValidationError as exc:
        raise MalformedResponse(f"{what}: {exc}") from exc


def build_policy(fields: dict[str, Any], what: str) -> PolicyTerms:
    """PolicyTerms validated against the schema's constraints."""
    try:
        return msgspec.convert(fields, PolicyTerms)
    except msgspec.ValidationError as exc:
        raise MalformedResponse(f"{what}: {exc}") from exc


def require_status(status: int, allowed: frozenset[int], what: str) -> None:
    if status not in allowed:
        raise MalformedResponse(f"{what}: unexpected HTTP status {status}")
