"""Tests for annokit.training.fit and annokit.training.checkpoints: learning, bit-exact resume,
atomic saves, DDP."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from dataclasses import replace

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from annokit.profile import LoaderSettings, Training
from annokit.report.plots import plot_history
from annokit.training import checkpoints
from annokit.training.checkpoints import (
    CheckpointError,
    ConfigMismatchError,
    TrainingState,
    latest_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from annokit.training.distributed import unwrap
from annokit.training.epoch import to_device
from annokit.training.fit import FitConfig, FitOptions, History, fit

REPO = Path(__file__).resolve().parents[2]
DDP_SCRIPT = REPO / "tests" / "helpers" / "ddp_fit.py"


class Interrupted(Exception):
    """Stands for a killed run."""


class Counter:
    """Wraps loss_fn / eval_fn and counts calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)


def conv_problem(init_seed: int = 0) -> tuple[nn.Module, TensorDataset, TensorDataset]:
    """A tiny conv net with dropout (so RNG restore matters) and 40 + 16 random 8x8 images, 3
    classes."""
    gen = torch.Generator().manual_seed(123)
    x = torch.randn(56, 1, 8, 8, generator=gen)
    y = (x.mean(dim=(1, 2, 3)) > 0).long() + (x[:, 0, 0, 0] > 1).long()
    torch.manual_seed(init_seed)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Dropout(0.3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    )
    return model, TensorDataset(x[:40], y[:40]), TensorDataset(x[40:], y[40:])


def cross_entropy(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return F.cross_entropy(model(x), y)


def val_loss_fn(val_set: TensorDataset, interrupt_at: int | None = None):
    """eval_fn giving the validation loss; raises at epoch ``interrupt_at`` to simulate a kill."""
    epoch = 0

    def evaluate(model: nn.Module) -> dict:
        nonlocal epoch
        epoch += 1
        if epoch == interrupt_at:
            raise Interrupted(f"killed at epoch {epoch}")
        return {"val_loss": cross_entropy(model, val_set.tensors)}

    return evaluate


CONV_CONFIG = FitConfig(
    Training(epochs=4, batch_size=8, lr=0.05, momentum=0.9, weight_decay=1e-4),
    seed=1,
    lr_schedule="step",
    step_epochs=2,
)


def mlp_problem() -> tuple[nn.Module, TensorDataset]:
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(64, 5, generator=gen)
    y = x @ torch.randn(5, 1, generator=gen) + 0.5
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)), TensorDataset(x, y)


