"""``GET /v1/providers``: the insurers the service asks, their appetite and breaker state."""

from decimal import Decimal

import msgspec


class RevenueBandView(msgspec.Struct, frozen=True):
    """Annual sales an insurer writes, in one currency (amounts as decimal strings)."""

    currency: str
    minimum: str
    maximum: str


class ProviderInfo(msgspec.Struct, frozen=True):
    """One configured insurer: its adapter, appetite, circuit-breaker state and whether it is
    enabled. ``breaker`` is ``closed``, ``open`` or ``half_open``."""

    provider_id: str
    insurer_name: str
    adapter: str
    signature_scheme: str
    marketplaces: list[str]
    categories: list[str]
    excluded_categories: list[str]
    revenue_bands: list[RevenueBandView]
    max_per_occurrence: Decimal
    max_risk_score: int
    breaker: str
    enabled: bool


__all__ = ["ProviderInfo", "RevenueBandView"]
