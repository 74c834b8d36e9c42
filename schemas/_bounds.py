"""The contract's bounds, declared once: how large, how precise, how long and how far in time a
value may be, for everything clients and insurers send us (docs/architecture.md, "Input bounds").

msgspec checks what its constraints can express (lengths, patterns, list sizes, integer ranges)
natively while decoding, and the OpenAPI document shows them. What they cannot express is checked
by the structs' ``__post_init__`` with the helpers here: amounts are finite decimals from 0 to
:data:`MAX_AMOUNT` with at most :data:`MAX_AMOUNT_PLACES` decimal places, in an active ISO 4217
currency; instants and dates lie between 1970-01-01 and 2200-12-31 (instants in UTC). A helper
raises :class:`OutOfBounds`, a ValueError whose message starts with the field's name in
backticks: msgspec reports it as a ValidationError at the struct's path, so a problem can name
``claim_amount.amount``. A struct built in code is checked the same way (msgspec runs
``__post_init__`` on every construction), so an adapter cannot build an event out of bounds.

Text is one line unless a field may legitimately hold several (reasons, wording, addresses):
one-line text holds no control character at all, other text none but tab, line feed and carriage
return. A NUL byte, which SQLite stores and PostgreSQL refuses, is refused on both before a
database sees it.

A value the service stored is read back as it was written, whatever the bounds are today: inside
:func:`reading_stored` the checks of ``__post_init__`` are skipped, so a row written before a bound
existed stays readable (and the code computing with stored values must be total).
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from schemas._currencies import ACTIVE_CURRENCIES

# --- time ---------------------------------------------------------------------------------------

EARLIEST_DATE: Final = date(1970, 1, 1)
LATEST_DATE: Final = date(2200, 12, 31)
EARLIEST_INSTANT: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT: Final = datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

# The document states the bounds as patterns too, so that a client (or a fuzzer) generating
# from the schema sends what is accepted: the years of the window, the form of an amount.
_YEARS = r"(?:19[7-9][0-9]|2[01][0-9]{2}|2200)"
_WHOLE = r"(?:0|[1-9][0-9]{0,14})"
_PLACES_4 = r"(?:\.[0-9]{1,4})?"
_MAX_AMOUNT_TEXT = r"1000000000000000(?:\.0{1,4})?"
AMOUNT_PATTERN = rf"^(?:{_WHOLE}{_PLACES_4}|{_MAX_AMOUNT_TEXT})$"
POSITIVE_AMOUNT_PATTERN = (
    rf"^(?:[1-9][0-9]{{0,14}}{_PLACES_4}|0\.(?=[0-9]*[1-9])[0-9]{{1,4}}|{_MAX_AMOUNT_TEXT})$"
)

Instant = Annotated[
    datetime,
    Meta(
        tz=True,
        description=(
            "A timezone-aware instant (RFC 3339) from 1970-01-01T00:00:00Z to "
            "2200-12-31T23:59:59.999999Z."
        ),
        examples=["2026-03-01T18:30:00Z"],
        extra_json_schema={"pattern": rf"^{_YEARS}-"},
    ),
]
CalendarDate = Annotated[
    date,
    Meta(
        description="A calendar date (YYYY-MM-DD) from 1970-01-01 to 2200-12-31.",
        examples=["2026-03-01"],
        extra_json_schema={"pattern": rf"^{_YEARS}-"},
    ),
]
YearMonth = Annotated[
    str,
    Meta(
        pattern=r"^(19[7-9][0-9]|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])$",
        description="A calendar month, YYYY-MM, from 1970-01 to 2200-12.",
        examples=["2025-05"],
    ),
]

# --- money --------------------------------------------------------------------------------------

#: The largest amount, in any currency: ten times the yearly sales of the largest marketplace
#: seller in the currency with the smallest unit, and small enough that sums of many amounts stay
#: exact in decimal arithmetic (28 significant digits).
MAX_AMOUNT: Final = Decimal("1000000000000000")
#: ISO 4217's largest minor unit.
MAX_AMOUNT_PLACES: Final = 4
_PLACES: Final = Decimal(1).scaleb(-MAX_AMOUNT_PLACES)
_ZERO: Final = Decimal(0)

Amount = Annotated[
    Decimal,
    Meta(
        description=("A decimal string from 0 to 1000000000000000, with at most 4 decimal places."),
        examples=["1234.50"],
        extra_json_schema={"pattern": AMOUNT_PATTERN},
    ),
]
PositiveAmount = Annotated[
    Decimal,
    Meta(
        description=(
            "A decimal string greater than 0 and at most 1000000000000000, with at most 4 "
            "decimal places."
        ),
        examples=["1234.50"],
        extra_json_schema={"pattern": POSITIVE_AMOUNT_PATTERN},
    ),
]
CurrencyCode = Annotated[
    str,
    Meta(
        pattern=r"^[A-Z]{3}$",
        description="An active ISO 4217 currency code.",
        examples=["USD"],
        # The list itself, so that the document names exactly the codes accepted.
        extra_json_schema={"enum": sorted(ACTIVE_CURRENCIES)},
    ),
]

# --- text ---------------------------------------------------------------------------------------

# No C0 or C1 control character, nor DEL. Python's `$` also matches before a final line feed,
# hence the look-ahead; to JSON Schema's (ECMA) `$` it adds nothing.
ONE_LINE_PATTERN: Final = r"^[^\u0000-\u001F\u007F-\u009F]*$(?!\n)"
# The same, but tab, line feed and carriage return are allowed.
LINES_PATTERN: Final = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
_ONE_LINE_RULE: Final = "one line without control characters"
_LINES_RULE: Final = "no control characters but tab, line feed and carriage return"

#: Free text: reasons, descriptions, wording, addresses.
MAX_TEXT_LENGTH: Final = 2000

Text = Annotated[
    str,
    Meta(
        max_length=MAX_TEXT_LENGTH,
        pattern=LINES_PATTERN,
        description=f"Text of at most {MAX_TEXT_LENGTH} characters; {_LINES_RULE}.",
    ),
]
ShortText = Annotated[
    str,
    Meta(
        max_length=200,
        pattern=ONE_LINE_PATTERN,
        description=f"At most 200 characters, {_ONE_LINE_RULE}.",
    ),
]
Name = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=300,
        pattern=ONE_LINE_PATTERN,
        description=f"A legal or personal name: 1 to 300 characters, {_ONE_LINE_RULE}.",
        examples=["Volt Goods LLC"],
    ),
]
InsurerName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        pattern=ONE_LINE_PATTERN,
        description=f"An insurer's name: 1 to 200 characters, {_ONE_LINE_RULE}.",
        examples=["Harbor Mutual"],
    ),
]
PolicyNumber = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=ONE_LINE_PATTERN,
        description=f"The insurer's policy number: 1 to 100 characters, {_ONE_LINE_RULE}.",
        examples=["HM-CGL-0042"],
    ),
]
Reference = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        pattern=ONE_LINE_PATTERN,
        description=f"An insurer's reference: 1 to 200 characters, {_ONE_LINE_RULE}.",
    ),
]
Code = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=ONE_LINE_PATTERN,
        description=f"A code or identifier: 1 to 64 characters, {_ONE_LINE_RULE}.",
    ),
]
SellerRef = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="A seller id: 1 to 64 letters, digits, '.', '_', ':' or '-'.",
        examples=["slr_01"],
    ),
]
CategoryPath = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        pattern=ONE_LINE_PATTERN,
        description="Slash path in the product-category taxonomy (at most 200 characters).",
        examples=["electronics/power-banks"],
    ),
]
MarketplaceCode = Annotated[
    str,
    Meta(
        pattern=r"^[A-Z]{2}$",
        description="Marketplace code, e.g. US, CA, UK, DE, FR, JP.",
        examples=["US"],
    ),
]
CountryCode = Annotated[
    str,
    Meta(
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 country code.",
        examples=["CN"],
    ),
]

# --- lists --------------------------------------------------------------------------------------

MAX_ADDITIONAL_INSUREDS: Final = 100
#: Every country once.
MAX_TERRITORIES: Final = 250
MAX_COVERED_CATEGORIES: Final = 200
MAX_EXCLUSIONS: Final = 100
#: Offers in one insurer event.
MAX_OFFERS: Final = 50

AdditionalInsureds = Annotated[
    list[Name],
    Meta(
        max_length=MAX_ADDITIONAL_INSUREDS,
        description=(
            "At most 100 names, each 1 to 300 characters on one line without control characters."
        ),
    ),
]
Territories = Annotated[
    list[CountryCode],
    Meta(
        max_length=MAX_TERRITORIES,
        description="At most 250 ISO 3166-1 alpha-2 country codes.",
    ),
]
CoveredCategories = Annotated[
    list[CategoryPath],
    Meta(
        max_length=MAX_COVERED_CATEGORIES,
        description="At most 200 paths in the product-category taxonomy.",
    ),
]
Exclusions = Annotated[
    list[Text],
    Meta(
        max_length=MAX_EXCLUSIONS,
        description=f"At most 100 exclusions, each a text of at most {MAX_TEXT_LENGTH} characters.",
    ),
]

# --- checks beyond msgspec's constraints ----------------------------------------------------------


class OutOfBounds(ValueError):
    """A value outside the contract's bounds. The message starts with the field's name in
    backticks (msgspec adds where the struct holding it is)."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"`{field}` {rule}")
        self.field = field


