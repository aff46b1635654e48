"""Run the numbered notebooks in order with papermill for one
profile; executed copies go to results/.

``python -m annokit.reproduce --profile demo`` (what ``make reproduce`` calls). A notebook whose
executed copy is up to date (same notebook, same parameters, same resolved profile settings, same
library code and work folder, and no earlier notebook rerun in this invocation) is skipped;
``--force`` reruns everything. The first failure stops the chain with the notebook, the cell and
the error in one message. Relative paths are taken from the caller's folder, not ``notebooks/``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import papermill as pm
from nbclient.exceptions import DeadKernelError
from tqdm.auto import tqdm

from annokit import paths
from annokit.chain_graph import StepsFailed, critical_order, downstream, needs_of, run_graph
from annokit.cli import called_as, run_cli, worker_message
from annokit.notebook_kernel import (
    allow_kernels,
    echo_kernel_log,
    kernel_config,
    kernel_log_path,
    kernels_stopped,
    side_by_side_env,
    stop_kernels,
)
from annokit.notebook_parameters import typed_parameters
from annokit.notebook_strip import code_fingerprint
from annokit.profile import load_profile
from annokit.profile.load import is_profile_file
from annokit.reproduce_options import chain_parameters, default_jobs, reproduce_parser
from annokit.run_guard import check_gpus, data_state, run_folder, run_lock

NOTEBOOKS_DIR = paths.repo_root() / "notebooks"  # of the checkout imported; chain() reads it again


class NotebookFailed(RuntimeError):
    """A notebook of the chain raised; the message names the notebook, the cell and the error."""


def chain(notebooks_dir: Path | None = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in order, of the checkout being run by default."""
    return sorted((notebooks_dir or paths.repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(notebook: Path, parameters: dict) -> dict:
    """The subset of ``parameters`` that the notebook's parameters cell declares."""
    declared = pm.inspect_notebook(str(notebook))
    return {k: v for k, v in parameters.items() if k in declared}


PATH_PARAMETERS = ("data_root", "work_dir")
# How a notebook runs, not what it writes: a finished stage is reused whatever these are,
# so they are left out of the stamp.
UNSTAMPED_PARAMETERS = ("gpus",)


def stamp(notebook: Path, parameters: dict, profile_text: str = "", code: str = "") -> str:
    """A digest of a notebook's code (cell sources, the parameters cell included: not its outputs,
    execution counts or kernel metadata, so running it in JupyterLab reruns nothing), the
    parameters it runs with, the profile's settings and the library code."""
    digest = hashlib.sha256(code_fingerprint(notebook).encode())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    digest.update(profile_text.encode())
    digest.update(code.encode())
    return digest.hexdigest()


def code_digest(root: Path | None = None) -> str:
    """A digest of what a notebook's results depend on beside itself: the library, the
    profiles, the manifests, and where the work and results folders are
    (``ANNOKIT_WORK``, ``ANNOKIT_RESULTS``)."""
    root = root or paths.repo_root()
    digest = hashlib.sha256()
    files = [
        *sorted((root / "lib" / "annokit").rglob("*.py")),
        *sorted((root / "lib" / "annokit" / "profiles").glob("*.toml")),
        *sorted(paths.manifests_dir().glob("*.json")),
    ]
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(f"{paths.work_dir().resolve()}\0{paths.results_dir().resolve()}".encode())
    return digest.hexdigest()


def absolute_paths(parameters: dict) -> dict:
    """``data_root`` and ``work_dir`` made absolute from the caller's folder
    (papermill runs in ``notebooks/``)."""
    return {
        k: str(Path(v).expanduser().resolve()) if k in PATH_PARAMETERS and v else v
        for k, v in parameters.items()
    }


def profile_text(profile: str) -> str:
    """The profile's resolved settings (the profiles it extends included), so editing one
    makes its notebooks out of date."""
    return load_profile(profile).to_json()


def stamp_path(output: Path) -> Path:
    return output.with_suffix(".stamp.json")


def is_up_to_date(output: Path, expected: str) -> bool:
    """The executed copy exists and was made from the same notebook with the same parameters."""
    record = stamp_path(output)
    return (
        output.exists()
        and record.exists()
        and json.loads(record.read_text()).get("stamp") == expected
    )


def run_notebook(
    notebook: Path, output: Path, parameters: dict, env: dict[str, str] | None = None
) -> float:
    """Execute one notebook into ``output`` (``env``: added to its kernel's environment);
    returns its wall time in seconds."""
    output.parent.mkdir(parents=True, exist_ok=True)
    stamp_path(output).unlink(missing_ok=True)
    kernel_log_path(output).unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            cwd=str(notebook.parent),
            progress_bar=False,
            kernel_name="python3",
            config=kernel_config(kernel_log_path(output), env),
        )
    except KeyboardInterrupt:
        raise  # the kernel's shutdown noise stays in its log
    except pm.PapermillExecutionError as error:
        echo_kernel_log(kernel_log_path(output))
        raise NotebookFailed(
            f"{notebook.name} failed in cell {error.exec_count} ({error.ename}: "
            f"{worker_message(error.evalue)}); "
            f"the executed copy with the traceback is {output}"
        ) from None
    except DeadKernelError:
        if kernels_stopped():
            raise KeyboardInterrupt from None  # Ctrl-C: its shutdown noise stays in its log
        echo_kernel_log(kernel_log_path(output))
        raise NotebookFailed(
            f"{notebook.name}: its kernel died (most often out of memory); lower the batch size or "
            "the image count of the profile, or free memory, then run again (finished stages are "
            f"reused); partial copy: {output}"
        ) from None
    echo_kernel_log(kernel_log_path(output))
    return time.perf_counter() - start


def reproduce(
    profile: str,
    parameters: dict | None = None,
    notebooks: list[Path] | None = None,
    force: bool = False,
    raw: dict[str, str] | None = None,
    jobs: int = 1,
) -> dict[str, float | None]:
    """Run the chain for a profile; returns each notebook's wall time (None
    where it was up to date and skipped). ``raw``: ``-p`` values, checked against each notebook's
    parameters cell before any notebook runs. ``jobs``: notebooks at most at once, each starting
    when the notebooks whose files it reads (``annokit.chain_graph.READS``) have finished."""
    if is_profile_file(profile):  # a profile file of your own: found from notebooks/ too
        profile = str(Path(profile).expanduser().resolve())
    parameters = absolute_paths({"profile": profile, "interactive": False, **(parameters or {})})
    if is_profile_file(profile):  # your own data: notebook 00 prepares no demo profile beside it
        parameters.setdefault("companion_profiles", [])
    check_paths(parameters)
    paths.check_checkout()
    notebooks = notebooks or chain()
    typed = typed_parameters(notebooks, raw or {})
    # the kernels inherit the checkout and the work folder: everything under it follows --work-dir
    with paths.working_in(parameters.get("work_dir")), run_lock(run_folder(profile, parameters)):
        return _run_chain(profile, parameters, notebooks, typed, force, jobs)


def _run_chain(
    profile: str,
    parameters: dict,
    notebooks: list[Path],
    typed: dict[Path, dict],
    force: bool,
    jobs: int,
) -> dict[str, float | None]:
    """The chain under the run lock: skip what is up to date, run the rest, each notebook after
    the ones it reads (a notebook reruns when one of those reran)."""
    executed = paths.profile_results_dir(load_profile(profile).name) / "executed"
    settings, code = profile_text(profile), code_digest()
    state = [data_state(profile, parameters)]  # after the latest notebook that ran
    plan = {}
    for notebook in notebooks:
        own = {**declared_parameters(notebook, parameters), **typed.get(notebook, {})}
        plan[notebook.stem] = (notebook, own, executed / notebook.name)
    _check_gpus_before(
        list(plan.values()),
        force,
        lambda notebook, own: stamp_of(notebook, own, settings, code + state[0]),
    )
    needs = needs_of(list(plan))
    reran: set[str] = set()  # notebooks run in this invocation: their readers rerun too
    running: list[str] = []
    ended: set[str] = set()  # run, skipped or failed
    bar = tqdm(total=len(plan), desc=f"reproduce {profile}", unit="notebook")

    def step(name: str) -> float | None:
        try:
            return run_step(name)
        finally:
            ended.add(name)

    def run_step(name: str) -> float | None:
        notebook, own, output = plan[name]
        if not (force or needs[name] & reran) and is_up_to_date(
            output, stamp_of(notebook, own, settings, code + state[0])
        ):
            bar.update()
            return None
        running.append(name)
        bar.set_postfix_str(", ".join(running))
        # a notebook that no other can run beside (the rest read its files) takes every core
        beside = set(plan) - ended - {name} - set(downstream(name, needs))
        try:
            seconds = run_notebook(notebook, output, own, side_by_side_env(jobs if beside else 1))
        finally:
            running.remove(name)
        state[0] = data_state(profile, parameters)  # what the notebook made of the data
        record = {
            "stamp": stamp_of(notebook, own, settings, code + state[0]),
            "parameters": own,
            "seconds": seconds,
        }
        stamp_path(output).write_text(json.dumps(record))
        reran.add(name)
        bar.update()
        return seconds

    allow_kernels()
    earlier = {name: recorded_seconds(output) for name, (_, _, output) in plan.items()}
    try:
        timings = run_graph(
            needs, step, jobs, critical_order(needs, earlier), interrupt=stop_kernels
        )
    except StepsFailed as failed:
        raise chain_failure(failed) from None
    finally:
        bar.close()
    return {name: timings[name] for name in plan}


def recorded_seconds(output: Path) -> float:
    """How long a notebook took the last time it ran (its stamp record), 60 s if unknown: the
    runner starts the longest chain of notebooks first."""
    try:
        return float(json.loads(stamp_path(output).read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return 60.0


def chain_failure(failed: StepsFailed) -> Exception:
    """The error a failed chain ends with: the first failure's own message, what else failed and
    which notebooks did not run because they read a failed one's files, in one line."""
    names = sorted(failed.failures)
    first = failed.failures[names[0]]
    if not isinstance(first, NotebookFailed):
        return first
    text = "; ".join(str(failed.failures[name]) for name in names)
    if failed.not_run:
        text += f"; not run, as they read its files: {', '.join(failed.not_run)}"
    return NotebookFailed(text)


def stamp_of(notebook: Path, own: dict, profile_settings: str, code: str) -> str:
    """The stamp of a notebook run with ``own`` (``gpus`` and the like left out)."""
    stamped = {k: v for k, v in own.items() if k not in UNSTAMPED_PARAMETERS}
    return stamp(notebook, stamped, profile_settings, code)


def _check_gpus_before(
    plan: list[tuple[Path, dict, Path]], force: bool, expected: Callable[[Path, dict], str]
) -> None:
    """``gpus`` > 1 without the GPUs is refused before the first notebook, unless every notebook
    that takes ``gpus`` is up to date and will be skipped."""
    first_to_run = next(
        (
            i
            for i, (notebook, own, output) in enumerate(plan)
            if force or not is_up_to_date(output, expected(notebook, own))
        ),
        len(plan),
    )
    for _, own, _ in plan[first_to_run:]:
        if "gpus" in own:
            check_gpus(own["gpus"])


def check_paths(parameters: dict) -> None:
    """A dataset root that is missing or not a folder stops the run before any notebook starts."""
    root = parameters.get("data_root")
    if root and not Path(root).is_dir():
        what = "is a file, not a folder" if Path(root).exists() else "does not exist"
        raise NotADirectoryError(
            f"--data-root {root} {what}: give the folder that holds the dataset"
        )


def main(argv: list[str] | None = None) -> int:
    args = reproduce_parser(called_as("python -m annokit.reproduce")).parse_args(argv)
    parameters = chain_parameters(args)
    start = time.perf_counter()
    raw = dict(args.parameter)
    jobs = args.jobs or default_jobs(parameters.get("device", ""))
    timings = reproduce(args.profile, parameters, force=args.force, raw=raw, jobs=jobs)
    results = paths.profile_results_dir(load_profile(args.profile).name)
    print(f"\nProfile {args.profile}: executed notebooks in {results / 'executed'}")
    for name, seconds in timings.items():
        print(
            f"  {name:<28} " + ("up to date, skipped" if seconds is None else f"{seconds:7.1f} s")
        )
    print(f"  {'total':<28} {time.perf_counter() - start:7.1f} s")
    for kind in ("tables", "figures"):
        produced = (
            sorted(p.name for p in (results / kind).glob("*")) if (results / kind).exists() else []
        )
        print(f"{kind} in {results / kind}: {', '.join(produced) or 'none'}")
    return 0


if __name__ == "__main__":
    run_cli(main, prog="reproduce")
