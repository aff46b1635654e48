"""``annokit annotate``: annotate new images with a finished run's model, as its notebook
annotates the test split.

Writes ``annotations.csv``, ``annotations.json`` and the gallery ``annotations.html`` into
``--out``; images that cannot be decoded are listed in one line and the others annotated.
"""

from __future__ import annotations

import argparse
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path

EPILOG = """examples:
  annokit annotate --profile demo --model cnn photos/ --out annotations
  annokit annotate --profile demo --model mscnn-lqp a.jpg b.png --out annotations
  annokit annotate --profile demo --model m3 --csv new.csv --out annotations   (CSV: image,tags)
  annokit annotate --profile demo --model wang-cnn-rnn photos/ --out annotations
"""


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    from annokit.annotate.model_menu import MODELS
    from annokit.cli import add_debug_flag

    out = argparse.ArgumentParser(
        prog="annokit annotate",
        description="Annotate new images with a finished run's model, as its notebook annotates "
        "the test split; write annotations.csv, annotations.json and annotations.html.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    out.add_argument("images", nargs="*", help="image files, or folders of images")
    out.add_argument("--profile", default="demo", help="the run's profile (default: demo)")
    out.add_argument("--work-dir", default="", help="the work folder (default: .work)")
    out.add_argument("--model", default="cnn", help=f"one of {', '.join(MODELS)} (default: cnn)")
    out.add_argument("--csv", type=Path, help="a CSV with a column image and optional tags")
    out.add_argument("--files-from", type=Path, help="a text file of image paths, one per line")
    out.add_argument(
        "--labels", type=Path, help="the label vocabulary you expect (one per line, or JSON)"
    )
    out.add_argument("--out", type=Path, default=Path("annotations"), help="the output folder")
    out.add_argument("--device", default="auto", help="auto (CUDA when there is a GPU), cpu, cuda")
    out.add_argument("--batch-size", type=int, default=32, help="images per batch (default: 32)")
    out.add_argument("--gallery-size", type=int, default=200, help="images in the HTML gallery")
    out.add_argument("--open", action="store_true", help="open the gallery in a web browser")
    add_debug_flag(out)
    return out


def read_vocabulary(path: Path) -> list[str]:
    """Labels from a text file (one per line) or JSON (a list, or ``{"labels": [...]}`` as in a
    run's ``index/vocab.json``)."""
    import json

    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        labels = data.get("labels") if isinstance(data, dict) else data
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ValueError(
                f"{path} holds no list of label names: give a JSON list, or an object with "
                '"labels" (as index/vocab.json)'
            )
        return labels
    return [line.strip() for line in text.splitlines() if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Annotate the images and print where the files are."""
    from annokit.annotate.model_menu import model_choice

    args = parser().parse_args(argv)
    if args.batch_size < 1 or args.gallery_size < 0:
        raise ValueError("--batch-size must be at least 1 and --gallery-size at least 0")
    choice = model_choice(args.model)  # before torch loads: a wrong name answers at once
    from annokit.annotate.annotation_files import write_annotation_files
    from annokit.annotate.annotation_gallery import write_annotation_gallery
    from annokit.annotate.finished_models import check_vocabulary, open_finished_run
    from annokit.annotate.new_annotations import Annotator, annotate_images
    from annokit.annotate.new_images import collect_images, left_out_line, read_file_list
    from annokit.training.fit import resolve_device

    run = open_finished_run(args.profile, args.work_dir)
    if args.labels is not None:
        check_vocabulary(run, read_vocabulary(args.labels), args.labels)
    if choice.needs_tags and not run.index.tag_names:
        raise ValueError(
            f"model {choice.name!r} (M3) reads noisy tags, and the dataset of profile "
            f"{run.profile.name!r} has none, so notebook 03 trained no tags MLP: annotate with "
            "--model mscnn-lqp (top-m̂ on the image alone) or --model mscnn"
        )
    paths = list(args.images) + (read_file_list(args.files_from) if args.files_from else [])
    images = collect_images(paths, args.csv)
    if choice.needs_tags and any(image.tags is None for image in images):
        untagged = sum(image.tags is None for image in images)
        raise ValueError(
            f"model {choice.name!r} (M3) needs each image's tags, and {untagged} of "
            f"{len(images)} images come without: give --csv FILE with columns image and tags "
            "(space-separated), or annotate from the image alone with --model mscnn-lqp (top-m̂) "
            "or --model mscnn"
        )
    annotator = Annotator(run, choice, resolve_device(args.device))  # refuses unfinished stages
    annotations = annotate_images(annotator, images, args.batch_size)
    if annotations.left_out:
        print(
            f"annokit annotate: {left_out_line(annotations.left_out, len(images))}", file=sys.stderr
        )
    table, record = write_annotation_files(annotations, args.out)
    gallery = write_annotation_gallery(annotations, args.out, args.gallery_size)
    print(
        f"{len(annotations.images)} images annotated by {choice.name} of profile "
        f"{run.profile.name} ({annotations.rule}): {table}, {record}"
    )
    if annotations.unknown_tags:
        print(f"{annotations.unknown_tags} tags are not in the run's tag vocabulary: ignored")
    print(f"gallery: {gallery.resolve().as_uri()}")
    if args.open:
        webbrowser.open(gallery.resolve().as_uri())
    return 0


if __name__ == "__main__":
    from annokit.cli import run_cli

    run_cli(main, prog="annokit annotate")
