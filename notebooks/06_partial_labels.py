# %% [markdown]
# # 06 · Learning with partial labels
#
# Durand, Mehrasa and Mori (CVPR 2019) ask what happens when each training image has only **some**
# of its labels annotated, and propose **partial-BCE**, a loss that weighs every image by the
# proportion of its labels that are known. This notebook reproduces their headline experiment: mAP
# on the test split against the proportion of known training labels (10 % … 100 %), one curve per
# loss, then the paper's three other studies: which way of spending an annotation budget works best
# (partial labels on every image, complete labels on fewer images, or noisy labels), the five
# curriculum strategies that let the model label the unknown entries it is sure of, and a graph
# neural network over the labels on top of the ConvNet.
#
# - **Reads:** the prepared index `<work>/runs/<profile>/index/` and the pretrained weights the
#   profile names (ImageNet, or the demo's stand-in `<work>/weights/resnet18-standin.pth`, both
#   from notebook 00), and the images. Not notebook 01's CNN: it was fine-tuned on every label, the
#   hidden ones included.
# - **Writes:** the maps of the frozen layers `<work>/runs/<profile>/features/partial_inputs.npz`
#   (demo), one model per point in `<work>/runs/<profile>/partial/`, predictions
#   `<work>/runs/<profile>/predictions/partial_<loss>_p<percent>.npz`, the tables
#   `results/<profile>/tables/partial_labels.csv`, `partial_labels_budget.csv`,
#   `partial_labels_curriculum.csv`, `partial_labels_curriculum_theta.csv` and
#   `partial_labels_gnn.csv`, the figures `results/<profile>/figures/partial_labels_map.png`,
#   `partial_labels_f1.png` and `partial_labels_budget.png`.
# - **Time:** about two minutes on the demo profile (2 CPU cores): the frozen layers once over
#   every image, 21 fine-tunings of the last block for the sweep (3 proportions × 3 losses × 3
#   seeds, the three losses trained once at 100 %), then on 2 seeds the labelling strategies, the
#   curriculum strategies and the GNN head, reusing the sweep's models wherever they are the same
#   fit. A second run reuses everything.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"  # a name from lib/annokit/profiles/
data_root = ""  # real data: root of your dataset copy (empty: the one notebook 00 verified)
work_dir = ""  # empty: $ANNOKIT_WORK, else <repo>/.work
device = "auto"  # auto: CUDA when there is a GPU, else cpu
seed = None  # the profile's own seed (None: the profile's); the [partial] seeds give the spread
epochs = None  # override of the partial stage epochs (None: the profile value)
losses = ["bce_negative", "bce_ignore", "partial_bce"]
comparison_seeds = 2  # the labelling, curriculum and GNN studies use the first [partial] seeds
curriculum_proportion = 0.1  # curriculum learning at this proportion of known labels
curriculum_rounds = 1  # labelling rounds after the first training (0 skips the curriculum)
curriculum_epochs = 1  # epochs of each round, from the previous weights (None: [partial])
curriculum_strategies = [
    "none",
    "score_threshold",
    "score_proportion",
    "positive_only",
    "ensemble",
    "bayesian",
]
# θ per strategy, chosen on the validation split among these: a threshold on σ(x), or a share of
# the unknown labels (score_proportion, bayesian)
theta_candidates = {
    "score_threshold": [0.8, 0.9, 0.95, 0.99],
    "score_proportion": [0.05, 0.1, 0.2, 0.4],
    "positive_only": [0.8, 0.9, 0.95, 0.99],
    "ensemble": [0.8, 0.9, 0.95, 0.99],
    "bayesian": [0.05, 0.1, 0.2, 0.4],
}
min_label_accuracy = 0.95  # θ: the candidate labelling most validation entries at this accuracy
ensemble_size = 2  # models in the ensemble strategy (the first one is round 0)
mc_samples = 10  # dropout passes of the Bayesian strategy
gnn_proportions = [0.1]  # the GNN head against the linear head at these proportions
retrain = False  # delete the models of this notebook and train them again

