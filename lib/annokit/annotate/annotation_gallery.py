"""``annotations.html``: the new images with what the model gives them, one self-contained file.

Built from the viewer's pieces (``viewer.html``: the embedded image, the tag chips, the decoder
steps of Dutta et al. Fig. 3). There is no ground truth here, so no colour says right or wrong:
each label given is shown with its score, then the next best labels it was not given.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np

import annokit
from annokit.annotate.annotation_files import write_shared_text
from annokit.annotate.new_annotations import Annotations
from annokit.evaluation.decision import predicted_quantity
from annokit.viewer.browse import TOP_PER_STEP, ModelRow, StepLabel
from annokit.viewer.html import FONT, NONE, TAG_STYLE, image_html, steps_html

GALLERY_NAME = "annotations.html"
GIVEN_STYLE = ("#1b4f72", "#d6eaf8")  # a label the model gives: no right or wrong without truth
NEXT_STYLE = ("#777777", "#ffffff")  # a high-scoring label it does not give
NEXT_SHOWN = 5


def chip(text: str, style: tuple[str, str], kind: str, dashed: bool = False) -> str:
    """A label or tag as the viewer draws it, in a colour that says nothing about truth."""
    fg, bg = style
    border = "dashed" if dashed else "solid"
    return (
        f'<span class="ak-chip ak-{kind}" style="display:inline-block;margin:1px 2px;'
        f"padding:0 6px;border-radius:9px;border:1px {border} {fg};color:{fg};background:{bg};"
        f'font-size:12px;line-height:18px;white-space:nowrap">{text}</span>'
    )


def _label_chip(name: str, score: float, given: bool) -> str:
    text = f"{html.escape(name)} <small>{score:.2f}</small>"
    return chip(text, GIVEN_STYLE if given else NEXT_STYLE, "given" if given else "next", not given)


def _steps(annotations: Annotations, i: int) -> str:
    """The decoder's top labels at each step, through the viewer's ``steps_html``."""
    if annotations.step_scores is None:
        return ""
    steps = np.asarray(annotations.step_scores[i], dtype=np.float64)
    pooled, picks, names = steps.max(axis=0), annotations.sequences[i], annotations.label_names
    table = tuple(
        tuple(
            StepLabel(names[c], float(p[c]), False, c == int(picks[t]), bool(p[c] == pooled[c]))
            for c in np.argsort(-p, kind="stable")[:TOP_PER_STEP]
        )
        for t, p in enumerate(steps)
    )
    row = ModelRow(annotations.model, annotations.model, annotations.rule, True, True, steps=table)
    return steps_html(row)


def panel(annotations: Annotations, i: int) -> str:
    """One image: the picture, its tags if given, the labels with scores, m̂, the steps."""
    image, names, scores = annotations.images[i], annotations.label_names, annotations.scores[i]
    given = annotations.labels_of(i)
    chips = "".join(_label_chip(names[c], scores[c], True) for c in given) or NONE
    others = [int(c) for c in np.argsort(-scores, kind="stable") if c not in given][:NEXT_SHOWN]
    nexts = "".join(_label_chip(names[c], scores[c], False) for c in others) or NONE
    lines = [f"<b>Labels</b> ({len(given)}): {chips}", f"<small>next best:</small> {nexts}"]
    if image.tags is not None:
        tags = "".join(chip(html.escape(t), TAG_STYLE, "tag") for t in image.tags) or NONE
        lines.insert(0, f"<b>Tags</b> ({len(image.tags)}): {tags}")
    if annotations.counts is not None:
        raw = float(annotations.counts[i])
        m_hat = int(predicted_quantity(np.array([raw]), len(names))[0])
        lines.append(f"label quantity m̂ = {m_hat} <small>(LQP output {raw:.2f})</small>")
    body = "".join(f'<div style="margin-bottom:4px">{line}</div>' for line in lines)
    return (
        f'<div class="ak-panel" style="{FONT}"><div style="margin-bottom:6px"><b>{i + 1}</b> · '
        f"<code>{html.escape(image.name)}</code></div>"
        '<div style="display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap">'
        f'<div style="flex:0 0 auto">{image_html(image.path)}</div>'
        f'<div style="flex:1 1 420px;min-width:300px">{body}{_steps(annotations, i)}</div>'
        "</div></div>"
    )


def gallery_page(annotations: Annotations, limit: int) -> str:
    """The page: what made it, the rule, the images left out, then one panel per image."""
    shown = min(limit, len(annotations.images))
    title = f"annokit annotations · {annotations.model} · {annotations.profile}"
    left = "".join(
        f"<li><code>{html.escape(item.name)}</code>: {html.escape(item.reason)}</li>"
        for item in annotations.left_out
    )
    left_html = f"<p>Left out (could not be decoded):</p><ul>{left}</ul>" if left else ""
    rule = html.escape(f"{annotations.rule} (as in the run's {annotations.prediction_file} file)")
    panels = '\n<hr style="border:none;border-top:1px solid #ccc;margin:14px 0">\n'.join(
        panel(annotations, i) for i in range(shown)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f'<body style="{FONT};max-width:1200px;margin:16px auto;padding:0 12px">'
        f'<h1 style="font-size:20px">{html.escape(title)}</h1>'
        f"<p>{shown:,} of {len(annotations.images):,} new images annotated by model "
        f"<code>{html.escape(annotations.model)}</code> of profile "
        f"<code>{html.escape(annotations.profile)}</code>; rule: {rule}; made "
        f"{time.strftime('%Y-%m-%d %H:%M')} by annokit {annokit.__version__}. No ground truth: "
        "each label with its score, then the next best labels, dashed.</p>"
        f"{left_html}\n{panels}\n</body></html>\n"
    )


def write_annotation_gallery(annotations: Annotations, folder: Path, limit: int = 200) -> Path:
    """Write ``annotations.html`` (the first ``limit`` images) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return write_shared_text(gallery_page(annotations, limit), folder / GALLERY_NAME)
