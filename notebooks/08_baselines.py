# %% [markdown]
# # 07 · The earlier methods, reproduced on the CNN's cached outputs
#
# M3's Tables III/IV and the Multi-order RNN's Tables 2/3 compare against a dozen earlier methods
# whose numbers are copied from their papers. This notebook reproduces eight of them on the outputs
# of the kit's own fine-tuned CNN (notebook 01), as the Multi-order RNN's authors did for TagProp
# and 2PKNN on ResNet-101 features (their Sec. 4.4): four losses on a linear head, three
# nearest-neighbour methods and an order-free RNN decoder. Every choice a method makes (its epoch,
# its neighbour count, its distance scale, its tag weight) is made on the validation images held out
# of the training split; the test split is scored once, at the end.
#
# - **Reads:** the prepared index `<work>/runs/<profile>/index/` (notebook 00) and the CNN's cached
#   features and scores `<work>/runs/<profile>/features/cnn_features.npz`, `cnn_scores.npz`
#   (notebook 01). No image is decoded.
# - **Writes:** the trained models in `<work>/runs/<profile>/baselines/`, prediction files
#   `<work>/runs/<profile>/predictions/baseline_<method>[@seed<k>].npz` (the annotation viewer shows
#   them), the table `results/<profile>/tables/baselines_reproduced.{csv,md}` and the figure
#   `results/<profile>/figures/baselines_f1.png`. Notebook 09 sets the same files beside the papers'
#   copied rows.
# - **Time:** on the demo profile about 45 s, two jobs at a time on 2 CPU cores: 15 small fits (five
#   trained methods × three seeds) and three neighbour searches. A second run reloads the trained
#   models (about 25 s).

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"  # a name from lib/annokit/profiles/
data_root = ""  # not read here (the features are cached); the chain passes it to every notebook
work_dir = ""  # empty: $ANNOKIT_WORK, else <repo>/.work
device = "auto"  # auto: CUDA when there is a GPU, else cpu
seed = None  # None: the seed of the profile; the trained baselines take the [classifier] seeds
retrain = False  # delete this notebook's trained models and train them again

# %%
import pandas as pd
import torch
from IPython.display import Markdown, display

from annokit.artifacts.predictions import save_predictions
from annokit.artifacts.run import open_stage
from annokit.methods import baselines
from annokit.methods.baselines.order_free import pool_step
from annokit.methods.baselines.summary import plot_f1
from annokit.models.baseline_losses import warp_rank_weights
from annokit.report import tables
from annokit.report.plots import save_figure

run = open_stage(profile, data_root=data_root, work_dir=work_dir, device=device, seed=seed)
data = baselines.baseline_data(run)
names = run.index.label_names
print(
    f"{len(data.fit_positions)} fit / {len(data.validation_positions)} validation / "
    f"{len(data.test_rows)} test images, {len(names)} labels, "
    f"{data.features.fit.shape[1]}-d features f_v, {data.tags.fit.shape[1]} tags; "
    f"trained baselines: seeds {baselines.baseline_seeds(run.profile)}"
)

# %% [markdown]
# ## What every baseline sees
#
# Each method reads the same cached outputs of the same CNN: its pooled features $f_v$ (the linear
# heads and the neighbour methods), its sigmoid scores $\hat s$ (the RNN decoder, as in notebook 05)
# and, for the multi-modal kNN, the images' noisy tags. The training split is cut in two with the
# run's one validation split (`[evaluation]`): the **fit** images train the models and are the
# neighbours of every query; the **validation** images choose each method's epoch or neighbour
# counts, always by **validation mAP**, which does not depend on a decision rule. Only then is the
# test split predicted. The papers fine-tune the whole CNN for each loss; here the CNN is fixed and
# only the head learns, which keeps the eight methods to little more than a minute on two CPU cores.

