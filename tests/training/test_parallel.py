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
