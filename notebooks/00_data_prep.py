# %% [markdown]
# # 00 · Data preparation
#
# Every later notebook reads the **prepared index** this notebook writes: one row per image of the
# profile's split, with its path, multi-hot labels, multi-hot noisy tags and split.
#
# - **Reads:** the dataset root of the profile (the demo profile generates synthetic scenes in the
#   real COCO 2014 and NUS-WIDE layouts first), and its manifest in `data_manifests/`.
# - **Writes:** `<work>/runs/<profile>/index/` (prepared index),
#   `results/<profile>/tables/dataset_statistics.csv` and the figures
#   `results/<profile>/figures/data_*.png`; on the demo profiles also the pretraining set
#   `<work>/data/demo-pretraining-seed0/` and the stand-in backbone
#   `<work>/weights/resnet18-standin.pth`.
# - **Time:** on the demo profile (2 CPU cores) about 15 s to render and check the scenes and about
#   90 s to pretrain the stand-in, both once: a rerun reuses them.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"  # a name from lib/annokit/profiles/
data_root = ""  # real data: root of your COCO 2014 or NUS-WIDE copy (empty: the profile default)
work_dir = ""  # empty: $ANNOKIT_WORK, else <repo>/.work
on_missing = "stop"  # missing image files: "stop" (default) or "skip" them
force = False  # rebuild the index even when it is up to date
# prepared too, with the same data
companion_profiles = ["demo-coco", "demo-multi-order", "demo-coco-multi-order"]
n_sample_images = 8
device = "auto"  # where the demo's stand-in backbone is pretrained (auto: CUDA when there is a GPU)

# %% [markdown]
# ## The profile
#
# A profile names a dataset, a split rule and the settings of every stage. The two papers use the
# same datasets with different rules:
#
# | rule | NUS-WIDE | MS-COCO 2014 |
# |---|---|---|
# | `m3` (Niu et al., IV-A1) | official lists, no image without tags | 56,414 / 30,774 images |
# | `multi_order` (Dutta et al., 4.1) | official lists, no image without labels | as they are |
#
# On MS-COCO, M3 keeps the images that have labels and takes their tags from the captions; the
# Multi-order RNN keeps train2014 and val2014 as they are.

# %%
from pathlib import Path

from IPython.display import display

from annokit.artifacts.run import open_stage
from annokit.data import statistics
from annokit.data.annotation_table import TEST, TRAIN
from annokit.prepare import prepare
from annokit.profile import load_profile
from annokit.report.plots import (
    cooccurrence_heatmap,
    image_grid,
    label_count_histogram,
    label_frequency_bars,
    save_figure,
)

run_profile = load_profile(profile, data_root=data_root or None)
work = Path(work_dir) if work_dir else None
print(run_profile.description)

# %% [markdown]
# ## Verify and index
#
# `prepare` checks the dataset root against its manifest (annotation files and their checksums,
# image counts before and after the split rule, vocabulary sizes, every image file) and stops with
# one message listing every difference. It never modifies the dataset. The index is then written
# once; a second run with the same inputs reuses it.

# %%
prepared = prepare(run_profile, work_dir=work, on_missing=on_missing, force=force)
index = prepared.index
print(prepared.summary())
for warning in index.meta["warnings"]:
    print("warning:", warning)
# what every later notebook opens with:
run = open_stage(profile, data_root=data_root, work_dir=work_dir)

# %% [markdown]
# ## What the split holds
#
# Both papers describe their data by counts and labels per image (about 2.9 on COCO, 2.4 on
# NUS-WIDE). The label count per image is what M3's label quantity prediction learns; the share of
# images without tags is what M3's rule removes on NUS-WIDE.

# %%
table = statistics.split_statistics(index)
run.save_table(table, "dataset_statistics")
display(table.round(2))
print(f"share of true labels whose name is also a tag: {statistics.tag_label_agreement(index):.2f}")

# %%
distributions = {
    split: statistics.label_count_distribution(index, split) for split in (TRAIN, TEST)
}
fig = label_count_histogram(distributions, title=f"Labels per image ({profile})")
save_figure(fig, run.figure("data_label_counts"));

