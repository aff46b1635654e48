# %% [markdown]
# # 08 · Result tables and figures
#
# Every table of the two papers, rebuilt for this run: the numbers **as printed** in the paper
# beside the numbers **this run measured**, scored from the prediction files of notebooks 01–07 with
# each paper's own metric definitions (`annokit.evaluation.metrics`). Models trained with several
# seeds show mean ± standard deviation. Rows the kit does not reproduce say so. Where a paper's own
# numbers disagree with its formulas (an F1 that is not the harmonic mean of its P and R), the row
# is flagged under the table, not silently fixed.
#
# On the demo profile the data are synthetic scenes, so only the *shape* of the comparison can
# match the papers (which component helps, by how much), never the numbers themselves.
#
# - **Reads:** the prediction files in `<run>/predictions/`, `results/reported/*.csv`, the index,
#   notebook 06's `results/<profile>/tables/partial_labels.csv` and, on the demo, its COCO instance
#   files (object sizes).
# - **Writes:** `results/<profile>/tables/<table>.{md,csv,tex}`, `metric_conventions.{csv,md}`, the
#   mechanism tables `recall_by_object_size`, `lqp_accuracy_by_count`, `lqp_f1_by_count`,
#   `label_dependencies`, `partial_bce_gap`, the claims table `paper_claims`, and the figures in
#   `results/<profile>/figures/`.
# - **Time:** seconds.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"  # a name from lib/annokit/profiles/
data_root = ""  # real data: root of your dataset copy (empty: the one notebook 00 verified)
work_dir = ""  # empty: $ANNOKIT_WORK, else <repo>/.work
n_examples = 6  # images in the qualitative grid

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Image as ShowImage
from IPython.display import Markdown, display

from annokit.artifacts.predictions import available_predictions
from annokit.artifacts.run import open_stage
from annokit.data.annotation_table import TEST
from annokit.data.dataset import AnnotationDataset
from annokit.evaluation import conventions, metrics
from annokit.evaluation.decision import predicted_quantity
from annokit.evaluation.scoring import true_labels
from annokit.report import tables
from annokit.report.plots import annotation_grid, count_confusion, per_class_f1_bars, save_figure

run = open_stage(profile, data_root=data_root, work_dir=work_dir)
present = available_predictions(run.run_dir)
print(run.profile.description)
print("prediction files:", ", ".join(present))

# %% [markdown]
# ## The papers' tables, reported beside reproduced
#
# Column names follow each paper (M3's I-P/I-R/I-F1 are sums over all images, the kit's O-*;
# the Multi-order RNN's P_I/R_I/F1_I are means over images, the kit's S-*). Δ = ours − paper.

# %%
exported = []
for name in tables.tables_for(run.profile.dataset):
    table = tables.comparison(
        name, index=run.index, run_dir=run.run_dir, run_dataset=run.profile.dataset
    )
    exported += tables.export(table, folder=run.results / "tables")
    display(Markdown((run.results / "tables" / f"{name}.md").read_text()))
print(f"{len(exported)} files written to {run.results / 'tables'}")

# %% [markdown]
# ## The same numbers under today's conventions
#
# ML-GCN, ASL and Query2Label report C-F1 and mAP under the same names but compute them differently:
# ASL's C-F1 is the mean of the per-class F1 rather than the F1 of the mean precision and recall,
# Query2Label's AP interpolates the precision envelope (VOC), and ML-GCN's top-3 keeps only the
# labels that also score at least 0.5. Here is how far each choice moves the main rows of this run
# (one convention changed per row; an empty cell is unchanged from the first row). Compare numbers
# across papers only under the same convention.

# %%
main_rows = {
    "CNN (top-3)": "cnn",
    "M3 (top-m̂)": "mscnn_tags_lqp",
    "Multi-order RNN": "multi_order_rnn",
}
chosen = {label: run.predictions(name) for label, name in main_rows.items() if name in present}
effects = conventions.effects_by_model(
    {label: (true_labels(run.index, p), p) for label, p in chosen.items()},
    k=run.profile.annotation.top_k,
)
run.save_table(effects, "metric_conventions")
effects.drop(columns="used by").round(2)

