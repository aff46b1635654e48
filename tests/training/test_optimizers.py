"""TensorFlow 1's RMSProp (``rmsprop_tf``) against updates computed by hand and against
torch's RMSprop, and ``drop_last`` in the fit loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from annokit.profile import Training
from annokit.training.config import FitConfig, build_optimizer
from annokit.training.fit import FitOptions, fit
from annokit.training.optimizers import TFRMSprop

# lr 0.1, decay 0.9, epsilon 1.0, momentum 0.9 (the release's config.py, with a larger lr); one
# weight starting at 1.0 gets the gradients 2 then -1.
SETTINGS = {"lr": 0.1, "momentum": 0.9, "rmsprop_alpha": 0.9, "rmsprop_eps": 1.0}
GRADIENTS = (2.0, -1.0)
# By hand, TF 1's update with the mean square started at 1 and epsilon inside the root:
#   step 1: ms = 0.9·1 + 0.1·2² = 1.3;    mom = 0.1·2/√(1.3 + 1) = 0.1318761
#           θ = 1 − 0.1318761 = 0.8681239
#   step 2: ms = 0.9·1.3 + 0.1·1 = 1.27;  mom = 0.9·0.1318761 − 0.1/√(1.27 + 1) = 0.0523162
#           θ = 0.8681239 − 0.0523162 = 0.8158078
BY_HAND = ((1.3, 0.1318761, 0.8681239), (1.27, 0.0523162, 0.8158078))
# torch.optim.RMSprop, same settings: v = 0.1·2² = 0.4 from 0, step 0.1·2/(√0.4 + 1) = 0.1225148
TORCH_FIRST_STEP = 1.0 - 0.1225148


def two_steps(optimizer_name: str) -> tuple[torch.optim.Optimizer, torch.nn.Parameter, list]:
    """The two updates of ``GRADIENTS`` by the optimiser ``build_optimizer`` makes of the name."""
    weight = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    training = Training(epochs=1, batch_size=1, optimizer=optimizer_name, **SETTINGS)
    optimizer = build_optimizer([weight], FitConfig(training))
    after = []
    for g in GRADIENTS:
        weight.grad = torch.tensor([g], dtype=torch.float64)
        optimizer.step()
        after.append(float(weight.detach()))
    return optimizer, weight, after


def test_two_steps_of_tf_rmsprop_match_the_hand_computation():
    optimizer, weight, after = two_steps("rmsprop_tf")
    assert isinstance(optimizer, TFRMSprop)
    assert after == pytest.approx([BY_HAND[0][2], BY_HAND[1][2]], abs=1e-7)
    state = optimizer.state[weight]
    assert float(state["mean_square"]) == pytest.approx(BY_HAND[1][0], abs=1e-12)
    assert float(state["momentum"]) == pytest.approx(BY_HAND[1][1], abs=1e-7)


def test_tf_rmsprop_is_not_torchs():
    _, _, tf_steps = two_steps("rmsprop_tf")
    torch_optimizer, _, torch_steps = two_steps("rmsprop")
    assert type(torch_optimizer) is torch.optim.RMSprop
    assert torch_steps[0] == pytest.approx(TORCH_FIRST_STEP, abs=1e-7)
    assert abs(torch_steps[0] - tf_steps[0]) > 0.009 and abs(torch_steps[1] - tf_steps[1]) > 0.009


def test_tf_rmsprop_state_survives_a_state_dict_round_trip():
    optimizer, weight, _ = two_steps("rmsprop_tf")
    again = TFRMSprop([weight], lr=0.1, decay=0.9, eps=1.0, momentum=0.9)
    again.load_state_dict(optimizer.state_dict())
    assert torch.equal(again.state[weight]["mean_square"], optimizer.state[weight]["mean_square"])
    with pytest.raises(ValueError, match="decay"):
        TFRMSprop([weight], lr=0.1, decay=1.5)


@pytest.mark.parametrize("drop_last, steps", [(True, 2), (False, 3)])
def test_drop_last_leaves_out_the_short_last_batch(tmp_path: Path, drop_last: bool, steps: int):
    data = TensorDataset(torch.randn(10, 3), torch.randn(10, 1))
    model = torch.nn.Linear(3, 1)
    sizes = []

    def loss_fn(m: torch.nn.Module, batch) -> torch.Tensor:
        sizes.append(len(batch[0]))
        return torch.nn.functional.mse_loss(m(batch[0]), batch[1])

    config = FitConfig(Training(epochs=2, batch_size=4, lr=0.01), drop_last=drop_last)
    fit(model, data, loss_fn, config, tmp_path, FitOptions(progress=False))
    assert len(sizes) == 2 * steps
    assert sizes[:steps] == ([4, 4] if drop_last else [4, 4, 2])


def test_drop_last_is_recorded_only_when_set(tmp_path: Path):
    """Checkpoints written before the field existed still match a config that leaves it off."""
    from annokit.training.fit import run_record

    plain = FitConfig(Training(epochs=1, batch_size=4, lr=0.01))
    assert "drop_last" not in run_record(plain, FitOptions(), 1).config["fit"]
    dropping = FitConfig(plain.training, drop_last=True)
    assert run_record(dropping, FitOptions(), 1).config["fit"]["drop_last"] is True
    data = TensorDataset(torch.randn(3, 2), torch.randn(3, 1))
    with pytest.raises(ValueError, match="no full batch"):
        fit(torch.nn.Linear(2, 1), data, lambda m, b: m(b[0]).sum(), dropping, tmp_path)
