"""HTML of the viewer: one image's panel, a grid of cards, the legend and the standalone gallery.

Colours follow the papers' figures, with a symbol beside each so they survive greyscale
and colour blindness: green ✓ a predicted label in the ground truth (M3 Fig. 6), red + an
extra one, a false positive (Dutta et al. Fig. 4), blue − a missed one, a false negative.
Styles are inline, so the same HTML works in an ipywidgets ``HTML`` view, in a notebook
output and in a file opened without a kernel.
"""

from __future__ import annotations

import base64
import html
import io
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

import annokit
from annokit.viewer.browse import CORRECT, EXTRA, MISSED, Browser, ImagePanel, ModelRow, StepLabel

# outcome: (text and border colour, background, symbol, meaning)
OUTCOME_STYLE = {
    CORRECT: ("#1b7837", "#d9f0d3", "✓", "correct: predicted and in the ground truth"),
    EXTRA: (
        "#b2182b",
        "#fddbc7",
        "+",
        "extra: predicted but not in the ground truth (false positive)",
    ),
    MISSED: (
        "#2166ac",
        "#ffffff",
        "−",
        "missed: in the ground truth but not predicted (false negative)",
    ),
}
TRUTH_STYLE = ("#222222", "#e8e8e8")
TAG_STYLE = ("#555555", "#f6f6f6")
# Set in full on every root element: inside a widget the page's own styles (line
# height, no wrapping) would leak in.
FONT = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;color:#222;"
    "line-height:1.45;white-space:normal"
)
NONE = '<small style="color:#999">none</small>'
IMAGE_SIDE = 256  # displayed size of the panel's image in CSS pixels; grid cards use half
ENCODED_SIDE = 384  # larger images are shrunk to this before they are embedded


def _chip(
    text: str,
    fg: str,
    bg: str,
    kind: str,
    title: str = "",
    dashed: bool = False,
    extra_style: str = "",
) -> str:
    border = "dashed" if dashed else "solid"
    return (
        f'<span class="ak-chip ak-{kind}" title="{html.escape(title)}" style="display:inline-block;'
        f"margin:1px 2px;padding:0 6px;border-radius:9px;border:1px {border} {fg};"
        f"color:{fg};background:{bg};"
        f'font-size:12px;line-height:18px;white-space:nowrap;{extra_style}">{text}</span>'
    )


def label_chip(label: str, outcome: str, score: float | None = None) -> str:
    """A predicted or missed label in its outcome's colour, with its score."""
    fg, bg, symbol, meaning = OUTCOME_STYLE[outcome]
    score_text = f" <small>{score:.2f}</small>" if score is not None else ""
    return _chip(
        f"{symbol} {html.escape(label)}{score_text}",
        fg,
        bg,
        outcome,
        meaning,
        dashed=outcome == MISSED,
    )


def legend_html() -> str:
    """What the colours and marks mean."""
    chips = [
        label_chip(meaning.split(":")[0], outcome) + f" {html.escape(meaning.split(': ')[1])}"
        for outcome, (_, _, _, meaning) in OUTCOME_STYLE.items()
    ]
    chips.append(_chip("truth", *TRUTH_STYLE, "truth") + " ground-truth label")
    chips.append(_chip("tag", *TAG_STYLE, "tag") + " noisy user tag")
    steps = (
        "decoder steps: top five labels with their probability; <b><u>label</u></b> picked at the "
        "step, * the step whose value max-pooling keeps, green a true label"
    )
    items = "".join(f'<span style="margin-right:14px">{c}</span>' for c in chips)
    return (
        f'<div class="ak-legend" style="{FONT};margin:4px 0 8px 0">{items}'
        f"<br><small>{steps}</small></div>"
    )


