"""The simulated insurers' underwriting: appetite, rate tables, and the offers they make.

API-neutral: each API style (``_harbor_api``, ``_meridian_api``, ``_acord_api``,
``_canonical_api``) turns its own
wire format into an :class:`Application` and renders :class:`SimOffer` back. Pricing is

    premium = max(min_premium,
                  annual sales / 1000 × Σ(revenue share × rate[hazard class])
                  × tier factor × limit factor × variant factor)
    taxes   = premium × tax rate;  fees = policy fee + variant fee

with hazard classes from a small category map of the sandbox's own (the service's taxonomy is
deliberately not imported: providers must not depend on accelerator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

CENT = Decimal("0.01")

# Longest matching prefix wins; 1 = lowest hazard, 5 = highest.
_HAZARD_CLASSES: tuple[tuple[str, int], ...] = (
    ("electronics/batteries", 5),
    ("electronics/power-banks", 5),
    ("electronics/e-cigarettes", 5),
    ("health/dietary-supplements", 5),
    ("baby", 4),
    ("toys", 4),
    ("electronics", 3),
    ("health", 3),
    ("sports", 3),
    ("tools", 3),
    ("beauty", 3),
    ("automotive", 3),
    ("food", 3),
    ("home", 2),
    ("garden", 2),
    ("jewelry", 2),
    ("pets", 2),
    ("office", 1),
    ("apparel", 1),
    ("books", 1),
)
_DEFAULT_HAZARD = 3


def _under(category: str, prefix: str) -> bool:
    return category == prefix or category.startswith(prefix + "/")


def hazard_class(category: str) -> int:
    """The sandbox's hazard class of a category path (3 when unknown)."""
    matches = [(len(p), c) for p, c in _HAZARD_CLASSES if _under(category, p)]
    return max(matches)[1] if matches else _DEFAULT_HAZARD


@dataclass(frozen=True)
class Application:
    """A quote application, whatever API it came through."""

    reference: str
    seller_id: str
    legal_name: str
    marketplace: str
    categories: tuple[tuple[str, Decimal], ...]
    annual_sales: Decimal
    currency: str
    risk_score: int
    risk_tier: str
    years_in_business: int
    per_occurrence: Decimal
    aggregate: Decimal
    max_deductible: Decimal
    effective_date: date
    term_months: int
    # The additional insured the applicant's marketplace requires: (name, full wording). Without
    # it the sandbox's own configured operator is named, as before the request carried it.
    additional_insured: tuple[str, str] | None = None


@dataclass(frozen=True)
class Variant:
    """One product an insurer offers for every accepted application."""

    code: str
    form: Literal["occurrence", "claims_made"]
    deductible: Decimal
    additional_insured: bool
    certificate_holder_only: bool = False
    price_factor: Decimal = Decimal(1)
    extra_fee: Decimal = Decimal(0)
    # Only offered when some category needs it (claims-made for supplements), or never.
    only_for_prefixes: tuple[str, ...] = ()
    not_for_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CategoryRule:
    prefix: str
    code: str
    message: str


@dataclass(frozen=True)
class InsurerProfile:
    """Everything that makes one simulated insurer different from the others."""

    key: str
    name: str
    rating: str
    style: Literal["harbor", "meridian", "acord", "canonical"]
    number_prefix: str
    marketplaces: frozenset[str]
    rates: dict[int, Decimal]
    min_premium: Decimal
    tax_rate: Decimal
    policy_fee: Decimal
    variants: tuple[Variant, ...]
    declines: tuple[CategoryRule, ...] = ()
    refer_above_score: int = 100
    decline_above_score: int = 100
    refer_above_sales: Decimal | None = None
    refer_below_years: int = 0
    notice_days: int = 30
    tier_factors: dict[str, Decimal] = field(
        default_factory=lambda: {
            "A": Decimal("0.80"),
            "B": Decimal("0.90"),
            "C": Decimal("1.00"),
            "D": Decimal("1.25"),
            "E": Decimal("1.60"),
        }
    )


@dataclass(frozen=True)
class SimOffer:
    """An offer in neutral form; amounts in the application's currency."""

    quote_id: str
    insurer: InsurerProfile
    currency: str
    premium: Decimal
    taxes: Decimal
    fees: Decimal
    form: Literal["occurrence", "claims_made"]
    per_occurrence: Decimal
    aggregate: Decimal
    products_aggregate: Decimal
    deductible: Decimal
    additional_insured_name: str | None
    additional_insured_wording: str | None
    certificate_holder_only: bool
    certificate_holder_name: str
    territories: tuple[str, ...]
    categories: tuple[str, ...]
    exclusions: tuple[str, ...]
    notice_days: int
    effective_date: date
    expiry_date: date
    valid_until: datetime
    application: Application

    @property
    def total(self) -> Decimal:
        return self.premium + self.taxes + self.fees