# %% [markdown]
# ## Partial labels and the model
#
# An image has labels $y \in \{-1, 0, 1\}^C$: $1$ positive, $-1$ negative, $0$ **unknown**; $p_y$
# is the proportion of its $C$ labels that are known. The paper fine-tunes an ImageNet-pretrained
# ResNet-101 end to end on such labels, once per proportion. What matters is that the
# representation never sees a hidden label: a classifier on the features of notebook 01's CNN
# would not do, since that CNN was fine-tuned on **every** training label, so the labels hidden at
# $p = 10\,\%$ would already have shaped its features.
#
# Every model here therefore starts from the **pretrained** weights the profile names and learns
# from the partial labels only. The paper profiles (`[partial] finetune = "all"`) fine-tune the
# whole network on the images, as the paper does. The demo (`"last_block"`) fine-tunes the last
# residual block of its stand-in ResNet-18 and a new fully connected layer; the layers below stay
# as pretrained, so the maps that enter the last block are computed once per image and cached, and
# each of the 27 trainings costs seconds on a CPU. Models train on the training images minus the
# validation images held out for every stage; the test split is scored once per model.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import display

from annokit.artifacts.run import open_stage
from annokit.methods import partial_budget as pb
from annokit.methods import partial_curriculum as pc
from annokit.methods import partial_gnn as pg
from annokit.methods import partial_jobs as pj
from annokit.methods import partial_labels as pl
from annokit.methods import partial_sweep as ps
from annokit.models.label_gnn import LabelGNN
from annokit.models.losses import partial_bce, partial_bce_coefficients
from annokit.report.plots import plot_against_proportion, plot_normalisation, save_figure

# %%
run = open_stage(profile, data_root=data_root, work_dir=work_dir, device=device, seed=seed)
stage = run.profile.partial.with_epochs(epochs)
partial_stage = pj.PartialStage(run, stage)
# the inputs, and how a fresh copy of the part trains (partial_finetune.fine_tuning and
# partial_fit_config): the same for every fit, whichever process runs it
data, training = pj.stage_training(partial_stage)
if stage.finetune == "last_block":
    what = "the last block and a new fc on the cached maps entering it"
else:
    what = "the whole network"
print(
    f"{profile}: {len(data.train_labels)} training / {len(data.test_labels)} test images, "
    f"C = {data.train_labels.shape[1]} labels; fine-tuning {what}, "
    f"from {run.profile.cnn.weights_path or 'ImageNet'}"
)

# %% [markdown]
# ## Hiding labels
#
# The paper builds its partial datasets by keeping, for every training image, a random subset of
# its labels, positives and negatives alike, in the same proportion $p$ for all images. The kit's
# rule (`pl.mask_labels`): image $i$ keeps $k_i = \lfloor pC + u_i \rfloor$ labels with
# $u_i \sim U[0, 1)$, chosen uniformly among its $C$ labels. $k_i$ is $\lfloor pC \rfloor$ or
# $\lceil pC \rceil$, and its mean is exactly $pC$ (with 25 labels and $p = 10\,\%$, half the
# images keep 2 labels and half keep 3). The draws depend only on the seed, so the same seed gives
# the same masks, and the known labels at 30 % include those at 10 %. The validation images are
# masked by the same rule wherever a threshold is chosen on them.

# %%
all_positives = max(data.train_labels.sum(), 1)
for p in stage.proportions:
    targets = pl.mask_labels(data.train_labels, proportion=p, seed=run.profile.seed)
    kept = (targets != 0).sum(axis=1)
    print(
        f"p = {p:4.0%}: known labels per image {kept.min()} to {kept.max()}, "
        f"mean share {pl.known_proportion(targets).mean():.3f}, "
        f"known positives {(targets == 1).sum() / all_positives:.1%} of all positives"
    )

