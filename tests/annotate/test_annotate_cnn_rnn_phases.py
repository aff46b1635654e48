"""Which of notebook 07's files ``annokit annotate --model wang-cnn-rnn`` reads: the phase that
``wang_cnn_rnn_jobs.train_seed`` keeps (phase 2 only when its best validation score is higher),
that phase's chosen epoch, and the model built as notebook 07 builds it; on hand-made files."""

from dataclasses import replace

import pytest
import torch

from annokit.annotate.finished_cnn_rnn import (
    chosen_checkpoint,
    final_phase,
    load_cnn_rnn,
    phase_folders,
)
from annokit.annotate.finished_models import open_finished_run
from annokit.atomic import atomic_torch_save
from annokit.methods.wang_cnn_rnn import EndToEnd, LastBlock, WholeCNN, build_cnn_rnn
from annokit.models.backbone import build_backbone, feature_dim_of
from annokit.profile import stage_settings_dict
from annokit.training.checkpoints import save_final

PROFILE = "demo"


@pytest.fixture
def run(make_tiny_run, tmp_path):
    """The tiny demo's run, without any trained stage."""
    make_tiny_run(tmp_path, PROFILE)
    return open_finished_run(PROFILE, str(tmp_path))


def save_phase(run, phase, scores, chosen=None, model=None, **stage):
    """A phase as fit_best_epoch leaves it: final.pt (the validation score of each epoch in its
    history) and, when ``chosen`` is given, chosen.pt of that epoch."""
    folder = run.run_dir / "wang_cnn_rnn" / phase
    n = len(scores)
    history = {
        "epoch": list(range(1, n + 1)),
        "train_loss": [0.0] * n,
        "metrics": [{"validation": s} for s in scores],
        "seconds": [0.0] * n,
    }
    record = {**stage_settings_dict(run.profile.cnn_rnn), "max_labels": 4}
    record.update({"index": run.index.meta["fingerprint"], **stage})
    state = {} if model is None else model.state_dict()
    save_final(
        folder / "final.pt",
        model_state=state,
        config={"fit": {}, "stage": record},
        history=history,
    )
    if chosen is not None:
        atomic_torch_save({"epoch": chosen, "model": state}, folder / "chosen.pt")
    return folder


@pytest.mark.parametrize(
    "phase2, kept",
    [([0.3, 0.6], "end_to_end"), ([0.5], "frozen"), ([0.2, 0.4], "frozen")],
    ids=["phase 2 higher", "a tie keeps phase 1", "phase 2 lower"],
)
def test_phase_2_is_kept_only_when_its_best_validation_score_is_higher(run, phase2, kept):
    save_phase(run, "frozen", [0.2, 0.5, 0.1], chosen=2)
    save_phase(run, "end_to_end", phase2, chosen=phase2.index(max(phase2)) + 1)
    assert final_phase(run).name == kept
    assert chosen_checkpoint(run) == run.run_dir / "wang_cnn_rnn" / kept / "chosen.pt"


def test_without_phase_2_only_phase_1_is_read(run):
    settings = replace(run.profile.cnn_rnn, finetune="none")
    run = replace(run, profile=replace(run.profile, cnn_rnn=settings))
    save_phase(run, "frozen", [0.1, 0.2], chosen=2)
    save_phase(run, "end_to_end", [0.9], chosen=1)  # left by an earlier profile: not read
    assert [folder.name for folder in phase_folders(run)] == ["frozen"]
    assert final_phase(run).name == "frozen"


def test_the_last_epoch_chosen_reads_final_pt_when_chosen_pt_is_missing(run):
    folder = save_phase(run, "frozen", [0.1, 0.2, 0.3])
    save_phase(run, "end_to_end", [0.05])
    assert chosen_checkpoint(run) == folder / "final.pt"


@pytest.mark.parametrize("saved", [None, 3], ids=["missing", "of another epoch"])
def test_an_earlier_epoch_chosen_without_its_chosen_pt_names_notebook_07(run, saved):
    save_phase(run, "frozen", [0.1, 0.4, 0.3], chosen=saved)
    save_phase(run, "end_to_end", [0.05], chosen=1)
    with pytest.raises(FileNotFoundError, match="not of epoch 2.*07_cnn_rnn"):
        chosen_checkpoint(run)


def test_a_phase_of_another_index_names_notebook_07(run):
    save_phase(run, "frozen", [0.5], chosen=1, index="another-fingerprint")
    save_phase(run, "end_to_end", [0.6], chosen=1)
    with pytest.raises(ValueError, match="another prepared index.*07_cnn_rnn"):
        chosen_checkpoint(run)


@pytest.mark.parametrize("finetune", ["last_conv", "last_block", "all"])
def test_phase_2_loads_the_fine_tuned_cnn_part_and_the_rnn_as_notebook_07_built_them(run, finetune):
    settings = replace(run.profile.cnn_rnn, finetune=finetune)
    run = replace(run, profile=replace(run.profile, cnn_rnn=settings))
    backbone, labels = run.profile.cnn.backbone, len(run.index.label_names)
    torch.manual_seed(0)
    cnn = build_backbone(backbone, num_classes=None)
    rnn = build_cnn_rnn(settings, labels, feature_dim_of(backbone))
    if finetune == "all":
        trunk = WholeCNN(cnn)
    else:
        trunk = LastBlock(cnn.layer4[-1], last_conv_only=finetune == "last_conv")
    trained = EndToEnd(trunk, rnn)
    folder = save_phase(run, "end_to_end", [0.5], chosen=1, model=trained)
    loaded = load_cnn_rnn(run, folder / "chosen.pt", torch.device("cpu"))
    assert type(loaded.trunk) is type(trunk)
    if finetune != "all":
        assert loaded.trunk.last_conv_only == (finetune == "last_conv")
    weights = loaded.state_dict()  # the same keys as notebook 07's EndToEnd: trunk.*, rnn.*
    assert weights.keys() == trained.state_dict().keys()
    assert all(torch.equal(v, weights[k]) for k, v in trained.state_dict().items())
    assert (loaded.beam_size, loaded.max_labels) == (settings.beam_size, 4)
    assert not loaded.training and "beam 3" in loaded.rule() and "4 labels" in loaded.rule()


def test_phase_1_loads_the_rnn_alone(run):
    settings = run.profile.cnn_rnn
    rnn = build_cnn_rnn(settings, len(run.index.label_names), feature_dim_of("resnet18"))
    folder = save_phase(run, "frozen", [0.5], chosen=1, model=rnn)
    loaded = load_cnn_rnn(run, folder / "chosen.pt", torch.device("cpu"))
    assert loaded.trunk is None
    assert all(torch.equal(v, loaded.rnn.state_dict()[k]) for k, v in rnn.state_dict().items())


def test_other_model_settings_or_weights_name_notebook_07(run):
    settings = run.profile.cnn_rnn
    rnn = build_cnn_rnn(settings, len(run.index.label_names), feature_dim_of("resnet18"))
    wider = settings.hidden_dim * 2
    folder = save_phase(run, "frozen", [0.5], chosen=1, model=rnn, hidden_dim=wider)
    with pytest.raises(ValueError, match=r"other \[cnn_rnn\] settings.*hidden_dim.*07_cnn_rnn"):
        load_cnn_rnn(run, folder / "chosen.pt", torch.device("cpu"))
    folder = save_phase(run, "frozen", [0.5], chosen=1, model=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="does not fit the CNN-RNN.*07_cnn_rnn"):
        load_cnn_rnn(run, folder / "chosen.pt", torch.device("cpu"))
