"""A finished run's models by the names ``annokit annotate --model`` takes, loaded from the
checkpoints the notebooks leave (``<run>/<stage>/final.pt``).

Each name is one row of the notebooks' tables, with the prediction file the notebook writes for
the test split: ``cnn`` (notebook 01, top-k), ``mscnn`` (02, top-k), ``m3`` (MS-CNN + tags + LQP,
04, top-m̂ on [f_v, f_t]), ``mscnn-lqp`` (04, top-m̂ on f_v), ``multi-order`` (05, the
profile's variant, max-pooled over the steps, threshold 0.5) and ``wang-cnn-rnn`` (07, the final
phase at its chosen epoch, beam search: ``annotate.finished_cnn_rnn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from annokit.annotate.finished_cnn_rnn import chosen_checkpoint, load_cnn_rnn, phase_folders
from annokit.annotate.model_menu import FINAL, RNN_STAGE, STAGE_NOTEBOOKS, WANG_STAGE, ModelChoice
from annokit.artifacts.run import Run, open_run
from annokit.methods.multi_order import MULTI_ORDER_FILES, variant_settings
from annokit.models.backbone import ResNetBackbone, build_backbone, feature_dim_of
from annokit.models.heads import JointClassifier
from annokit.models.lqp import LabelQuantityRegressor
from annokit.models.mscnn import MultiScaleCNN
from annokit.models.multi_order_rnn import MultiOrderRNN
from annokit.models.tags_mlp import TagsMLP
from annokit.training.checkpoints import epoch_checkpoints, load_weights


def open_finished_run(profile: str, work_dir: str = "") -> Run:
    """The run of ``profile``; a run never prepared is an error naming what to run."""
    from annokit import paths
    from annokit.profile import load_profile

    loaded = load_profile(profile)
    run_dir = loaded.run_dir(Path(work_dir) if work_dir else paths.work_dir())
    if not (run_dir / "index" / "meta.json").is_file():
        raise FileNotFoundError(
            f"profile {loaded.name!r} has no run in {run_dir} (no prepared index): run its "
            f"notebooks first, from 00_data_prep (annokit reproduce --profile {profile})"
        )
    return open_run(profile, work_dir=work_dir)


def stage_folders(run: Run, stage: str) -> list[Path]:
    """Where a stage's ``final.pt`` files live: the Multi-order RNN's folder is its variant's file,
    the CNN-RNN of notebook 07 has one per phase."""
    if stage == RNN_STAGE:
        return [Path(run.run_dir) / RNN_STAGE / MULTI_ORDER_FILES[run.profile.rnn.variant]]
    if stage == WANG_STAGE:
        return phase_folders(run)
    return [Path(run.run_dir) / stage]


def prediction_file(run: Run, choice: ModelChoice) -> str:
    """The notebook's prediction file of ``choice`` in this run (the profile's RNN variant)."""
    if RNN_STAGE in choice.stages:
        return MULTI_ORDER_FILES[run.profile.rnn.variant]
    return choice.prediction_file


def check_finished(run: Run, choice: ModelChoice) -> dict[str, Path]:
    """Each stage's weights (``final.pt``; notebook 07's chosen epoch of its final phase); a stage
    never trained, or stopped before its end, is an error naming the notebook that trains it."""
    finals = {}
    for stage in choice.stages:
        notebook = STAGE_NOTEBOOKS[stage]
        for folder in stage_folders(run, stage):
            final = folder / FINAL
            if final.is_file():
                continue
            epochs = epoch_checkpoints(folder)
            state = (
                f"is unfinished ({folder} holds {epochs[-1].name} but no {FINAL})"
                if epochs
                else f"was never trained ({final} is missing)"
            )
            part = folder.relative_to(run.run_dir).as_posix() if stage == WANG_STAGE else stage
            raise FileNotFoundError(
                f"model {choice.name!r} of profile {run.profile.name!r}: stage {part!r} {state}: "
                f"run notebook {notebook} (annokit reproduce --profile {run.source or 'NAME'} "
                "runs the chain and resumes it)"
            )
        finals[stage] = chosen_checkpoint(run) if stage == WANG_STAGE else final
    return finals


def check_vocabulary(run: Run, labels: Sequence[str], source: Path) -> None:
    """Refuse a run trained on other labels than ``labels`` (read from ``source``)."""
    trained = list(run.index.label_names)
    if list(labels) == trained:
        return
    missing = [label for label in labels if label not in trained]
    extra = [label for label in trained if label not in labels]
    detail = (
        f"{len(missing)} of yours not in it (e.g. {', '.join(missing[:3])})"
        if missing
        else f"{len(extra)} of its not in yours (e.g. {', '.join(extra[:3])})"
        if extra
        else "the same labels in another order"
    )
    raise ValueError(
        f"the run of profile {run.profile.name!r} was trained on another vocabulary than "
        f"{source}: {len(trained)} labels against {len(labels)}, {detail}: annotate with the "
        f"profile trained on these labels, or give its vocabulary ({run.run_dir}/index/vocab.json)"
    )


def _loaded(model: nn.Module, final: Path, run: Run, device: torch.device) -> nn.Module:
    """``model`` with the weights of ``final``, in eval mode on ``device``; a checkpoint made on
    another prepared index than the run's is refused (its labels may differ)."""
    checkpoint = load_weights(final, model)
    made_on = checkpoint["config"].get("stage", {}).get("index")
    if made_on is not None and made_on != run.index.meta.get("fingerprint"):
        stage = final.parent.name
        raise ValueError(
            f"{final} was trained on another prepared index than {run.run_dir}/index: rerun "
            f"notebook {STAGE_NOTEBOOKS.get(stage, STAGE_NOTEBOOKS[RNN_STAGE])} on this run"
        )
    return model.eval().to(device)


def load_stage(run: Run, stage: str, final: Path, device: torch.device) -> nn.Module:
    """The trained network of one stage, built as the notebook that trains it builds it."""
    if stage == WANG_STAGE:  # notebook 07's own files: a phase's final.pt and its chosen epoch
        return load_cnn_rnn(run, final, device)
    profile, labels = run.profile, len(run.index.label_names)
    backbone = profile.cnn.backbone
    dim = feature_dim_of(backbone)
    if stage == "cnn":
        model: nn.Module = build_backbone(backbone, num_classes=labels)
    elif stage == "mscnn":
        model = MultiScaleCNN(ResNetBackbone(backbone, num_classes=None), labels)
    elif stage == "tags_mlp":
        tags = len(run.index.tag_names)
        model = TagsMLP(tags, labels, hidden=profile.tags_mlp.hidden, feature_dim=dim)
    elif stage.startswith("classifier_"):
        model = JointClassifier(dim * (2 if stage.endswith("joint") else 1), labels)
    elif stage.startswith("lqp_"):
        model = LabelQuantityRegressor(dim * (2 if stage.endswith("joint") else 1))
    elif stage == RNN_STAGE:
        settings = variant_settings(profile.rnn, profile.rnn.variant)
        model = MultiOrderRNN(
            labels, settings.hidden, settings.embedding, settings.steps, variant=settings.variant
        )
    else:
        raise ValueError(f"no stage {stage!r}: choose one of {', '.join(STAGE_NOTEBOOKS)}")
    return _loaded(model, final, run, device)
