# %% [markdown]
# # 01 · Fine-tune the CNN (M3 Algorithm 1, step 1)
#
# The first stage of M3 and the **CNN** row of Tables I/II: a ResNet whose last layer is replaced by
# a fully connected layer with one output per label, trained with the sigmoid cross-entropy of
# Eq. 4. Its soft scores are also the input of the Multi-order RNN (notebook 05), and its pooled
# features that of the partial-label sweep (notebook 06).
#
# - **Reads:** the prepared index of notebook 00 and the images.
# - **Writes:** `<run>/cnn/` (checkpoints, `final.pt`), `<run>/features/cnn_scores.npz` and
#   `cnn_features.npz` (train and test), `<run>/predictions/cnn.npz`, the figure
#   `m3_cnn_training.png`; with extra seeds `<run>/seeds/seed<k>/cnn/` and `cnn@seed<k>.npz`.
# - **Time:** about 80 s on the demo profile (ResNet-18 fine-tuned from the stand-in at 64×64 on
#   2 CPU cores); a second run resumes or reuses the finished checkpoint.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"  # a name from lib/annokit/profiles/
data_root = ""  # real data: root of your dataset copy (empty: the one notebook 00 verified)
work_dir = ""  # empty: $ANNOKIT_WORK, else <repo>/.work
device = "auto"  # auto: CUDA when there is a GPU, else cpu
epochs = None  # None: the profile's number of epochs for this stage
monitor = True  # validation mAP after every epoch ([evaluation] every), for the training curve
workers = None  # image-decoding processes (None: the profile's [loader] workers; -1 automatic)
gpus = 1  # GPUs for this stage: N > 1 trains it under torchrun (DDP, NCCL), the same files as one

# %%
from IPython.display import display

from annokit.artifacts.run import open_stage
from annokit.evaluation.scoring import score_table
from annokit.methods.m3 import train_cnn, train_extra_seeds
from annokit.methods.m3_files import cache_and_annotate, image_splits
from annokit.report.plots import plot_history, save_figure

run = open_stage(profile, data_root=data_root, work_dir=work_dir, device=device, workers=workers)
print("backbone:", run.profile.cnn.backbone, "| pretrained:", run.profile.cnn.pretrained)

# %% [markdown]
# ## Sigmoid cross-entropy (Eq. 4)
#
# Each of the C labels is an independent yes/no question. With logits $\hat l = \mathrm{fc}(f)$ and
# the multi-hot truth $y$,
#
# $$L_1 = \sum_j y_j\,(-\log \sigma(\hat l_j)) + (1-y_j)\,(-\log(1-\sigma(\hat l_j))).$$
#
# The paper profiles start from ImageNet weights and use SGD with momentum 0.9 and the learning
# rates of Sec. IV-A3; the demo starts its ResNet-18 from the stand-in that notebook 00 pretrained.
# Training reads the training images minus the validation images held out for every stage (the
# profile's `[evaluation]`); the curve shows mAP on those, and the test split is scored once, below.
# With `gpus` > 1 the same call trains the stage in `gpus` processes under torchrun, waits for
# them, then loads the `final.pt` they wrote.

# %%
cnn, history = train_cnn(run, epochs=epochs, monitor=monitor, gpus=gpus)
fig = plot_history(history)
fig.axes[0].set_title("CNN fine-tuning")
save_figure(fig, run.figure("m3_cnn_training"));

# %% [markdown]
# ## Cache what later stages need
#
# The scores $\sigma(\hat l)$ and the pooled features $f$ of every training and test image are
# computed once and stored, so the RNN decoders and the baselines never decode an image. The files
# record the SHA-256 of the checkpoint they came from: a rerun with the same `final.pt` on the same
# index reuses them, and a retrained CNN or a changed dataset makes them be computed again.
#
# The same call writes the **CNN row of Tables I/II**: without label quantity prediction, M3
# annotates every image with its **top-3** labels (the rule of the baselines it compares with).

# %%
cnn_predictions = cache_and_annotate(
    run,
    cnn,
    "cnn",
    image_splits(run),
    cache=("cnn_features", "cnn_scores"),
    meta={"backbone": run.profile.cnn.backbone},
    checkpoint=run.run_dir / "cnn" / "final.pt",
)
score_table(run.index, [cnn_predictions]).round(2)

# %% [markdown]
# **Reading the row.** Every number is a percentage over the **test** split, computed from the
# three labels the CNN gives each image (the `rule` column). *C-P / C-R / C-F1* average over the
# labels: of the images a label was given to, how many carry it (precision), and of the images
# that carry it, how many got it (recall); *O-P / O-R / O-F1* count every (image, label) decision
# together, so frequent labels weigh more; *S-\** average per image; *H-F1* is the harmonic mean of
# C-F1 and O-F1, M3's summary. *mAP* ranks the test images by each label's score and needs no
# decision rule at all. A fixed top-3 caps precision on images with fewer than three labels and
# recall on images with more: notebook 04's label quantity prediction removes that cap. On the
# demo these are figures of a 64-pixel synthetic task, not of NUS-WIDE: compare them with the
# rows of later notebooks, not with the paper's values.

# %% [markdown]
# ## More seeds, for the spread
#
# A profile may list more `seeds` in `[cnn]`: each trains the CNN again from the same pretrained
# weights with another initial fc and batch order (in `<run>/seeds/seed<k>/cnn`), and annotates the
# test split as `cnn@seed<k>`, so notebook 09 reports the CNN row as mean ± standard deviation and
# the claims table can judge whether a difference is larger than the run-to-run spread.

# %%
extra = train_extra_seeds(run, stage="cnn", epochs=epochs)
print(f"extra seeds of the CNN: {list(extra) or 'none'}")
if extra:
    display(score_table(run.index, extra.values()).round(2))
