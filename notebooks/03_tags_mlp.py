# %% [markdown]
# # 03 · Textual features from noisy tags (M3 Sec. III-B, Algorithm 1 step 4)
#
# Users' tags are noisy (true concepts missing, synonyms, unrelated words) but carry high-level
# meaning. M3 encodes the multi-hot tag vector with a small MLP into a dense feature $f_t$ of the
# same size as $f_v$, so that both modalities weigh alike in the joint feature.
#
# - **Reads:** the prepared index (tag and label vectors only, no image).
# - **Writes:** `<run>/tags_mlp/`, `<run>/features/tags_features.npz` ($f_t$),
#   `<run>/predictions/tags_mlp.npz`, the figure `m3_tags_mlp_training.png`.
# - **Time:** seconds on the demo profile. This stage is independent of notebooks 01–02.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"  # a name from lib/annokit/profiles/
data_root = ""  # real data: root of your dataset copy (empty: the one notebook 00 verified)
work_dir = ""  # empty: $ANNOKIT_WORK, else <repo>/.work
device = "auto"  # auto: CUDA when there is a GPU, else cpu
epochs = None  # None: the profile's number of epochs for this stage

# %%
from IPython.display import display

from annokit.artifacts.run import open_stage
from annokit.evaluation.scoring import score_table
from annokit.methods.m3_files import cache_and_annotate, tag_splits
from annokit.methods.m3_heads import NO_TAGS, has_tags, train_tags_mlp
from annokit.models.backbone import feature_dim_of
from annokit.report.plots import plot_history, save_figure

run = open_stage(profile, data_root=data_root, work_dir=work_dir, device=device)
feature_dim = feature_dim_of(run.profile.cnn.backbone)
tags, hidden = len(run.index.tag_names), run.profile.tags_mlp.hidden
print(f"{tags} tags -> {hidden} -> {feature_dim} (= dim f_v)" if tags else f"tags MLP {NO_TAGS}")

# %% [markdown]
# ## The MLP
#
# $t \in \{0,1\}^T \rightarrow$ 2,048 units (ReLU; `hidden` in the profile's `[tags_mlp]`)
# $\rightarrow$ $f_t$ (ReLU) $\rightarrow$ fc + sigmoid, trained with Eq. 4 on the ground-truth
# labels. Once trained, only $f_t$ is kept.

# %%
if has_tags(run.index):  # a dataset without tags: notebook 04 trains its heads on f_v alone
    mlp, history = train_tags_mlp(run, feature_dim=feature_dim, epochs=epochs)
    fig = plot_history(history)
    fig.axes[0].set_title("Tags MLP")
    save_figure(fig, run.figure("m3_tags_mlp_training"))

# %% [markdown]
# ## Cache $f_t$; how far do tags alone go?
#
# Annotating from the tags alone (top-3) is not a row of the paper, but it shows how much the
# noisy tags know before they are joined with the image.

# %%
if has_tags(run.index):
    tags_predictions = cache_and_annotate(
        run,
        mlp,
        "tags_mlp",
        tag_splits(run),
        cache=("tags_features",),
        checkpoint=run.run_dir / "tags_mlp" / "final.pt",
    )
    display(score_table(run.index, [tags_predictions]).round(2))

# %% [markdown]
# **Reading the row.** Tags alone, top-3, on the test split, in percent (metrics as in notebook
# 01). This row is not in the paper's tables; it shows how much the noisy tags know on their own.
# Tags that name a label often help precision; images without a useful tag get three guesses from
# the label frequencies, which pulls recall down. Notebook 04 joins $f_t$ to $f_v$, where the two
# sources can make up for each other.
