"""The eight reproduced baselines: their names as the papers print them, their prediction files,
their decision rules.

Prediction files are ``baseline_<key>`` in ``<run>/predictions/`` (extra seeds
``baseline_<key>@seed<k>``), written by notebook 08; ``annokit.report.tables`` sets them beside the
papers' copied rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from annokit.profile import Profile


@dataclass(frozen=True)
class Method:
    """One baseline: its prediction-file key, its name, the paper it reproduces and whether it is
    trained (seeded)."""

    key: str
    name: str
    paper: str
    trained: bool

    @property
    def file(self) -> str:
        """The prediction file of the profile's seed: ``baseline_<key>``."""
        return f"baseline_{self.key}"


METHODS: dict[str, Method] = {
    m.key: m
    for m in (
        Method(
            "logistic",
            "CNN+logistic",
            "a logistic regression per label, M3's row (Hu et al. 2016)",
            True,
        ),
        Method("softmax", "CNN+softmax", "Gong et al. 2013", True),
        Method("warp", "CNN+WARP", "Weston et al. 2011, as used by Gong et al. 2013", True),
        Method("lsep", "LSEP", "Li, Song, Luo 2017", True),
        Method("tagprop", "TagProp", "Guillaumin et al. 2009", False),
        Method("2pknn", "2PKNN", "Verma and Jawahar 2012", False),
        Method(
            "tag_knn",
            "TagNeighbors-style multi-modal kNN",
            "after Johnson, Ballan, Fei-Fei 2015",
            False,
        ),
        Method("order_free_rnn", "Order-free RNN", "Chen et al. 2018", True),
    )
}
HEADS = ("logistic", "softmax", "warp", "lsep")
NEIGHBOURS = ("tagprop", "2pknn", "tag_knn")


def baseline_seeds(profile: Profile) -> list[int]:
    """The seeds of the trained baselines: ``[baselines] seeds``, or the [classifier] seeds as the
    other heads."""
    return list(profile.baselines.seeds) or profile.seeds("classifier")


def file_name(key: str, seed: int, profile: Profile) -> str:
    """``baseline_<key>`` for the profile's seed, ``baseline_<key>@seed<k>`` for another (as
    ``m3.seed_suffix``)."""
    return METHODS[key].file + ("" if seed == profile.seed else f"@seed{seed}")


def method_meta(profile: Profile, key: str, seed: int | None, chosen: dict, **extra) -> dict:
    """What a baseline's prediction file records: the method, its paper, the seed and the choices
    made on the validation split."""
    method = METHODS[key]
    return {
        "profile": profile.name,
        "method": method.name,
        "paper": method.paper,
        "seed": seed,
        "chosen": chosen,
        **extra,
    }


@dataclass(frozen=True)
class BaselineJob:
    """One method with one seed (None: a deterministic method), as a worker process receives it
    (plain data): the run's profile and folder, the device, ``retrain`` (delete the job's trained
    models first) and ``threads``, the torch and BLAS threads of the job (None: as they are; one
    when jobs share the cores)."""

    key: str
    seed: int | None
    profile: Profile
    run_dir: Path
    device: str = "cpu"
    retrain: bool = False
    threads: int | None = None

    @property
    def file(self) -> str:
        """Its prediction file: ``file_name``, or the method's one file without a seed."""
        if self.seed is None:
            return METHODS[self.key].file
        return file_name(self.key, self.seed, self.profile)

    @property
    def folder(self) -> Path:
        """Where its trained models live: ``<run>/baselines/<file>``."""
        return Path(self.run_dir) / "baselines" / self.file
