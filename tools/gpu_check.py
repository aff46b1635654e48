"""GPU check: the paper-profile chain on synthetic 224-pixel data, on CUDA, in minutes.

Runs every stage the paper profiles run on a GPU (ResNet-101 fine-tuning and MS-CNN under the
profile's autocast and channels_last, feature extraction, tags MLP, classifier and LQP heads, the
Multi-order RNN), builds the decoded-image cache and checks it against the JPEGs, kills the CNN
stage after its first epoch and resumes it, and runs one head under an NCCL process group of one
GPU. Last, the rates of each ``[precision] compile`` mode (``--compile-modes``, CUDA graphs
included; ``tools/gpu_compile_modes.py``): CNN and MS-CNN steps, extraction, the Multi-order RNN's
seed stack, a failing mode recorded with its reason. Writes the timings and checks as JSON (before
the compile modes too, so a timeout there keeps the rest). ``tools/gpu_check.sh`` runs it after the
benchmark.

    python tools/gpu_check.py --out results/bench/gpu_check.json
    # a dry run on the CPU:
    python tools/gpu_check.py --device cpu --backbone resnet18 --image-size 64 --n-train 32 \\
        --n-test 16

It needs no download: ResNet-101 starts from random weights (``pretrained = false``), which is
enough to exercise the code paths and time them; the numbers it prints are speeds, not accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

from gpu_compile_modes import compile_modes  # noqa: E402

from annokit.artifacts.run import open_run  # noqa: E402
from annokit.data.dataset import AnnotationDataset  # noqa: E402
from annokit.data.image_cache import CachedImageDataset, image_dataset  # noqa: E402
from annokit.data.index import IndexOptions, build_index  # noqa: E402
from annokit.data.manifest import record_manifest  # noqa: E402
from annokit.demo import DemoConfig, generate_demo  # noqa: E402
from annokit.methods.m3 import train_cnn, train_mscnn  # noqa: E402
from annokit.methods.m3_files import image_splits  # noqa: E402
from annokit.methods.m3_heads import step5_predictions, train_tags_mlp  # noqa: E402
from annokit.methods.multi_order import (  # noqa: E402
    DecoderTraining,
    LabelledScores,
    train_multi_order,
)
from annokit.profile import load_profile  # noqa: E402
from annokit.training.extraction import features_and_scores  # noqa: E402
from annokit.training.precision import describe  # noqa: E402

PROFILE_TOML = """
extends = "{base}"
description = "{description}"
manifest = "gpu_check"
image_size = {image_size}

# The paper's BN decay 0.9997 moves the running statistics by 0.03 % a step: after the few steps
# of a check they are still the random init's, and eval-mode features explode. The check uses
# PyTorch's 0.1.
[cnn]
backbone = "{backbone}"
pretrained = false
epochs = 2
bn_momentum = 0.1

[mscnn]
epochs = 1

# Random ResNet-101 features are far larger than ImageNet ones: the heads get smaller rates than
# the paper's so the check exercises the code instead of diverging.
[tags_mlp]
epochs = 2
lr = 0.01

[classifier]
epochs = 2

[lqp]
epochs = 2
lr = 0.0001

