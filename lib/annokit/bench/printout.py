"""The benchmark's printed tables: the five image rates and the vector models' rates with their
settings, the rates of each compile mode, and the hours projected per paper profile, notebook by
notebook."""

from __future__ import annotations

from annokit.bench.compile_rates import COMPILE_RATE_NAMES
from annokit.bench.hardware import name
from annokit.bench.vector_rates import VECTOR_RATE_NAMES

RATE_NAMES = {
    "jpeg_loader": "(1) JPEG loader: decode + resize + normalise",
    "cached_loader": "(2) cached loader: uint8 memory map + normalise",
    "cnn_train_step": "(3) CNN training step",
    "mscnn_train_step": "(4) MS-CNN branch training step (backbone frozen)",
    "inference": "(5) inference: MS-CNN features + scores",
}


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join(
        [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    )


def rates_table(result: dict) -> str:
    """Images/s of each of the five measurements, with the batch and the timed images."""
    batches = result["settings"]["batch_sizes"]
    rows = [
        [
            RATE_NAMES[key],
            f"{rate['images_per_s']:,.1f}",
            batches[key],
            rate["images"],
            f"{rate['seconds']:.1f}",
        ]
        for key, rate in result["rates"].items()
    ]
    return _table(["measurement", "images/s", "batch", "images timed", "seconds"], rows)


def vector_rates_table(result: dict) -> str:
    """Vectors/s of each model on cached vectors, with its batch and timed steps."""
    batches = result["settings"]["vector_batch_sizes"]
    rows = [
        [
            VECTOR_RATE_NAMES[key],
            f"{rate['images_per_s']:,.0f}",
            batches[key],
            rate["steps"],
            f"{rate['seconds']:.1f}",
        ]
        for key, rate in result["vector_rates"].items()
    ]
    return _table(["model on cached vectors", "vectors/s", "batch", "steps", "seconds"], rows)


def compile_table(result: dict) -> str:
    """Per torch.compile mode: the image and decoder-stack rates and the seconds the mode took,
    compiling included; a failed mode with its reason."""
    rows = []
    for mode, record in result["compile_modes"].items():
        if record["status"] != "measured":
            rows.append([mode, *["-"] * len(COMPILE_RATE_NAMES), f"failed: {record['reason']}"])
            continue
        rates = [f"{record['rates'][key]['images_per_s']:,.1f}" for key in COMPILE_RATE_NAMES]
        reused = " + rates (3)-(5) above" if record["reused_image_rates"] else ""
        rows.append([mode, *rates, f"{record['seconds']:.0f} s{reused}"])
    stack = result["settings"]["decoder_stack"]
    header = ["compile mode", *COMPILE_RATE_NAMES.values(), "seconds, compiling included"]
    return (
        f"{_table(header, rows)}\ndecoder stack: {stack['model']} Multi-order RNN, "
        f"{stack['seeds']} seeds, batch {stack['batch']} (notebook 05)"
    )


def notebook_table(result: dict) -> str:
    """Hours of each notebook (rows) per paper profile (columns), and the chain's total."""
    projection = result["projection"]
    notebooks = next(iter(projection.values()))["notebooks"]
    rows = [
        [stem, *(f"{p['notebooks'][stem]['hours']:,.2f}" for p in projection.values())]
        for stem in notebooks
    ]
    rows.append(["total", *(f"{p['hours']:,.2f}" for p in projection.values())])
    grids = "; ".join(
        f"{profile} {p['partial_grid']['fits']} + {p['partial_grid']['curriculum_fits']}"
        for profile, p in projection.items()
    )
    table = _table(["notebook (hours)", *projection], rows)
    return f"{table}\nnotebook 06 fine-tunings, grid + curriculum: {grids}"


def projection_table(result: dict) -> str:
    """Hours per paper profile, with its split and which stage takes longest."""
    rows = []
    for profile, p in result["projection"].items():
        longest = max(p["stages"], key=lambda s: p["stages"][s]["hours"])
        rows.append(
            [
                profile,
                f"{p['split']['train']:,} / {p['split']['test']:,}",
                "on" if p["cache"] else "off",
                f"{p['hours']:,.2f}",
                f"{p['wall_hours']['8']['total']:,.2f}",
                f"{longest} ({p['stages'][longest]['hours']:,.2f} h)",
            ]
        )
    head = [
        "profile",
        "train / test images",
        "cache",
        "chain hours",
        "wall h, 8 GPUs",
        "longest stage",
    ]
    return _table(head, rows)


def render(result: dict) -> str:
    """Everything the command prints: hardware, settings, rates, ratio, projection."""
    settings = result["settings"]
    precision = ", ".join(
        f"{k} {v}"
        for k, v in {
            **settings["precision"],
            "deterministic": settings["deterministic_algorithms"],
        }.items()
    )
    return "\n\n".join(
        [
            f"annokit.bench on {name(result['hardware'])}, torch {result['hardware']['torch']}",
            f"{settings['backbone']} at {settings['image_size']}×{settings['image_size']}, device "
            f"{settings['device']}, {settings['workers']} loader workers, {settings['images']} "
            f"{settings['source']}\nprecision: {precision}",
            rates_table(result),
            f"cached / JPEG loader: {result['cached_to_jpeg_ratio']:.1f}×  "
            f"(cache build: {result['cache']['build_images_per_s']:,.1f} images/s, "
            f"{result['cache']['bytes_per_image']:,} bytes per image)",
            vector_rates_table(result),
            compile_table(result),
            projection_table(result),
            notebook_table(result),
            f"not timed, counted as 0 h: {result['not_projected']}\n"
            f"wall time {result['wall_seconds']:.0f} s",
        ]
    )
