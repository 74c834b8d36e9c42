"""Ranking: offers ordered compliant-first by a documented, explained score."""

from accelerator.ranking.score import (
    RankedOffer,
    RankingStrategy,
    RankingWeights,
    RankItem,
    WeightedScore,
    rank_offers,
)

__all__ = [
    "RankItem",
    "RankedOffer",
    "RankingStrategy",
    "RankingWeights",
    "WeightedScore",
    "rank_offers",
]
