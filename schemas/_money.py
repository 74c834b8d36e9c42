"""Money on the wire: a decimal amount (travels as a string) and an ISO 4217 currency code."""

from decimal import Decimal
from typing import Annotated

import msgspec

CurrencyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", examples=["USD"])]


class Money(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An amount in one currency, e.g. ``{"amount": "1234.50", "currency": "USD"}``."""

    amount: Decimal
    currency: CurrencyCode
