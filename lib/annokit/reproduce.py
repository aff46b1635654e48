"""Run the numbered notebooks in order with papermill for one
profile; executed copies go to results/.

``python -m annokit.reproduce --profile demo`` (what ``make reproduce`` calls). A notebook whose
executed copy is up to date (same notebook, same parameters, same resolved profile settings, same
library code and work folder, and no earlier notebook rerun in this invocation) is skipped;
``--force`` reruns everything. The first failure stops the chain with the notebook, the cell and
the error in one message. Relative paths are taken from the caller's folder, not ``notebooks/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import papermill as pm
import zmq
from nbclient.exceptions import DeadKernelError
from tqdm.auto import tqdm
from traitlets.config import Config

from annokit import paths
from annokit.cli import add_debug_flag, run_cli
from annokit.profile import available_profiles, load_profile

NOTEBOOKS_DIR = paths.repo_root() / "notebooks"


class NotebookFailed(RuntimeError):
    """A notebook of the chain raised; the message names the notebook, the cell and the error."""


def chain(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in order."""
    return sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(notebook: Path, parameters: dict) -> dict:
    """The subset of ``parameters`` that the notebook's parameters cell declares."""
    declared = pm.inspect_notebook(str(notebook))
    return {k: v for k, v in parameters.items() if k in declared}


PATH_PARAMETERS = ("data_root", "work_dir")
# How a notebook runs, not what it writes: a finished stage is reused whatever these are,
# so they are left out of the stamp.
UNSTAMPED_PARAMETERS = ("gpus",)


def stamp(notebook: Path, parameters: dict, profile_text: str = "", code: str = "") -> str:
    """A digest of a notebook's content, the parameters it runs with, the
    profile's settings and the library code."""
    digest = hashlib.sha256(notebook.read_bytes())
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


def kernel_config() -> Config:
    """Kernel settings: CurveZMQ keys for the kernel's sockets where pyzmq supports them.

    Besides encrypting the traffic, this keeps ipykernel from warning on every start that it runs
    over TCP without encryption; kernelspecs that do not declare Curve support start as before.
    """
    return Config({"KernelManager": {"transport_encryption": "auto"}} if zmq.has("curve") else {})


def run_notebook(notebook: Path, output: Path, parameters: dict) -> float:
    """Execute one notebook into ``output``; returns its wall time in seconds."""
    output.parent.mkdir(parents=True, exist_ok=True)
    stamp_path(output).unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            cwd=str(notebook.parent),
            progress_bar=False,
            kernel_name="python3",
            config=kernel_config(),
        )
    except pm.PapermillExecutionError as error:
        raise NotebookFailed(
            f"{notebook.name} failed in cell {error.exec_count} ({error.ename}: {error.evalue}); "
            f"the executed copy with the traceback is {output}"
        ) from None
    except DeadKernelError:
        raise NotebookFailed(
            f"{notebook.name}: its kernel died (most often out of memory); lower the batch size or "
            "the image count of the profile, or free memory, then run again (finished stages are "
            f"reused); partial copy: {output}"
        ) from None
    return time.perf_counter() - start


def reproduce(
    profile: str,
    parameters: dict | None = None,
    notebooks: list[Path] | None = None,
    force: bool = False,
) -> dict[str, float | None]:
    """Run the chain for a profile; returns each notebook's wall time (None
    where it was up to date and skipped)."""
    parameters = absolute_paths({"profile": profile, "interactive": False, **(parameters or {})})
    check_paths(parameters)
    executed = paths.profile_results_dir(profile) / "executed"
    timings: dict[str, float | None] = {}
    rerun_upstream = force
    settings, code = profile_text(profile), code_digest()
    for notebook in (
        bar := tqdm(notebooks or chain(), desc=f"reproduce {profile}", unit="notebook")
    ):
        bar.set_postfix_str(notebook.stem)
        own = declared_parameters(notebook, parameters)
        stamped = {k: v for k, v in own.items() if k not in UNSTAMPED_PARAMETERS}
        output, expected = executed / notebook.name, stamp(notebook, stamped, settings, code)
        if not rerun_upstream and is_up_to_date(output, expected):
            timings[notebook.stem] = None
            continue
        timings[notebook.stem] = run_notebook(notebook, output, own)
        stamp_path(output).write_text(
            json.dumps({"stamp": expected, "parameters": own, "seconds": timings[notebook.stem]})
        )
        rerun_upstream = True  # what follows reads what this one wrote
    return timings


def check_paths(parameters: dict) -> None:
    """A dataset root that is missing or not a folder stops the run before any notebook starts."""
    root = parameters.get("data_root")
    if root and not Path(root).is_dir():
        what = "is a file, not a folder" if Path(root).exists() else "does not exist"
        raise NotADirectoryError(
            f"--data-root {root} {what}: give the folder that holds the dataset"
        )


def at_least_one(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m annokit.reproduce",
        description="Execute the notebooks in order for a profile.",
    )
    parser.add_argument("--profile", default="demo", choices=available_profiles())
    parser.add_argument("--data-root", default="", help="dataset root for the real-data profiles")
    parser.add_argument(
        "--work-dir", default="", help="work folder (default: $ANNOKIT_WORK or <repo>/.work)"
    )
    parser.add_argument("--device", default="", help="auto (default), cpu, cuda, cuda:1 …")
    parser.add_argument(
        "--force",
        action="store_true",
        help="rerun notebooks even when their outputs are up to date",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes that decode images for the image stages (default: the profile's [loader] "
        "workers)",
    )
    parser.add_argument(
        "--gpus",
        type=at_least_one,
        default=None,
        help="GPUs for the image-training stages (notebooks 01, 02): N > 1 trains them under "
        "torchrun with NCCL, the same files as one GPU (default: the notebooks' gpus, 1)",
    )
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    parameters = {
        k: v
        for k, v in {
            "data_root": args.data_root,
            "work_dir": args.work_dir,
            "device": args.device,
        }.items()
        if v
    }
    if args.workers is not None:
        parameters["workers"] = args.workers  # only the notebooks that declare it get it
    if args.gpus is not None:
        parameters["gpus"] = args.gpus
    start = time.perf_counter()
    timings = reproduce(args.profile, parameters, force=args.force)
    results = paths.profile_results_dir(args.profile)
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