_ENFORCED: ContextVar[bool] = ContextVar("schemas_bounds_enforced", default=True)


def enforced() -> bool:
    """Whether ``__post_init__`` checks apply here (everywhere but in :func:`reading_stored`)."""
    return _ENFORCED.get()


class reading_stored:  # lower case: it reads as what it does, `with reading_stored(): ...`
    """Decode values the service stored as they were written: the checks of ``__post_init__``
    (amounts, instants, dates) are skipped inside, msgspec's own constraints are not. Only for
    values the service wrote itself, never for what a client or an insurer sends. (A class, not
    a generator: a few reads enter it on every coverage check.)"""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _ENFORCED.set(False)

    def __exit__(self, *_: object) -> None:
        _ENFORCED.reset(self._token)


def check_instant(field: str, value: datetime | None) -> None:
    """``value`` (None: absent) lies between 1970-01-01T00:00:00Z and the end of 2200-12-31."""
    if value is not None and not EARLIEST_INSTANT <= value <= LATEST_INSTANT:
        raise OutOfBounds(
            field, "must lie between 1970-01-01T00:00:00Z and 2200-12-31T23:59:59.999999Z"
        )


def check_date(field: str, value: date | None) -> None:
    """``value`` (None: absent) lies between 1970-01-01 and 2200-12-31."""
    if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
        raise OutOfBounds(field, "must lie between 1970-01-01 and 2200-12-31")


