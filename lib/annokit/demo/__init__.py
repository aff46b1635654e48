"""The synthetic demo dataset generator: plan from a seed, render, write
the COCO 2014, NUS-WIDE and PASCAL VOC 2007 layouts."""

# ``generate_demo(root, config)`` writes ``root/coco`` (MS-COCO 2014 layout), ``root/nuswide``
# (NUS-WIDE layout) and ``root/voc2007`` (VOC 2007 layout, derived from ``coco`` without a
# random draw: annokit.demo.voc_layout) holding the same images and labels, plus what the
# generator intended (``root/demo_truth.npz`` + ``.json``) so readers can be checked against it.
# ``python -m annokit.demo --root DIR`` does the same from the command line.

from annokit.demo.command import main
from annokit.demo.drawing import Instance
from annokit.demo.generate import generate_demo, is_complete, summary
from annokit.demo.plan import plan_demo
from annokit.demo.render import render_demo, render_image
from annokit.demo.truth import DemoConfig, DemoTruth, load_demo_truth, save_demo_truth
from annokit.demo.vocabulary import CONCEPTS, LABEL_NAMES, SCENES, TAG_NAMES, Concept, Scene

__all__ = [
    "CONCEPTS",
    "LABEL_NAMES",
    "SCENES",
    "TAG_NAMES",
    "Concept",
    "DemoConfig",
    "DemoTruth",
    "Instance",
    "Scene",
    "generate_demo",
    "is_complete",
    "load_demo_truth",
    "main",
    "plan_demo",
    "render_demo",
    "render_image",
    "save_demo_truth",
    "summary",
]
