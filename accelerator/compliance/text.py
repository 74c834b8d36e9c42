"""Normalising names and formatting figures for compliance messages."""

import re
from decimal import Decimal
from typing import Final

from schemas._money import Money

_NON_ALNUM: Final = re.compile(r"[^0-9a-z]+")

#: Legal-form words dropped from the end of an entity name before comparing, written as they
#: read once punctuation is gone ("L.L.C." becomes "l l c").
_LEGAL_SUFFIXES: Final = tuple(
    tuple(suffix.split())
    for suffix in (
        "llc", "l l c", "inc", "incorporated", "ltd", "limited", "gmbh", "co", "corp",
        "corporation", "company", "plc", "lp", "llp", "l p", "ag", "sa", "sarl", "bv", "nv",
        "ab", "as", "oy", "kk", "pty", "pte", "sp z o o", "spzoo", "srl", "spa", "ug", "se",
    )
)  # fmt: skip


def normalise(text: str) -> str:
    """Lower case, punctuation and runs of whitespace replaced by one space, trimmed."""
    return _NON_ALNUM.sub(" ", text.casefold()).strip()


def entity_key(name: str) -> str:
    """A legal entity name reduced for comparison: :func:`normalise`, then legal-form
    suffixes (LLC, Inc, Ltd, GmbH, …) removed from the end, repeatedly ("Co., Ltd.")."""
    words = normalise(name).split()
    stripped = True
    while stripped:
        stripped = False
        for suffix in _LEGAL_SUFFIXES:
            # Never strip the whole name: "Limited" alone stays a name.
            if len(words) > len(suffix) and tuple(words[-len(suffix) :]) == suffix:
                words = words[: -len(suffix)]
                stripped = True
                break
    return " ".join(words)


def amount(value: Decimal | int) -> str:
    """``25000`` -> ``"25,000"``; ``Decimal("10000.01")`` -> ``"10,000.01"``."""
    number = Decimal(value)
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return f"{number:,.2f}"


def money(value: Money) -> str:
    """``Money(25000, "USD")`` -> ``"25,000 USD"``."""
    return f"{amount(value.amount)} {value.currency}"