# %% [markdown]
# ## Labels: frequency and co-occurrence
#
# The frequent-first and rare-first orders of the CNN-RNN baselines come from these training
# frequencies. The co-occurrence matrix shows the label dependencies that an RNN decoder can
# exploit: row *sky*, column *clouds* is the probability that an image with sky also has clouds.

# %%
fig = label_frequency_bars(statistics.label_frequencies(index))
save_figure(fig, run.figure("data_label_frequencies"));

# %%
fig = cooccurrence_heatmap(statistics.label_cooccurrence(index))
save_figure(fig, run.figure("data_label_cooccurrence"));

# %% [markdown]
# ## A few images with their labels and noisy tags

# %%
import numpy as np

from annokit.data.dataset import AnnotationDataset

train_set = AnnotationDataset(
    index, prepared.data_root, split=TRAIN, image_size=run_profile.image_size
)
labels, tags = index.label_matrix(TRAIN), index.tag_matrix(TRAIN)
count = min(n_sample_images, len(train_set))
shown = np.random.default_rng(run_profile.seed).choice(len(train_set), size=count, replace=False)
captions = [
    "labels: "
    + ", ".join(index.label_names[j] for j in labels[i].nonzero()[0])
    + "\ntags: "
    + ", ".join(index.tag_names[j] for j in tags[i].nonzero()[0][:8])
    for i in shown
]
fig = image_grid([train_set.load_image(i) for i in shown], captions)
save_figure(fig, run.figure("data_samples"));

# %% [markdown]
# ## A stand-in for ImageNet pretraining (demo profiles)
#
# Both papers fine-tune a ResNet pretrained on ImageNet; its filters already respond to edges,
# colours, textures and shapes, so fine-tuning only has to learn the annotation task. ImageNet
# weights cannot be downloaded here, so the demo makes its own: a **pretraining set** of scene-like
# images (the same sky, ground bands, camera noise and JPEG coding as the scenes) each showing one
# shape, labelled with one of twelve classes (disc, ring, square, frame, triangle, cross; solid or
# striped) that are not words of the annotation vocabulary. A ResNet-18 trained on it with softmax
# cross-entropy is saved as a torchvision state dict, `resnet18-standin.pth` in `<work>/weights/`,
# with its manifest entry (SHA-256, the recipe, and its accuracy on 480 pretraining images it never
# trained on). Every demo stage starts from it exactly as a paper profile starts from
# `resnet101-63fe2227.pth`. It is built once; a rerun checks the file against its entry and reuses
# it. The paper profiles skip this step.

# %%
from annokit import paths
from annokit.demo.pretraining import CLASSES, example_images
from annokit.demo.standin import ensure_standin
from annokit.training.fit import resolve_device
from annokit.training.weights import read_entry, resolve_weights_path

standin = run_profile.standin
if standin is None:
    print(f"{run_profile.name} starts from ImageNet weights: no stand-in to build")
else:
    weights = ensure_standin(
        standin,
        backbone=run_profile.cnn.backbone,
        weights=resolve_weights_path(run_profile.cnn.weights_path),
        work=paths.work_dir() / "data" / f"demo-pretraining-seed{standin.seed}",
        device=resolve_device(device),
    )
    entry = read_entry(weights)
    print(
        f"{weights}: {entry['bytes'] / 2**20:.1f} MiB, sha256 {entry['sha256'][:12]}…, accuracy on "
        f"held-out pretraining images {entry['held_out_accuracy']:.1%} "
        f"(chance {entry['chance']:.1%})"
    )

# %%
if standin is not None:  # one example of each pretraining class
    examples = example_images(standin.image_size, standin.seed)
    names = [name.replace("_", ", ") for name in CLASSES]
    fig = image_grid(examples, names, columns=6)
    save_figure(fig, run.figure("data_pretraining_samples"))

# %% [markdown]
# ## Companion profiles
#
# The demo data is written in both real layouts; preparing the other demo profiles here lets the
# later notebooks switch layout or split rule without coming back to this one.

# %%
for name in companion_profiles:
    if name != profile:
        companion = prepare(load_profile(name), work_dir=work, on_missing=on_missing, force=force)
        print(companion.summary())
