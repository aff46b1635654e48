"""One benchmark run: the five image rates and the vector models' rates on one machine, the rates of
each compile mode asked for, the cached/JPEG ratio and the notebook-by-notebook projection for every
paper profile."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
import torch

from annokit.bench import hardware, loader_rates, model_rates, projection, vector_rates
from annokit.bench.compile_rates import compile_mode_rates, decoder_stack_settings
from annokit.bench.synthetic import mean_file_bytes, write_synthetic_jpegs
from annokit.bench.timing import Budget
from annokit.data.annotation_table import TRAIN
from annokit.data.index import PreparedIndex
from annokit.profile import load_profile
from annokit.training.extraction import EVAL_BATCH
from annokit.training.fit import resolve_device
from annokit.training.precision import compile_mode, describe

# whose [cnn] batch, [loader] and [precision] settings the rates are measured with
REFERENCE_PROFILE = "nuswide-m3"


@dataclass(frozen=True)
class BenchOptions:
    """The command's options; None takes the reference profile's value (``--quick``: a smaller
    one on the CPU)."""

    backbone: str = "resnet101"
    image_size: int = 224
    device: str = "auto"
    # loader processes; None: the [loader] rule for the device (none on the CPU)
    workers: int | None = None
    # loaders and training steps; None: [cnn] batch_size (training steps, quick on the CPU: 2)
    batch_size: int | None = None
    inference_batch: int | None = None  # None: feature extraction's batch (quick on the CPU: 4)
    images: int | None = None  # JPEGs for the loader rates; None: 512 (quick: 64)
    quick: bool = False
    # least seconds each rate is timed; None: the budget's (quick: 3 s a loader)
    seconds: float | None = None
    amp: str | None = None  # None: the reference profile's [precision] amp
    # torch.compile mode of the five rates and the projection; None: the reference profile's
    compile: str | None = None
    # modes whose image and decoder-stack rates are measured side by side; empty: ``compile`` alone
    compile_modes: tuple[str, ...] = ()
    # deterministic algorithms, as the fit loop runs; False shows what they cost
    deterministic: bool = True
    profile: str = ""  # a prepared profile whose first training images replace the synthetic JPEGs
    data_root: str = ""
    work_dir: str = ""
    # synthetic JPEGs and the cache; None: a temporary folder, removed afterwards
    folder: Path | None = None


def budgets(quick: bool, device: torch.device) -> tuple[Budget, Budget]:
    """(loader, model) budgets: a CPU's ResNet-101 step takes seconds, a GPU's tens of ms."""
    if quick:
        loader = Budget(warmup=1, steps=3, seconds=3.0)
        models = {"cuda": Budget(warmup=5, steps=10, seconds=2.0)}
        cpu = Budget(warmup=1, steps=2, seconds=0.0)
    else:
        loader = Budget(warmup=1, steps=10, seconds=10.0)
        models = {"cuda": Budget(warmup=10, steps=20, seconds=5.0)}
        cpu = Budget(warmup=1, steps=3, seconds=0.0)
    return loader, models.get(device.type, cpu)


def profile_images(options: BenchOptions, count: int) -> tuple[PreparedIndex, Path, str]:
    """The first ``count`` training images of a prepared profile, as an index of their own."""
    from annokit.artifacts.run import open_run

    run = open_run(options.profile, options.data_root, options.work_dir)
    rows = run.index.rows(TRAIN)[:count]
    frame = run.index.frame.iloc[rows].reset_index(drop=True)
    meta = {
        **run.index.meta,
        "fingerprint": f"{run.index.meta.get('fingerprint')}-first{len(rows)}",
        "profile": "bench",
    }
    index = PreparedIndex(
        frame=frame, label_names=run.index.label_names, tag_names=run.index.tag_names, meta=meta
    )
    return index, run.data_root, f"training images of {options.profile} ({run.data_root})"


def run_bench(options: BenchOptions) -> dict:
    """Measure the five rates, the vector models' rates and the two loaders' ratio; project every
    paper profile's chain notebook by notebook."""
    started = time.perf_counter()
    device = resolve_device(options.device)
    machine = hardware.describe(device)  # before the work: its load average is the other work's
    reference = load_profile(REFERENCE_PROFILE)
    small_cpu = options.quick and device.type != "cuda"
    batch = options.batch_size or reference.cnn.batch_size
    step_batch = options.batch_size or (2 if small_cpu else reference.cnn.batch_size)
    inference_batch = options.inference_batch or (4 if small_cpu else EVAL_BATCH)
    count = options.images or (64 if options.quick else 512)
    workers = (
        reference.loader.worker_count(device.type) if options.workers is None else options.workers
    )
    settings = replace(
        reference.precision,
        amp=options.amp or reference.precision.amp,
        compile=compile_mode(
            reference.precision.compile if options.compile is None else options.compile
        ),
    )
    modes = tuple(options.compile_modes) or (settings.compile,)
    loader_budget, model_budget = budgets(options.quick, device)
    if options.seconds is not None:
        loader_budget, model_budget = (
            replace(loader_budget, seconds=options.seconds),
            replace(model_budget, seconds=options.seconds),
        )
    with tempfile.TemporaryDirectory(prefix="annokit-bench-") as scratch:
        folder = Path(options.folder or scratch)
        if options.profile:
            index, data_root, source = profile_images(options, count)
        else:
            data_root = folder / "jpeg"
            index = write_synthetic_jpegs(data_root, count)
            source = "synthetic 500×375 JPEGs (NUS-WIDE's typical size)"
        jpeg = loader_rates.jpeg_dataset(index, data_root, options.image_size)
        rates = {
            "jpeg_loader": loader_rates.loader_rate(
                jpeg, batch, workers, reference.loader.prefetch, loader_budget, device
            )
        }
        cached, build = loader_rates.cached_dataset(
            index, data_root, options.image_size, folder / "cache", workers
        )
        rates["cached_loader"] = loader_rates.loader_rate(
            cached, batch, workers, reference.loader.prefetch, loader_budget, device
        )
        jpeg_bytes = mean_file_bytes(data_root, index)
    bench = model_rates.ModelBench(
        options.backbone,
        options.image_size,
        step_batch,
        inference_batch,
        device,
        settings,
        options.deterministic,
    )
    rates.update(model_rates.model_rates(bench, model_budget))
    vector_budget = vector_rates.vector_budget(options.quick, device)
    if options.seconds is not None:
        vector_budget = replace(vector_budget, seconds=options.seconds)
    vectors = vector_rates.vector_rates(reference, device, vector_budget)
    compiled = compile_mode_rates(
        modes, bench, (model_budget, vector_budget), reference, main=rates
    )
    per_second = {key: rate.images_per_s for key, rate in {**rates, **vectors}.items()}
    return {
        "hardware": machine,
        "settings": {
            "backbone": options.backbone,
            "image_size": options.image_size,
            "device": str(device),
            "quick": options.quick,
            "workers": workers,
            "prefetch": reference.loader.prefetch,
            "images": len(index.frame),
            "source": source,
            "batch_sizes": {
                "jpeg_loader": batch,
                "cached_loader": batch,
                "cnn_train_step": step_batch,
                "mscnn_train_step": step_batch,
                "inference": inference_batch,
            },
            "precision": describe(device.type, settings),
            "deterministic_algorithms": options.deterministic,
            "vector_batch_sizes": {key: rate.images // rate.steps for key, rate in vectors.items()},
            "compile_modes": list(modes),
            "decoder_stack": decoder_stack_settings(reference),
            "budgets": {
                "loaders": asdict(loader_budget),
                "models": asdict(model_budget),
                "vector_models": asdict(vector_budget),
            },
            "reference_profile": REFERENCE_PROFILE,
        },
        "rates": {key: rate.to_dict() for key, rate in rates.items()},
        # vectors/s of the models on cached vectors (their stages' batch and optimiser)
        "vector_rates": {key: rate.to_dict() for key, rate in vectors.items()},
        # per torch.compile mode: image and decoder-stack rates, or why the mode failed here
        "compile_modes": compiled,
        "cache": {
            "build_images_per_s": build.images_per_s,
            "bytes_per_image": 3 * options.image_size**2,
            "jpeg_mean_bytes": round(jpeg_bytes),
        },
        "cached_to_jpeg_ratio": per_second["cached_loader"] / per_second["jpeg_loader"],
        "projection": projection.project(per_second),
        "not_projected": projection.NOT_PROJECTED,
        "wall_seconds": time.perf_counter() - started,
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
