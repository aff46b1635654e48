"""The runner: order, skip when up to date, --force, and the first
failure stops with one clear message."""

import nbformat
import pytest

from annokit import reproduce


def write_notebook(path, body, parameters='profile = "demo"\nmarker = ""'):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@pytest.fixture
def chain_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOKIT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path / "work"))  # the run lock and index go there
    log = tmp_path / "log.txt"
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("00_first", "01_second"):
        write_notebook(
            folder / f"{name}.ipynb", f"open({str(log)!r}, 'a').write('{name} ' + marker + chr(10))"
        )
    return folder, log


def test_runs_in_order_then_skips_what_is_up_to_date(chain_dir):
    folder, log = chain_dir
    first = reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder))
    assert log.read_text().split("\n")[:2] == ["00_first a", "01_second a"]
    assert all(seconds is not None for seconds in first.values())
    second = reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder))
    assert second == {"00_first": None, "01_second": None}
    assert log.read_text().count("\n") == 2


@pytest.mark.slow
def test_changed_parameters_rerun_and_force_reruns_all(chain_dir):
    folder, log = chain_dir
    reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder))
    reproduce.reproduce("demo", {"marker": "b"}, reproduce.chain(folder))
    assert log.read_text().count(" b\n") == 2
    reproduce.reproduce("demo", {"marker": "b"}, reproduce.chain(folder), force=True)
    assert log.read_text().count(" b\n") == 4


@pytest.mark.slow
def test_a_changed_notebook_reruns_itself_and_everything_after(chain_dir):
    folder, log = chain_dir
    reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder))
    nb = nbformat.read(folder / "00_first.ipynb", as_version=4)
    nb.cells[1].source += "  # edited"
    nbformat.write(nb, folder / "00_first.ipynb")
    timings = reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder))
    assert all(seconds is not None for seconds in timings.values())


def test_parameters_a_notebook_does_not_declare_are_not_injected(chain_dir):
    folder, _ = chain_dir
    assert reproduce.declared_parameters(
        folder / "00_first.ipynb", {"marker": "x", "interactive": False}
    ) == {"marker": "x"}


def test_first_failure_stops_with_notebook_cell_and_error(chain_dir):
    # cells are numbered as in the executed copy, which holds papermill's injected parameters cell
    folder, log = chain_dir
    write_notebook(folder / "00_first.ipynb", "raise ValueError('the data root is empty')")
    with pytest.raises(
        reproduce.NotebookFailed,
        match=r"00_first.ipynb failed in cell 3 \(ValueError: the data root is empty\)",
    ):
        reproduce.reproduce("demo", {}, reproduce.chain(folder))
    assert not log.exists()  # 01 never ran


@pytest.mark.slow
def test_editing_the_profile_makes_notebooks_out_of_date(chain_dir, monkeypatch):
    folder, log = chain_dir
    reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder))
    monkeypatch.setattr(reproduce, "profile_text", lambda profile: "[cnn]\nepochs = 99\n")
    timings = reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder))
    assert all(seconds is not None for seconds in timings.values())


@pytest.mark.slow
def test_editing_the_library_or_moving_the_work_folder_makes_notebooks_out_of_date(
    chain_dir, monkeypatch, tmp_path
):
    folder, _ = chain_dir
    reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder))
    monkeypatch.setattr(reproduce, "code_digest", lambda: "library edited")
    assert all(
        s is not None
        for s in reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder)).values()
    )
    monkeypatch.undo()
    monkeypatch.setenv("ANNOKIT_RESULTS", str(tmp_path / "results"))
    reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder))
    monkeypatch.setenv("ANNOKIT_WORK", str(tmp_path / "elsewhere"))
    assert all(
        s is not None
        for s in reproduce.reproduce("demo", {"marker": "a"}, reproduce.chain(folder)).values()
    )


def test_relative_paths_are_taken_from_the_callers_folder(chain_dir, tmp_path, monkeypatch):
    folder, log = chain_dir
    write_notebook(
        folder / "00_first.ipynb",
        f"open({str(log)!r}, 'a').write(work_dir + chr(10))",
        parameters='profile = "demo"\nwork_dir = ""',
    )
    (tmp_path / "caller" / "relwork").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "caller")
    reproduce.reproduce("demo", {"work_dir": "relwork"}, reproduce.chain(folder)[:1])
    assert log.read_text().strip() == str(tmp_path / "caller" / "relwork")


def test_a_data_root_that_is_a_file_or_missing_stops_before_any_notebook(chain_dir, tmp_path):
    folder, log = chain_dir
    (tmp_path / "a_file").write_text("x")
    for root, problem in (
        (tmp_path / "a_file", "is a file, not a folder"),
        (tmp_path / "nothing", "does not exist"),
    ):
        with pytest.raises(NotADirectoryError, match=f"--data-root {root} {problem}"):
            reproduce.reproduce("demo", {"data_root": str(root)}, reproduce.chain(folder))
    assert not log.exists()


def test_a_killed_kernel_names_the_notebook(chain_dir):
    folder, log = chain_dir
    write_notebook(
        folder / "00_first.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    )
    with pytest.raises(
        reproduce.NotebookFailed,
        match=r"00_first.ipynb: its kernel died \(most often out of memory\)",
    ):
        reproduce.reproduce("demo", {}, reproduce.chain(folder))
    assert not log.exists()


def test_the_console_shows_a_real_problem_but_not_the_kernels_transport_warning(chain_dir, capfd):
    # the kernel inherits the runner's stderr: what lands there is what the user reads
    folder, _ = chain_dir
    body = "import sys\nprint('a real problem', file=sys.__stderr__)\nraise ValueError('bad data')"
    write_notebook(folder / "00_first.ipynb", body)
    with pytest.raises(reproduce.NotebookFailed, match=r"ValueError: bad data"):
        reproduce.reproduce("demo", {}, reproduce.chain(folder)[:1])
    console = capfd.readouterr()
    assert "a real problem" in console.err
    assert "Kernel is running over TCP without encryption" not in console.out + console.err