# %% [markdown]
# ## Three losses
#
# With $x \in \mathbb{R}^C$ the scores of an image and $\sigma$ the sigmoid, the paper's loss
# (Eq. 1-2) is
#
# $$\ell(x, y) = -\frac{g(p_y)}{C} \sum_{c=1}^{C} \Big[\mathbb{1}[y_c = 1] \log \sigma(x_c)
# + \mathbb{1}[y_c = -1] \log\big(1 - \sigma(x_c)\big)\Big], \qquad
# g(p) = \alpha p^\gamma + \beta .$$
#
# Unknown labels contribute nothing. $g$ is fixed by $g(1) = 1$ (with all labels known this is
# ordinary binary cross-entropy) and $g(0.1) = 5$; the paper uses $\gamma = 1$, which gives
# $\alpha = -40/9 \approx -4.44$, $\beta = 49/9 \approx 5.44$. Written out for a batch of images:


# %%
def partial_bce_by_hand(x, y, alpha=-40 / 9, beta=49 / 9, gamma=1.0):
    """Durand et al. Eq. 1-2 for scores x (N, C) and partial labels y in {1, 0, -1} (N, C)."""
    num_labels = y.shape[1]
    p_y = (y != 0).float().mean(dim=1)  # the proportion of known labels of each image
    g = alpha * p_y**gamma + beta  # Eq. 2: g(1) = 1, g(0.1) = 5
    positive = (y == 1) * F.logsigmoid(x)  # log σ(x_c) where y_c = 1
    negative = (y == -1) * F.logsigmoid(-x)  # log(1 - σ(x_c)) where y_c = -1
    per_image = -g / num_labels * (positive + negative).sum(dim=1)  # Eq. 1; unknown labels add 0
    return per_image.mean()  # the mean over the images of the batch


# %% [markdown]
# The library's version is `annokit.models.losses.partial_bce` (in
# `lib/annokit/models/losses.py`), with $g$ from `partial_bce_normalisation` and the paper's
# $\alpha$, $\beta$ from `partial_bce_coefficients`. The two agree on a hand-made batch: three
# images with 2, 4 and 5 of their 5 labels known.

# %%
x = torch.tensor([[2.0, -1.0, 0.5, 3.0, -2.0], [0.1, 0.2, -0.3, 1.5, -4.0], [1.0] * 5])
y = torch.tensor([[1, -1, 0, 0, 0], [1, 0, -1, -1, 1], [1, -1, 1, -1, 1]], dtype=torch.int8)
alpha, beta = partial_bce_coefficients()  # the library's g: g(1) = 1, g(0.1) = 5, γ = 1
assert abs(alpha + 40 / 9) < 1e-12 and abs(beta - 49 / 9) < 1e-12
shown, library = partial_bce_by_hand(x, y), partial_bce(x, y)
torch.testing.assert_close(shown, library)
print(f"partial_bce_by_hand {shown:.6f} = annokit.models.losses.partial_bce {library:.6f}")

# %% [markdown]
# The two baselines:
#
# - **BCE, unknown = negative** (`bce_negative`): every unknown label is taken as absent, the naive
#   way to use a partially labelled set with an ordinary loss.
# - **BCE, known labels only** (`bce_ignore`): the sum above with $g \equiv 1$. With fewer known
#   labels the loss, and its gradient, shrink in proportion: at 10 % the model learns as if the
#   learning rate were ten times smaller. Dividing by the number of known labels instead
#   ($g = 1/p$, dotted below) would undo that exactly; the paper's $g$ is not $1/p$: it gives 5
#   rather than 10 at $p = 10\,\%$, and more than $1/p$ from about 22 % up.
#
# All three average over the images of a batch and coincide when every label is known.

# %%
fig = plot_normalisation()