def mse(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return F.mse_loss(model(x), y)


MLP_CONFIG = FitConfig(Training(epochs=3, batch_size=16, lr=0.05), seed=0)


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def full_conv_run(tmp_path_factory):
    """An uninterrupted 4-epoch run of the conv net: (run_dir, history, final weights)."""
    run_dir = tmp_path_factory.mktemp("full")
    model, train_set, val_set = conv_problem()
    history = fit(
        model,
        train_set,
        cross_entropy,
        CONV_CONFIG,
        run_dir,
        FitOptions(stage={"stage": "toy"}, eval_fn=val_loss_fn(val_set)),
    )
    return run_dir, history, {k: v.clone() for k, v in model.state_dict().items()}


def test_loss_decreases_on_learnable_problem(tmp_path):
    model, data = mlp_problem()
    history = fit(
        model,
        data,
        mse,
        FitConfig(Training(epochs=6, batch_size=8, lr=0.05, optimizer="adam")),
        tmp_path,
    )
    assert len(history) == 6 and history.epoch == [1, 2, 3, 4, 5, 6]
    assert history.train_loss[-1] < 0.3 * history.train_loss[0]


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
def test_other_optimizers_learn(tmp_path, optimizer):
    model, data = mlp_problem()
    history = fit(
        model,
        data,
        mse,
        FitConfig(Training(epochs=4, batch_size=8, lr=0.01, optimizer=optimizer)),
        tmp_path,
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_run_folder_layout(full_conv_run):
    run_dir, history, _ = full_conv_run
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["epoch_003.pt", "epoch_004.pt", "final.pt", "history.json"]
    assert latest_checkpoint(run_dir).name == "epoch_004.pt"
    assert all("val_loss" in m for m in history.metrics)
    final = load_checkpoint(run_dir / "final.pt")
    assert final["config"]["fit"]["training"]["lr"] == 0.05 and final["config"]["stage"] == {
        "stage": "toy"
    }
    assert final["history"] == history.to_dict()


def test_interrupted_then_resumed_is_bit_identical(tmp_path, full_conv_run):
    _, full_history, full_weights = full_conv_run
    model, train_set, val_set = conv_problem()
    with pytest.raises(Interrupted):
        fit(
            model,
            train_set,
            cross_entropy,
            CONV_CONFIG,
            tmp_path,
            FitOptions(stage={"stage": "toy"}, eval_fn=val_loss_fn(val_set, interrupt_at=3)),
        )
    assert latest_checkpoint(tmp_path).name == "epoch_002.pt"
    assert not (tmp_path / "final.pt").exists()

    # other initial weights: the checkpoint must overwrite them
    fresh, _, _ = conv_problem(init_seed=99)
    loss_fn, eval_fn = Counter(cross_entropy), Counter(val_loss_fn(val_set))
    history = fit(
        fresh,
        train_set,
        loss_fn,
        CONV_CONFIG,
        tmp_path,
        FitOptions(stage={"stage": "toy"}, eval_fn=eval_fn),
    )

    assert eval_fn.calls == 2 and loss_fn.calls == 2 * 5  # only epochs 3 and 4, 5 batches each
    assert history.epoch == [1, 2, 3, 4]
    assert history.train_loss == full_history.train_loss
    assert history.metrics == full_history.metrics
    assert_same_weights(fresh.state_dict(), full_weights)
    assert_same_weights(load_checkpoint(tmp_path / "final.pt")["model"], full_weights)


def test_finished_run_returns_without_training(full_conv_run, capsys):
    run_dir, full_history, full_weights = full_conv_run
    model, train_set, _ = conv_problem(init_seed=42)
    loss_fn = Counter(cross_entropy)
    history = fit(
        model, train_set, loss_fn, CONV_CONFIG, run_dir, FitOptions(stage={"stage": "toy"})
    )
    assert loss_fn.calls == 0
    assert "nothing to train" in capsys.readouterr().out
    assert history.to_dict() == full_history.to_dict()
    assert_same_weights(model.state_dict(), full_weights)


def test_finished_run_with_other_config_is_refused(full_conv_run):
    run_dir, _, _ = full_conv_run
    model, train_set, _ = conv_problem()
    other = replace(CONV_CONFIG, training=replace(CONV_CONFIG.training, lr=0.01))
    with pytest.raises(
        ConfigMismatchError, match=r"fit\.training\.lr=0\.05.*fit\.training\.lr=0\.01"
    ) as err:
        fit(model, train_set, cross_entropy, other, run_dir, FitOptions(stage={"stage": "toy"}))
    assert "final.pt" in str(err.value)


def interrupted_mlp_run(run_dir: Path) -> None:
    """Leaves run_dir with epoch_001.pt only."""

    def interrupt_in_epoch_2(model: nn.Module) -> dict:
        if (run_dir / "epoch_001.pt").exists():
            raise Interrupted("killed in epoch 2")
        return {}

    model, data = mlp_problem()
    with pytest.raises(Interrupted):
        fit(
            model,
            data,
            mse,
            MLP_CONFIG,
            run_dir,
            FitOptions(stage={"hidden": 8}, eval_fn=interrupt_in_epoch_2),
        )
    assert [p.name for p in run_dir.glob("epoch_*.pt")] == ["epoch_001.pt"]


def test_resume_with_other_config_lists_the_keys(tmp_path):
    interrupted_mlp_run(tmp_path)
    model, data = mlp_problem()
    # workers may differ
    other = replace(
        MLP_CONFIG, training=replace(MLP_CONFIG.training, lr=0.01), loader=LoaderSettings(workers=1)
    )
    with pytest.raises(ConfigMismatchError) as err:
        fit(model, data, mse, other, tmp_path, FitOptions(stage={"hidden": 16}))
    message = str(err.value)
    assert "epoch_001.pt" in message and "another run folder" in message
    assert "fit.training.lr=0.05" in message and "fit.training.lr=0.01" in message
    assert "stage.hidden=8" in message and "stage.hidden=16" in message
    assert "num_workers" not in message


def test_truncated_checkpoint_names_the_file(tmp_path):
    interrupted_mlp_run(tmp_path)
    path = tmp_path / "epoch_001.pt"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    model, dataset = mlp_problem()
    with pytest.raises(CheckpointError, match=r"epoch_001\.pt.*(corrupt|truncated).*[Dd]elete it"):
        fit(model, dataset, mse, MLP_CONFIG, tmp_path, FitOptions(stage={"hidden": 8}))


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")
    model, _ = mlp_problem()
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match=r"bare\.pt is not an annokit checkpoint.*state_dict"):
        load_checkpoint(tmp_path / "bare.pt")
    torch.save(
        {"format": checkpoints.FORMAT, "kind": "epoch", "model": {}}, tmp_path / "partial.pt"
    )
    with pytest.raises(CheckpointError, match=r"partial\.pt.*missing keys: optimizer"):
        load_checkpoint(tmp_path / "partial.pt")


def test_checkpoints_load_with_weights_only(full_conv_run):
    run_dir, _, _ = full_conv_run
    epoch = torch.load(run_dir / "epoch_004.pt", map_location="cpu", weights_only=True)
    assert {"model", "optimizer", "scheduler", "epoch", "config", "history", "rng"} <= epoch.keys()
    assert epoch["epoch"] == 4 and epoch["scheduler"]["last_epoch"] == 4
    rng = epoch["rng"]["per_rank"][0]
    assert isinstance(rng["torch"], torch.Tensor) and isinstance(rng["numpy"]["keys"], torch.Tensor)
    assert isinstance(rng["python"]["state"], torch.Tensor)
    final = torch.load(run_dir / "final.pt", map_location="cpu", weights_only=True)
    assert {"model", "config", "history"} <= final.keys() and "optimizer" not in final


def test_load_weights_for_a_later_stage(full_conv_run, tmp_path):
    run_dir, _, full_weights = full_conv_run
    model, _, _ = conv_problem(init_seed=5)
    load_weights(run_dir / "final.pt", model)
    assert_same_weights(model.state_dict(), full_weights)
    wrong = nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 6 * 6, 3)
    )
    with pytest.raises(CheckpointError, match=r"final\.pt does not fit Sequential.*0\.weight"):
        load_weights(run_dir / "final.pt", wrong)


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    real_save, calls = torch.save, []

    def failing_save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the epoch-2 checkpoint: half written, then the disk fills up
            f.write(b"PK\x03\x04 partial bytes")
            raise OSError("No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", failing_save)
    model, data = mlp_problem()
    with pytest.raises(OSError, match="No space"):
        fit(model, data, mse, MLP_CONFIG, tmp_path)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "epoch_001.pt",
        "history.json",
    ]  # no temp file left
    assert load_checkpoint(tmp_path / "epoch_001.pt")["epoch"] == 1
    model, data = mlp_problem()
    assert fit(model, data, mse, MLP_CONFIG, tmp_path).epoch == [1, 2, 3]


