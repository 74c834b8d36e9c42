"""Ranking: offers ordered compliant-first by a documented, explained score."""

from accelerator.ranking.score import (
    RankedItem,
    RankingStrategy,
    RankingWeights,
    RankItem,
    WeightedScore,
    rank_offers,
)

__all__ = [
    "RankItem",
    "RankedItem",
    "RankingStrategy",
    "RankingWeights",
    "WeightedScore",
    "rank_offers",
]
