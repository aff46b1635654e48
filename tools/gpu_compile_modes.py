"""The GPU check's compile modes: each ``[precision] compile`` mode's CNN and MS-CNN training
steps, feature extraction and Multi-order RNN seed-stack step, each mode in a process of its own.

``tools/gpu_check.py`` calls ``compile_modes``; each mode runs this file as a child, which prints
its record (``annokit.bench.compile_rates.mode_rates``) as one JSON line:

    python tools/gpu_compile_modes.py PROFILE.toml --mode default --device cuda
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from annokit.bench.compile_rates import mode_rates  # noqa: E402
from annokit.bench.model_rates import ModelBench  # noqa: E402
from annokit.bench.timing import Budget  # noqa: E402
from annokit.profile import load_profile  # noqa: E402


def mode_record(profile_path: Path, mode: str, args: argparse.Namespace) -> dict:
    """One mode's rates in this process, on random inputs at the check's backbone and size."""
    profile, device = load_profile(profile_path), torch.device(args.device)
    on_gpu = device.type == "cuda"
    batch, inference = (profile.cnn.batch_size, 128) if on_gpu else (2, 2)
    settings = profile.precision
    bench = ModelBench(args.backbone, args.image_size, batch, inference, device, settings)
    # CUDA graphs are recorded over the first warm-up steps; a CPU dry run takes one step
    budget = Budget(warmup=5, steps=10, seconds=1.0) if on_gpu else Budget(1, 1, 0.0)
    return mode_rates(mode, bench, (budget, budget), profile)


def run_mode(profile_path: Path, mode: str, args: argparse.Namespace, seconds: float) -> dict:
    """One mode in a child process, stopped after ``seconds`` (recorded as failed: timed out)."""
    child = [sys.executable, __file__, str(profile_path), "--mode", mode, "--device", args.device]
    child += ["--backbone", args.backbone, "--image-size", str(args.image_size)]
    try:
        done = subprocess.run(child, capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        reason = f"timed out after {seconds:.0f} s, compiling included (--compile-seconds)"
        return {"status": "failed", "reason": reason}
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        return json.loads(lines[-1])
    last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return {"status": "failed", "reason": last}


def compile_modes(profile_path: Path, args: argparse.Namespace) -> dict:
    """Every mode of ``args.compile_modes`` (default: off, default and CUDA graphs on a GPU; off
    and CUDA graphs, which fail, on a CPU), within ``args.compile_seconds`` together: the mode
    running when they are spent is recorded as timed out, the later ones as skipped."""
    on_gpu = torch.device(args.device).type == "cuda"
    default = "off,default,reduce-overhead" if on_gpu else "off,reduce-overhead"
    deadline, records = time.monotonic() + args.compile_seconds, {}
    for mode in (args.compile_modes or default).split(","):
        left = deadline - time.monotonic()
        if left > 0:
            records[mode] = run_mode(profile_path, mode, args, left)
        else:
            spent = f"the {args.compile_seconds:.0f} s of --compile-seconds were spent"
            records[mode] = {"status": "skipped", "reason": spent}
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--backbone", default="resnet101")
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()
    print(json.dumps(mode_record(args.profile, args.mode, args)))


if __name__ == "__main__":
    main()
