"""The Order-free RNN's candidate pool: the pool after three hand-made steps, the training pass's
targets, and its LSTM step against the kit's LabelDecoder."""

from __future__ import annotations

import torch

from annokit.methods.baselines.order_free import OrderFreeRNN, order_free_loss, pool_step
from annokit.models.rnn_decoder import IGNORE, LabelDecoder, decode

END = 5  # five labels, END is output 5


def test_the_pool_after_three_steps():
    # true label {1}
    pool = torch.tensor(
        [
            [True, False, True, True, False],  # true labels {0, 2, 3}
            [False, True, False, False, False],
        ]
    )
    steps = torch.tensor(
        [
            # image 0: label 1 scores best, not in the pool
            [[0.1, 3.0, 2.0, 0.5, 0.0, -1.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]],
            [[5.0, 0.0, 0.3, 0.4, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 3.0]],
            # END scores best, but label 3 is still in the pool
            [[0.0, 0.0, 1.0, 0.0, 0.0, 9.0], [0.0, 9.0, 0.0, 0.0, 0.0, 0.0]],
        ]
    )
    targets, pools = [], []
    for logits in steps:
        target, pool = pool_step(pool, logits, END)
        targets.append(target.tolist())
        pools.append(pool.tolist())
    assert targets == [[2, 1], [0, END], [3, END]]
    assert pools[0] == [[True, False, False, True, False], [False, False, False, False, False]]
    assert pools[1] == [[False, False, False, True, False], [False, False, False, False, False]]
    # every true label has left the pool; an empty pool stays empty
    assert pools[2] == [[False] * 5, [False] * 5]


def test_ties_in_the_pool_go_to_the_lower_label():
    target, _ = pool_step(
        torch.tensor([[False, True, True]]), torch.tensor([[9.0, 1.0, 1.0, 0.0]]), end=3
    )
    assert target.tolist() == [1]


def test_training_pass_names_every_true_label_once_then_end():
    torch.manual_seed(0)
    model = OrderFreeRNN(5, hidden=16, embedding=8)
    labels = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0], [0.0] * 5])
    logits, targets = model(torch.rand(3, 5), labels)
    assert logits.shape == (3, 4, 6) and targets.shape == (3, 4)  # T = the largest label count + 1
    first = targets[0].tolist()
    assert sorted(first[:3]) == [0, 2, 3] and first[3] == END
    assert targets[1].tolist() == [1, END, IGNORE, IGNORE]
    assert targets[2].tolist() == [END, IGNORE, IGNORE, IGNORE]  # no label: END at once
    # each step's target is the pool's label with the highest logit at that step
    pool = labels[0].bool()
    for t in range(3):
        best = logits[0, t, :5].masked_fill(~pool, float("-inf")).argmax()
        assert int(best) == first[t]
        pool[best] = False
    loss = order_free_loss(model, torch.rand(3, 5), labels)
    loss.backward()
    assert torch.isfinite(loss) and model.lstm.weight_hh_l0.grad.abs().sum() > 0


def test_its_lstm_step_is_the_label_decoders():
    torch.manual_seed(1)
    model = OrderFreeRNN(4, hidden=12, embedding=6)
    reference = LabelDecoder(4, hidden=12, embedding=6, end_token=True)
    reference.load_state_dict(model.state_dict())
    s_hat, previous = torch.rand(3, 4), torch.tensor([4, 0, 2])
    ours, (h, c) = model.step(previous, model.initial_state(s_hat))
    theirs, (h_ref, c_ref) = reference.step(previous, reference.initial_state(s_hat))
    assert (
        torch.allclose(ours, theirs, atol=1e-6)
        and torch.allclose(h, h_ref, atol=1e-6)
        and torch.allclose(c, c_ref, atol=1e-6)
    )
    decoded = decode(model, s_hat, max_length=3)
    assert decoded.sequences.shape == (3, 3) and decoded.step_scores.shape == (3, 3, 4)
    for row in decoded.sequences:
        picked = row[row >= 0].tolist()
        assert len(picked) == len(set(picked))  # greedy decoding never names a label twice