@dataclass(frozen=True)
class Quoted:
    offers: tuple[SimOffer, ...]


@dataclass(frozen=True)
class Refused:
    code: str
    message: str


@dataclass(frozen=True)
class Review:
    message: str


Decision = Quoted | Refused | Review


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    # Clamp the day (31 January + 1 month = 28/29 February).
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise ValueError("unreachable: every month has a 28th")


def _premium(profile: InsurerProfile, app: Application, variant: Variant) -> Decimal:
    rate = sum(
        (share * profile.rates[hazard_class(category)] for category, share in app.categories),
        Decimal(0),
    )
    tier = profile.tier_factors.get(app.risk_tier, Decimal(1))
    # Doubling the limit costs about 45% more, the usual increased-limits curve for products.
    millions = max(app.per_occurrence, Decimal(1_000_000)) / Decimal(1_000_000)
    limit_factor = Decimal(1) + (millions - 1) * Decimal("0.45")
    raw = app.annual_sales / 1000 * rate * tier * limit_factor * variant.price_factor
    return max(profile.min_premium, raw.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _applies(variant: Variant, categories: tuple[str, ...]) -> bool:
    if variant.only_for_prefixes and not any(
        _under(c, p) for c in categories for p in variant.only_for_prefixes
    ):
        return False
    return not any(_under(c, p) for c in categories for p in variant.not_for_prefixes)


def underwrite(
    profile: InsurerProfile,
    app: Application,
    *,
    sequence: int,
    now: datetime,
    additional_insured_name: str,
) -> Decision:
    """The insurer's answer to one application: offers, a decline or a referral."""
    categories = tuple(category for category, _ in app.categories)
    if app.marketplace not in profile.marketplaces:
        return Refused(
            "marketplace_not_written", f"{profile.name} does not write {app.marketplace}"
        )
    for rule in profile.declines:
        if any(_under(c, rule.prefix) for c in categories):
            return Refused(rule.code, rule.message)
    if app.risk_score > profile.decline_above_score:
        return Refused("risk_score_outside_appetite", f"risk score {app.risk_score} is too high")
    if app.risk_score > profile.refer_above_score:
        return Review(f"risk score {app.risk_score} needs an underwriter's review")
    if profile.refer_above_sales is not None and app.annual_sales > profile.refer_above_sales:
        return Review("large account: annual sales above the delegated authority")
    if app.years_in_business < profile.refer_below_years:
        return Review("new venture: fewer years in business than our guidelines require")
    aggregate = max(app.aggregate, app.per_occurrence)
    if app.additional_insured is not None:
        additional_insured_name, wording = app.additional_insured
    else:
        wording = f"{additional_insured_name} and its affiliates and assignees"
    offers = []
    for variant in profile.variants:
        if not _applies(variant, categories):
            continue
        premium = _premium(profile, app, variant)
        offers.append(
            SimOffer(
                quote_id=f"{profile.number_prefix}-Q-{sequence:06d}-{variant.code}",
                insurer=profile,
                currency=app.currency,
                premium=premium,
                taxes=(premium * profile.tax_rate).quantize(CENT, rounding=ROUND_HALF_UP),
                fees=profile.policy_fee + variant.extra_fee,
                form=variant.form,
                per_occurrence=app.per_occurrence,
                aggregate=aggregate,
                products_aggregate=aggregate,
                deductible=variant.deductible,
                additional_insured_name=additional_insured_name
                if variant.additional_insured
                else None,
                additional_insured_wording=wording if variant.additional_insured else None,
                certificate_holder_only=variant.certificate_holder_only,
                certificate_holder_name=additional_insured_name,
                territories=tuple(dict.fromkeys((app.marketplace, "US", "CA"))),
                categories=categories,
                exclusions=("punitive damages", "recall expenses"),
                notice_days=profile.notice_days,
                effective_date=app.effective_date,
                expiry_date=_add_months(app.effective_date, app.term_months),
                valid_until=now + timedelta(days=30),
                application=app,
            )
        )
    if not offers:
        return Refused("no_product_available", "no product of ours fits these categories")
    return Quoted(tuple(offers))


def _rates(*per_thousand: str) -> dict[int, Decimal]:
    """Rates per 1,000 of annual sales for hazard classes 1..5."""
    return {hazard: Decimal(rate) for hazard, rate in enumerate(per_thousand, start=1)}


_LITHIUM = (
    CategoryRule(
        "electronics/batteries",
        "lithium_batteries_outside_appetite",
        "lithium batteries and cells are outside our appetite",
    ),
    CategoryRule(
        "electronics/power-banks",
        "lithium_batteries_outside_appetite",
        "power banks (lithium cells) are outside our appetite",
    ),
)
_SUPPLEMENTS = ("health/dietary-supplements",)

INSURERS: dict[str, InsurerProfile] = {
    profile.key: profile
    for profile in (
        InsurerProfile(
            key="harbor",
            name="Harbor Mutual Insurance Company",
            rating="A",
            style="harbor",
            number_prefix="HMI",
            marketplaces=frozenset({"US", "CA"}),
            rates=_rates("0.35", "0.60", "0.95", "1.60", "2.80"),
            min_premium=Decimal(750),
            tax_rate=Decimal("0.02"),
            policy_fee=Decimal(150),
            variants=(
                Variant("STD", "occurrence", Decimal(1_000), additional_insured=True),
                # Cheaper, but its deductible is above the marketplace's maximum.
                Variant(
                    "ECO",
                    "occurrence",
                    Decimal(25_000),
                    additional_insured=True,
                    price_factor=Decimal("0.78"),
                ),
            ),
            declines=_LITHIUM,
            refer_above_score=70,
        ),
        InsurerProfile(
            key="summit",
            name="Summit Specialty Insurance Company",
            rating="B+",  # below the marketplace's A- minimum: a visible gap
            style="harbor",
            number_prefix="SSI",
            marketplaces=frozenset({"US"}),
            rates=_rates("0.30", "0.50", "0.80", "1.30", "2.20"),
            min_premium=Decimal(600),
            tax_rate=Decimal("0.0375"),  # surplus lines tax and stamping fee
            policy_fee=Decimal(250),
            variants=(Variant("GL", "occurrence", Decimal(5_000), additional_insured=True),),
            refer_above_score=85,
        ),
        InsurerProfile(
            key="meridian",
            name="Meridian Specialty Insurance Company",
            rating="A+",
            style="meridian",
            number_prefix="MSI",
            marketplaces=frozenset({"US", "CA", "UK", "DE"}),
            rates=_rates("0.40", "0.70", "1.05", "1.70", "3.00"),
            min_premium=Decimal(900),
            tax_rate=Decimal("0.03"),
            policy_fee=Decimal(200),
            variants=(
                Variant(
                    "OCC",
                    "occurrence",
                    Decimal(2_500),
                    additional_insured=True,
                    not_for_prefixes=_SUPPLEMENTS,
                ),
                # Claims-made: the only form for supplements (which the marketplace accepts),
                # a gap for everything else.
                Variant(
                    "CM",
                    "claims_made",
                    Decimal(2_500),
                    additional_insured=True,
                    price_factor=Decimal("0.85"),
                ),
            ),
            decline_above_score=90,
            refer_above_sales=Decimal(20_000_000),
        ),
        InsurerProfile(
            key="acorn",
            name="Acorn Casualty Company",
            rating="A-",
            style="acord",
            number_prefix="ACC",
            marketplaces=frozenset({"US"}),
            rates=_rates("0.38", "0.65", "1.00", "1.55", "2.90"),
            min_premium=Decimal(500),
            tax_rate=Decimal(0),
            policy_fee=Decimal(100),
            variants=(
                # Names the marketplace as certificate holder only: not an endorsement.
                Variant(
                    "CH",
                    "occurrence",
                    Decimal(2_500),
                    additional_insured=False,
                    certificate_holder_only=True,
                    price_factor=Decimal("0.95"),
                ),
                Variant(
                    "AI",
                    "occurrence",
                    Decimal(2_500),
                    additional_insured=True,
                    extra_fee=Decimal(75),
                ),
            ),
            declines=(
                CategoryRule(
                    "baby",
                    "juvenile_products_outside_appetite",
                    "products for infants are outside our appetite",
                ),
            ),
            refer_above_score=75,
            refer_below_years=1,
        ),
        InsurerProfile(
            key="keystone",
            name="Keystone Casualty Company",
            rating="A",
            style="canonical",
            number_prefix="KCC",
            marketplaces=frozenset({"US", "CA"}),
            rates=_rates("0.36", "0.62", "0.98", "1.65", "2.85"),
            min_premium=Decimal(700),
            tax_rate=Decimal("0.015"),
            policy_fee=Decimal(125),
            variants=(
                Variant("STD", "occurrence", Decimal(1_000), additional_insured=True),
                # Dearer for a lower deductible.
                Variant(
                    "LOW",
                    "occurrence",
                    Decimal(250),
                    additional_insured=True,
                    price_factor=Decimal("1.12"),
                ),
            ),
            declines=(
                CategoryRule(
                    "electronics/e-cigarettes",
                    "vaping_outside_appetite",
                    "vaping products are outside our appetite",
                ),
            ),
            refer_above_score=80,
        ),
    )
}
