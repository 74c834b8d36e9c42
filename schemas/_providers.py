"""``GET /v1/providers``: the insurers the service asks, their appetite and breaker state."""

import enum
from decimal import Decimal
from typing import Literal

import msgspec

#: How an insurer signs its webhooks (``POST /v1/webhooks/insurers/{provider_id}``).
WebhookSignatureScheme = Literal["standard-webhooks", "hex-hmac-sha256"]


# An insurer's circuit breaker: closed (calls flow), open (calls skipped after repeated
# failures), half_open (one probe call let through after the cooldown).
# (No docstring: OpenAPI would publish it as the enum's description.)
class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class RevenueBandView(msgspec.Struct, frozen=True):
    """Annual sales an insurer writes, in one currency (amounts as decimal strings)."""

    currency: str
    minimum: str
    maximum: str


class ProviderInfo(msgspec.Struct, frozen=True):
    """One configured insurer: its adapter, how it signs its webhooks, its appetite, its
    circuit-breaker state and whether it is enabled."""

    provider_id: str
    insurer_name: str
    adapter: str
    signature_scheme: WebhookSignatureScheme
    marketplaces: list[str]
    categories: list[str]
    excluded_categories: list[str]
    revenue_bands: list[RevenueBandView]
    max_per_occurrence: Decimal
    max_risk_score: int
    breaker: BreakerState
    enabled: bool


__all__ = ["BreakerState", "ProviderInfo", "RevenueBandView", "WebhookSignatureScheme"]