@lru_cache(maxsize=512)
def image_data_uri(path: str, max_side: int = ENCODED_SIDE) -> str | None:
    """The image as a ``data:`` URI (JPEG, at most ``max_side``
    pixels a side); None when unreadable.

    Only images that are shown are decoded; a cache keeps paging back and forth instant.
    """
    try:
        with Image.open(path) as image:
            # JPEG: decode at reduced size, much faster for big photos
            image.draft("RGB", (max_side, max_side))
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=88)
    except (OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_html(path: Path, side: int = IMAGE_SIDE) -> str:
    uri = image_data_uri(str(path))
    box = f"width:{side}px;height:{side}px"
    if uri is None:
        return (
            f'<div class="ak-missing-image" style="{box};display:flex;align-items:center;'
            f'justify-content:center;background:#f3f3f3;color:#999;text-align:center">'
            f"image not found<br><small>{html.escape(str(path))}</small></div>"
        )
    # Small images (the 64-pixel demo) are enlarged with visible pixels rather than blurred.
    return (
        f'<img class="ak-image" src="{uri}" alt="{html.escape(Path(path).name)}" '
        f'style="{box};object-fit:contain;image-rendering:pixelated;background:#f3f3f3;'
        'border-radius:4px">'
    )


def _quantity_html(row: ModelRow) -> str:
    if row.quantity is None:
        return ""
    m_hat, raw = row.quantity
    right = m_hat == row.true_count
    fg = OUTCOME_STYLE[CORRECT if right else EXTRA][0]
    return (
        f'<span class="ak-count ak-count-{"right" if right else "wrong"}" '
        f'style="color:{fg};white-space:nowrap" '
        f'title="label quantity prediction: m̂ = the regressor output rounded (M3 Algorithm 2)">'
        f"count m̂ = {m_hat} <small>(raw {raw:.2f})</small> · true {row.true_count}</span>"
    )


def _model_row_html(row: ModelRow) -> str:
    style = "background:#fff8dc;" if row.selected else ""
    name = f"<b>{html.escape(row.name)}</b>" + (" ◀ selected" if row.selected else "")
    head = (
        f'<td style="padding:3px 8px;vertical-align:top;width:170px">{name}<br>'
        f'<small style="color:#666">{html.escape(row.rule)}</small></td>'
    )
    if not row.covered:
        body = '<td colspan="2" style="color:#999">no prediction for this image</td>'
    else:
        chips = "".join(label_chip(m.label, m.outcome, m.score) for m in row.marks) or NONE
        numbers = f"P {row.precision:.2f} · R {row.recall:.2f} · F1 {row.f1:.2f}"
        quantity = f"<br>{_quantity_html(row)}" if row.quantity is not None else ""
        body = (
            f'<td style="padding:3px 8px;vertical-align:top">{chips}</td>'
            '<td style="padding:3px 8px;vertical-align:top;white-space:nowrap;color:#444;width:1%">'
            f"{numbers}{quantity}</td>"
        )
    return (
        f'<tr class="ak-model" data-model="{html.escape(row.model)}" '
        f'style="{style}border-top:1px solid #eee">{head}{body}</tr>'
    )


def _step_chip(label: StepLabel) -> str:
    fg = OUTCOME_STYLE[CORRECT][0] if label.true else "#666666"
    weight = "font-weight:bold;text-decoration:underline;" if label.picked else ""
    star = "*" if label.pooled else ""
    return _chip(
        f"{html.escape(label.label)}{star} <small>{label.probability:.2f}</small>",
        fg,
        "#ffffff",
        "step-true" if label.true else "step-other",
        extra_style=weight,
    )


def steps_html(row: ModelRow, open_: bool = True) -> str:
    """The top labels at every decoder step, one line per step (Dutta et al. Fig. 3)."""
    if not row.steps:
        return ""
    lines = "".join(
        f'<tr><td style="padding:1px 8px;color:#666">t={t}</td>'
        f"<td>{''.join(_step_chip(s) for s in step)}</td></tr>"
        for t, step in enumerate(row.steps, start=1)
    )
    return (
        f'<details class="ak-steps" data-model="{html.escape(row.model)}"'
        f'{" open" if open_ else ""} style="margin-top:6px">'
        f"<summary><b>{html.escape(row.name)}</b>: top labels at each time step</summary>"
        f"<table>{lines}</table></details>"
    )


def panel_html(panel: ImagePanel | None) -> str:
    """One test image: the picture, its truth and tags, every shown
    model's labels, the decoder steps."""
    if panel is None:
        return (
            f'<div class="ak-empty" style="{FONT};padding:20px;color:#666">'
            "No test image matches the filter.</div>"
        )
    where = (
        f"<b>image {panel.place + 1:,} of {panel.listed:,}</b> · "
        if panel.place is not None
        else ""
    )
    header = (
        f'<div class="ak-header" style="margin-bottom:6px">{where}'
        f"<b>test image {panel.position:,}</b> · <code>{html.escape(panel.image_id)}</code></div>"
    )
    truth = "".join(_chip(html.escape(t), *TRUTH_STYLE, "truth") for t in panel.truth) or NONE
    tags = "".join(_chip(html.escape(t), *TAG_STYLE, "tag") for t in panel.tags) or NONE
    rows = "".join(_model_row_html(r) for r in panel.rows)
    steps = "".join(
        steps_html(r, open_=r.selected or r.model == "multi_order_rnn")
        for r in panel.rows
        if r.covered
    )
    return (
        f'<div class="ak-panel" data-position="{panel.position}" style="{FONT}">{header}'
        f'<div style="display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap">'
        f'<div style="flex:0 0 auto">{image_html(panel.image_path)}</div>'
        f'<div style="flex:1 1 480px;min-width:320px">'
        '<div class="ak-ground-truth" style="margin-bottom:4px">'
        f"<b>Ground truth</b> ({len(panel.truth)}): {truth}</div>"
        '<div class="ak-noisy-tags" style="margin-bottom:6px">'
        f"<b>Noisy tags</b> ({len(panel.tags)}): {tags}</div>"
        f'<table class="ak-models" style="border-collapse:collapse;width:100%">{rows}</table>'
        f"{steps}</div></div></div>"
    )


def card_html(panel: ImagePanel) -> str:
    """A grid card: the image, its truth and the selected model's labels only."""
    row = next((r for r in panel.rows if r.selected), None)
    chips = (
        "".join(label_chip(m.label, m.outcome) for m in row.marks) if row and row.covered else ""
    )
    truth = ", ".join(html.escape(t) for t in panel.truth) or "none"
    place = f"#{panel.place + 1:,}" if panel.place is not None else ""
    score = f" · F1 {row.f1:.2f}" if row and row.covered else ""
    return (
        f'<div class="ak-card" data-position="{panel.position}" '
        f'style="width:{IMAGE_SIDE // 2 + 80}px;padding:4px;'
        f'border:1px solid #ddd;border-radius:6px">{image_html(panel.image_path, IMAGE_SIDE // 2)}'
        f"<div><small><b>{place}</b> {html.escape(panel.image_id)}{score}</small></div>"
        f"<div><small>truth: {truth}</small></div><div>{chips}</div></div>"
    )


def grid_html(panels: list[ImagePanel]) -> str:
    if not panels:
        return panel_html(None)
    cards = "".join(card_html(p) for p in panels)
    return f'<div class="ak-grid" style="{FONT};display:flex;flex-wrap:wrap;gap:8px">{cards}</div>'


def sample_positions(total: int, size: int, seed: int = 0) -> np.ndarray:
    """A fixed, seeded sample of ``size`` test images (positions, in test order)."""
    return np.sort(np.random.default_rng(seed).choice(total, size=min(size, total), replace=False))


def _rule_of(browser: Browser, model: str) -> str:
    """How a model's labels are chosen: the viewer's current rule for the selected model, else
    the model's own."""
    row = browser.data.models[model]
    return browser.rule.describe(row) if model == browser.model else row.rule


def gallery_html(browser: Browser, positions: np.ndarray, seed: int | None = None) -> str:
    """A standalone HTML page of image panels (images embedded), for
    sharing results without a kernel."""
    data = browser.data
    models = "".join(
        f"<li><b>{html.escape(data.models[m].name)}</b> (<code>{html.escape(m)}</code>): "
        f"{html.escape(_rule_of(browser, m))}</li>"
        for m in browser.shown
    )
    sample = f", a sample drawn with seed {seed}" if seed is not None else ""
    panels = '\n<hr style="border:none;border-top:1px solid #ccc;margin:14px 0">\n'.join(
        panel_html(replace(browser.panel(int(p)), place=None)) for p in positions
    )
    title = f"annokit annotation gallery · {data.profile}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f'<body style="{FONT};max-width:1200px;margin:16px auto;padding:0 12px">'
        f'<h1 style="font-size:20px">{html.escape(title)}</h1>'
        f"<p>{len(positions):,} of the {len(data):,} test images of profile "
        f"<code>{html.escape(data.profile)}</code>{sample}; made {time.strftime('%Y-%m-%d %H:%M')} "
        f"by annokit {annokit.__version__} (notebook 10).</p>"
        f"<p>Models and their decision rules:</p><ul>{models}</ul>"
        f"{legend_html()}\n{panels}\n</body></html>\n"
    )


def write_gallery(browser: Browser, path: Path, size: int = 24, seed: int = 0) -> Path:
    """Write the gallery of a seeded sample of test images to ``path`` (folder created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        gallery_html(browser, sample_positions(len(browser.data), size, seed), seed),
        encoding="utf-8",
    )
    return path