def check_amount(value: Decimal, *, positive: bool = False, field: str = "amount") -> None:
    """A finite decimal, from 0 (above 0 when ``positive``) to MAX_AMOUNT, with at most
    MAX_AMOUNT_PLACES decimal places that are not zeros."""
    if not isinstance(value, Decimal):  # built in code from an int, say: msgspec does not convert
        value = Decimal(value)
    if not value.is_finite():
        raise OutOfBounds(field, "must be a number (not NaN or infinite)")
    # Compared with Decimal constants: with an int, each comparison converts it first.
    if value < _ZERO or (positive and value == _ZERO):
        raise OutOfBounds(field, "must be greater than 0" if positive else "must not be negative")
    if value > MAX_AMOUNT:
        raise OutOfBounds(field, "must be at most 1000000000000000")
    # Only places beyond the fourth that are not zeros count ("1.50000" is 1.5), and quantizing
    # to four places changes exactly the values that have some. Bounded above, the value has
    # few digits before the point, so quantize stays exact. (Reading the exponent first, from
    # as_tuple(), cost more than the quantize it could spare: Money is checked on every offer.)
    if value.quantize(_PLACES) != value:
        raise OutOfBounds(field, f"may have at most {MAX_AMOUNT_PLACES} decimal places")


def check_currency(value: str, field: str = "currency") -> None:
    if value not in ACTIVE_CURRENCIES:
        raise OutOfBounds(field, f"must be an active ISO 4217 currency code, not {value!r}")


class Money(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An amount in one currency, e.g. ``{"amount": "1234.50", "currency": "USD"}``: a finite
    decimal from 0 to 1000000000000000 with at most 4 decimal places, in an active ISO 4217
    currency."""

    amount: Amount
    currency: CurrencyCode

    def __post_init__(self) -> None:
        if _ENFORCED.get():
            check_amount(self.amount)
            check_currency(self.currency)


class PositiveMoney(Money, frozen=True, forbid_unknown_fields=True):
    """Money above zero (a claim, a limit of cover): an amount greater than 0 and at most
    1000000000000000, with at most 4 decimal places, in an active ISO 4217 currency."""

    amount: PositiveAmount

    def __post_init__(self) -> None:
        if _ENFORCED.get():
            check_amount(self.amount, positive=True)
            check_currency(self.currency)


__all__ = [
    "EARLIEST_DATE",
    "EARLIEST_INSTANT",
    "LATEST_DATE",
    "LATEST_INSTANT",
    "LINES_PATTERN",
    "MAX_ADDITIONAL_INSUREDS",
    "MAX_AMOUNT",
    "MAX_AMOUNT_PLACES",
    "MAX_COVERED_CATEGORIES",
    "MAX_EXCLUSIONS",
    "MAX_OFFERS",
    "MAX_TERRITORIES",
    "MAX_TEXT_LENGTH",
    "ONE_LINE_PATTERN",
    "AdditionalInsureds",
    "Amount",
    "CalendarDate",
    "CategoryPath",
    "Code",
    "CountryCode",
    "CoveredCategories",
    "CurrencyCode",
    "Exclusions",
    "Instant",
    "InsurerName",
    "MarketplaceCode",
    "Money",
    "Name",
    "OutOfBounds",
    "PolicyNumber",
    "PositiveAmount",
    "PositiveMoney",
    "Reference",
    "SellerRef",
    "ShortText",
    "Territories",
    "Text",
    "YearMonth",
    "reading_stored",
]
