# %% [markdown]
# # 02 · Multi-scale CNN (M3 Sec. III-A, Algorithm 1 steps 2–3)
#
# The **MS-CNN** row of Tables I/II. The fine-tuned ResNet is kept as it is (Eq. 1); a side branch
# fuses its five scale maps M1…M5 from fine to coarse, so small objects seen at the fine scales
# reach the final feature vector $f_v$.
#
# - **Reads:** the prepared index, the images, `<run>/cnn/final.pt` (notebook 01).
# - **Writes:** `<run>/mscnn/`, `<run>/features/mscnn_features.npz` ($f_v$ of train and test),
#   `<run>/predictions/mscnn.npz`, the figures `m3_mscnn_training.png` and `m3_scale_maps.png`;
#   with extra seeds `<run>/seeds/seed<k>/mscnn/` and `mscnn@seed<k>.npz`.
# - **Time:** under a minute on the demo profile (only the fusion blocks and the head train).

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"  # a name from lib/annokit/profiles/
data_root = ""  # real data: root of your dataset copy (empty: the one notebook 00 verified)
work_dir = ""  # empty: $ANNOKIT_WORK, else <repo>/.work
device = "auto"  # auto: CUDA when there is a GPU, else cpu
epochs = None  # None: the profile's number of epochs for this stage
monitor = True  # validation mAP after every epoch ([evaluation] every), for the training curve
workers = None  # image-decoding processes (None: the profile's [loader] workers; -1 automatic)
shown_image = 0  # test image whose scale maps are drawn
gpus = 1  # GPUs for this stage: N > 1 trains it under torchrun (DDP, NCCL), the same files as one

# %%
import torch
from IPython.display import display
from torch import nn

from annokit.artifacts.run import open_stage
from annokit.data.annotation_table import TEST
from annokit.evaluation.scoring import score_table
from annokit.methods.m3 import (
    load_finetuned_cnn,
    scale_map_shapes,
    scale_maps_of,
    train_extra_seeds,
    train_mscnn,
)
from annokit.methods.m3_files import cache_and_annotate, image_splits
from annokit.report.plots import plot_history, plot_scale_maps, save_figure

run = open_stage(profile, data_root=data_root, work_dir=work_dir, device=device, workers=workers)
cnn = load_finetuned_cnn(run)
print("fine-tuned CNN loaded from", run.run_dir / "cnn" / "final.pt")

# %% [markdown]
# ## Feature fusion (Eq. 2–3, Figs. 3–4)
#
# $$\tilde M_1 = M_1, \qquad \tilde M_l = M_l + F_l(\tilde M_{l-1}),\; l = 2,\dots,5, \qquad
# F_l = \psi_{l2}(\psi_{l1}(\cdot))$$
#
# $\psi_{l1}$ is a 3×3 convolution with stride 2 (it halves the height and width so the sum is
# defined), $\psi_{l2}$ a 1×1 convolution that raises the channels to those of $M_l$; each is
# followed by batch normalisation and a ReLU. Global average pooling of $\tilde M_5$ gives $f_v$.
# The backbone is frozen: only the four fusion blocks and the classifier learn.
#
# One fusion block, as the equations read. In the library it is
# `annokit.models.mscnn.FusionBlock`, and `annokit.models.mscnn.MultiScaleCNN.fused_maps` applies
# the four blocks $F_2, \dots, F_5$ from fine to coarse; a check below compares the two.


# %%
class FusionBlock(nn.Module):
    """M~_l = M_l + F_l(M~_{l-1}) with F_l = psi_l2(psi_l1(.)), Eq. 2-3."""

    def __init__(self, c_prev: int, c_next: int):
        super().__init__()
        # psi_l1: 3x3 convolution, stride 2: half the height and width of M~_{l-1}
        self.psi1 = nn.Sequential(
            nn.Conv2d(c_prev, c_prev, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c_prev),
            nn.ReLU(),
        )
        # psi_l2: 1x1 convolution: the channels of M_l
        self.psi2 = nn.Sequential(
            nn.Conv2d(c_prev, c_next, kernel_size=1, bias=False),
            nn.BatchNorm2d(c_next),
            nn.ReLU(),
        )

    def forward(self, fused_prev: torch.Tensor, scale_map: torch.Tensor) -> torch.Tensor:
        return scale_map + self.psi2(self.psi1(fused_prev))  # Eq. 2


