# %% [markdown]
# # 07 · CNN-RNN (Wang et al., CVPR 2016)
#
# Wang, Yang, Mao, Huang, Huang and Xu, "CNN-RNN: A Unified Framework for Multi-label Image
# Classification", predict an image's labels **one after another**: a recurrent layer remembers the
# labels predicted so far, and every next label is scored in one low-dimensional space shared by
# the image and the labels. An independent-classifier CNN (notebook 01) scores each label on its
# own; the CNN-RNN can use that *zebra* makes *grass* likely. This notebook builds the model piece
# by piece, trains it in the paper's two phases, and sets its numbers beside the CNN's and the
# paper's.
#
# - **Reads:** the prepared index `<work>/runs/<profile>/index/`, notebook 01's cached image
#   features `<work>/runs/<profile>/features/cnn_features.npz` and its CNN
#   `<work>/runs/<profile>/cnn/final.pt` with the images (phase 2), notebook 01's prediction file
#   `cnn`.
# - **Writes:** checkpoints `<work>/runs/<profile>/wang_cnn_rnn/{frozen,end_to_end}/` (extra seeds
#   under `seeds/seed<k>/`), the cached maps `<work>/runs/<profile>/features/wang_cnn_rnn_maps.npz`
#   (demo), prediction files `wang_cnn_rnn` and `wang_cnn_rnn@seed<k>` in
#   `<work>/runs/<profile>/predictions/`, the table `results/<profile>/tables/cnn_rnn_wang.{csv,md}`
#   and the figure `results/<profile>/figures/cnn_rnn_wang.png`.
# - **Time:** about 45 s on the demo profile (2 CPU cores): the maps below notebook 01's last
#   convolution once, then three seeds, two at a time. A second run reloads the trained models.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"  # a name from lib/annokit/profiles/
data_root = ""  # real data: root of your dataset copy (empty: the one notebook 00 verified)
work_dir = ""  # empty: $ANNOKIT_WORK, else <repo>/.work
device = "auto"  # auto: CUDA when there is a GPU, else cpu
seed = None  # None: the seed of the profile
epochs = None  # phase 1's epochs (None: [cnn_rnn] epochs of the profile)
finetune_epochs = None  # phase 2's epochs (None: [cnn_rnn] finetune_epochs)
seeds = None  # None: [cnn_rnn] seeds of the profile
top_k = 3  # the paper's tables assign each image its 3 top-ranked labels
n_example_images = 4  # test images whose predicted paths are shown

# %%
import heapq

import numpy as np
import pandas as pd
import torch
from IPython.display import display

from annokit.artifacts.predictions import save_predictions
from annokit.artifacts.run import open_stage
from annokit.methods import wang_cnn_rnn as wang
from annokit.methods import wang_cnn_rnn_jobs as jobs
from annokit.methods import wang_cnn_rnn_tables as tables
from annokit.models.cnn_rnn import beam_search
from annokit.report.plots import save_figure

run = open_stage(profile, data_root=data_root, work_dir=work_dir, device=device, seed=seed)
settings = run.profile.cnn_rnn.with_epochs(epochs)
inputs = jobs.cnn_rnn_inputs(run)  # phase 1: cached features; phase 2: cached maps or images
names = list(run.index.label_names)
y_fit, y_val = inputs.frozen.fit.y, inputs.frozen.validation.y
y_test = run.index.label_matrix()[inputs.test_rows]
print(
    f"{len(y_fit)} training / {len(y_val)} validation / {len(y_test)} test images, "
    f"{len(names)} labels, image features I of {inputs.frozen.fit.inputs.shape[1]} dimensions"
)
print(settings)

# %% [markdown]
# ## A joint image-label embedding (Sec. 3.2, Eq. 2-5)
#
# Every label $k$ has an embedding $w_k = U_l\, e_k$ (Eq. 2), a row of the matrix $U_l$ (64
# numbers, far fewer than the labels). At step $t$ the recurrent layer reads the embedding of the
# label predicted at step $t-1$ and outputs $o(t)$ (Eq. 1, 3). Its output and the CNN's image
# representation $I$ are projected **into the space of the label embeddings**:
#
# $$x_t = h\big(U^x_o\, o(t) + U^x_I\, I\big) \quad (4) \qquad
# s(t) = U_l^{\mathsf T} x_t \quad (5)$$
#
# so each label's score is the dot product of its embedding with $x_t$, and a softmax over the
# labels (and END) gives $P(l_t \mid I, l_1, \ldots, l_{t-1})$. Images and labels live in one space:
# a label scores high when its embedding points where the image (shifted by the labels said so far)
# points. Here is one step written out, checked against the library's `CNNRNN.step`:


