"""The public contract: msgspec wire types for API bodies and insurer events.

Depends on nothing else in this project. Import from ``schemas`` only; the private modules
may move.
"""

from schemas._money import CurrencyCode, Money

__all__ = [
    "CurrencyCode",
    "Money",
]
