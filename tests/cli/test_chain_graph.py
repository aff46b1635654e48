"""The chain's dependency graph (every notebook listed, only earlier notebooks read, notebook 09
after every file it scores) and the scheduler on stub steps: order, notebooks side by side, a
failure stopping only its readers, Ctrl-C."""

import re
import threading
import time
from pathlib import Path

import pytest

from annokit import chain_graph
from annokit.artifacts.stamps import WRITERS, writer_notebook
from annokit.chain_graph import (
    READS,
    StepsFailed,
    check_graph,
    critical_order,
    downstream,
    needs_of,
    run_graph,
)
from annokit.reproduce_options import default_jobs

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def upstream(name: str) -> set[str]:
    """Every notebook ``name`` reads, directly or through another."""
    found, todo = set(), list(READS[name])
    while todo:
        other = todo.pop()
        if other not in found:
            found.add(other)
            todo.extend(READS[other])
    return found


def test_every_notebook_of_the_chain_has_an_entry():
    stems = {path.stem for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
    assert stems, "no notebook found"
    assert stems - set(READS) == set()


def test_the_graph_reads_only_earlier_notebooks_so_it_has_no_cycle():
    check_graph(READS)
    with pytest.raises(ValueError, match="01_b reads 02_c: a notebook may read only notebooks"):
        check_graph({"00_a": (), "01_b": ("02_c",), "02_c": ("01_b",)})
    with pytest.raises(ValueError, match="01_b reads 00_x, which the graph does not list"):
        check_graph({"00_a": (), "01_b": ("00_x",)})


def test_the_tables_and_the_viewer_come_after_every_prediction_writer():
    everything_else = set(READS) - {"09_result_tables", "10_annotation_viewer"}
    assert upstream("09_result_tables") == everything_else
    assert set(WRITERS) <= upstream("10_annotation_viewer")
    assert "09_result_tables" not in upstream("10_annotation_viewer")  # the two run side by side


@pytest.mark.parametrize("source", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_a_notebook_reads_the_files_only_of_notebooks_it_waits_for(source):
    # run.cached("name") and run.predictions("name") in a notebook's cells, by the files' writers
    read = re.findall(r"\.(?:cached|predictions)\(\s*f?\"([a-z_]+)", source.read_text())
    writers = {writer_notebook(name) for name in read} - {None, source.stem}
    assert writers <= upstream(source.stem)


def test_needs_keep_the_chain_given_and_an_unlisted_notebook_waits_for_all_before_it():
    graph = {"00_a": (), "01_b": ("00_a",), "02_c": ("00_a",), "03_d": ("01_b", "02_c")}
    assert needs_of(["00_a", "01_b", "02_c", "03_d"], graph) == {
        "00_a": set(),
        "01_b": {"00_a"},
        "02_c": {"00_a"},
        "03_d": {"01_b", "02_c"},
    }
    # a partial chain: what is not run counts as finished; 04_new is not in the graph
    assert needs_of(["02_c", "03_d", "04_new"], graph) == {
        "02_c": set(),
        "03_d": {"02_c"},
        "04_new": {"02_c", "03_d"},
    }


def test_downstream_is_every_reader_directly_or_through_another():
    needs = {"00_a": set(), "01_b": {"00_a"}, "02_c": {"00_a"}, "03_d": {"01_b"}, "04_e": set()}
    assert downstream("00_a", needs) == ["01_b", "02_c", "03_d"]
    assert downstream("01_b", needs) == ["03_d"]
    assert downstream("04_e", needs) == []


def test_the_longest_chain_of_readers_starts_first():
    needs = {"00_a": set(), "01_b": {"00_a"}, "02_c": {"00_a"}, "03_d": {"01_b"}}
    seconds = {"00_a": 10.0, "01_b": 5.0, "02_c": 30.0, "03_d": 20.0}
    assert critical_order(needs, seconds) == {
        "03_d": 20.0,
        "02_c": 30.0,
        "01_b": 25.0,
        "00_a": 40.0,
    }


class Recorder:
    """Stub steps: each records its start and end and sleeps a little; ``fail`` raise."""

    def __init__(self, fail=(), pause=0.05):
        self.events, self.lock, self.fail, self.pause = [], threading.Lock(), set(fail), pause
        self.running = self.most = 0

    def __call__(self, name):
        with self.lock:
            self.events.append(("start", name))
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.pause)
        with self.lock:
            self.running -= 1
            self.events.append(("end", name))
        if name in self.fail:
            raise RuntimeError(f"{name} broke")
        return name.upper()

    def started(self):
        return [name for kind, name in self.events if kind == "start"]

    def position(self, kind, name):
        return self.events.index((kind, name))


DIAMOND = {"00_a": set(), "01_b": {"00_a"}, "02_c": {"00_a"}, "03_d": {"01_b", "02_c"}}


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_a_step_starts_only_after_every_step_it_needs_has_ended(jobs):
    steps = Recorder()
    assert run_graph(DIAMOND, steps, jobs=jobs) == {n: n.upper() for n in DIAMOND}
    for name, needs in DIAMOND.items():
        for other in needs:
            assert steps.position("end", other) < steps.position("start", name)
    assert steps.most <= jobs


def test_one_job_runs_the_steps_one_after_another_in_chain_order():
    steps = Recorder()
    run_graph(DIAMOND, steps, jobs=1, priority={"02_c": 99.0})
    assert steps.started() == ["00_a", "01_b", "02_c", "03_d"] and steps.most == 1


def test_independent_steps_run_side_by_side_longest_chain_first():
    barrier = threading.Barrier(2, timeout=5)  # passes only when both steps run at once
    order = []

    def step(name):
        order.append(name)
        if name in ("01_b", "02_c"):
            barrier.wait()
        return name

    run_graph(DIAMOND, step, jobs=2, priority={"02_c": 2.0, "01_b": 1.0})
    assert order[:3] == ["00_a", "02_c", "01_b"]


def test_a_failure_stops_its_readers_and_the_others_still_run():
    needs = {**DIAMOND, "04_e": {"00_a"}}
    for jobs in (1, 2):
        steps = Recorder(fail={"01_b"})
        with pytest.raises(StepsFailed) as failed:
            run_graph(needs, steps, jobs=jobs)
        assert list(failed.value.failures) == ["01_b"]
        assert str(failed.value.failures["01_b"]) == "01_b broke"
        assert failed.value.not_run == ["03_d"]
        assert sorted(steps.started()) == ["00_a", "01_b", "02_c", "04_e"]


def test_ctrl_c_stops_the_running_steps_and_starts_no_other(monkeypatch):
    release, stopped = threading.Event(), []
    started = []

    def step(name):
        started.append(name)
        release.wait(5)
        return name

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    def interrupt():
        stopped.append(list(started))
        release.set()  # what killing the kernels does to a running notebook

    monkeypatch.setattr(chain_graph, "wait", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run_graph(DIAMOND, step, jobs=2, interrupt=interrupt)
    assert stopped == [["00_a"]] and started == ["00_a"]


def test_default_jobs_is_two_on_a_cpu_of_several_cores_and_one_on_a_gpu():
    assert default_jobs("cpu", cores=1) == 1
    assert default_jobs("cpu", cores=2) == 2
    assert default_jobs("cpu", cores=16) == 2
    assert default_jobs("cuda:1", cores=16) == 1
