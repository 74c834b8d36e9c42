"""``GET /v1/providers``: each configured insurer, its appetite and its breaker's state."""

from __future__ import annotations

from collections.abc import Mapping

from accelerator.insurers.partners import Partner
from schemas import ProviderInfo, RevenueBandView


def provider_directory(partners: Mapping[str, Partner]) -> list[ProviderInfo]:
    """Every partner, by provider id."""
    return [
        ProviderInfo(
            provider_id=pid,
            insurer_name=p.adapter.insurer_name,
            adapter=p.settings.adapter or pid,
            signature_scheme=p.adapter.signature_scheme,
            marketplaces=sorted(p.adapter.appetite.marketplaces),
            categories=list(p.adapter.appetite.categories),
            excluded_categories=list(p.adapter.appetite.excluded_categories),
            revenue_bands=[
                RevenueBandView(currency=b.currency, minimum=str(b.minimum), maximum=str(b.maximum))
                for b in p.adapter.appetite.revenue_bands
            ],
            max_per_occurrence=p.adapter.appetite.max_per_occurrence,
            max_risk_score=p.adapter.appetite.max_risk_score,
            breaker=p.breaker.state,
            enabled=p.settings.enabled,
        )
        for pid, p in sorted(partners.items())
    ]