# %%
def step_by_hand(model, previous, state, image):
    """One step of Eq. 1-5: previous label indices -> scores s(t) over the labels and END."""
    w = model.embed(previous)  # Eq. 2: w_k = U_l e_k (START at step 1)
    o, state = model.recurrent(w, state)  # Eq. 1, 3: the recurrent layer
    x = torch.relu(model.project_recurrent(o) + model.project_image(image))  # Eq. 4, h = ReLU
    return x @ model.embedding.weight.T, state  # Eq. 5: s(t) = U_l^T x_t


torch.manual_seed(0)
untrained = wang.build_cnn_rnn(settings, len(names), inputs.frozen.fit.inputs.shape[1]).eval()
image = torch.as_tensor(inputs.frozen.validation.inputs[:5])
start = torch.full((5,), untrained.start_index)
state = untrained.initial_state(5, "cpu")
with torch.no_grad():
    by_hand, _ = step_by_hand(untrained, start, state, image)
    library, _ = untrained.step(start, state, untrained.image_term(image))
assert torch.allclose(by_hand, library, atol=1e-5)
print("step_by_hand and annokit.models.cnn_rnn.CNNRNN.step agree")

# %% [markdown]
# ## One label embedding for input and output
#
# Eq. 2 (what the recurrent layer reads) and Eq. 5 (what is scored) use the **same** $U_l$: the
# kit's output layer has no weight of its own, it *is* the embedding matrix. A label learnt as an
# answer is therefore also understood as a context, and the model has $C \times 64$ fewer
# parameters than with two matrices:

# %%
shared = untrained.output.weight is untrained.embedding.weight
count = sum(p.numel() for p in untrained.parameters())
u_l = untrained.embedding.weight
print(f"output.weight is embedding.weight: {shared}; U_l is {tuple(u_l.shape)}")
print(f"{count:,} parameters; a separate output matrix would add {u_l.numel():,}")

# %% [markdown]
# ## Frequent-first label sequences (Sec. 3.4)
#
# A set of labels has no order, but the RNN reads a sequence. The paper orders each training
# image's labels by how often they occur in the training data, **most frequent first** ("easier
# objects should be predicted first to help predict more difficult objects"), and ends the
# sequence with END. Training is teacher forcing: step $t$ reads the *true* label $t-1$ and is
# trained with the softmax cross-entropy of the true label $t$. By hand, for the image with the
# most labels:

# %%
frequency = y_fit.sum(axis=0)
example = int(np.argmax(y_fit.sum(axis=1)))
by_hand = sorted(np.flatnonzero(y_fit[example]), key=lambda j: (-frequency[j], j)) + ["END"]
library = wang.training_sequences(y_fit)[example]
assert [j for j in by_hand if j != "END"] == [int(j) for j in library if 0 <= j < len(names)]
pd.DataFrame(
    {
        "label": [names[j] if j != "END" else "END" for j in by_hand],
        "training images with it": [int(frequency[j]) if j != "END" else "" for j in by_hand],
    },
    index=pd.Index(range(1, len(by_hand) + 1), name="step"),
)

# %% [markdown]
# ## Beam search (Sec. 3.3, Fig. 5)
#
# At test time the model looks for the label path $l_1, \ldots, l_k$, END of highest probability
# $P(l_1 \mid I)\, P(l_2 \mid I, l_1) \cdots$. Taking the best label at every step (greedy) cannot
# undo a wrong first label, so the paper keeps the $N$ best **intermediate paths**: each is extended
# by every label not yet on it and by END, the $N$ best extensions are kept, those ending with END
# become **candidates**, and the search stops when no intermediate path is more probable than the
# best candidate (extending a path only lowers its probability). The whole algorithm for one image,
# in a few lines:


# %%
@torch.no_grad()
def beam_by_hand(model, features, beam_size, max_labels):
    """The best label path of one image (features: (d,)) and its log-probability."""
    image = model.image_term(features[None])
    live = [(0.0, [], model.initial_state(1, "cpu"))]  # (log P, labels, recurrent state)
    best = (-np.inf, [])
    for _ in range(max_labels):
        extensions = []
        for log_p, path, state in live:
            previous = torch.tensor([path[-1] if path else model.start_index])
            logits, new_state = model.step(previous, state, image)
            step_log_p = torch.log_softmax(logits[0], dim=-1)
            for symbol in range(model.num_labels + 1):  # every label not on the path, and END
                if symbol not in path:
                    extensions.append((log_p + float(step_log_p[symbol]), path, symbol, new_state))
        kept = heapq.nlargest(beam_size, extensions, key=lambda e: e[0])
        for log_p, path, symbol, _ in kept:  # paths ending with END become candidates
            if symbol == model.end and log_p > best[0]:
                best = (log_p, path)
        live = [(lp, [*p, s], st) for lp, p, s, st in kept if s != model.end]
        if not live or max(lp for lp, _, _ in live) <= best[0]:
            return best
    return max([best, *((lp, p) for lp, p, _ in live)], key=lambda b: b[0])


