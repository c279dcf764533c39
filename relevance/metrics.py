"""Ranking metrics at a cut-off, with binary relevance, macro-averaged over queries.

These follow ``../shared/relevance/README.md`` exactly so our figures compare with its baseline table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CUTOFF = 10


def first_relevant_rank(ranked: Sequence[str], relevant: set[str], k: int = CUTOFF) -> int | None:
    """1-based rank of the first relevant id within the top ``k``, or None."""
    return next((i + 1 for i, doc in enumerate(ranked[:k]) if doc in relevant), None)


def reciprocal_rank(ranked: Sequence[str], relevant: set[str], k: int = CUTOFF) -> float:
    rank = first_relevant_rank(ranked, relevant, k)
    return 1.0 / rank if rank else 0.0


def recall(ranked: Sequence[str], relevant: set[str], k: int = CUTOFF) -> float:
    """Share of the relevant ids found in the top ``k`` (cannot reach 1 when more than ``k`` are relevant)."""
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def ndcg(ranked: Sequence[str], relevant: set[str], k: int = CUTOFF) -> float:
    """nDCG with binary gains; the ideal ranking puts min(|relevant|, k) relevant ids first."""
    if not relevant:
        return 0.0
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


@dataclass(frozen=True)
class QueryScore:
    """The metrics of one query's ranking."""

    rank: int | None
    rr: float
    recall: float
    ndcg: float


def score(ranked: Sequence[str], relevant: Iterable[str], k: int = CUTOFF) -> QueryScore:
    rel = set(relevant)
    # ranked ids may repeat if a system returns duplicates; count each id once, at its best rank
    unique = list(dict.fromkeys(ranked))
    rank = first_relevant_rank(unique, rel, k)
    return QueryScore(rank, 1.0 / rank if rank else 0.0, recall(unique, rel, k), ndcg(unique, rel, k))


@dataclass(frozen=True)
class Summary:
    """Macro averages over a group of queries."""

    n: int
    mrr: float
    recall: float
    ndcg: float


def summarise(scores: Sequence[QueryScore]) -> Summary:
    n = len(scores)
    if not n:
        return Summary(0, 0.0, 0.0, 0.0)
    return Summary(
        n,
        sum(s.rr for s in scores) / n,
        sum(s.recall for s in scores) / n,
        sum(s.ndcg for s in scores) / n,
    )
