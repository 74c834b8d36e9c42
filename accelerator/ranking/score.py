"""Rank offers: compliant before non-compliant, then by a documented 0-100 score.

Pure: offers with their compliance gaps and the weights in; the ranked list out. The formula is
in docs/ranking.md. Components (each a value in 0..1, times its normalised weight, times 100):

* cost       cheapest total annual cost among the compliant offers / this offer's total (1.0 for
             the cheapest, and for any offer cheaper still);
* deductible 1 / (1 + deductible / that cheapest total): a deductible equal to a year's cost
             halves it;
* rating     place on the AM Best scale, A++ = 1.0 down to S = 0.0;
* firmness   1.0 when bindable, 0.0 when indicative.

The cheapest total is taken among the compliant offers (in the majority currency), so a
non-compliant offer the seller should not buy never sets the price the others are measured
against; with no compliant offer, among all of them. Amounts are compared only within the
majority currency of the set; an offer in another currency gets no cost or deductible points
and a ``currency_mismatch`` gap.
"""

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Final, Protocol

import msgspec
from msgspec import Meta

from accelerator.compliance.text import amount, money
from accelerator.rulesets.model import AM_BEST_SCALE
from schemas import Gap, Offer, ScoreBreakdown, ScoreComponent, ScoreComponentName

# Only the weights' ratios matter; a finite bound keeps infinity (inf / inf is NaN) out.
Weight = Annotated[float, Meta(ge=0, le=1_000_000)]
RankItem = tuple[str, Offer, list[Gap]]
_ONE: Final = Decimal(1)
# The score's components, in the order every breakdown lists them.
_COMPONENTS: Final[tuple[ScoreComponentName, ...]] = ("cost", "deductible", "rating", "firmness")


