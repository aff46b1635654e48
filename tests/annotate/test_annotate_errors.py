"""``annokit annotate`` on bad input: one line each, naming the problem and the fix, no traceback;
images that cannot be decoded are listed in one line and the others annotated."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from annokit.annotate.model_menu import MODELS
from annokit.console import main
from annokit.data.index import load_index
from annokit.models.backbone import build_backbone
from annokit.profile import load_profile
from annokit.training.checkpoints import save_final

PROFILE = "demo"


def save_cnn(run_dir, index_fingerprint):
    """A CNN checkpoint as notebook 01 leaves it (untrained weights: the tests read files only)."""
    torch.manual_seed(0)
    labels = len(load_index(run_dir / "index").label_names)
    model = build_backbone(load_profile(PROFILE).cnn.backbone, num_classes=labels)
    config = {"fit": {}, "stage": {"stage": "cnn", "index": index_fingerprint}}
    save_final(
        run_dir / "cnn" / "final.pt", model_state=model.state_dict(), config=config, history={}
    )


@pytest.fixture(scope="module")
def cnn_run(make_tiny_run, tmp_path_factory):
    """A work folder whose demo run has a finished CNN and nothing else."""
    work = tmp_path_factory.mktemp("annotate-errors")
    run_dir, index = make_tiny_run(work, PROFILE)
    save_cnn(run_dir, index.meta["fingerprint"])
    return work, run_dir, index


def annotate(capsys, work, *args):
    """Exit status, stdout and stderr of ``annokit annotate --profile demo --work-dir WORK ...``."""
    with pytest.raises(SystemExit) as done:
        main(["annotate", "--profile", PROFILE, "--work-dir", str(work), "--device", "cpu", *args])
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("annokit annotate: error:"), err
    assert "Traceback" not in err
    return lines[0]


def grey_images(folder):
    """The same grey picture as an 8-bit and as a 16-bit PNG (value × 257)."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 256, size=(40, 48), dtype=np.uint8)
    Image.fromarray(pixels, "L").save(folder / "grey8.png")
    Image.fromarray(pixels.astype(np.uint16) * 257).save(folder / "grey16.png")
    assert Image.open(folder / "grey16.png").mode.startswith("I")
    return folder


def test_a_profile_without_a_run_names_the_notebooks_to_run(capsys, tmp_path):
    code, _, err = annotate(capsys, tmp_path / "empty", "--model", "cnn", str(tmp_path))
    line = one_error_line(err)
    assert code == 2 and "no run" in line and "00_data_prep" in line
    assert "annokit reproduce --profile demo" in line


def test_a_stage_never_trained_names_its_notebook(capsys, cnn_run, tmp_path):
    work, _, _ = cnn_run
    code, _, err = annotate(capsys, work, "--model", "multi-order", str(grey_images(tmp_path)))
    line = one_error_line(err)
    assert code == 2 and "never trained" in line and "05_multi_order_rnn" in line


def test_an_unfinished_stage_names_its_notebook(capsys, cnn_run, tmp_path):
    work, run_dir, _ = cnn_run
    (run_dir / "mscnn").mkdir(exist_ok=True)
    (run_dir / "mscnn" / "epoch_002.pt").write_bytes(b"an interrupted stage")
    code, _, err = annotate(capsys, work, "--model", "mscnn", str(grey_images(tmp_path)))
    line = one_error_line(err)
    assert code == 2 and "unfinished" in line and "epoch_002.pt" in line and "02_ms_cnn" in line


def test_the_cnn_rnn_without_notebook_07_names_it(capsys, cnn_run, tmp_path):
    work, _, _ = cnn_run
    code, _, err = annotate(capsys, work, "--model", "wang-cnn-rnn", str(grey_images(tmp_path)))
    line = one_error_line(err)
    assert code == 2 and "never trained" in line and "07_cnn_rnn" in line
    assert "'wang_cnn_rnn/frozen'" in line and "annokit reproduce --profile demo" in line


def test_the_cnn_rnn_with_phase_2_unfinished_names_notebook_07(capsys, make_tiny_run, tmp_path):
    run_dir, index = make_tiny_run(tmp_path / "work", PROFILE)
    save_cnn(run_dir, index.meta["fingerprint"])
    phases = run_dir / "wang_cnn_rnn"
    (phases / "frozen").mkdir(parents=True)
    (phases / "frozen" / "final.pt").write_bytes(b"phase 1, finished")
    (phases / "end_to_end").mkdir()
    (phases / "end_to_end" / "epoch_001.pt").write_bytes(b"phase 2, interrupted")
    code, _, err = annotate(
        capsys, tmp_path / "work", "--model", "wang-cnn-rnn", str(grey_images(tmp_path / "images"))
    )
    line = one_error_line(err)
    assert code == 2 and "unfinished" in line and "epoch_001.pt" in line
    assert "'wang_cnn_rnn/end_to_end'" in line and "07_cnn_rnn" in line


