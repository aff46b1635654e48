"""What each notebook of a profile's chain computes, as work for the projection: per stage the
images (or cached vectors) it processes over every fit and epoch, the models it trains and the
measured rate it runs at.

Image stages run at the image-step rates (``model_rates``), bounded by the loader; stages on cached
vectors at their own measured step rates (``vector_rates``). Work that is not timed (data prep
bookkeeping, the neighbour searches of notebook 08, tables, the viewer) is ``NEGLIGIBLE``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from annokit import paths
from annokit.chain_graph import READS
from annokit.methods.baselines.registry import HEADS, baseline_seeds
from annokit.methods.multi_order import EVAL_LIMIT, MULTI_ORDER_FILES, table1_decoders
from annokit.methods.partial_labels import LOSSES
from annokit.methods.partial_strategies import STRATEGY_KINDS
from annokit.profile import Profile

NOTEBOOKS = tuple(READS)  # the chain's notebooks, in order
NEGLIGIBLE = ""  # the rate of work that is not timed
TORCHRUN = "torchrun"  # the bag of the image stages that train across the cards (--gpus N)
# notebook 06's parameter defaults, for where its source is not at hand (an installed package)
PARTIAL_DEFAULTS = {
    "losses": list(LOSSES),
    "curriculum_rounds": 1,
    "curriculum_proportion": 0.1,
    "comparison_seeds": 2,
    "curriculum_strategies": list(STRATEGY_KINDS),
    "ensemble_size": 2,
    "gnn_proportions": [0.1],
}


@dataclass(frozen=True)
class Work:
    """One stage of a notebook: ``images`` processed over all ``fits`` and epochs, at ``rate``."""

    notebook: str
    stage: str
    images: int
    rate: str  # a measured rate's name; NEGLIGIBLE: not timed
    fits: int = 0  # models trained (0: a pass, or nothing timed)
    note: str = ""
    # on a machine of several GPUs: ``jobs`` independent equal parts, one card each, run beside the
    # other parts of the same ``bag`` (0: in the notebook's process, one card); bag TORCHRUN: the
    # stage's steps shared by every card (``gpu_wall``)
    jobs: int = 0
    bag: str = ""


@dataclass(frozen=True)
class Split:
    """Image counts of a profile's split: training minus validation (``fit``), validation
    images scored per curve point (``curve``), validation and test."""

    fit: int
    validation: int
    curve: int
    test: int

    @property
    def every(self) -> int:
        return self.fit + self.validation + self.test


def split_of(profile: Profile, train: int, test: int) -> Split:
    """The split as every stage sees it (``[evaluation]``'s validation share and curve limit)."""
    evaluation = profile.evaluation
    validation = round(evaluation.validation_fraction * train)
    return Split(train - validation, validation, min(validation, evaluation.limit), test)


def notebook_parameters(stem: str) -> dict:
    """The literal defaults of a notebook's ``parameters`` cell (``notebooks/<stem>.py``)."""
    source = paths.repo_root() / "notebooks" / f"{stem}.py"
    if not Path(source).exists():
        return {}
    cell = source.read_text().split('tags=["parameters"]', 1)[-1].split("# %%", 1)[0]
    values = {}
    for node in ast.parse(cell).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


def monitored_epochs(epochs: int, every: int) -> int:
    """Epochs after which the training curve is scored (``[evaluation] every``; 0: never)."""
    return epochs // every if every else 0


def data_prep(profile: Profile, split: Split) -> list[Work]:
    """Notebook 00: the index and split (not timed), and the image cache's one decoding pass."""
    work = [Work("00_data_prep", "data prep", 0, NEGLIGIBLE, note="index, split, checks")]
    if profile.cache.enabled:
        work.append(Work("00_data_prep", "cache build", split.every, "jpeg_loader"))
    return work


def image_stage(profile: Profile, split: Split, stage: str) -> list[Work]:
    """Notebook 01 or 02: training (every seed), the curve (the profile's seed), features of both
    splits, and the test scores of each extra seed."""
    notebook = "01_cnn_finetune" if stage == "cnn" else "02_ms_cnn"
    epochs, seeds = profile.stage(stage).epochs, len(profile.seeds(stage))
    step = f"{stage}_train_step"
    curve = split.curve * monitored_epochs(epochs, profile.evaluation.every)
    work = [
        Work(notebook, f"{stage} training", split.fit * epochs * seeds, step, seeds, bag=TORCHRUN),
        Work(notebook, f"{stage} validation curve", curve, "inference"),
        Work(notebook, f"{stage} features", split.every, "inference"),
    ]
    if seeds > 1:
        extra = split.test * (seeds - 1)
        work.append(Work(notebook, f"{stage} extra-seed test scores", extra, "inference"))
    return work


def vector_fit(
    notebook: str, stage: str, fits: int, per_fit: int, rate: str, bag: str = "", jobs: int = 0
) -> Work:
    """``fits`` models on cached vectors, ``per_fit`` vectors each (epochs included); ``bag``:
    side by side with its other jobs, ``jobs`` parts (0 with a bag: one per fit)."""
    note = "validation passes timed as training steps"
    jobs = (jobs or fits) if bag else 0
    return Work(notebook, stage, fits * per_fit, rate, fits, note, jobs, bag)


def vector_stages(profile: Profile, split: Split) -> list[Work]:
    """Notebooks 03–05: the tags MLP, the step-5 heads on f_v and [f_v, f_t] per [classifier]
    seed, and the five decoders of Table 1 per [rnn] seed."""
    tags, every = profile.tags_mlp, profile.evaluation.every
    tags_vectors = split.fit * tags.epochs + split.curve * monitored_epochs(tags.epochs, every)
    heads = 2 * len(profile.seeds("classifier"))  # on f_v and on [f_v, f_t]
    work = [
        vector_fit("03_tags_mlp", "tags MLP training", 1, tags_vectors, "tags_mlp_step"),
        Work("03_tags_mlp", "tag features", split.every, "tags_mlp_step", note="timed as steps"),
        vector_fit(
            "04_lqp",
            "classifier heads",
            heads,
            split.fit * profile.classifier.epochs,
            "classifier_step",
            bag="heads",
        ),
        vector_fit(
            "04_lqp", "LQP heads", heads, split.fit * profile.lqp.epochs, "lqp_step", bag="heads"
        ),
    ]
    rnn, seeds = profile.rnn, len(profile.seeds("rnn"))
    per_fit = (split.fit + min(split.validation, EVAL_LIMIT)) * rnn.epochs + split.test
    for model in table1_decoders(rnn.variant):
        rate = f"multi_order_step:{model}" if model in MULTI_ORDER_FILES else "fixed_order_step"
        # a decoder's seeds train as one stack: one job
        decoder = vector_fit(
            "05_multi_order_rnn", f"decoder {model}", seeds, per_fit, rate, "dec", 1
        )
        work.append(decoder)
    return work


def partial_grid(profile: Profile) -> dict:
    """Notebook 06's grid: proportions × losses × seeds fine-tunings, and the curriculum's."""
    parameters = {**PARTIAL_DEFAULTS, **notebook_parameters("06_partial_labels")}
    settings, seeds = profile.partial, profile.seeds("partial")
    losses = list(parameters["losses"])
    rounds = int(parameters["curriculum_rounds"])
    return {
        "proportions": list(settings.proportions),
        "losses": losses,
        "seeds": seeds,
        "fits": len(settings.proportions) * len(losses) * len(seeds),
        "curriculum_fits": rounds + 1 if rounds > 0 else 0,
        "finetune": settings.finetune,
        "epochs": settings.epochs,
    }


def partial_stage(profile: Profile, split: Split) -> list[Work]:
    """Notebook 06: every point of the grid fine-tuned on the fit images and scored on the test
    images; the curriculum's rounds, each labelling the fit images first."""
    grid, notebook = partial_grid(profile), "06_partial_labels"
    per_fit = split.fit * grid["epochs"]
    note = "at the CNN step rate ([cnn] batch)"
    work = []
    if grid["finetune"] == "last_block":
        note = "last block only, timed as the whole CNN's step: an upper bound"
        work.append(Work(notebook, "maps below the last block", split.every, "inference"))
    fits, rounds = grid["fits"], grid["curriculum_fits"]
    work += [
        Work(
            notebook, "grid fine-tuning", fits * per_fit, "cnn_train_step", fits, note, fits, "grid"
        ),
        Work(notebook, "grid test scores", fits * split.test, "inference"),
        Work(
            notebook,
            "curriculum fine-tuning",
            rounds * per_fit,
            "cnn_train_step",
            rounds,
            note,
            rounds,
            "curriculum",
        ),
        Work(
            notebook,
            "curriculum labelling and test scores",
            max(rounds - 1, 0) * split.fit + rounds * split.test,
            "inference",
        ),
    ]
    return work + partial_studies(profile, split, per_fit, note)


def partial_studies(profile: Profile, split: Split, per_fit: int, note: str) -> list[Work]:
    """Notebook 06 after the sweep, on its first ``comparison_seeds`` seeds: the labelling
    strategies (complete labels on p·N images, noisy labels on all, below 100 %), every curriculum
    strategy's rounds (beyond the "curriculum fine-tuning" above) with the ensemble's extra
    members, and the GNN head; the sweep's fits they reuse are not counted again."""
    parameters = {**PARTIAL_DEFAULTS, **notebook_parameters("06_partial_labels")}
    seeds = len(profile.seeds("partial")[: int(parameters["comparison_seeds"])])
    below = [p for p in profile.partial.proportions if p < 1.0]
    rounds = int(parameters["curriculum_rounds"])
    strategies = len(parameters["curriculum_strategies"]) if rounds > 0 else 0
    ensemble = "ensemble" in parameters["curriculum_strategies"]
    members = int(parameters["ensemble_size"]) - 1 if ensemble else 0
    curriculum = max(seeds * (strategies * rounds + members) - (rounds + 1), 0)
    gnn = seeds * len(parameters["gnn_proportions"])
    notebook = "06_partial_labels"
    labelling_images = seeds * sum(p + 1.0 for p in below) * per_fit
    passes = seeds * strategies * (split.validation + rounds * (split.fit + split.test))
    labelling_fits = 2 * seeds * len(below)
    return [
        Work(
            notebook,
            "labelling strategies fine-tuning",
            round(labelling_images),
            "cnn_train_step",
            labelling_fits,
            note,
            labelling_fits,
            "labelling",
        ),
        Work(
            notebook,
            "curriculum strategies fine-tuning",
            curriculum * per_fit,
            "cnn_train_step",
            curriculum,
            note,
            curriculum,
            "curriculum",
        ),
        Work(notebook, "curriculum strategies labelling", passes, "inference"),
        Work(notebook, "GNN head fine-tuning", gnn * per_fit, "cnn_train_step", gnn, note),
    ]


def baselines_stage(profile: Profile, split: Split) -> list[Work]:
    """Notebook 08: the linear heads and LSEP's count estimator, the Order-free RNN (each per
    baseline seed, each scoring the validation images every epoch) and the neighbour methods."""
    seeds, baselines, notebook = len(baseline_seeds(profile)), profile.baselines, "08_baselines"
    per_fit = (split.fit + split.validation) * baselines.epochs
    work = [
        vector_fit(notebook, f"head {key}", seeds, per_fit, f"head_step:{key}", "baselines")
        for key in HEADS
    ]
    count = "count_estimator_step"
    work.append(vector_fit(notebook, "LSEP label count", seeds, per_fit, count, "baselines"))
    epochs = baselines.order_free_epochs or profile.rnn.epochs
    order_free = (split.fit + split.validation) * epochs + split.test
    free = vector_fit(notebook, "Order-free RNN", seeds, order_free, "order_free_step", "baselines")
    work.append(free)
    work.append(Work(notebook, "neighbour methods", 0, NEGLIGIBLE, note="kNN searches, not timed"))
    return work


def cnn_rnn_stage(profile: Profile, split: Split) -> list[Work]:
    """Notebook 07: per [cnn_rnn] seed, phase 1 on the cached features (timed as notebook 05's
    decoder steps) and phase 2's fine-tuning, each scoring the validation images every epoch."""
    settings, seeds, notebook = profile.cnn_rnn, len(profile.seeds("cnn_rnn")), "07_cnn_rnn"
    phase1 = (split.fit + split.validation) * settings.epochs + split.test
    work = [vector_fit(notebook, "CNN-RNN phase 1", seeds, phase1, "fixed_order_step", "seeds")]
    if settings.finetune == "none":
        return work
    note = "" if settings.finetune == "all" else "last block part, timed as the CNN's step: a bound"
    if settings.finetune != "all":
        work.append(Work(notebook, "CNN-RNN maps below the last block", split.every, "inference"))
    tuned = seeds * split.fit * settings.finetune_epochs
    passes = seeds * (split.validation * settings.finetune_epochs + split.test)
    return [
        *work,
        Work(
            notebook,
            "CNN-RNN phase 2 fine-tuning",
            tuned,
            "cnn_train_step",
            seeds,
            note,
            seeds,
            "seeds",
        ),
        Work(notebook, "CNN-RNN phase 2 validation and test", passes, "inference"),
    ]


def chain(profile: Profile, train: int, test: int) -> list[Work]:
    """Every notebook's work for a profile whose split has ``train`` and ``test`` images."""
    split = split_of(profile, train, test)
    return [
        *data_prep(profile, split),
        *image_stage(profile, split, "cnn"),
        *image_stage(profile, split, "mscnn"),
        *vector_stages(profile, split),
        *partial_stage(profile, split),
        *cnn_rnn_stage(profile, split),
        *baselines_stage(profile, split),
        Work("09_result_tables", "tables and figures", 0, NEGLIGIBLE, note="no training"),
        Work("10_annotation_viewer", "viewer", 0, NEGLIGIBLE, note="no training"),
    ]