# %% [markdown]
# ## Train the fusion blocks and the head
#
# With `gpus` > 1 the same call trains the stage in `gpus` processes under torchrun, waits for
# them, then loads the `final.pt` they wrote.

# %%
mscnn, history = train_mscnn(run, cnn, epochs=epochs, monitor=monitor, gpus=gpus)
trainable = sum(p.numel() for p in mscnn.parameters() if p.requires_grad)
print(f"trainable parameters: {trainable:,} of {sum(p.numel() for p in mscnn.parameters()):,}")
fig = plot_history(history)
fig.axes[0].set_title("MS-CNN (fusion blocks and head)")
save_figure(fig, run.figure("m3_mscnn_training"));

# %% [markdown]
# The block above, given the weights of the trained MS-CNN's block $F_3$, computes what the library
# computes, on a random pair of maps of the right shapes.

# %%
trained = mscnn.fusion[1].eval()  # F_3: from M~_2 to M~_3
where = next(trained.parameters()).device
c_prev, c_next = mscnn.backbone.channels[1:3]  # the channels of M_2 and M_3
with torch.random.fork_rng():  # the check leaves the notebook's random stream as it was
    block = FusionBlock(c_prev, c_next).to(where).eval()
    block.load_state_dict(trained.state_dict())
    fused_prev = torch.randn(2, c_prev, 8, 8, device=where)
    scale_map = torch.randn(2, c_next, 4, 4, device=where)
with torch.no_grad():
    torch.testing.assert_close(block(fused_prev, scale_map), trained(fused_prev, scale_map))
print("the block above and annokit.models.mscnn.FusionBlock agree")

# %% [markdown]
# ## Eq. 2 on one image: the maps M1…M5 and the fused maps M̃1…M̃5
#
# Each ResNet stage halves the height and width and (from $M_2$ on) widens the channels. The fine
# maps $M_1, M_2$ still resolve small objects; the coarse $M_5$, from which the plain CNN's $f$ is
# pooled, mostly does not. The fused map $\tilde M_l$ has exactly the shape of $M_l$ (that is what
# $F_l$ is built for), so the fine-scale evidence is carried, block by block, into $\tilde M_5$ and
# $f_v$. Below: the shapes for one test image, then the channel mean of every map.

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
mscnn_predictions = cache_and_annotate(
    run,
    mscnn,
    "mscnn",
    image_splits(run),
    cache=("mscnn_features",),
    checkpoint=run.run_dir / "mscnn" / "final.pt",
)
score_table(run.index, [run.predictions("cnn"), mscnn_predictions]).round(2)

# %% [markdown]
# **Reading the rows.** The same metrics as notebook 01 (percent, test split, top-3 for both), so
# the two rows differ only by the fusion blocks: a positive difference in C-R and O-R is what
# Tables I/II credit to the multi-scale features. One seed says little: notebook 09 sets the
# difference against the spread over the `[mscnn]` seeds before calling it a gain.

# %% [markdown]
# ## More seeds, for the spread
#
# With more `seeds` in `[mscnn]`, each seed k trains the fusion blocks and head again over the
# frozen CNN of the **same** seed (notebook 01's `<run>/seeds/seed<k>/cnn`), and annotates the test
# split as `mscnn@seed<k>`: the MS-CNN − CNN difference can then be paired seed by seed.

# %%
extra = train_extra_seeds(run, stage="mscnn", epochs=epochs)
print(f"extra seeds of the MS-CNN: {list(extra) or 'none'}")
for seed, mscnn_seed in extra.items():  # each beside the CNN of the same seed
    print(f"seed {seed}: CNN (first row) and MS-CNN")
    display(score_table(run.index, [run.predictions(f"cnn@seed{seed}"), mscnn_seed]).round(2))
