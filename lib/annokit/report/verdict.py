"""Whether a claim holds: A − B over seeds, its spread, and the verdict against the paper's sign.

The spread is the std of the per-seed differences when both sides ran the same two or more seeds,
else √(s_A² + s_B²) from the two models' own std's; a single run leaves it unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


def holds(measured: float, spread: float, paper: float | str = 1.0) -> str:
    """The verdict: "yes" / "no" when the difference has / lacks the paper's sign and beats
    twice the spread, else "unclear"."""
    known = isinstance(paper, (int, float)) and math.isfinite(paper) and paper != 0
    # a claim without a number: the direction it states
    sign = float(np.sign(paper)) if known else 1.0
    if any(not isinstance(v, (int, float)) or math.isnan(v) for v in (measured, spread)):
        return "unclear"
    if abs(measured) <= 2 * spread:
        return "unclear"
    return "yes" if np.sign(measured) == sign else "no"


@dataclass(frozen=True)
class Difference:
    """A − B over seeds: mean, spread, seeds on each side and how the spread was formed."""

    measured: float
    spread: float
    seeds: str
    note: str


def difference(
    better: Mapping[str, float], worse: Mapping[str, float], names: tuple[str, str] = ("A", "B")
) -> Difference:
    """Mean of A − B over seeds, paired by seed key when both sides hold the same
    two or more seeds, else unpaired."""
    if not better or not worse:
        return Difference(math.nan, math.nan, f"{len(better)} vs {len(worse)}", "not run")
    a, b = np.array(list(better.values()), float), np.array(list(worse.values()), float)
    if set(better) == set(worse) and len(better) >= 2:
        gaps = np.array([better[k] - worse[k] for k in better])
        return Difference(
            float(gaps.mean()),
            float(gaps.std(ddof=1)),
            f"{len(gaps)} paired",
            "spread: std of the per-seed differences",
        )
    measured, seeds = float(a.mean() - b.mean()), f"{len(a)} vs {len(b)}"
    if len(a) >= 2 and len(b) >= 2:
        return Difference(
            measured,
            float(math.hypot(a.std(ddof=1), b.std(ddof=1))),
            seeds,
            "seeds not paired: spread √(s_A² + s_B²)",
        )
    single = [n for n, v in zip(names, (a, b)) if len(v) < 2]
    runs = "a single run" if len(single) == 1 else "single runs"
    return Difference(measured, math.nan, seeds, f"{' and '.join(single)}: {runs}, spread unknown")
