"""M3's stages take the run: extra seeds in one call, the workers' share of the loader processes."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from annokit.artifacts.run import open_run
from annokit.methods.m3 import train_extra_seeds
from annokit.methods.stage_worker import with_workers


def test_extra_seeds_train_in_their_folders_and_annotate_the_test_split(make_tiny_run, tmp_path):
    make_tiny_run(tmp_path)
    run = open_run("demo", work_dir=str(tmp_path))
    profile = replace(run.profile, image_size=32, cnn=replace(run.profile.cnn, seeds=(0, 1)))
    run = replace(run, profile=profile)
    annotated = train_extra_seeds(run, stage="cnn", epochs=1)
    assert list(annotated) == [1] and annotated[1].model == "cnn@seed1"
    assert (run.run_dir / "seeds" / "seed1" / "cnn" / "final.pt").exists()
    assert not (run.run_dir / "cnn").exists()  # the profile's own seed is notebook 01's main call
    assert run.predictions("cnn@seed1").meta["seed"] == 1
    assert train_extra_seeds(run, "mscnn", epochs=1) == {}  # [mscnn] lists no extra seed
    with pytest.raises(ValueError, match="'cnn' or 'mscnn'"):
        train_extra_seeds(run, "tags_mlp")


def test_each_rank_gets_its_share_of_the_automatic_loader_processes(make_tiny_run, tmp_path):
    make_tiny_run(tmp_path)
    run = open_run("demo", work_dir=str(tmp_path))
    automatic = replace(
        run, profile=replace(run.profile, loader=replace(run.profile.loader, workers=-1))
    )
    cuda = torch.device("cuda")
    assert with_workers(run, 3, cuda).profile.loader.workers == 3
    assert with_workers(run, None, cuda).profile.loader.workers == run.profile.loader.workers
    assert with_workers(automatic, None, cuda).profile.loader.workers >= 0
    assert with_workers(run, -1, torch.device("cpu")).profile.loader.workers == 0