[rnn]
epochs = 2
"""


def prepare(work: Path, n_train: int, n_test: int, backbone: str, image_size: int) -> Path:
    """Synthetic scenes in the NUS-WIDE layout, a manifest of them,
    the profile and the prepared index."""
    data = work / "data"
    generate_demo(data, DemoConfig(n_train=n_train, n_test=n_test, image_size=image_size, seed=0))
    manifest = record_manifest(
        data / "nuswide", "nuswide", "m3", name="gpu_check", source="gpu check"
    )
    profile_path = work / "gpu-check.toml"
    profile_path.write_text(
        PROFILE_TOML.format(
            base=REPO / "lib" / "annokit" / "profiles" / "nuswide-m3.toml",
            backbone=backbone,
            image_size=image_size,
            description=f"GPU check: nuswide-m3 settings, random {backbone} weights, a few epochs "
            "on synthetic data",
        )
    )
    build_index(
        work / "runs" / "gpu-check" / "index",
        data / "nuswide",
        manifest,
        profile="gpu-check",
        options=IndexOptions(progress=False),
    )
    return profile_path


def train_cnn_stage(work: Path, profile_path: Path, device: torch.device) -> dict:
    """Stage 1 in this process (resumes when a checkpoint is there)."""
    run = open_run(str(profile_path), work_dir=str(work))
    start = time.perf_counter()
    _, history = train_cnn(run.on(device), monitor=False)
    return {"seconds": time.perf_counter() - start, "epoch_seconds": history.seconds}


def cache_check(work: Path, profile_path: Path) -> dict:
    """Build the decoded-image cache of both splits as the image stages get it, and
    compare items with the JPEG path's."""
    run = open_run(str(profile_path), work_dir=str(work))
    size, report = run.profile.image_size, {}
    for split in ("train", "test"):
        start = time.perf_counter()
        cached = image_dataset(run.index, run.data_root, split, size, run.profile.cache, work)
        seconds = time.perf_counter() - start
        jpeg = AnnotationDataset(run.index, run.data_root, split=split, image_size=size)
        sample = range(0, len(jpeg), max(1, len(jpeg) // 16))
        report[split] = {
            "images": len(cached),
            "seconds": seconds,
            "cached": isinstance(cached, CachedImageDataset),
            "equal_to_jpeg": all(torch.equal(cached[i][0], jpeg[i][0]) for i in sample),
        }
    return report


def kill_after_first_epoch(work: Path, profile_path: Path, device: torch.device) -> bool:
    """Start stage 1 in a child process and kill it once epoch 1 is
    saved: the next run must resume."""
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--work",
            str(work),
            "--device",
            str(device),
            "--cnn-only",
            str(profile_path),
        ]
    )
    checkpoint = work / "runs" / "gpu-check" / "cnn" / "epoch_001.pt"
    while child.poll() is None and not checkpoint.exists():
        time.sleep(0.5)
    killed = child.poll() is None
    child.kill()
    child.wait()
    return killed and checkpoint.exists()


def same_weights(first: Path, second: Path) -> bool:
    """Two checkpoints' model weights equal bit for bit."""
    a = torch.load(first, map_location="cpu", weights_only=True)["model"]
    b = torch.load(second, map_location="cpu", weights_only=True)["model"]
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def trained_twice(work: Path, profile_path: Path, device: torch.device) -> dict:
    """Stage 1 trained again, uninterrupted, in two fresh work folders with the prepared index: with
    ``[precision] deterministic`` on, both runs and the killed-and-resumed run agree bit for bit."""
    finals = []
    for name in ("twice-a", "twice-b"):
        other = work / name
        shutil.rmtree(other, ignore_errors=True)
        index = other / "runs" / "gpu-check" / "index"
        shutil.copytree(work / "runs" / "gpu-check" / "index", index)
        train_cnn_stage(other, profile_path, device)
        finals.append(other / "runs" / "gpu-check" / "cnn" / "final.pt")
    resumed = work / "runs" / "gpu-check" / "cnn" / "final.pt"
    return {
        "deterministic": load_profile(profile_path).precision.deterministic,
        "two_runs_same_weights": same_weights(*finals),
        "resumed_run_same_weights": same_weights(finals[0], resumed),
    }