class RankingWeights(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Relative weights of the score components; normalised to sum to 1, so only ratios
    matter. At least one must be positive."""

    cost: Weight = 0.55
    deductible: Weight = 0.15
    rating: Weight = 0.2
    firmness: Weight = 0.1

    def __post_init__(self) -> None:
        if self.cost + self.deductible + self.rating + self.firmness <= 0:
            raise ValueError("at least one ranking weight must be positive")

    def normalised(self) -> dict[str, float]:
        """Component name -> weight, summing to 1."""
        total = self.cost + self.deductible + self.rating + self.firmness
        return {
            "cost": self.cost / total,
            "deductible": self.deductible / total,
            "rating": self.rating / total,
            "firmness": self.firmness / total,
        }


class RankedItem(msgspec.Struct, frozen=True, kw_only=True):
    """One offer in ranked order: ``rank`` starts at 1; ``gaps`` include any the ranking added.

    The ranking's own result; the API serves it, with the offer's status and compliance, as
    ``schemas.RankedOffer``."""

    rank: int
    offer_id: str
    offer: Offer
    compliant: bool
    gaps: list[Gap]
    score: ScoreBreakdown


class RankingStrategy(Protocol):
    """Orders offers; the service holds one and may swap it (A/B tests, marketplace tuning)."""

    def rank(self, items: Sequence[RankItem]) -> list[RankedItem]:
        """Rank ``(offer_id, offer, gaps)`` items; must put every compliant offer first."""
        ...


class WeightedScore:
    """The default strategy: the weighted score of this module, deterministic ties."""

    def __init__(self, weights: RankingWeights | None = None) -> None:
        self.weights = weights or RankingWeights()

    def rank(self, items: Sequence[RankItem]) -> list[RankedItem]:
        """Compliant offers (no gaps) before the others; within each, score descending, then
        total annual cost ascending, then offer id. The input order never matters (offer ids
        are expected to be unique)."""
        if not items:
            return []
        currency = _majority_currency([offer for _, offer, _ in items])
        with_gaps = [(i, o, _with_currency_gap(g, o, currency)) for i, o, g in items]
        cheapest, base_name = _comparison_base(with_gaps, currency)
        # What every offer's cost is measured against, written once per ranking, as money()
        # shows it, without building (and checking again) a Money of the cheapest total, which
        # was checked as one of the offers'.
        base = f"{base_name} {amount(cheapest)} {currency}"
        normalised = self.weights.normalised()
        # Per ranking, not per offer: each component's weight, and as the breakdown shows it.
        weights = [(name, normalised[name], round(normalised[name], 4)) for name in _COMPONENTS]
        scored = []
        for offer_id, offer, all_gaps in with_gaps:
            breakdown = _breakdown(offer, currency, (cheapest, base), weights)
            scored.append((offer_id, offer, all_gaps, breakdown))
        scored.sort(
            key=lambda s: (bool(s[2]), -s[3].total, s[1].total.amount, s[1].total.currency, s[0])
        )
        return [
            RankedItem(
                rank=index,
                offer_id=offer_id,
                offer=offer,
                compliant=not gaps,
                gaps=gaps,
                score=breakdown,
            )
            for index, (offer_id, offer, gaps, breakdown) in enumerate(scored, start=1)
        ]


def rank_offers(
    items: Sequence[RankItem], weights: RankingWeights | None = None
) -> list[RankedItem]:
    """Rank ``(offer_id, offer, gaps)`` items with the default :class:`WeightedScore`."""
    return WeightedScore(weights).rank(items)


def _majority_currency(offers: Sequence[Offer]) -> str:
    counts = Counter(o.total.currency for o in offers)
    # Most offers win; a tie goes to the alphabetically first currency, so order never matters.
    return min(counts, key=lambda c: (-counts[c], c))


def _comparison_base(items: Sequence[RankItem], currency: str) -> tuple[Decimal, str]:
    """The cheapest total the others are measured against, and how it is named: among the
    compliant offers in ``currency``, else among every offer in it."""
    comparable = [
        (o.total.amount, not gaps) for _, o, gaps in items if o.total.currency == currency
    ]
    compliant = [amount for amount, ok in comparable if ok]
    if compliant:
        return max(min(compliant), Decimal(0)), "cheapest compliant"
    return max(min(amount for amount, _ in comparable), Decimal(0)), "cheapest"


def _with_currency_gap(gaps: list[Gap], offer: Offer, currency: str) -> list[Gap]:
    foreign = offer.total.currency != currency or offer.deductible.currency != currency
    if not foreign or any(g.code == "currency_mismatch" for g in gaps):
        return list(gaps)
    gap = Gap(
        code="currency_mismatch",
        message=(
            f"This offer is priced in {offer.total.currency}, the others in {currency}; its cost "
            "and deductible are not compared."
        ),
        rule="currency",
    )
    return [gap, *gaps]


def _breakdown(
    offer: Offer,
    currency: str,
    base: tuple[Decimal, str],
    weights: Sequence[tuple[ScoreComponentName, float, float]],
) -> ScoreBreakdown:
    """``base``: the cheapest total and how a cost names it; ``weights``: each component's
    normalised weight and that weight as shown, in ``_COMPONENTS`` order."""
    cheapest, base_text = base
    in_currency = offer.total.currency == currency and offer.deductible.currency == currency
    if in_currency:
        total = offer.total.amount
        cost = _ONE if total <= cheapest else cheapest / total
        cost_value = f"{money(offer.total)} ({base_text})"
        scale = cheapest if cheapest > 0 else _ONE
        deductible = _ONE / (_ONE + offer.deductible.amount / scale)
        deductible_value = money(offer.deductible)
    else:
        cost = deductible = Decimal(0)
        cost_value = f"{money(offer.total)} (not comparable with {currency})"
        deductible_value = f"{money(offer.deductible)} (not comparable with {currency})"
    fractions = (
        float(cost),
        float(deductible),
        _rating_value(offer.insurer_rating),
        1.0 if offer.bindable else 0.0,
    )
    values = (
        cost_value,
        deductible_value,
        f"{offer.insurer_rating} (AM Best)",
        "bindable" if offer.bindable else "indicative",
    )
    raw = [
        weight * fraction * 100 for (_, weight, _), fraction in zip(weights, fractions, strict=True)
    ]
    points = [round(p, 2) for p in raw]
    score = round(sum(raw), 2)
    # Rounding each component can miss the rounded total by a cent; the largest component
    # (the first of equals) absorbs it so the breakdown adds up exactly as shown.
    largest = points.index(max(points))
    points[largest] = round(points[largest] + score - sum(points), 2)
    return ScoreBreakdown(
        total=score,
        components=[
            ScoreComponent(component=name, weight=shown, value=value, points=p)
            for (name, _, shown), value, p in zip(weights, values, points, strict=True)
        ],
    )


def _rating_value(rating: str) -> float:
    if rating not in AM_BEST_SCALE:
        return 0.0
    return (len(AM_BEST_SCALE) - 1 - AM_BEST_SCALE.index(rating)) / (len(AM_BEST_SCALE) - 1)
