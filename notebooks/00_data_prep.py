# %% [markdown]
# # 00 · Data preparation
#
# Every later notebook reads the **prepared index** this notebook writes: one row per image of the
# profile's split, with its path, multi-hot labels, multi-hot noisy tags and split.
#
# - **Reads:** the dataset root of the profile (the demo profile generates synthetic scenes in the
#   real COCO 2014 and NUS-WIDE layouts first), and its manifest in `data_manifests/`.
# - **Writes:** `<work>/runs/<profile>/index/` (prepared index), `results/<profile>/tables/dataset_statistics.csv`
#   and the figures `results/<profile>/figures/data_*.png`.
# - **Time:** about a minute on the demo profile (2 CPU cores), most of it rendering the demo images once.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"            # a name from lib/annokit/profiles/
data_root = ""              # real data: root of your COCO 2014 or NUS-WIDE copy (empty: the profile default)
work_dir = ""               # empty: $ANNOKIT_WORK, else <repo>/.work
on_missing = "stop"         # missing image files: "stop" (default) or "skip" them
force = False               # rebuild the index even when it is up to date
companion_profiles = ["demo-coco", "demo-multi-order", "demo-coco-multi-order"]  # prepared too, with the same data
n_sample_images = 8

# %% [markdown]
# ## The profile
#
# A profile names a dataset, a split rule and the settings of every stage. The two papers use the
# same datasets with different rules:
#
# | rule | NUS-WIDE | MS-COCO 2014 |
# |---|---|---|
# | `m3` (Niu et al., Sec. IV-A1) | official lists, images without any tag removed | 56,414 / 30,774 images with labels and caption tags |
# | `multi_order` (Dutta et al., Sec. 4.1) | official lists, images without any label removed | train2014 / val2014 as they are |

# %%
from pathlib import Path

from IPython.display import display

from annokit.data import statistics
from annokit.data.table import TEST, TRAIN
from annokit.plots import cooccurrence_heatmap, image_grid, label_count_histogram, label_frequency_bars, save_figure
from annokit.prepare import prepare
from annokit.profile import load_profile
from annokit.run import open_stage

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
prepared = prepare(run_profile, work, on_missing=on_missing, force=force)
index = prepared.index
print(prepared.summary())
for warning in index.meta["warnings"]:
    print("warning:", warning)
run, _ = open_stage(profile, data_root, work_dir)  # what every later notebook opens with

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
distributions = {split: statistics.label_count_distribution(index, split) for split in (TRAIN, TEST)}
fig = label_count_histogram(distributions, title=f"Labels per image ({profile})")
save_figure(fig, run.figure("data_label_counts"));

# %% [markdown]
# ## Labels: frequency and co-occurrence
#
# The frequent-first and rare-first orders of the CNN-RNN baselines come from these training
# frequencies. The co-occurrence matrix shows the label dependencies that an RNN decoder can exploit:
# row *sky*, column *clouds* is the probability that an image with sky also has clouds.

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

train_set = AnnotationDataset(index, prepared.data_root, split=TRAIN, image_size=run_profile.image_size)
labels, tags = index.label_matrix(TRAIN), index.tag_matrix(TRAIN)
shown = np.random.default_rng(run_profile.seed).choice(len(train_set), size=min(n_sample_images, len(train_set)), replace=False)
captions = [
    "labels: " + ", ".join(index.label_names[j] for j in labels[i].nonzero()[0]) + "\ntags: "
    + ", ".join(index.tag_names[j] for j in tags[i].nonzero()[0][:8])
    for i in shown
]
fig = image_grid([train_set.load_image(i) for i in shown], captions)
save_figure(fig, run.figure("data_samples"));

# %% [markdown]
# ## Companion profiles
#
# The demo data is written in both real layouts; preparing the other demo profiles here lets the
# later notebooks switch layout or split rule without coming back to this one.

# %%
for name in companion_profiles:
    if name != profile:
        print(prepare(load_profile(name), work, on_missing=on_missing, force=force).summary())
