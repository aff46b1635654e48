"""Notebook 06's fits as independent jobs: the points that share a fit train it once, a finished fit
is not trained again, and submitit's local executor (standing for a SLURM job array) writes the
same files as the notebook's own process."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch

from annokit.artifacts.run import open_run
from annokit.methods import partial_jobs as pj
from annokit.methods.partial_budget import LabellingGrid, own_fit_points
from annokit.methods.partial_curriculum import StrategyComparison, compare_strategies
from annokit.methods.partial_sweep import SweepGrid, sweep_fit, sweep_points
from annokit.training import parallel
from annokit.training.checkpoints import FINAL_FILE

PROFILE = "demo"


def tiny_stage(make_tiny_run, work: Path) -> pj.PartialStage:
    """The tiny demo run in ``work`` with one epoch per fit."""
    make_tiny_run(work, PROFILE)
    run = open_run(PROFILE, work_dir=str(work))
    return pj.PartialStage(run, run.profile.partial.with_epochs(1))


def test_points_that_share_a_fit_name_it_once_and_finished_fits_are_skipped(
    make_tiny_run, tmp_path
):
    stage = tiny_stage(make_tiny_run, tmp_path)
    points = sweep_points(
        SweepGrid(proportions=(0.5, 1.0), losses=("bce_ignore", "partial_bce")), 0
    )
    assert points == [
        (0.5, "bce_ignore", 0),
        (0.5, "partial_bce", 0),
        (1.0, "bce_ignore", 0),
        (1.0, "partial_bce", 0),
    ]
    # at 100 % every loss is partial-BCE's fit: three points, one fit
    names = [pj.fit_name(stage, "sweep", point) for point in points]
    assert names[2] == names[3] == "partial_partial_bce_p100"
    assert pj.missing_fits(stage, "sweep", points) == points[:3]
    finished = stage.run.run_dir / "partial" / names[0] / FINAL_FILE
    finished.parent.mkdir(parents=True)
    finished.write_bytes(b"")
    assert pj.missing_fits(stage, "sweep", points) == points[1:3]
    with pytest.raises(ValueError, match="use one of sweep, labelling"):
        pj.fit_name(stage, "gnn", points[0])


def test_the_labelling_comparison_fans_out_only_the_fits_it_does_not_share_with_the_sweep():
    grid = LabellingGrid(proportions=(0.1, 1.0), seeds=(0, 1))
    assert own_fit_points(grid) == [
        ("complete", 0.1, 0),
        ("noisy", 0.1, 0),
        ("complete", 0.1, 1),
        ("noisy", 0.1, 1),
    ]


def test_processes_share_the_cores_out():
    cores = len(os.sched_getaffinity(0))
    assert pj.threads_per_job(1) is None
    assert pj.threads_per_job(2) == max(1, cores // 2)
    assert pj.threads_per_job(10 * cores) == 1


def final_weights(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Each fit's weights under ``folder`` by fit name."""
    return {
        path.parent.name: torch.load(path, map_location="cpu", weights_only=True)["model"]
        for path in sorted(folder.glob("*/final.pt"))
    }


@pytest.mark.slow
def test_submitit_local_executor_writes_the_fits_the_notebooks_own_loop_writes(
    make_tiny_run, tmp_path, monkeypatch
):
    pytest.importorskip("submitit")
    points = [(0.5, "partial_bce", 0), (0.5, "bce_negative", 0)]
    names = ["partial_partial_bce_p050", "partial_bce_negative_p050"]
    weights, files = {}, {}
    for launcher in ("", "local"):
        work = tmp_path / (launcher or "in-process")
        stage = tiny_stage(make_tiny_run, work)
        monkeypatch.setenv("ANNOKIT_WORK", str(work))
        if launcher:
            monkeypatch.setenv(parallel.EXECUTOR_VARIABLE, launcher)
            assert pj.fit_side_by_side(stage, "sweep", points, workers=1) == names
        else:  # one core, no executor: nothing fanned out, the notebook's loop trains in turn
            assert pj.fit_side_by_side(stage, "sweep", points, workers=1) == []
            data, training = pj.stage_training(stage)
            for point in points:
                sweep_fit(stage.run, data, training, point)
        folder = stage.run.run_dir / "partial"
        weights[launcher] = final_weights(folder)
        files[launcher] = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.*"))
        # finished: a second call trains nothing
        assert pj.fit_side_by_side(stage, "sweep", points, workers=1) == []
    assert len(list((tmp_path / "local" / "submitit").glob("*_log.out"))) == 2
    assert files["local"] == files[""]
    assert sorted(weights[""]) == sorted(names)
    for name in names:
        for key, tensor in weights[""][name].items():
            assert torch.equal(tensor, weights["local"][name][key]), (name, key)


@pytest.mark.slow
def test_curriculum_strategies_as_jobs_give_the_rounds_the_notebooks_loop_gives(
    make_tiny_run, tmp_path
):
    comparison = StrategyComparison(
        kinds=("none", "score_threshold", "ensemble"),
        proportion=0.5,
        rounds=1,
        seeds=(0,),
        candidates={"score_threshold": (0.6, 0.9), "ensemble": (0.6, 0.9)},
        min_accuracy=0.5,
        mc_samples=2,
    )
    tables = {}
    for workers in (1, 2):
        stage = tiny_stage(make_tiny_run, tmp_path / f"workers{workers}")
        data, training = pj.stage_training(stage)
        if workers > 1:
            points = [(kind, 0, comparison) for kind in comparison.kinds]
            trained = pj.fit_side_by_side(stage, "curriculum", points, workers=workers)
            assert trained == [
                "curriculum_none_p050",
                "curriculum_score_threshold_p050",
                "curriculum_ensemble_p050",
            ]
            assert pj.missing_fits(stage, "curriculum", points) == []
        files = sorted((stage.run.run_dir / "partial").glob("curriculum_*/round_1/final.pt"))
        written = {path: path.stat().st_mtime_ns for path in files}
        rounds, thetas = compare_strategies(stage.run, data, training, comparison)
        tables[workers] = (rounds, thetas)
        # the notebook's loop loads the jobs' rounds: it trains none again
        assert {path: path.stat().st_mtime_ns for path in files} == written
        assert len(written) == (3 if workers > 1 else 0)
    pd.testing.assert_frame_equal(tables[2][0], tables[1][0])
    pd.testing.assert_frame_equal(tables[2][1], tables[1][1])
