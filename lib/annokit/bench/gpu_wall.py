"""Wall hours of a profile's projected chain on the GPUs of one machine, from its stages' hours.

The notebooks run one after another (``reproduce`` runs one at a time on a GPU). In a notebook, a
stage in the ``TORCHRUN`` bag (notebooks 01–02's training, ``--gpus N``) shares its steps out over
every card, counted as perfect scaling; the stages of one bag of jobs (``Work.jobs`` equal parts:
notebook 06's grid, notebook 05's decoders, the heads and baselines, the CNN-RNN's seeds) run one
job per card, assigned longest first to the least busy card; everything else runs on one card.
Perfect scaling and equal parts make it an estimate on the short side; the one-card sum is the
longest it can take.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from annokit.bench.chain import TORCHRUN, Work

WALL_GPUS = (1, 8)  # the machines the projection prints: one card, and eight


def makespan(parts: Sequence[float], gpus: int) -> float:
    """Hours until the last of ``parts`` ends, each on one of ``gpus`` cards, the longest first to
    the least busy card."""
    cards = [0.0] * max(1, gpus)
    for hours in sorted(parts, reverse=True):
        heapq.heapreplace(cards, cards[0] + hours)
    return max(cards)


def notebook_wall(stages: Sequence[tuple[Work, float]], gpus: int) -> float:
    """Wall hours of one notebook's ``(work, hours)`` stages on ``gpus`` cards."""
    alone, bags = 0.0, {}
    for work, hours in stages:
        if work.bag == TORCHRUN:
            alone += hours / gpus
        elif work.bag and work.jobs > 0:
            bags.setdefault(work.bag, []).extend([hours / work.jobs] * work.jobs)
        else:
            alone += hours
    return alone + sum(makespan(parts, gpus) for parts in bags.values())


def chain_wall(stages: Sequence[tuple[Work, float]], gpus: int) -> dict[str, float]:
    """Wall hours per notebook and in total (``"total"``) on ``gpus`` cards, notebooks in turn."""
    by_notebook: dict[str, list[tuple[Work, float]]] = {}
    for work, hours in stages:
        by_notebook.setdefault(work.notebook, []).append((work, hours))
    walls = {stem: notebook_wall(parts, gpus) for stem, parts in by_notebook.items()}
    return {**walls, "total": sum(walls.values())}
