"""The machine a benchmark ran on: processor and core count, GPU, library versions."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import PIL
import torch
import torchvision


def cpu_model() -> str:
    """The processor's name from ``/proc/cpuinfo`` (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where there is one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def describe(device: torch.device) -> dict:
    """Processor, cores, threads, GPU (name, memory, compute capability, bfloat16) and versions."""
    # 1, 5, 15 min: other work slows every rate
    info = {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pillow": PIL.__version__,
        "device": str(device),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            gpu=torch.cuda.get_device_name(device),
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            compute_capability=f"{props.major}.{props.minor}",
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            bf16_supported=torch.cuda.is_bf16_supported(),
        )
    return info


def name(info: dict) -> str:
    """One line naming the hardware: the GPU when one was used, else the processor and its cores."""
    cpu = f"{info['cpu']} ({info['cores']} cores)"
    return f"{info['gpu']} ({info['gpu_memory_gib']} GiB), host {cpu}" if "gpu" in info else cpu
