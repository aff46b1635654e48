"""The CPU cores a process may use, and the share of them ``reproduce`` leaves each notebook that
runs beside others (``ANNOKIT_CPU_WORKERS``). Free of torch: the runner reads it too."""

from __future__ import annotations

import os

# the processes a notebook's independent fits may take on the CPU (unset: one per core)
CPU_WORKERS_VARIABLE = "ANNOKIT_CPU_WORKERS"


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_share() -> int:
    """The cores this notebook's fits may take: ``ANNOKIT_CPU_WORKERS`` when set to a positive
    number (at most the cores), else every core."""
    share = os.environ.get(CPU_WORKERS_VARIABLE, "").strip()
    cores = cpu_cores()
    return min(cores, int(share)) if share.isdigit() and int(share) > 0 else cores