def test_save_checkpoint_is_atomic_when_replacing(tmp_path, monkeypatch):
    path = tmp_path / "epoch_001.pt"
    state = TrainingState(model={"w": torch.ones(2)}, optimizer={}, scheduler={}, rng={})
    args = dict(config={"a": 1}, history={})
    save_checkpoint(path, state, epoch=1, **args)

    def interrupted_save(obj, f, *args, **kwargs):
        f.write(b"garbage")
        raise KeyboardInterrupt  # Ctrl-C in the middle of the write

    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, state, epoch=2, **args)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["epoch_001.pt"]
    assert load_checkpoint(path, expected_config={"a": 1})["epoch"] == 1


@pytest.mark.slow
def test_ddp_matches_single_process(tmp_path):
    spec = importlib.util.spec_from_file_location("ddp_fit", DDP_SCRIPT)
    ddp_fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ddp_fit)

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(DDP_SCRIPT),
        str(tmp_path / "ddp"),
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"torchrun failed ({done.returncode}):\n{done.stderr[-4000:]}"
    ddp = load_checkpoint(tmp_path / "ddp" / "final.pt")
    assert ddp["meta"]["world_size"] == 2

    model, data = ddp_fit.make_problem()
    history = fit(
        model,
        data,
        ddp_fit.mse,
        ddp_fit.CONFIG,
        tmp_path / "single",
        FitOptions(stage={"stage": "ddp-test"}),
    )
    for key, value in model.state_dict().items():
        torch.testing.assert_close(ddp["model"][key], value, atol=1e-5, rtol=0, msg=key)
    torch.testing.assert_close(
        torch.tensor(ddp["history"]["train_loss"]),
        torch.tensor(history.train_loss),
        atol=1e-5,
        rtol=0,
    )


def test_plot_history_has_labelled_axes():
    history = History()
    for epoch, (loss, val, ap) in enumerate([(1.0, 1.1, 0.2), (0.6, 0.8, 0.4)], start=1):
        history.append(epoch, loss, {"val_loss": val, "mAP": ap}, 1.0)
    fig = plot_history(history.to_dict())
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert fig.axes[1].get_ylabel() == "metric"
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"train loss", "val_loss", "mAP"}


def test_to_device_and_config_checks():
    batch = (torch.ones(2), [torch.zeros(1), 3], {"k": torch.ones(1)})
    moved = to_device(batch, torch.device("cpu"))
    assert (
        isinstance(moved, tuple) and moved[1][1] == 3 and torch.equal(moved[2]["k"], torch.ones(1))
    )
    model = nn.Linear(1, 1)
    assert unwrap(model) is model
    with pytest.raises(ValueError, match="optimizer"):
        FitConfig(Training(epochs=1, batch_size=1, lr=0.1, optimizer="lbfgs"))
    with pytest.raises(ValueError, match="step_epochs"):
        FitConfig(Training(epochs=1, batch_size=1, lr=0.1), lr_schedule="step")


def test_only_the_final_weights_are_flushed_to_disk(tmp_path, monkeypatch):
    """Epoch checkpoints and history.json are atomic renames without fsync (a killed run still
    never sees half a file); final.pt is fsynced, file and folder."""
    import annokit.atomic

    synced = []
    real = os.fsync
    monkeypatch.setattr(annokit.atomic.os, "fsync", lambda fd: synced.append(fd) or real(fd))
    model, data = mlp_problem()
    fit(model, data, mse, FitConfig(Training(epochs=4, batch_size=8, lr=0.05)), tmp_path)
    assert len(synced) == 2  # final.pt and its folder
    assert latest_checkpoint(tmp_path) is not None and (tmp_path / "final.pt").exists()
    assert load_weights(tmp_path / "final.pt", mlp_problem()[0])["history"]["epoch"] == [1, 2, 3, 4]
