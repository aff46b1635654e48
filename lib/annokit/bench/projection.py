"""Hours of each paper profile's image stages, projected from measured rates.

Per profile: images × epochs of each image stage over its rate, where a stage runs no faster than
the loader that feeds it (the cache's when ``[cache]`` is on, the JPEG path's otherwise), plus
the cache build and the inference passes (validation curves, feature extraction of both splits).
Split sizes are the papers' counts recorded in ``data_manifests/<manifest>.json``
(``paper_counts``): M3 Sec. IV-A1 for the M3 splits, Dutta et al. Sec. 4.1 for the Multi-order
RNN splits. Stages on cached vectors (tags MLP, classifier and LQP heads, Multi-order RNN and
CNN-RNN baselines, partial labels) are not projected.
"""

from __future__ import annotations

from annokit.data.manifest_file import load_manifest
from annokit.profile import Profile, load_profile

PAPER_PROFILES = ("nuswide-m3", "nuswide-multi-order", "coco-m3", "coco-multi-order")
NOT_PROJECTED = (
    "stages on cached vectors: tags MLP, classifier and LQP heads, Multi-order RNN and CNN-RNN "
    "baselines, partial labels"
)


def split_sizes(profile: Profile) -> dict[str, int]:
    """Train and test images of the profile's split as the paper reports them
    (the manifest's ``paper_counts``)."""
    counts = load_manifest(profile.manifest).paper_counts
    return {"train": int(counts["train"]), "test": int(counts["test"])}


def monitored_epochs(epochs: int, every: int) -> int:
    """Epochs after which the training curve is scored (``[evaluation] every``; 0: never)."""
    return epochs // every if every else 0


def stage_images(profile: Profile, sizes: dict[str, int]) -> dict[str, tuple[int, str]]:
    """Images each image stage processes, and which rate it runs at: ``(images, rate name)``."""
    evaluation = profile.evaluation
    validation = round(evaluation.validation_fraction * sizes["train"])
    fit, curve, every_image = (
        sizes["train"] - validation,
        min(validation, evaluation.limit),
        sizes["train"] + sizes["test"],
    )
    stages: dict[str, tuple[int, str]] = {}
    if profile.cache.enabled:
        stages["cache build"] = (every_image, "jpeg_loader")
    for stage, step in (("cnn", "cnn_train_step"), ("mscnn", "mscnn_train_step")):
        epochs = profile.stage(stage).epochs
        stages[f"{stage} training"] = (fit * epochs, step)
        stages[f"{stage} validation curve"] = (
            curve * monitored_epochs(epochs, evaluation.every),
            "inference",
        )
        stages[f"{stage} features"] = (every_image, "inference")
    return stages


def project_profile(name: str, rates: dict[str, float]) -> dict:
    """Hours of one profile's image stages at ``rates`` (images/s by
    name, the five benchmark rates)."""
    profile = load_profile(name)
    sizes = split_sizes(profile)
    loader = rates["cached_loader" if profile.cache.enabled else "jpeg_loader"]
    stages = {}
    for stage, (images, rate_name) in stage_images(profile, sizes).items():
        bound_by = (
            rate_name if rate_name == "jpeg_loader" or rates[rate_name] <= loader else "loader"
        )
        rate = rates[rate_name] if bound_by == rate_name else loader
        stages[stage] = {
            "images": images,
            "bound_by": bound_by,
            "images_per_s": rate,
            "hours": images / rate / 3600,
        }
    return {
        "split": sizes,
        "split_source": f"data_manifests/{profile.manifest}.json paper_counts",
        "cache": profile.cache.enabled,
        "epochs": {"cnn": profile.cnn.epochs, "mscnn": profile.mscnn.epochs},
        "stages": stages,
        "hours": sum(s["hours"] for s in stages.values()),
        "not_projected": NOT_PROJECTED,
    }


def project(rates: dict[str, float], profiles: tuple[str, ...] = PAPER_PROFILES) -> dict[str, dict]:
    """``project_profile`` for every paper profile."""
    return {name: project_profile(name, rates) for name in profiles}
