"""What a claim is: "A beats B" in one metric, measured on prediction files or on a results table
that a notebook wrote, with the paper's own figure for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

QUALITATIVE = "qualitative"


@dataclass(frozen=True)
class TableMeasure:
    """Where a claim's values are read when no prediction file holds them: the rows of the results
    table ``table`` (``results/<profile>/tables/<table>.csv``, written by ``notebook``) whose
    ``key`` column names the model and whose columns match ``at``; ``column`` × ``scale``, by seed.
    """

    table: str
    notebook: str
    key: str
    column: str = "mAP"
    at: Mapping[str, float | str] = field(default_factory=dict)
    scale: float = 100.0  # the notebooks' tables hold fractions; claims are in points


@dataclass(frozen=True)
class Claim:
    """One claim: ``better`` beats ``worse`` (the best of them) in ``metric``;
    the paper's figure from ``tables``."""

    claim: str
    metric: str  # a key of ``evaluation.score``, a mechanism measure, or the TableMeasure's label
    better: str
    worse: tuple[str, ...]
    # run dataset -> reported table; None: the paper's figure is ``figure`` or it states no number
    tables: Mapping[str, str] | None = None
    text: str = ""  # where the claim (or ``figure``) is printed
    measure: TableMeasure | None = None  # None: the models' prediction files
    figure: float | None = None  # the paper's A − B where it is printed outside ``tables``
