# %% [markdown]
# # 02 · Multi-scale CNN (M3 Sec. III-A, Algorithm 1 steps 2–3)
#
# The **MS-CNN** row of Tables I/II. The fine-tuned ResNet is kept as it is (Eq. 1); a side branch
# fuses its five scale maps M1…M5 from fine to coarse, so small objects seen at the fine scales
# reach the final feature vector $f_v$.
#
# - **Reads:** the prepared index, the images, `<run>/cnn/final.pt` (notebook 01).
# - **Writes:** `<run>/mscnn/`, `<run>/features/mscnn_features.npz` ($f_v$ of train and test),
#   `<run>/predictions/mscnn.npz`, the figures `m3_mscnn_training.png` and `m3_scale_maps.png`.
# - **Time:** under a minute on the demo profile (only the fusion blocks and the head train).

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"     # a name from lib/annokit/profiles/
data_root = ""       # real data: root of your dataset copy (empty: the one notebook 00 verified)
work_dir = ""        # empty: $ANNOKIT_WORK, else <repo>/.work
device = "auto"      # auto: CUDA when there is a GPU, else cpu
epochs = None        # None: the profile's number of epochs for this stage
monitor = True       # validation mAP after every epoch ([evaluation] every), for the training curve
workers = None       # image-decoding processes (None: the profile's [loader] workers; -1 automatic)
shown_image = 0      # test image whose scale maps are drawn
gpus = 1             # GPUs for this stage: N > 1 trains it under torchrun (DDP, NCCL), the same files as one

# %%
from IPython.display import display

from annokit.artifacts.run import open_stage
from annokit.data.annotation_table import TEST
from annokit.evaluation.scoring import score_table
from annokit.methods.launch import train_on_gpus
from annokit.methods.m3 import annotate_test, cache_and_annotate, image_splits, load_finetuned_cnn, scale_map_shapes, scale_maps_of, train_mscnn
from annokit.report.plots import plot_history, plot_scale_maps, save_figure

run = open_stage(profile, data_root, work_dir, device, workers)
cnn = load_finetuned_cnn(run)
print("fine-tuned CNN loaded from", run.run_dir / "cnn" / "final.pt")

# %% [markdown]
# ## Feature fusion (Eq. 2–3, Figs. 3–4)
#
# $$\tilde M_1 = M_1, \qquad \tilde M_l = M_l + F_l(\tilde M_{l-1}),\; l = 2,\dots,5, \qquad F_l = \psi_{l2}(\psi_{l1}(\cdot))$$
#
# $\psi_{l1}$ is a 3×3 convolution with stride 2 (it halves the height and width so the sum is
# defined), $\psi_{l2}$ a 1×1 convolution that raises the channels to those of $M_l$; each is
# followed by batch normalisation and a ReLU. Global average pooling of $\tilde M_5$ gives $f_v$.
# The backbone is frozen: only the four fusion blocks and the classifier learn.

# %%
train_on_gpus("mscnn", profile, data_root, work_dir, gpus, epochs, monitor=monitor, workers=workers)  # nothing for gpus = 1
mscnn, history = train_mscnn(run.profile, run.index, run.data_root, run.run_dir, cnn, run.device, epochs, monitor)
trainable = sum(p.numel() for p in mscnn.parameters() if p.requires_grad)
print(f"trainable parameters: {trainable:,} of {sum(p.numel() for p in mscnn.parameters()):,}")
fig = plot_history(history)
fig.axes[0].set_title("MS-CNN (fusion blocks and head)")
save_figure(fig, run.figure("m3_mscnn_training"));

# %% [markdown]
# ## Eq. 2 on one image: the maps M1…M5 and the fused maps M̃1…M̃5
#
# Each ResNet stage halves the height and width and (from $M_2$ on) widens the channels. The fine
# maps $M_1, M_2$ still resolve small objects; the coarse $M_5$, from which the plain CNN's $f$ is
# pooled, mostly does not. The fused map $\tilde M_l$ has exactly the shape of $M_l$ (that is what
# $F_l$ is built for), so the fine-scale evidence is carried, block by block, into $\tilde M_5$ and $f_v$.
# Below: the shapes for one test image, then the channel mean of every map.

# %%
test_images = image_splits(run)[TEST]
image, *_ = test_images[shown_image]
maps, fused = scale_maps_of(mscnn, image)
display(scale_map_shapes(maps, fused))
fig = plot_scale_maps(test_images.load_image(shown_image), maps, fused)
save_figure(fig, run.figure("m3_scale_maps"));

# %% [markdown]
# ## Cache $f_v$ and score the MS-CNN row (top-3)

# %%
mscnn_predictions = cache_and_annotate(run, mscnn, "mscnn", image_splits(run), run.device, cache="mscnn",
                                       checkpoint=run.run_dir / "mscnn" / "final.pt")
score_table(run.index, [run.predictions("cnn"), mscnn_predictions]).round(2)

# %% [markdown]
# ## More seeds, for the spread
#
# With more `seeds` in `[mscnn]`, each seed k trains the fusion blocks and head again over the frozen CNN
# of the **same** seed (notebook 01's `<run>/seeds/seed<k>/cnn`), and annotates the test split as
# `mscnn@seed<k>`: the MS-CNN − CNN difference can then be paired seed by seed.

# %%
extra_seeds = [s for s in run.profile.seeds("mscnn") if s != run.profile.seed]
for extra in extra_seeds:
    model, _ = train_mscnn(run.profile, run.index, run.data_root, run.run_dir, load_finetuned_cnn(run, extra), run.device, epochs,
                           monitor=False, seed=extra)
    annotate_test(run, model, "mscnn", run.device, extra)
print(f"extra seeds of the MS-CNN: {extra_seeds or 'none'}")
if extra_seeds:
    display(score_table(run.index, [run.predictions(f"{m}@seed{s}") for s in extra_seeds for m in ("cnn", "mscnn")]).round(2))
