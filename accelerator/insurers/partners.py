"""The configured insurers of one process: adapters, their shared HTTP clients and breakers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

from accelerator.infra.http import PartnerClient, build_client
from accelerator.infra.tracing import Tracing  # at run time: msgspec reads Partner's fields
from accelerator.insurers.breaker import CircuitBreaker
from accelerator.risk.taxonomy import Taxonomy
from providers import Appetite, InsurerAdapter, ProviderSettings, build_adapters

# The weight of the latest call in a partner's typical answer time.
_LATENCY_WEIGHT = 0.2


@dataclass
class Partner:
    """Everything the core holds for one configured insurer."""

    adapter: InsurerAdapter
    settings: ProviderSettings
    client: PartnerClient
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    # Set when tracing is on: each call to this insurer is a span (quoting.fanout).
    tracing: Tracing | None = None
    # How long this insurer usually takes to answer here (ms), None until it has: a fan-out
    # calls the slowest first (quoting.fanout.call_order).
    typical_ms: float | None = None

    def note_elapsed(self, elapsed_ms: float) -> None:
        """Take one call's time into :attr:`typical_ms` (a moving average: recent calls weigh
        most, one outlier moves it a fifth of the way)."""
        typical = self.typical_ms
        self.typical_ms = (
            elapsed_ms if typical is None else typical + _LATENCY_WEIGHT * (elapsed_ms - typical)
        )

    @property
    def secret_values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.settings.api_key, *self.settings.callback_secrets) if v)


def provider_settings(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, ProviderSettings]:
    """Decode the ``providers`` setting; an error names the provider and the field."""
    settings: dict[str, ProviderSettings] = {}
    for provider_id, values in raw.items():
        try:
            settings[provider_id] = msgspec.convert(values, ProviderSettings, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"providers.{provider_id}: {exc}") from exc
    return settings


def open_partners(
    configured: Mapping[str, ProviderSettings],
    *,
    default_timeout_seconds: float,
    transport: httpx.AsyncBaseTransport | None = None,
    tracing: Tracing | None = None,
) -> dict[str, Partner]:
    """One adapter, client and breaker per enabled partner. Close with ``close_partners``.
    With ``tracing``, each call and each HTTP attempt under it is a span."""
    adapters = build_adapters(configured)
    return {
        provider_id: Partner(
            adapter=adapter,
            settings=configured[provider_id],
            client=build_client(
                configured[provider_id].base_url,
                timeout_seconds=configured[provider_id].timeout_seconds or default_timeout_seconds,
                transport=transport,
                tracing=tracing,
            ),
            breaker=CircuitBreaker(),
            tracing=tracing,
        )
        for provider_id, adapter in adapters.items()
    }


def check_appetite(provider_id: str, appetite: Appetite, taxonomy: Taxonomy) -> None:
    """Raise ValueError naming the first category of ``appetite`` the taxonomy lacks.

    Sellers' categories are taxonomy paths, so a prefix outside it matches nobody: an insurer
    that wrote "pet" for "pets" was silently never asked for a pet seller.
    """
    for field_name in ("categories", "excluded_categories"):
        for prefix in getattr(appetite, field_name):
            if prefix == "" or prefix in taxonomy:
                continue
            close = taxonomy.suggest(prefix)
            hint = f" (did you mean {', '.join(repr(p) for p in close)}?)" if close else ""
            raise ValueError(
                f"provider {provider_id!r}: appetite {field_name} names {prefix!r}, which is "
                f"not a category of the taxonomy{hint}; see GET /v1/categories"
            )


async def close_partners(partners: Mapping[str, Partner]) -> None:
    for partner in partners.values():
        await partner.client.aclose()
