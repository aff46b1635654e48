# %% [markdown]
# # 09 · Look at the annotations, image by image
#
# Tables of C-F1 and O-F1 say *how often* a model is right; this notebook shows *where*. For every
# test image it puts side by side the picture, its ground-truth labels, its noisy user tags and what
# each trained model annotates, every label marked **correct**, **extra** (a false positive) or
# **missed** (a false negative), as the qualitative figures of both papers do (M3: Figs. 1 and 6;
# Multi-order RNN: Figs. 3 and 4).
#
# - **Reads:** the prepared index and the test images of notebook 00, and every prediction file in
#   `<run>/predictions/` (notebooks 01–08; a model without a file is simply not shown).
# - **Writes:** `results/<profile>/figures/annotation_gallery.html`, a static page of a seeded
#   sample of test images that opens in any web browser, no kernel needed.
# - **Time:** seconds on the demo profile. The viewer opens in under 3 seconds even on 50,000 test
#   images: prediction files are memory-mapped and an image is decoded only when it is shown.

# %% tags=["parameters"]
# Parameters (papermill overrides these)
profile = "demo"  # a name from lib/annokit/profiles/
data_root = ""  # real data: root of your dataset copy (empty: the one notebook 00 verified)
work_dir = ""  # empty: $ANNOKIT_WORK, else <repo>/.work
interactive = True  # show the widget viewer; the runner sets False as no browser is attached
gallery_size = 24  # test images in the static HTML gallery
seed = 0  # which test images the gallery samples

# %%
from IPython.display import HTML, display

from annokit.artifacts.run import open_stage
from annokit.viewer import Browser, panel_html, sample_positions, write_gallery
from annokit.viewer.html import legend_html
from annokit.viewer.widget import AnnotationViewer

run = open_stage(profile, data_root=data_root, work_dir=work_dir)
browser = Browser.from_run(run)
images, models, files = len(browser.data), len(browser.groups), len(browser.data.models)
print(f"{run.profile.description}: {images:,} test images, {models} models ({files} files)")
browser.data.summary()

# %% [markdown]
# ## Reading a panel
#
# - **Ground truth** (dark grey) are the labels of the dataset; **noisy tags** (light grey) are what
#   the photo's owner typed, the textual input of M3's tags MLP. Tags often name a label (`sky`,
#   `beach`), often do not (`2008`, `nikon`).
# - Each model's row lists its labels with their scores, ordered by score: green ✓ **correct**
#   (predicted and true), red + **extra** (predicted, not true), blue − dashed **missed** (true, not
#   predicted). Then the image's own precision, recall and F1 (`annokit.evaluation.metrics`'
#   per-image convention: 0 when there is nothing to divide).
# - **Label quantity prediction.** The LQP models (MS-CNN+LQP and the full M3) first predict how
#   many labels the image has, then keep that many of the best-scoring ones (Algorithm 2):
#   $\hat m = \operatorname{round}(\text{regressor output})$, clamped to $[1, C]$. The row shows
#   $\hat m$, the raw output and the true count; red when they differ. A top-3 model must give a
#   one-label image two extra labels and a five-label image two missed ones (Fig. 1).
# - **Decoder steps.** The Multi-order RNN runs $T$ steps and keeps, for every label, its largest
#   probability over the steps (max-pooling, then the 0.5 threshold). As in Fig. 3 of Dutta et al.,
#   the panel lists the five most probable labels at each step: underlined the label the decoder
#   picks and feeds back, `*` the step whose value max-pooling keeps, green the true labels. The
#   fixed-order CNN-RNN baselines get the same table, folded.

# %% [markdown]
# ## The viewer
#
# - **◀ previous / next ▶ / image #** move through the list (a page at a time in the grid). The
#   viewer opens on the first test image with a true label; the ones before it stay in the list.
# - **model** selects the model the filters, the sort and the rule act on; its row is highlighted.
#   Models are named as the result tables name their rows. A model trained with several seeds
#   (files `<model>@seed<k>`, which the tables average) gets a **seed** menu: the profile's seed
#   first, then the extra ones.
# - **own rule / threshold t / top-k** re-annotate the selected model from its scores: its own rule
#   (top-3, top-$\hat m$, or threshold 0.5), every label above $t$, or the $k$ best. Moving the
#   slider or the $k$ box switches to that rule; the image stays, its labels change.
# - **label** (in the truth or in the selected model's labels) and **outcome** (all correct, has
#   missed labels, has extra labels, label count wrong) narrow the list; **sort** by the selected
#   model's per-image F1 puts the worst (or best) cases first.
# - **models shown** chooses which rows are shown (ctrl-click for several).
#
# Images without any true label come first when sorted worst first: with nothing to recall, their F1
# is 0 by the convention of `annokit.evaluation.metrics`. A label filter skips them.
#
# Things to try: select *MS-CNN+Tags* and sort worst first: what do its worst images have in common?
# Then select the full M3 model (*MS-CNN+Tags+LQP*) with the outcome *label count wrong*: is
# $\hat m$ too high or too low? Lower $t$ for the *CNN* and watch extra labels appear before the
# missed ones disappear.

# %%
if interactive:
    viewer = AnnotationViewer(browser)
    display(viewer)
else:
    print("batch run: no widget (interactive = False); see the static gallery below")

# %% [markdown]
# ## A gallery to share
#
# The same panels, for a fixed sample of test images (seeded, so a re-run shows the same ones), with
# every model at its own rule, written to one HTML file with the images embedded. It opens in any
# web browser without Python, so results can be sent to someone without a kernel.

# %%
gallery = write_gallery(
    Browser(browser.data),
    run.results / "figures" / "annotation_gallery.html",
    size=gallery_size,
    seed=seed,
)
print(f"{gallery} ({gallery.stat().st_size / 1e6:.1f} MB)")
if not interactive:  # the executed notebook shows the first panels of the gallery
    sample = sample_positions(len(browser.data), gallery_size, seed)[:3]
    display(HTML(legend_html() + "<hr>".join(panel_html(browser.panel(p)) for p in sample)))