def test_an_unknown_model_lists_the_valid_ones(capsys, cnn_run, tmp_path):
    code, _, err = annotate(capsys, cnn_run[0], "--model", "resnet", str(tmp_path))
    line = one_error_line(err)
    assert code == 2 and "'resnet'" in line
    assert all(name in line for name in MODELS)


def test_m3_without_tags_says_so_and_offers_models_without(capsys, cnn_run, tmp_path):
    code, _, err = annotate(capsys, cnn_run[0], "--model", "m3", str(grey_images(tmp_path)))
    line = one_error_line(err)
    assert code == 2 and "needs each image's tags" in line and "mscnn-lqp" in line


def test_m3_on_a_dataset_without_tags_offers_models_without(capsys, cnn_run, tmp_path, monkeypatch):
    from annokit.annotate import finished_models

    opened = finished_models.open_finished_run

    def without_tags(profile, work_dir=""):
        run = opened(profile, work_dir)
        return replace(run, index=replace(run.index, tag_names=()))

    monkeypatch.setattr(finished_models, "open_finished_run", without_tags)
    code, _, err = annotate(capsys, cnn_run[0], "--model", "m3", str(grey_images(tmp_path)))
    line = one_error_line(err)
    assert code == 2 and "has none" in line and "--model mscnn-lqp" in line


@pytest.mark.parametrize("given", ["an empty folder", "nothing"])
def test_no_images_is_one_line(capsys, cnn_run, tmp_path, given):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("not an image")
    args = [str(tmp_path / "folder")] if given == "an empty folder" else []
    code, _, err = annotate(capsys, cnn_run[0], "--model", "cnn", *args)
    line = one_error_line(err)
    assert code == 2 and ("no images found in" in line if args else "no images given" in line)


def test_a_run_on_another_vocabulary_is_refused(capsys, cnn_run, tmp_path):
    work, run_dir, index = cnn_run
    other = tmp_path / "labels.txt"
    other.write_text("\n".join(["zebra", *index.label_names[1:]]) + "\n")
    code, _, err = annotate(
        capsys, work, "--model", "cnn", "--labels", str(other), str(grey_images(tmp_path))
    )
    line = one_error_line(err)
    assert code == 2 and "another vocabulary" in line and "zebra" in line
    same = run_dir / "index" / "vocab.json"
    code, _, _ = annotate(
        capsys, work, "--model", "cnn", "--labels", str(same), "--out", str(tmp_path / "out"),
        str(tmp_path / "grey8.png"),
    )  # fmt: skip
    assert code == 0


def test_undecodable_images_are_listed_in_one_line_and_the_rest_annotated(
    capsys, cnn_run, tmp_path
):
    work, _, _ = cnn_run
    folder = grey_images(tmp_path / "images")
    (folder / "text.jpg").write_text("this is no JPEG")
    Image.new("RGB", (64, 64), "red").save(folder / "cut.jpg")
    (folder / "cut.jpg").write_bytes((folder / "cut.jpg").read_bytes()[:200])
    out = tmp_path / "out"
    code, stdout, err = annotate(capsys, work, "--model", "cnn", str(folder), "--out", str(out))
    lines = [line for line in err.replace("\r", "\n").splitlines() if "annokit" in line]
    assert code == 0 and len(lines) == 1 and "Traceback" not in err, err
    assert "2 of 4 images could not be read or decoded, left out:" in lines[0]
    assert "text.jpg (not an image)" in lines[0] and "cut.jpg (" in lines[0]
    record = json.loads((out / "annotations.json").read_text())
    assert [image["image"].rsplit("/", 1)[-1] for image in record["images"]] == [
        "grey16.png",
        "grey8.png",
    ]
    assert {item["image"].rsplit("/", 1)[-1] for item in record["left_out"]} == {
        "text.jpg",
        "cut.jpg",
    }
    # the 16-bit PNG is scaled to 8 bits as the training images would be: the same picture
    first, second = (image["scores"] for image in record["images"])
    assert first == pytest.approx(second, abs=1e-6)
    assert all(
        len(image["labels"]) == load_profile(PROFILE).annotation.top_k for image in record["images"]
    )
    assert "annotations.html" in stdout and (out / "annotations.csv").exists()


def test_a_checkpoint_of_another_index_is_refused(capsys, make_tiny_run, tmp_path):
    run_dir, _ = make_tiny_run(tmp_path / "work", PROFILE)
    save_cnn(run_dir, "another-fingerprint")
    code, _, err = annotate(
        capsys, tmp_path / "work", "--model", "cnn", str(grey_images(tmp_path / "images"))
    )
    line = one_error_line(err)
    assert code == 2 and "another prepared index" in line and "01_cnn_finetune" in line
