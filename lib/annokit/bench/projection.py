"""Hours of each paper profile's chain, notebook by notebook, projected from measured rates.

Per profile: every stage of ``chain.chain`` (notebooks 00 to 10) takes its images (or cached
vectors) over its measured rate. An image stage runs no faster than the loader that feeds it
(the cache's when ``[cache]`` is on, the JPEG path's otherwise); a stage on cached vectors runs at
its own model's measured step rate (``vector_rates``); untimed work counts 0 h and is listed.
Split sizes are the papers' counts recorded in ``data_manifests/<manifest>.json``
(``paper_counts``): M3 Sec. IV-A1 for the M3 splits, Dutta et al. Sec. 4.1 for the Multi-order
RNN splits.
"""

from __future__ import annotations

from annokit.bench.chain import NEGLIGIBLE, NOTEBOOKS, Work, chain, partial_grid
from annokit.bench.gpu_wall import WALL_GPUS, chain_wall
from annokit.data.manifest_file import load_manifest
from annokit.profile import Profile, load_profile

PAPER_PROFILES = ("nuswide-m3", "nuswide-multi-order", "coco-m3", "coco-multi-order")
IMAGE_RATES = ("cnn_train_step", "mscnn_train_step", "inference")
NOT_PROJECTED = "data prep bookkeeping, the neighbour methods' kNN searches, tables, viewer"


def split_sizes(profile: Profile) -> dict[str, int]:
    """Train and test images of the profile's split as the paper reports them
    (the manifest's ``paper_counts``)."""
    counts = load_manifest(profile.manifest).paper_counts
    return {"train": int(counts["train"]), "test": int(counts["test"])}


def stage_rate(work: Work, rates: dict[str, float], loader: float) -> tuple[str, float]:
    """(what bounds the stage, its images/s): its rate, or the loader's when that is slower."""
    if work.rate == NEGLIGIBLE:
        return "not timed", float("inf")
    rate = rates[work.rate]
    if work.rate in IMAGE_RATES and loader < rate:
        return "loader", loader
    return work.rate, rate


def project_profile(name: str, rates: dict[str, float]) -> dict:
    """Hours of one profile's chain at ``rates`` (images or vectors/s by name: the benchmark's
    image rates and vector rates)."""
    profile = load_profile(name)
    sizes = split_sizes(profile)
    loader = rates["cached_loader" if profile.cache.enabled else "jpeg_loader"]
    stages: dict[str, dict] = {}
    notebooks: dict[str, dict] = {stem: {"hours": 0.0, "stages": []} for stem in NOTEBOOKS}
    timed = []
    for work in chain(profile, sizes["train"], sizes["test"]):
        bound_by, rate = stage_rate(work, rates, loader)
        hours = work.images / rate / 3600 if work.images else 0.0
        timed.append((work, hours))
        stages[work.stage] = {
            "notebook": work.notebook,
            "images": work.images,
            "fits": work.fits,
            "bound_by": bound_by,
            "images_per_s": rate if rate != float("inf") else None,
            "hours": hours,
            "note": work.note,
        }
        notebooks[work.notebook]["hours"] += hours
        notebooks[work.notebook]["stages"].append(work.stage)
    return {
        "split": sizes,
        "split_source": f"data_manifests/{profile.manifest}.json paper_counts",
        "cache": profile.cache.enabled,
        "epochs": {"cnn": profile.cnn.epochs, "mscnn": profile.mscnn.epochs},
        "partial_grid": partial_grid(profile),
        "notebooks": notebooks,
        "stages": stages,
        "hours": sum(s["hours"] for s in stages.values()),
        # on G cards of one machine: fits fanned out, image stages under torchrun (gpu_wall)
        "wall_hours": {str(g): chain_wall(timed, g) for g in WALL_GPUS},
        "not_projected": NOT_PROJECTED,
    }


def project(rates: dict[str, float], profiles: tuple[str, ...] = PAPER_PROFILES) -> dict[str, dict]:
    """``project_profile`` for every paper profile."""
    return {name: project_profile(name, rates) for name in profiles}