# %% [markdown]
# ## Four losses on a linear head
#
# A fully connected layer gives label scores $f(x) = W x + b \in \mathbb{R}^C$ from the standardised
# features, and the four methods differ only in the loss, with $Y$ the image's true labels and $C$
# the number of labels:
#
# - **CNN+logistic** (M3's row): one logistic regression per label,
#   $\ell = -\sum_c \big[y_c \log\sigma(f_c) + (1-y_c)\log(1-\sigma(f_c))\big]$ (M3's Eq. 4).
# - **CNN+softmax** (Gong et al. 2013): a softmax over the labels against the normalised label
#   vector, $\ell = -\sum_j \bar p_j \log p_j$ with $p = \mathrm{softmax}(f)$ and $\bar p = y /
#   |Y|$.
# - **CNN+WARP** (Weston et al. 2011, as Gong et al. use it): a pairwise hinge that weighs each
#   positive label by how badly it is ranked, $\ell = \sum_{j \in Y}\sum_{k \notin Y} L(\hat
#   r_j)\max(0, 1 - f_j + f_k)$ with $L(r) = \sum_{i=1}^{r} 1/i$. The rank $\hat r_j$ is *estimated
#   by sampling*: negatives are drawn at random until one violates the margin; after $s$ draws,
#   $\hat r_j = \lfloor (C-1)/s \rfloor$. A positive that the first draw already beats is probably
#   ranked low, and gets the largest weight.
# - **LSEP** (Li, Song, Luo 2017): a smooth version of the pairwise ranking,
#   $\ell = \log\big(1 + \sum_{v \in Y}\sum_{u \notin Y} e^{f_u - f_v}\big)$.
#
# The WARP weights of one image with scores $f = (2, 0.5, 0, 1.2)$ and true labels $\{0, 1\}$: label
# 1 is beaten by both negatives, so the first draw violates and its weight is $L(3) = 1 + \tfrac12 +
# \tfrac13$; label 0 is beaten only by label 3, so its weight is $L(3)$ or $L(1) = 1$, depending on
# which negative is drawn first.

# %%
scores, labels = torch.tensor([[2.0, 0.5, 0.0, 1.2]]), torch.tensor([[1.0, 1.0, 0.0, 0.0]])
draws = torch.stack(
    [
        warp_rank_weights(scores, labels, generator=torch.Generator().manual_seed(s))[0, :2]
        for s in range(1000)
    ]
)
weights = {"weight of label 0": draws[:, 0].numpy(), "weight of label 1": draws[:, 1].numpy()}
pd.DataFrame(weights).value_counts().rename("draws out of 1000").to_frame()

# %% [markdown]
# **Decision rules.** CNN+logistic, CNN+softmax and CNN+WARP annotate every image with its **top-3**
# labels, as the papers' rows do. LSEP decides with its own **label-count estimate**: a small
# network $f_v \to$ FC-100 $\to$ FC-10 $\to$ 4 classes predicts whether an image has 1, 2, 3 or
# 4-or-more labels (softmax cross-entropy), and the image gets its top-$\hat k$ labels. Each head
# trains with Adam (one learning rate serves four losses of different scales) and keeps the epoch
# with the best validation mAP (the count network: the best validation accuracy).

# %% [markdown]
# ## Three nearest-neighbour methods
#
# Images are compared by $d = \lVert f_i/\lVert f_i\rVert - f_j/\lVert f_j\rVert\rVert^2 = 2 -
# 2\cos(f_i, f_j)$.
#
# - **TagProp** (Guillaumin et al. 2009, the σML variant): the $K$ nearest fit images vote with
#   weights $\pi_{ij} = e^{-\theta d_{ij}} / \sum_{j'} e^{-\theta d_{ij'}}$, and a sigmoid per label
#   modulates the vote, $p(y_{iw}=1) = \sigma(\alpha_w x_{iw} + \beta_w)$ with $x_{iw} = \sum_j
#   \pi_{ij}\,p(y_{iw}=1 \mid j)$. $\theta$, $\alpha$, $\beta$ maximise the training log-likelihood,
#   each fit image predicted from its neighbours other than itself, positives and negatives weighted
#   $1/n_+$ and $1/n_-$; $K$ is chosen on validation.
# - **2PKNN** (Verma and Jawahar 2012): a first pass takes, for **every label**, the $K_1$ nearest
#   fit images that carry it, so rare labels are represented; the second pass weighs that
#   neighbourhood $T_J$ by $\theta_{J,I} = e^{-w\,d(J,I)}$: $P(y_k \mid J) \propto \sum_{I \in T_J}
#   \theta_{J,I}\,[y_k \in Y_I]$. $K_1$ and $w$ are chosen on validation.
# - **Tag kNN** (after Johnson et al. 2015, M3's "TagNeighbour" family): neighbours by the **noisy
#   tags** as well as the image, $s_{ij} = \lambda\,\mathrm{Jaccard}(t_i, t_j) +
#   (1-\lambda)\cos(f_i, f_j)$; the $K$ most similar fit images vote, weighted by $s_{ij}$. $\lambda
#   = 1$ uses the tag neighbours alone, $\lambda = 0$ the image alone; $\lambda$ and $K$ are chosen
#   on validation.
#
# All three annotate with the top-3 labels. They have no random part: one run, spread 0.

