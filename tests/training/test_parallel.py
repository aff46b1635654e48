"""Independent fits fanned out: spawned processes on this machine, or submitit (its local executor
stands for a SLURM job array), with the same results in the same order."""

from __future__ import annotations

import math

import pytest

from annokit.training import parallel


def test_jobs_give_the_same_results_in_order_in_process_and_in_two_processes():
    jobs = [(n,) for n in (5, 3, 7)]
    assert parallel.run_jobs(math.factorial, jobs, workers=1) == [120, 6, 5040]
    assert parallel.run_jobs(math.factorial, jobs, workers=2) == [120, 6, 5040]


@pytest.mark.slow
def test_submitit_local_executor_runs_the_jobs_as_an_array(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv(parallel.EXECUTOR_VARIABLE, "local")
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path))
    assert parallel.run_jobs(math.factorial, [(4,), (6,)], workers=1) == [24, 720]
    logs = list((tmp_path / "submitit").glob("*_log.out"))
    assert len(logs) == 2  # one job per fit, its log in <work>/submitit


def test_slurm_options_parse_and_a_bad_one_is_named():
    assert parallel.slurm_options("partition=gpu, gpus_per_node=1,timeout_min=240") == {
        "partition": "gpu",
        "gpus_per_node": 1,
        "timeout_min": 240,
    }
    assert parallel.slurm_options("") == {}
    with pytest.raises(ValueError, match="ANNOKIT_SLURM: 'gpu' is not key=value"):
        parallel.slurm_options("gpu")


def test_an_unknown_executor_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv(parallel.EXECUTOR_VARIABLE, "kubernetes")
    with pytest.raises(ValueError, match="use one of local, slurm"):
        parallel.run_jobs(math.factorial, [(3,)], workers=1)


def visible_card(seconds: float) -> str:
    """The card a pool process sees, after a pause that keeps it busy while the other starts."""
    import os
    import time

    time.sleep(seconds)
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


def test_one_process_per_card_each_seeing_only_its_card():
    # no GPU is needed to check the pinning: each process sees one card of the list, its own
    seen = parallel.run_jobs(visible_card, [(1.0,), (1.0,)], workers=1, gpus=("2", "5"))
    assert sorted(seen) == ["2", "5"]


def test_fits_fan_out_over_cards_only_on_the_default_cuda_device_of_a_machine_with_several(
    monkeypatch,
):
    assert parallel.visible_gpus("cpu") == ()
    monkeypatch.setattr(parallel.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(parallel.torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert parallel.visible_gpus("cuda") == ("0", "1")
    assert parallel.visible_gpus("cuda:1") == ()  # a card the user named: that card alone
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,6")  # what the scheduler gave this job
    assert parallel.visible_gpus("cuda") == ("3", "6")
    monkeypatch.setattr(parallel.torch.cuda, "device_count", lambda: 1)
    assert parallel.visible_gpus("cuda") == ()


def test_notebooks_side_by_side_share_the_cores_out_for_their_fits(monkeypatch):
    from annokit import cpu_share
    from annokit.notebook_kernel import side_by_side_env

    monkeypatch.setattr(cpu_share.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.delenv(cpu_share.CPU_WORKERS_VARIABLE, raising=False)
    assert side_by_side_env(1) is None  # one notebook at a time: every core
    assert parallel.cpu_workers("cpu") == 4
    env = side_by_side_env(2)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE", cpu_share.CPU_WORKERS_VARIABLE: "2"}
    monkeypatch.setenv(cpu_share.CPU_WORKERS_VARIABLE, env[cpu_share.CPU_WORKERS_VARIABLE])
    assert parallel.cpu_workers("cpu") == 2
    assert parallel.cpu_workers("cpu", limit=1) == 1
    assert parallel.cpu_workers("cuda") == 1
    assert side_by_side_env(8)[cpu_share.CPU_WORKERS_VARIABLE] == "1"  # never none
    monkeypatch.setenv(cpu_share.CPU_WORKERS_VARIABLE, "many")  # not a number: every core
    assert parallel.cpu_workers("cpu") == 4