# %% [markdown]
# ## Qualitative results (M3 Figs. 1 and 6)
#
# For a few test images: the ground truth, the CNN's top-3 and the full M3 model's top-$\hat m$
# annotation; a ✓ marks a correct label. LQP lets M3 give one label to a simple scene and five to a
# busy one, where the top-3 rule always gives three.

# %%
names = run.index.label_names
full_model = "mscnn_tags_lqp" if "mscnn_tags_lqp" in present else "mscnn_lqp"  # no tags: f_v
cnn, full = run.predictions("cnn"), run.predictions(full_model)
test_set = AnnotationDataset(
    run.index, run.data_root, split=TEST, image_size=run.profile.image_size
)
position = {row: i for i, row in enumerate(test_set.rows)}
count = min(n_examples, len(full.rows))
chosen = np.random.default_rng(run.profile.seed).choice(len(full.rows), size=count, replace=False)
as_names = lambda matrix: [[names[j] for j in np.flatnonzero(r)] for r in matrix]
truth = run.index.label_matrix()[full.rows[chosen]]
fig = annotation_grid(
    [test_set.load_image(position[full.rows[i]]) for i in chosen],
    truth=as_names(truth),
    annotations={
        "CNN top-3": as_names(cnn.annotation[chosen]),
        "M3 top-m̂": as_names(full.annotation[chosen]),
    },
)
save_figure(fig, run.figure("qualitative_grid"));

# %% [markdown]
# ## Per-class F1: CNN vs the full M3 model
#
# Which labels gain most from multi-scale fusion, tags and label quantity prediction.

# %%
y_true = run.index.label_matrix()[full.rows]
f1 = {
    model: metrics.per_class_scores(y_true, p.annotation)["f1"]
    for model, p in (("CNN (top-3)", cnn), ("M3 (top-m̂)", full))
}
fig = per_class_f1_bars(names, f1_by_model=f1)
fig.axes[0].set_title("Per-class F1 on the test split")
save_figure(fig, run.figure("per_class_f1"));

# %% [markdown]
# ## Label counts: truth, LQP and the confusion between them

# %%
true_counts = y_true.sum(axis=1)
predicted = predicted_quantity(full.counts, len(names))
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
bins = np.arange(0, max(true_counts.max(), predicted.max()) + 2) - 0.5
left.hist([true_counts, predicted], bins=bins, label=["true m", "predicted m̂"])
left.set_xlabel("labels per image")
left.set_ylabel("test images")
left.legend()
count_confusion(right, true_counts, predicted, title="LQP on [f_v, f_t]")
fig.tight_layout()
save_figure(fig, run.figure("lqp_counts"));

# %% [markdown]
# ## Dataset statistics (from notebook 00) and the Multi-order RNN per-step view (from notebook 05)

# %%
stats, steps = run.results / "tables" / "dataset_statistics.csv", run.figure("multi_order_steps")
for path, notebook, show in (
    (stats, "00", lambda p: display(pd.read_csv(p, index_col=0).round(2))),
    (steps, "05", lambda p: display(ShowImage(filename=str(p)))),
):
    show(path) if path.exists() else print(f"{path} is missing: run notebook {notebook}")

# %% [markdown]
# ## Each claim of the papers, tested with its mechanism
#
# A table row says *whether* a component helps; the demo generator knows the truth behind every
# image, so here we also ask *why*. Each measure compares models of this run on the test split,
# averaged over the seeds that trained them.
#
# **MS-CNN: fine scales for small objects (M3 Sec. III-A).** For every true label of a test image,
# the size of its largest instance (area over image area, from the COCO instance annotations the
# demo writes in both layouts): *small* below 1/32 of the image, *medium* up to 1/4, *large* above
# (COCO's own 32²/96²-pixel bins are for 640-pixel photos; at 64 pixels only birds would be small).
# Recall per bin, for the CNN and the MS-CNN: if fusing the fine scales helps, the gain is largest
# on small objects.