# %% [markdown]
# ## The sweep: proportions × losses × seeds
#
# Each point fine-tunes a fresh copy of the pretrained part with the profile's `[partial]` settings
# (SGD with momentum 0.9), the **same settings for every proportion**, which is the situation
# partial-BCE is made for. With seed $s$, every loss at a given $p$ sees the same mask and starts
# from the same fc; the seeds (`[partial] seeds`) redraw both, and notebook 09 reports the spread.
# Scores on the test split: mAP (ranking, no threshold) and the per-class and overall F1 of the
# labels with probability above 0.5. With every label known the three losses are the same loss, so
# the 100 % point is trained once and recorded for each (column `fit`). The model has dropout
# before the classifier (`[partial] dropout`), which the Bayesian curriculum below reads. A second
# run reuses the trained models; if the inputs or the settings changed, training stops with a
# message naming the folder: rerun with `retrain = True`.
#
# The fits do not depend on each other, so `pj.fit_side_by_side` trains them first, one process
# per CPU core or per GPU (a SLURM job array with `ANNOKIT_EXECUTOR=slurm`, see `docs/gpu.md`).
# Every job rebuilds its model from `partial_stage` alone and writes `<run>/partial/<fit>/final.pt`;
# `ps.sweep` then finds each file, loads it and scores it. With one core to spare (`reproduce`
# running another notebook beside this one) or one GPU, nothing is fanned out and `ps.sweep` trains
# the fits in turn: the same files either way.

# %%
config = training.config  # [precision] and [loader] when it trains on images
print(config)
grid = ps.SweepGrid(
    proportions=stage.proportions, losses=tuple(losses), seeds=tuple(run.profile.seeds("partial"))
)
points = ps.sweep_points(grid, run.profile.seed)
pj.fit_side_by_side(partial_stage, "sweep", points, retrain=retrain)  # one process per core
result = ps.sweep(run, data, grid=grid, training=training)  # loads the fits, scores the test split
table = result.table.assign(
    profile=profile,
    finetune=stage.finetune,
    epochs=config.epochs,
    batch_size=config.batch_size,
    lr=config.lr,
)
run.save_table(table, "partial_labels", index=False, float_format=None)
by_loss = table.groupby(["proportion", "loss"])["mAP"].agg(["mean", "std"]).unstack("loss")
display((100 * by_loss).round(1))

# %%
meta = {"profile": profile, "paper": "Durand et al. 2019", "finetune": stage.finetune}
files = ps.save_sweep(run, result, data=data, training=training, meta=meta)
print(f"{len(files)} prediction files in {run.run_dir / 'predictions'}")

# %% [markdown]
# ## mAP against the proportion of known labels
#
# The paper's headline plot. Reading it on this data:
#
# - **partial-BCE above BCE on known labels** at small $p$: since every image here has the same
#   $p$, $g(p_y)$ is one constant per run, so partial-BCE is BCE on known labels with its step size
#   multiplied by $g(p)$: the gain is that the same learning rate and epochs keep working when
#   labels are missing, the paper's argument for the loss.
# - **unknown = negative** can keep a good **mAP**: labels were hidden at random, so each class
#   loses the same share of its positives whatever the image looks like, and the ranking of the
#   images (all that average precision measures) barely changes. Its probabilities, though, shrink
#   towards the observed positive rate, and the thresholded F1 below collapses at small $p$.

# %%
title = f"Partial labels, fine-tuned from pretrained weights ({profile})"
fig = plot_against_proportion(table, metric="mAP", title=title)
save_figure(fig, run.figure("partial_labels_map"));

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, metric in zip(axes, ("C-F1", "O-F1")):
    title = f"{metric} against the proportion of known labels"
    plot_against_proportion(table, metric=metric, ax=ax, title=title)
save_figure(fig, run.figure("partial_labels_f1"))
c_f1 = table.groupby(["proportion", "loss"])["C-F1"].mean().unstack("loss")[losses]
display((100 * c_f1).round(1))

# %% [markdown]
# ## Labelling strategies at an equal annotation budget
#
# The paper's first question (Sec. 4.1, with its Fig. 1): with the same number of annotated
# (image, label) pairs, what should one annotate? Three answers, each given a budget of $pNC$
# pairs ($N$ training images, $C$ labels):
#
# - **partial labels** on every image: $pC$ labels per image (the sweep's partial-BCE models,
#   reused, not retrained);
# - **complete labels on a subset**: the same pairs spent on whole images, $\lfloor pNC / C
#   \rfloor$ images with every label known (and the remainder on one more image), trained with BCE
#   on those images alone;
# - **noisy labels**: every pair of every image annotated, the same $pNC$ of them right (exactly
#   the partial mask's pairs) and the others flipped, as web labels would be.
#
# At 100 % the three are the same fit. On a toy matrix of 5 images and 4 labels, at $p = 50\,\%$:

# %%
toy = np.array([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 1, 0]], dtype=bool)
partial = pl.mask_labels(toy, proportion=0.5, seed=0)
toy_labellings = {
    "partial": partial,
    "complete": pb.complete_image_labels(toy, pairs=pb.annotated_pairs(partial), seed=0),
    "noisy": pb.noisy_labels(toy, proportion=0.5, seed=0),
}
for name, targets in toy_labellings.items():
    annotated, right = pb.annotated_pairs(targets), pb.clean_pairs(targets, toy)
    print(f"{name:8s} annotated {annotated:2d}, right {right:2d} of {toy.size}\n{targets}")

# %%
seeds = tuple(run.profile.seeds("partial"))[:comparison_seeds]
labelling_grid = pb.LabellingGrid(proportions=stage.proportions, seeds=seeds)
pj.fit_side_by_side(partial_stage, "labelling", pb.own_fit_points(labelling_grid), retrain=retrain)
budget = pb.compare_labellings(run, data, training=training, grid=labelling_grid)
budget = budget.assign(profile=profile)
run.save_table(budget, "partial_labels_budget", index=False, float_format=None)
by_labelling = budget.groupby(["proportion", "labelling"])["mAP"].agg(["mean", "std"])
display((100 * by_labelling.unstack("labelling")).round(1))

# %%
# the budget of each point: p·N·C right pairs (column clean_pairs), the same for the three
title = f"Labelling strategies at an equal budget ({profile})"
fig = plot_against_proportion(budget.assign(loss=budget["labelling"]), metric="mAP", title=title)
fig.axes[0].set_xlabel("annotation budget: right (image, label) pairs, % of all pairs")
save_figure(fig, run.figure("partial_labels_budget"));

# %% [markdown]
# ## Curriculum learning: five ways to let the model fill in labels
#
# The paper's last idea (Sec. 3.3): train, use the model to label some unknown training entries,
# add them to the known ones and train again. One loop (`pc.train_with_curriculum`), five
# labelling strategies (`annokit.methods.partial_strategies`):
#
# - **score threshold**: an unknown label becomes positive when $\sigma(x) \ge \theta$, negative
#   when $\sigma(x) \le 1 - \theta$ (the paper thresholds $x$ at $\pm\theta_x$, the same rule);
# - **score proportion**: the share $\theta$ of the unknown labels with the most confident scores;
# - **positive labels only**: $\sigma(x) \ge \theta$ becomes positive, no negative is added;
# - **model ensemble**: the score threshold on the mean probability of several models trained on
#   the same partial labels from other initialisations;
# - **Bayesian uncertainty**: the share $\theta$ of the unknown labels whose probability varies
#   least over Monte-Carlo dropout passes (the dropout before the classifier kept on), labelled
#   by the sign of the mean.
#
# Known labels never change. Round 0 is the sweep's partial-BCE model at this proportion (the same
# fit, reused); each round continues from the previous weights for `curriculum_epochs` epochs with
# partial-BCE, whose $p_y$ now counts the added labels. **none** runs the same rounds without adding
# a label: the control, so that a gain is the labels' and not the extra epochs'. Each $\theta$ is
# chosen on the validation images (masked the same way): the candidate labelling the most entries
# while at least `min_label_accuracy` of them are right.