# %% [markdown]
# The library's `annokit.models.cnn_rnn.beam_search` does the same for a whole batch of images at
# once (tensors instead of lists); the tests check it against every path of a small vocabulary. The
# two agree here once the model is trained (below).

# %% [markdown]
# ## Training in two phases, every seed
#
# **Phase 1** keeps the CNN unchanged, as Sec. 3.4 says the paper's implementation does: the RNN
# trains on notebook 01's cached image features $I$, with RMSProp (Sec. 3.4). **Phase 2**
# fine-tunes end to end from phase 1's weights, the CNN and the RNN together at a smaller learning
# rate: on the paper profiles the whole CNN on the images; on the demo (2 CPU cores) the last
# convolution of notebook 01's last residual block, on the maps that enter that block, computed
# once. Each phase keeps the epoch whose predicted label sets score best on the validation split
# (the mean of C-F1 and O-F1, beam search as at test time); phase 1's model stays the final one if
# no fine-tuned epoch beats it. The test split is read once, by the chosen model. The seeds run
# side by side, one per CPU core.

# %%
results = jobs.train_seeds(
    run, inputs, seeds=seeds, epochs=epochs, finetune_epochs=finetune_epochs
)
chosen = pd.DataFrame(
    {
        seed: {**result.chosen, "final file": result.predictions.model}
        for seed, result in results.items()
    }
).T
chosen.index.name = "seed"
display(chosen)

# %%
own = results.get(run.profile.seed, next(iter(results.values())))
trained = wang.build_cnn_rnn(settings, len(names), inputs.frozen.fit.inputs.shape[1])
folder = run.run_dir / wang.NAME / wang.FROZEN
trained.load_state_dict(torch.load(folder / "chosen.pt", weights_only=True)["model"])
trained.eval()
max_labels = wang.chosen_max_labels(settings, y_fit)
features = torch.as_tensor(inputs.test_features[:20])
library = beam_search(trained, features, settings.beam_size, max_labels)
for i in range(len(features)):
    log_p, path = beam_by_hand(trained, features[i], settings.beam_size, max_labels)
    assert [int(j) for j in library.paths[i] if j >= 0] == path, i
    assert np.isclose(log_p, library.log_probs[i], atol=1e-4), i
print("beam_by_hand and annokit.models.cnn_rnn.beam_search find the same paths on 20 test images")

# %% [markdown]
# ## Prediction files
#
# One file per seed, `wang_cnn_rnn` for the profile's seed and `wang_cnn_rnn@seed<k>` for the
# others: the annotation is the label set of the beam's best path; for ranking metrics each label's
# score is its largest probability over the path's steps.

# %%
for result in results.values():
    print(f"{save_predictions(result.predictions, run.run_dir)}  ({result.predictions.rule})")

# %% [markdown]
# A few test images: the true labels, and the path the model predicts, in its order.

# %%
shown = np.argsort(-y_test.sum(axis=1), kind="stable")[:n_example_images]
pd.DataFrame(
    {
        "true labels": [", ".join(names[j] for j in np.flatnonzero(y_test[i])) for i in shown],
        "predicted path": [
            " → ".join(names[j] for j in own.predictions.sequences[i] if j >= 0) for i in shown
        ],
    },
    index=pd.Index(inputs.test_rows[shown], name="index row"),
)

# %% [markdown]
# ## The CNN-RNN beside the CNN and the paper
#
# The paper compares on NUS-WIDE and MS-COCO with the $k = 3$ top-ranked labels of each image
# (Tables 1-2) and on PASCAL VOC 2007 with the average precision of each class (Table 3). The
# table follows the run's layout: for the NUS-WIDE and COCO layouts, C-P/C-R/C-F1 (means over
# labels) and O-P/O-R/O-F1 (sums over all test images) in percent, mean over the seeds with the
# spread of the F1s, for notebook 01's CNN, the CNN-RNN after phase 1 and after phase 2 with its
# top 3 labels, and the CNN-RNN's own beam-search sets; for the VOC layout, AP per class (VOC
# 2007's 11-point AP) and mAP. The paper's CNN-RNN row (VGG-16 on the real datasets) is the first
# row or column. The demo's numbers say how the method behaves on the demo, not whether the
# paper's figures are reached.

# %%
models = {
    "cnn": [run.predictions("cnn")],
    "frozen": [result.frozen for result in results.values()],
    "cnn_rnn": [result.predictions for result in results.values()],
}
if run.profile.dataset == "voc2007":
    table = tables.voc_table(models, y_test, names)
else:
    table = tables.at_k_table(models, y_test, run.profile.dataset, k=top_k)
run.save_table(table, "cnn_rnn_wang")
table.round(2)

# %%
curves = {seed: result.scores for seed, result in results.items()}
fig = tables.comparison_figure(table, curves)
save_figure(fig, run.figure("cnn_rnn_wang"));
