"""Ranking offers: compliant first, a score that adds up, deterministic order."""

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelerator.ranking import RankingStrategy, RankingWeights, WeightedScore, rank_offers
from schemas import Gap, Money, Offer
from tests.compliance.factories import make_offer, usd

GAP = Gap(code="deductible_above_maximum", message="Deductible too high.", rule="deductible")


def priced(total: str | int, **changes: object) -> Offer:
    return make_offer(total=usd(total), **changes)


def test_compliant_offers_rank_before_cheaper_non_compliant_ones() -> None:
    ranked = rank_offers([("cheap", priced(500), [GAP]), ("dear", priced(5_000), [])])
    assert [(r.rank, r.offer_id, r.compliant) for r in ranked] == [
        (1, "dear", True),
        (2, "cheap", False),
    ]
    assert ranked[1].gaps == [GAP]


def test_the_score_of_a_worked_example() -> None:
    ranked = rank_offers(
        [
            ("a", priced(1_000, deductible=usd(0), insurer_rating="A", bindable=True), []),
            ("b", priced(1_250, deductible=usd(1_000), insurer_rating="A+", bindable=False), []),
        ]
    )
    by_id = {r.offer_id: r.score for r in ranked}
    assert [(c.component, c.points) for c in by_id["a"].components] == [
        ("cost", 55.0),
        ("deductible", 15.0),
        ("rating", 17.33),
        ("firmness", 10.0),
    ]
    assert by_id["a"].total == 97.33
    # cost 1000/1250 = 0.8; deductible 1/(1+1000/1000) = 0.5; A+ = 14/15.
    assert [c.points for c in by_id["b"].components] == [44.0, 7.5, 18.67, 0.0]
    assert by_id["b"].total == 70.17


def test_weights_are_normalised_so_only_their_ratios_matter() -> None:
    items = [("a", priced(1_000), []), ("b", priced(2_000, insurer_rating="A++"), [])]
    doubled = RankingWeights(cost=1.1, deductible=0.3, rating=0.4, firmness=0.2)
    assert rank_offers(items, doubled) == rank_offers(items)


def test_all_weights_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RankingWeights(cost=0, deductible=0, rating=0, firmness=0)


def test_an_offer_in_a_minority_currency_is_ranked_with_a_currency_gap() -> None:
    eur = Money(amount=Decimal(900), currency="EUR")
    ranked = rank_offers(
        [
            ("usd-1", priced(1_000), []),
            ("usd-2", priced(1_100), []),
            ("eur", make_offer(total=eur, deductible=eur), []),
        ]
    )
    assert [r.offer_id for r in ranked] == ["usd-1", "usd-2", "eur"]
    assert [g.code for g in ranked[2].gaps] == ["currency_mismatch"]
    assert ranked[2].score.components[0].points == 0.0


def test_an_empty_set_ranks_to_an_empty_list() -> None:
    assert rank_offers([]) == []


def test_the_strategy_is_replaceable() -> None:
    class CheapestFirst:
        def rank(self, items):  # type: ignore[no-untyped-def]
            return sorted(WeightedScore().rank(items), key=lambda r: r.offer.total.amount)

    strategy: RankingStrategy = CheapestFirst()
    assert [
        r.offer_id for r in strategy.rank([("b", priced(2_000), []), ("a", priced(1_000), [])])
    ] == ["a", "b"]


offers = st.builds(
    make_offer,
    total=st.integers(min_value=1, max_value=20_000).map(usd),
    deductible=st.integers(min_value=0, max_value=25_000).map(usd),
    insurer_rating=st.sampled_from(["A++", "A+", "A", "A-", "B++", "B", "C"]),
    bindable=st.booleans(),
)
items = st.lists(
    st.tuples(st.uuids().map(str), offers, st.sampled_from([[], [GAP]])),
    max_size=8,
    unique_by=lambda item: item[0],
)


@given(items)
def test_a_compliant_offer_never_ranks_below_a_non_compliant_one(
    batch: list[tuple[str, Offer, list[Gap]]],
) -> None:
    flags = [r.compliant for r in rank_offers(batch)]
    assert flags == sorted(flags, reverse=True)


@given(items, st.randoms(use_true_random=False))
def test_the_ranking_does_not_depend_on_input_order(
    batch: list[tuple[str, Offer, list[Gap]]], shuffler
) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(batch)
    shuffler.shuffle(shuffled)
    assert rank_offers(shuffled) == rank_offers(batch)


@given(items)
def test_score_components_sum_to_the_total_within_0_to_100(
    batch: list[tuple[str, Offer, list[Gap]]],
) -> None:
    for ranked in rank_offers(batch):
        assert sum(c.points for c in ranked.score.components) == pytest.approx(
            ranked.score.total, abs=1e-9
        )
        assert 0 <= ranked.score.total <= 100
        assert all(c.points >= 0 for c in ranked.score.components)


@given(offers, st.integers(min_value=1, max_value=5_000), st.booleans())
def test_with_everything_else_equal_the_cheaper_offer_ranks_higher(
    offer: Offer, saving: int, cheaper_first: bool
) -> None:
    dearer = msgspec.structs.replace(offer, total=usd(offer.total.amount + saving))
    pair = (
        [("x", offer, []), ("y", dearer, [])]
        if cheaper_first
        else [("y", dearer, []), ("x", offer, [])]
    )
    ranked = rank_offers(pair)  # type: ignore[arg-type]
    assert ranked[0].offer_id == "x"
    assert ranked[0].score.total >= ranked[1].score.total


def test_the_score_compares_prices_with_the_cheapest_compliant_offer_only() -> None:
    ranked = rank_offers(
        [
            ("short", priced(600), [GAP]),
            ("fair", priced(800), []),
            ("dear", priced(1_000), []),
        ]
    )
    by_id = {r.offer_id: r.score.components[0] for r in ranked}
    # The non-compliant 600 USD offer does not set the base: the cheapest compliant one does.
    assert by_id["fair"].points == 55.0
    assert by_id["fair"].value == "800 USD (cheapest compliant 800 USD)"
    assert by_id["dear"].points == 44.0  # 800/1000 of 55
    # An offer cheaper than the base gets the full cost points, no more.
    assert by_id["short"].points == 55.0


def test_with_no_compliant_offer_the_score_compares_with_the_cheapest_of_all() -> None:
    ranked = rank_offers([("a", priced(500), [GAP]), ("b", priced(1_000), [GAP])])
    cost = {r.offer_id: r.score.components[0] for r in ranked}
    assert cost["b"].value == "1,000 USD (cheapest 500 USD)"
    assert cost["b"].points == 27.5