# %%
comparison = pc.StrategyComparison(
    kinds=tuple(curriculum_strategies),
    proportion=curriculum_proportion,
    rounds=curriculum_rounds,
    seeds=seeds,
    candidates={kind: tuple(values) for kind, values in theta_candidates.items()},
    min_accuracy=min_label_accuracy,
    ensemble_size=ensemble_size,
    mc_samples=mc_samples,
    round_epochs=curriculum_epochs,
)
if curriculum_rounds > 0:
    # every (strategy, seed) is a job of its own: side by side first, then loaded and scored
    strategy_points = [(kind, s, comparison) for s in seeds for kind in comparison.kinds]
    pj.fit_side_by_side(partial_stage, "curriculum", strategy_points, retrain=retrain)
    rounds, thetas = pc.compare_strategies(run, data, training=training, comparison=comparison)
    rounds = rounds.assign(profile=profile)
    run.save_table(rounds, "partial_labels_curriculum", index=False, float_format=None)
    run.save_table(thetas, "partial_labels_curriculum_theta", index=False, float_format=None)
    if len(thetas):
        display(thetas[thetas["chosen"]].round(3))
    # the last round of each strategy, mean and spread over the seeds; its gain over "none" is
    # paired by seed (the same round 0)
    final = rounds[rounds["round"] == curriculum_rounds].set_index(["strategy", "seed"])
    columns = ["added", "added_correct", "test mAP"]
    if "none" in curriculum_strategies:
        none = final.xs("none", level="strategy")["test mAP"]
        final["mAP gain over none"] = final["test mAP"].sub(none, level="seed")
        columns.append("mAP gain over none")
    display(final.groupby("strategy", sort=False)[columns].agg(["mean", "std"]).round(3))

# %% [markdown]
# ## A graph neural network over the labels
#
# The paper's model puts a gated graph neural network (Li et al. 2016) on top of the ConvNet's
# scores $x$ (Sec. 3.2): one node per label, fully connected, each node's state starting from
# its label's score, then $T$ steps of messages and gated updates, and each node's new score read
# from its final state and its input score. The whole forward pass
# (`annokit.models.label_gnn.LabelGNN.forward`):
#
# ```python
# state = self.initial_state(scores)                 # h_v^0 = [x_v, 0, ..., 0]
# for _ in range(self.steps):                        # t = 1 ... T
#     incoming = self.messages(state)                # m_v = mean_u ReLU(W_M h_u + b_M)
#     state = self.update(incoming, state)           # h_v^t = GRU(m_v, h_v^{t-1})
# return self.output(cat([state, scores]))           # x_v' = f_O([h_v^T, x_v])
# ```
#
# It trains end to end with the ConvNet part, with partial-BCE, on the same masks; the linear
# head is the sweep's model at the same proportion and seed.

# %%
settings = run.profile.partial
print(LabelGNN(data.train_labels.shape[1], hidden=settings.gnn_hidden, steps=settings.gnn_steps))
head_grid = pg.HeadGrid(
    proportions=tuple(float(p) for p in gnn_proportions),
    seeds=seeds,
    hidden=settings.gnn_hidden,
    steps=settings.gnn_steps,
)
heads = pg.compare_heads(run, data, training=training, grid=head_grid, retrain=retrain)
run.save_table(heads.assign(profile=profile), "partial_labels_gnn", index=False, float_format=None)
by_head = heads.groupby(["proportion", "head"])[["mAP", "C-F1"]].agg(["mean", "std"])
display((100 * by_head).round(1))

# %% [markdown]
# ## The paper's numbers beside ours
#
# `results/reported/durand2019_partial_labels.csv` holds the rows that the public benchmark list of
# the paper's index page credits to it, in percent. They come from a **fine-tuned ResNet-101 on the
# real datasets** and cannot be compared with the demo's synthetic scenes, only set beside them. The
# paper's own experiments are on MS COCO, NUS-WIDE and Open Images; rows such as VG-200 and the
# averages over proportions look like partial-BCE rerun as a baseline by later papers, collected by
# the list's aggregator (the `source` column keeps the aggregator's wording). Our column takes
# partial-BCE at the same proportion where the row names one (10 %, or the mean over our proportions
# below 100 % for an average), and at 100 % where it does not.

# %%
display(ps.beside_reported(table, reported=ps.reported_results()))