def write_report(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/annokit-gpu-check"))
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench" / "gpu_check.json")
    parser.add_argument("--n-train", type=int, default=512)
    parser.add_argument("--n-test", type=int, default=256)
    parser.add_argument(
        "--device",
        default="cuda",
        help="cuda (the check), or cpu for a dry run of the script itself",
    )
    parser.add_argument(
        "--backbone", default="resnet101", help="the paper's; a dry run on the CPU takes resnet18"
    )
    parser.add_argument(
        "--image-size", type=int, default=224, help="the paper's; a dry run on the CPU takes 64"
    )
    parser.add_argument(
        "--compile-modes",
        default="",
        help="torch.compile modes to time, comma-separated (default: off,default,reduce-overhead; "
        "a CPU dry run: off,reduce-overhead, the second recorded as failed)",
    )
    parser.add_argument(
        "--compile-seconds",
        type=float,
        default=100.0,
        help="the most the compile modes take together, compiling included (default: 100)",
    )
    parser.add_argument("--cnn-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["ANNOKIT_WORK"] = str(args.work)
    device = torch.device(args.device)
    if args.cnn_only:
        train_cnn_stage(args.work, args.cnn_only, device)
        return
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device is visible (use --device cpu for a dry run)")
    on_gpu = device.type == "cuda"
    report: dict = {
        "device": torch.cuda.get_device_name(0) if on_gpu else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "bf16_supported": on_gpu and torch.cuda.is_bf16_supported(),
        "images": {"train": args.n_train, "test": args.n_test},
        "backbone": args.backbone,
        "image_size": args.image_size,
    }
    timings: dict = {}
    start = time.perf_counter()
    profile_path = prepare(args.work, args.n_train, args.n_test, args.backbone, args.image_size)
    timings["prepare"] = time.perf_counter() - start
    report["precision"] = describe(device.type, load_profile(profile_path).precision)
    report["image_cache"] = cache_check(args.work, profile_path)

    report["killed_after_epoch_1"] = kill_after_first_epoch(args.work, profile_path, device)
    resumed = train_cnn_stage(args.work, profile_path, device)
    timings["cnn_resumed_epoch_2"] = resumed["seconds"]
    report["cnn_epoch_seconds"] = resumed["epoch_seconds"]
    report["cnn_train_images_per_s_epoch_2"] = args.n_train / resumed["epoch_seconds"][-1]
    start = time.perf_counter()
    report["cnn_trained_twice"] = trained_twice(args.work, profile_path, device)
    timings["cnn_trained_twice"] = time.perf_counter() - start

    profile = load_profile(profile_path)
    run = open_run(str(profile_path), work_dir=str(args.work))
    from annokit.methods.m3 import load_finetuned_cnn

    cnn = load_finetuned_cnn(run)
    start = time.perf_counter()
    mscnn, _ = train_mscnn(run.on(device), cnn, monitor=False)
    timings["mscnn"] = time.perf_counter() - start
    start = time.perf_counter()
    splits = image_splits(run)
    report["image_stages_read_the_cache"] = all(
        isinstance(data, CachedImageDataset) for data in splits.values()
    )
    outputs = {split: features_and_scores(mscnn, data, device) for split, data in splits.items()}
    timings["mscnn_features"] = time.perf_counter() - start
    report["inference_images_per_s"] = (args.n_train + args.n_test) / timings["mscnn_features"]
    report["feature_shape"] = list(outputs["train"][0].shape)

    from annokit.artifacts.features import CachedArrays, save_cached

    rows = {split: run.index.rows(split) for split in ("train", "test")}
    visual = CachedArrays(
        "mscnn_features", outputs["train"][0], outputs["test"][0], rows["train"], rows["test"], {}
    )
    save_cached(visual, run.run_dir)
    start = time.perf_counter()
    mlp, _ = train_tags_mlp(run.on(device), mscnn.feature_dim)
    from annokit.methods.m3_files import tag_splits

    tag_out = {
        split: features_and_scores(mlp, data, device) for split, data in tag_splits(run).items()
    }
    textual = CachedArrays(
        "tags_features", tag_out["train"][0], tag_out["test"][0], rows["train"], rows["test"], {}
    )
    save_cached(textual, run.run_dir)
    timings["tags_mlp"] = time.perf_counter() - start

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    if on_gpu:
        torch.cuda.set_device(0)
    # the heads' collectives run on NCCL
    dist.init_process_group("nccl" if on_gpu else "gloo", rank=0, world_size=1)
    try:
        start = time.perf_counter()
        predictions = step5_predictions(
            run.on(device), run.cached("mscnn_features"), run.cached("tags_features")
        )
        timings["classifier_and_lqp_nccl"] = time.perf_counter() - start
    finally:
        dist.destroy_process_group()
    report["m3_rows"] = [p.model for p in predictions]

    scores = outputs["train"][1]
    labels = run.index.label_matrix()
    start = time.perf_counter()
    _, history = train_multi_order(
        DecoderTraining(profile.rnn, profile.seed, run.run_dir, device=device),
        LabelledScores(scores, labels[rows["train"]]),
    )
    timings["multi_order_rnn"] = time.perf_counter() - start
    report["multi_order_rnn_losses"] = history.train_loss
    report["timings_s"] = timings
    write_report(report, args.out)
    start = time.perf_counter()
    report["compile_modes"] = compile_modes(profile_path, args)
    timings["compile_modes"] = time.perf_counter() - start
    write_report(report, args.out)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
