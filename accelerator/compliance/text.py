"""Normalising names and formatting figures for compliance messages."""

import functools
import re
from decimal import Decimal
from typing import Final

from schemas import Money

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


# Pure and called for the same few names (the operator's, each insurer's) on every coverage
# check: cached, as is entity_key below.
@functools.lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """Lower case, punctuation and runs of whitespace replaced by one space, trimmed."""
    return _NON_ALNUM.sub(" ", text.casefold()).strip()


# The suffixes by their last word, in the order above: only those can match a name's end, and
# trying all of them at every step showed in batch coverage checks (docs/performance.md).
_SUFFIXES_BY_LAST_WORD: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    last: tuple(s for s in _LEGAL_SUFFIXES if s[-1] == last)
    for last in dict.fromkeys(s[-1] for s in _LEGAL_SUFFIXES)
}


@functools.lru_cache(maxsize=8192)
def entity_key(name: str) -> str:
    """A legal entity name reduced for comparison: :func:`normalise`, then legal-form
    suffixes (LLC, Inc, Ltd, GmbH, …) removed from the end, repeatedly ("Co., Ltd.")."""
    words = normalise(name).split()
    stripped = True
    while stripped and words:
        stripped = False
        for suffix in _SUFFIXES_BY_LAST_WORD.get(words[-1], ()):
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