# %%
from annokit.report import claims, mechanism_plots, mechanisms, size_recall

sizes = size_recall.object_sizes(run.index) if size_recall.has_object_sizes(run.index) else None
if sizes is not None:
    by_size = mechanisms.recall_by_size_table(
        run.index, run.run_dir, models=("cnn", "mscnn"), sizes=sizes
    )
    run.save_table(by_size, "recall_by_object_size", index=False)
    save_figure(mechanism_plots.recall_by_size_bars(by_size), run.figure("recall_by_object_size"))
    display(by_size.round(3))
else:
    print("no object sizes for this dataset (the demo's COCO instance files give them)")

# %% [markdown]
# **LQP (M3 Sec. III-C).** How often the predicted count $\hat m$ is exact, by the true number of
# labels, and the per-image F1 of the top-$\hat m$ labels against the top-3 of the *same* scores:
# only the decision rule differs, so the gap is what knowing the count is worth, image count by
# image count.

# %%
quantity = mechanisms.quantity_accuracy_table(run.index, run.run_dir)
run.save_table(quantity, "lqp_accuracy_by_count", index=False)
save_figure(mechanism_plots.quantity_accuracy_bars(quantity), run.figure("lqp_accuracy_by_count"))
by_count = mechanisms.f1_by_count_table(run.index, run.run_dir, k=run.profile.annotation.top_k)
run.save_table(by_count, "lqp_f1_by_count", index=False)
save_figure(mechanism_plots.f1_by_count_plot(by_count), run.figure("lqp_f1_by_count"));

# %% [markdown]
# **Multi-order RNN: label dependencies (Dutta et al. Sec. 3).** The generator never draws some
# labels without others (the sun needs the sky, boats need water) and never draws some pairs
# together. For each rule, the share of predicted sets it applies to that keep it: a decoder that
# models dependencies should keep them more often than thresholding each label on its own.

# %%
if size_recall.is_demo(run.index):
    rules = mechanisms.dependency_table(run.index, run.run_dir)
    run.save_table(rules, "label_dependencies", index=False)
    save_figure(mechanism_plots.dependency_bars(rules), run.figure("label_dependencies"))
    display(rules.round(3))

# %% [markdown]
# **Partial-BCE (Durand et al.).** Its gain over plain BCE at each proportion of known labels,
# paired by seed (the same mask and the same starting fc), with the spread over the seeds.

# %%
sweep_csv = run.results / "tables" / "partial_labels.csv"
sweep = pd.read_csv(sweep_csv) if sweep_csv.exists() else None
if sweep is not None:
    gaps = mechanisms.partial_bce_gap(sweep)
    run.save_table(gaps, "partial_bce_gap", index=False)
    save_figure(mechanism_plots.partial_gap_plot(gaps), run.figure("partial_bce_gap"))
    display(gaps.round(4))
else:
    print(f"{sweep_csv} is missing: run notebook 06")

# %% [markdown]
# ### The claims table
#
# One row per claim: the paper's own figure for it (a difference between two of its rows, or
# "qualitative" where it states none), ours as the mean difference over seeds, the spread (the
# standard deviation of the per-seed differences when the seeds pair up, else the two spreads
# combined), and **holds**: *yes* when ours has the paper's sign and is more than two spreads from
# zero, *no* when it has the other sign by as much, *unclear* otherwise, and always when one side is
# a single run (no spread to judge by).

# %%
results_tables = claims.claim_tables(run.results / "tables")
paper_claims = claims.paper_claims(run.run_dir, run.index, tables=results_tables, sizes=sizes)
run.save_table(paper_claims, "paper_claims", index=False)
display(paper_claims)
