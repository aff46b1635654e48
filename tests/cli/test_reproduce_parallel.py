"""``reproduce --jobs 2`` on small notebooks named as the chain's: notebooks that do not read each
other run at once, a reader waits, a failure stops only its readers with one message, and a rerun
reruns only the readers of what reran."""

import json
import os

import pytest
from tests.cli.test_reproduce import write_notebook

from annokit import reproduce

# each waits (up to 60 s) until the other has started: both finish only if they run at once
MEET = (
    "import pathlib, time\n"
    "here = pathlib.Path({log!r}).parent\n"
    "(here / '{me}.started').touch()\n"
    "deadline = time.time() + 60\n"
    "while not (here / '{other}.started').exists() and time.time() < deadline:\n"
    "    time.sleep(0.1)\n"
    "assert (here / '{other}.started').exists(), 'ran alone'\n"
    "open({log!r}, 'a').write('{me} ' + marker + chr(10))"
)
WRITE = "open({log!r}, 'a').write('{me} ' + marker + chr(10))"


@pytest.fixture
def side_by_side(tmp_path, monkeypatch):
    """03 and 06 read only 00 (not in this chain), 04 reads 03."""
    monkeypatch.setenv("ANNOKIT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path / "work"))
    log = str(tmp_path / "log.txt")
    folder = tmp_path / "notebooks"
    folder.mkdir()
    bodies = {
        "03_tags_mlp": MEET.format(log=log, me="03_tags_mlp", other="06_partial_labels"),
        "04_lqp": WRITE.format(log=log, me="04_lqp"),
        "06_partial_labels": MEET.format(log=log, me="06_partial_labels", other="03_tags_mlp"),
    }
    for name, body in bodies.items():
        write_notebook(folder / f"{name}.ipynb", body)
    return folder, tmp_path / "log.txt"


@pytest.mark.slow
def test_independent_notebooks_run_at_once_and_a_reader_waits(side_by_side):
    folder, log = side_by_side
    timings = reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder), jobs=2)
    assert list(timings) == ["03_tags_mlp", "04_lqp", "06_partial_labels"]
    lines = log.read_text().splitlines()
    assert sorted(lines) == ["03_tags_mlp a", "04_lqp a", "06_partial_labels a"]
    assert lines.index("04_lqp a") > lines.index("03_tags_mlp a")
    executed = folder.parent / "results" / "demo" / "executed"
    assert json.loads((executed / "04_lqp.stamp.json").read_text())["seconds"] > 0
    # up to date: nothing reruns
    again = reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder), jobs=2)
    assert again == dict.fromkeys(timings)


@pytest.mark.slow
def test_a_failure_stops_its_readers_and_names_them_in_one_line(side_by_side):
    folder, log = side_by_side
    write_notebook(folder / "03_tags_mlp.ipynb", "raise ValueError('no tags')")
    write_notebook(folder / "06_partial_labels.ipynb", WRITE.format(log=str(log), me="06"))
    with pytest.raises(reproduce.NotebookFailed) as failed:
        reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder), jobs=2)
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("03_tags_mlp.ipynb failed in cell 3 (ValueError: no tags)")
    assert message.endswith("; not run, as they read its files: 04_lqp")
    assert log.read_text() == "06 a\n"  # the notebook that does not read 03 still ran


@pytest.mark.slow
def test_a_rerun_reruns_the_readers_of_what_reran_and_nothing_else(side_by_side):
    folder, log = side_by_side
    write_notebook(folder / "06_partial_labels.ipynb", WRITE.format(log=str(log), me="06"))
    write_notebook(folder / "03_tags_mlp.ipynb", WRITE.format(log=str(log), me="03"))
    reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder), jobs=2)
    write_notebook(folder / "03_tags_mlp.ipynb", WRITE.format(log=str(log), me="03") + "  # edit")
    timings = reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder), jobs=2)
    assert timings["06_partial_labels"] is None
    assert timings["03_tags_mlp"] is not None and timings["04_lqp"] is not None


REPORT = (
    "import os\n"
    "open({log!r}, 'a').write('{me} ' + str(os.environ.get('OMP_WAIT_POLICY')) + ' '"
    " + str(os.environ.get('ANNOKIT_CPU_WORKERS')) + chr(10))"
)


@pytest.mark.slow
def test_kernels_side_by_side_wait_without_spinning_and_share_the_cores(side_by_side, monkeypatch):
    folder, log = side_by_side
    for me, other in (("03_tags_mlp", "06_partial_labels"), ("06_partial_labels", "03_tags_mlp")):
        meet = MEET.rsplit("\n", 1)[0] + "\n" + REPORT  # both at once, then each reports
        write_notebook(folder / f"{me}.ipynb", meet.format(log=str(log), me=me, other=other))
    # 09 reads both: nothing can run beside it, so it takes every core
    write_notebook(folder / "09_result_tables.ipynb", REPORT.format(log=str(log), me="09"))
    (folder / "04_lqp.ipynb").unlink()
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("ANNOKIT_CPU_WORKERS", raising=False)

    def reports(jobs: int) -> list[str]:
        log.write_text("")
        reproduce.reproduce("demo", {}, reproduce.chain(folder), force=True, jobs=jobs)
        return sorted(log.read_text().splitlines())

    assert reports(2) == [
        f"03_tags_mlp PASSIVE {share}",
        f"06_partial_labels PASSIVE {share}",
        "09 None None",
    ]
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the caller's own setting wins
    assert reports(2)[0] == f"03_tags_mlp ACTIVE {share}"