# %% [markdown]
# ## The Order-free RNN
#
# Chen et al. (2018) train a label decoder without fixing an order. A **candidate pool** starts as
# the image's true labels; at each step the target is the pool's label that the decoder is most
# confident of, it is fed back as the next input and leaves the pool; an empty pool asks for END:
# $l_t = \arg\max_{c \in \mathrm{pool}_t} \hat y_t^c$, $\mathrm{pool}_{t+1} = \mathrm{pool}_t
# \setminus \{l_t\}$. The Multi-order RNN paper (Sec. 3.3) argues against exactly this hard
# constraint. The decoder has the Multi-order RNN's sizes (the `[rnn]` section), starts from $\hat
# s$ and trains like the fixed-order CNN-RNNs of notebook 05. At test time it keeps the
# `[baselines] order_free_beam_size` most probable label paths at each step (Chen et al.'s beam
# search; the fixed-order CNN-RNNs decode greedily) until END. The pool of one image with true
# labels $\{0, 2, 3\}$, through three steps of hand-made logits:

# %%
pool = torch.tensor([[True, False, True, True, False]])
steps = torch.tensor(
    [
        [0.1, 3.0, 2.0, 0.5, 0.0, -1.0],
        [5.0, 0.0, 0.3, 0.4, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.0, 9.0],
    ]
)
rows = []
for logits in steps:
    target, pool = pool_step(pool, logits=logits[None], end=5)
    rows.append(
        {
            "argmax of all logits": int(logits.argmax()),
            "target (pool's best)": int(target[0]),
            "pool after the step": [int(c) for c in torch.nonzero(pool[0]).flatten()],
        }
    )
pd.DataFrame(rows, index=["t=1", "t=2", "t=3"])

# %% [markdown]
# ## Training and prediction
#
# Every (method, seed) is an independent job that seeds itself, so the jobs run side by side, one
# per CPU core, and give the same files whichever process ran them. Trained models live in
# `<run>/baselines/<file>/`.

# %%
predictions = baselines.run_all(run, data, retrain=retrain)
for p in predictions:
    save_predictions(p, run_dir=run.run_dir)
print(f"{len(predictions)} prediction files in {run.run_dir / 'predictions'}")

# %% [markdown]
# ## What the validation split chose
#
# The epoch of each trained model (per seed), and the neighbour counts, distance scale and tag
# weight of the neighbour methods, with the validation mAP of every candidate.

# %%
chosen = pd.DataFrame(
    [
        {"file": p.model, **{k: v for k, v in p.meta["chosen"].items() if not isinstance(v, dict)}}
        for p in predictions
    ]
).set_index("file")
display(chosen)
for p in predictions:
    grid = {k: v for k, v in p.meta["chosen"].items() if isinstance(v, dict)}
    for what, candidates in grid.items():
        print(f"{p.model}, {what}: " + ", ".join(f"{c}: {m}" for c, m in candidates.items()))

# %% [markdown]
# ## The reproduced baselines
#
# One row per method on the test split: its decision rule, per-class (C-), overall (O-, M3's I-) and
# per-image (S-, the Multi-order RNN's P_I/R_I/F1_I) precision, recall and F1, and mAP, in percent;
# the mean over the seeds, their number and the spread (standard deviation over seeds; 0 for the
# deterministic neighbour methods).

# %%
summary = baselines.summary_table(run.index, run_dir=run.run_dir)
run.save_table(summary, "baselines_reproduced", index=False)
summary.set_index("method")[
    ["rule", "C-F1", "O-F1", "S-F1", "mAP", "seeds", "C-F1 spread", "O-F1 spread"]
].round(2)

# %%
fig = plot_f1(summary)
save_figure(fig, run.figure("baselines_f1"));

# %% [markdown]
# ## Beside the papers' copied rows
#
# The same files, set beside the rows that M3 and the Multi-order RNN copied from the original
# papers (notebook 09 writes the full tables). On the demo's synthetic scenes only the *order* of
# the methods can be compared with the papers, never the numbers. The definition column says how the
# printed row and ours compute the per-image metrics: where a row copied overall sums, ours is the
# overall sum too.

# %%
for name in tables.tables_for(run.profile.dataset):
    rows = [row for row, model in tables.ROW_MODELS[name].items() if model.startswith("baseline_")]
    if not rows:
        continue
    comparison = tables.comparison(
        name, index=run.index, run_dir=run.run_dir, run_dataset=run.profile.dataset
    )
    shown = tables.display_table(comparison)
    display(Markdown(f"**{name}**"), shown.loc[[r for r in shown.index if r in rows]])
