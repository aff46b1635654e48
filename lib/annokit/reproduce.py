"""Run the numbered notebooks in order with papermill for one profile; executed copies go to results/.

``python -m annokit.reproduce --profile demo`` (what ``make reproduce`` calls).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import papermill as pm
from tqdm.auto import tqdm

from annokit import paths
from annokit.profile import available_profiles

NOTEBOOKS_DIR = paths.repo_root() / "notebooks"


class NotebookFailed(RuntimeError):
    """A notebook of the chain raised; the message names the notebook, the cell and the error."""


def chain(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) in order."""
    return sorted(p for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb"))


def run_notebook(notebook: Path, output: Path, parameters: dict) -> float:
    """Execute one notebook into ``output``; returns its wall time in seconds."""
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=parameters, cwd=str(notebook.parent),
                            progress_bar=False, kernel_name="python3")
    except pm.PapermillExecutionError as error:
        raise NotebookFailed(
            f"{notebook.name} failed in cell {error.exec_count} ({error.ename}: {error.evalue}); "
            f"the executed copy with the traceback is {output}"
        ) from None
    return time.perf_counter() - start


def reproduce(profile: str, parameters: dict | None = None, notebooks: list[Path] | None = None) -> dict[str, float]:
    """Run the chain for a profile, stopping at the first failure; returns the wall time of each notebook."""
    parameters = {"profile": profile, **(parameters or {})}
    executed = paths.profile_results_dir(profile) / "executed"
    timings = {}
    steps = notebooks or chain()
    for notebook in (bar := tqdm(steps, desc=f"reproduce {profile}", unit="notebook")):
        bar.set_postfix_str(notebook.stem)
        timings[notebook.stem] = run_notebook(notebook, executed / notebook.name, parameters)
    return timings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Execute the notebooks in order for a profile.")
    parser.add_argument("--profile", default="demo", choices=available_profiles())
    parser.add_argument("--data-root", default="", help="dataset root for the real-data profiles")
    parser.add_argument("--work-dir", default="", help="work folder (default: $ANNOKIT_WORK or <repo>/.work)")
    args = parser.parse_args(argv)
    parameters = {k: v for k, v in {"data_root": args.data_root, "work_dir": args.work_dir}.items() if v}
    start = time.perf_counter()
    timings = reproduce(args.profile, parameters)
    print(f"\nProfile {args.profile}: executed notebooks in {paths.profile_results_dir(args.profile) / 'executed'}")
    for name, seconds in timings.items():
        print(f"  {name:<28} {seconds:7.1f} s")
    print(f"  {'total':<28} {time.perf_counter() - start:7.1f} s")
    results = paths.profile_results_dir(args.profile)
    for kind in ("tables", "figures"):
        produced = sorted(p.name for p in (results / kind).glob("*")) if (results / kind).exists() else []
        print(f"{kind} in {results / kind}: {', '.join(produced) or 'none'}")


if __name__ == "__main__":
    main()
