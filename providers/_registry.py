"""The adapter registry: adapters are found through Python entry points, so a partner can ship
one as its own package, and partners are matched to adapters by configuration.

Also the eligibility rule: whether an adapter's declared appetite covers a quote request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points

from providers._protocol import Appetite, InsurerAdapter, ProviderSettings
from schemas import QuoteRequest

__all__ = [
    "ENTRY_POINT_GROUP",
    "AdapterFactory",
    "InvalidAdapter",
    "UnknownAdapter",
    "available_adapters",
    "build_adapters",
    "eligibility",
]

ENTRY_POINT_GROUP = "accelerator.providers"

AdapterFactory = Callable[[str, ProviderSettings], InsurerAdapter]


class UnknownAdapter(LookupError):
    """A provider names an adapter that no installed package registers."""


class InvalidAdapter(TypeError):
    """A registered adapter does not implement the adapter protocol."""


def available_adapters() -> dict[str, AdapterFactory]:
    """Every adapter class registered in the ``accelerator.providers`` group, by name."""
    found: dict[str, AdapterFactory] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry_point.load()
        if not callable(loaded):
            raise InvalidAdapter(f"entry point {entry_point.name!r} is not an adapter class")
        found[entry_point.name] = loaded
    return found


def build_adapters(
    provider_settings: Mapping[str, ProviderSettings],
    adapters: Mapping[str, AdapterFactory] | None = None,
) -> dict[str, InsurerAdapter]:
    """One adapter per enabled provider, keyed by provider id.

    Each provider uses the adapter named by ``settings.adapter``, or else the one named like the
    provider id. ``adapters`` defaults to :func:`available_adapters` (tests may pass their own).
    Raises :class:`UnknownAdapter` naming the provider and the adapter when none is registered,
    and :class:`InvalidAdapter` when the object built does not implement the protocol.
    """
    registry = available_adapters() if adapters is None else adapters
    built: dict[str, InsurerAdapter] = {}
    for provider_id, settings in provider_settings.items():
        if not settings.enabled:
            continue
        name = settings.adapter or provider_id
        factory = registry.get(name)
        if factory is None:
            known = ", ".join(sorted(registry)) or "none"
            raise UnknownAdapter(
                f"provider {provider_id!r} needs adapter {name!r}, which is not installed "
                f"(registered adapters: {known})"
            )
        adapter = factory(provider_id, settings)
        if not isinstance(adapter, InsurerAdapter):
            raise InvalidAdapter(f"adapter {name!r} does not implement InsurerAdapter")
        built[provider_id] = adapter
    return built


def _matches(category: str, prefix: str) -> bool:
    # Prefixes match whole path segments: "toys" covers "toys/plush", not "toysets".
    return prefix == "" or category == prefix or category.startswith(prefix.rstrip("/") + "/")


def eligibility(appetite: Appetite, request: QuoteRequest) -> str | None:
    """None if the appetite covers the request, else the first failing reason code.

    Checked in this order, so the code is stable: ``marketplace_not_written``,
    ``currency_not_written`` (sales or requested limits in a currency without a revenue band),
    ``revenue_outside_band``, ``category_excluded`` (any category under an excluded prefix),
    ``category_not_written`` (any category under no written prefix), ``limit_above_capacity``,
    ``risk_above_appetite``. ``max_per_occurrence`` is read in the request's currency.
    """
    seller = request.seller
    if seller.marketplace not in appetite.marketplaces:
        return "marketplace_not_written"
    bands = [b for b in appetite.revenue_bands if b.currency == seller.annual_sales.currency]
    if not bands or request.cover.per_occurrence.currency != seller.annual_sales.currency:
        return "currency_not_written"
    sales = seller.annual_sales.amount
    if not any(band.minimum <= sales <= band.maximum for band in bands):
        return "revenue_outside_band"
    categories = [share.category for share in seller.categories]
    if any(_matches(c, p) for c in categories for p in appetite.excluded_categories):
        return "category_excluded"
    if not all(any(_matches(c, p) for p in appetite.categories) for c in categories):
        return "category_not_written"
    if request.cover.per_occurrence.amount > appetite.max_per_occurrence:
        return "limit_above_capacity"
    if seller.risk_score > appetite.max_risk_score:
        return "risk_above_appetite"
    return None
