"""M3's step-5 heads, one job per seed: two processes write the predictions and files one process
writes, bit for bit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from annokit.artifacts.run import open_run
from annokit.methods import m3_heads
from helpers.cached_features import fake_visual


@pytest.mark.slow
def test_the_seeds_side_by_side_give_what_they_give_in_turn(make_tiny_run, tmp_path, monkeypatch):
    made, files = {}, {}
    for workers in (1, 2):
        work = tmp_path / f"workers{workers}"
        make_tiny_run(work)
        run = open_run("demo", work_dir=str(work))
        classifier = replace(run.profile.classifier, seeds=(0, 1))
        run = replace(run, profile=replace(run.profile, classifier=classifier))
        monkeypatch.setattr(m3_heads, "cpu_workers", lambda device, n=workers: n)
        by_seed = m3_heads.train_step5(run, fake_visual(run), None, epochs=1)
        assert sorted(by_seed) == [0, 1]
        made[workers] = {p.model: p for predictions in by_seed.values() for p in predictions}
        files[workers] = sorted(p.name for p in (run.run_dir / "predictions").iterdir())
    assert sorted(made[1]) == ["mscnn_lqp", "mscnn_lqp@seed1", "upper_bound", "upper_bound@seed1"]
    assert files[2] == files[1]
    for name, predictions in made[1].items():
        np.testing.assert_array_equal(made[2][name].scores, predictions.scores)
        np.testing.assert_array_equal(made[2][name].annotation, predictions.annotation)
    # another seed, other weights: the seeds are not one fit saved twice
    assert not np.array_equal(made[1]["mscnn_lqp"].counts, made[1]["mscnn_lqp@seed1"].counts)
