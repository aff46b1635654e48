"""Which notebook of the chain reads which other notebook's files, and the chain run in that
order: notebooks that do not read each other's files may run side by side (``reproduce --jobs``).

Each entry of ``READS`` names the notebooks whose files a notebook reads (what each one writes:
its header, and ``annokit.artifacts.stamps.WRITERS`` for the prediction and cached-array files).
A notebook starts only when all of them have finished; one that fails stops the notebooks that
read its files, and the others still run. Every notebook reads only notebooks numbered before it,
so the numbered order is always a valid order and ``--jobs 1`` runs the chain as it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

R = TypeVar("R")

DATA_PREP = "00_data_prep"
# every prediction file of the run (notebook 09 scores them all, notebook 10 shows them all)
PREDICTION_WRITERS = (
    "01_cnn_finetune",
    "02_ms_cnn",
    "03_tags_mlp",
    "04_lqp",
    "05_multi_order_rnn",
    "06_partial_labels",
    "07_cnn_rnn",
    "08_baselines",
)
# notebook -> the notebooks whose files it reads; every notebook reads the prepared index of 00
READS: dict[str, tuple[str, ...]] = {
    DATA_PREP: (),
    "01_cnn_finetune": (DATA_PREP,),  # index, images, the pretrained (stand-in) weights
    "02_ms_cnn": (DATA_PREP, "01_cnn_finetune"),  # cnn/final.pt, predictions cnn
    "03_tags_mlp": (DATA_PREP,),  # the index's tags and labels only
    "04_lqp": (DATA_PREP, "01_cnn_finetune", "02_ms_cnn", "03_tags_mlp"),  # f_v, f_t; cnn, mscnn
    "05_multi_order_rnn": (DATA_PREP, "01_cnn_finetune"),  # cnn_scores
    "06_partial_labels": (DATA_PREP,),  # pretrained weights and images, not notebook 01's CNN
    "07_cnn_rnn": (DATA_PREP, "01_cnn_finetune"),  # cnn_features
    "08_baselines": (DATA_PREP, "01_cnn_finetune"),  # cnn_features, cnn_scores; tags of the index
    # every prediction file, 00's dataset statistics, 05's figure, 06's partial_labels.csv
    "09_result_tables": (DATA_PREP, *PREDICTION_WRITERS),
    "10_annotation_viewer": (DATA_PREP, *PREDICTION_WRITERS),  # every prediction file, not 09's
}


def check_graph(graph: Mapping[str, Collection[str]] = READS) -> None:
    """Refuse a graph whose notebooks read an unknown notebook, or one numbered after themselves
    (which also rules out a cycle)."""
    for notebook, reads in graph.items():
        for other in reads:
            if other not in graph:
                raise ValueError(f"{notebook} reads {other}, which the graph does not list")
            if other >= notebook:
                raise ValueError(
                    f"{notebook} reads {other}: a notebook may read only notebooks numbered "
                    "before it"
                )


def needs_of(
    names: Sequence[str], graph: Mapping[str, Collection[str]] = READS
) -> dict[str, set[str]]:
    """Each notebook of ``names`` (stems, in chain order) with the notebooks of ``names`` it must
    wait for. One the graph does not list waits for every notebook before it, as in a sequential
    run; one it reads that is not in ``names`` counts as finished (a partial chain)."""
    chosen = set(names)
    return {
        name: (
            set(graph[name]) & chosen if name in graph else set(names[: list(names).index(name)])
        )
        for name in names
    }


def downstream(name: str, needs: Mapping[str, Collection[str]]) -> list[str]:
    """Every notebook that reads ``name``'s files, directly or through another, in chain order."""
    found: set[str] = set()
    for other in sorted(needs):  # readers come after what they read
        if name in needs[other] or found & set(needs[other]):
            found.add(other)
    return sorted(found)


def critical_order(
    needs: Mapping[str, Collection[str]], seconds: Mapping[str, float]
) -> dict[str, float]:
    """Each notebook's longest path to the end of the chain (its own time plus the longest chain of
    readers after it): started first, the longest path ends sooner."""
    longest: dict[str, float] = {}
    for name in sorted(needs, reverse=True):
        readers = [other for other in needs if name in needs[other]]
        longest[name] = seconds.get(name, 1.0) + max((longest[r] for r in readers), default=0.0)
    return longest


class StepsFailed(RuntimeError):
    """One or more notebooks failed; ``failures`` by name, ``not_run`` the ones that read them."""

    def __init__(self, failures: dict[str, BaseException], not_run: list[str]) -> None:
        super().__init__(", ".join(failures))
        self.failures = failures
        self.not_run = not_run


def run_graph(
    needs: Mapping[str, Collection[str]],
    step: Callable[[str], R],
    jobs: int = 1,
    priority: Mapping[str, float] | None = None,
    interrupt: Callable[[], None] | None = None,
) -> dict[str, R]:
    """``step(name)`` for every notebook once the notebooks it needs have finished, ``jobs`` at a
    time (1: in this thread, in chain order). Returns each result; a failure lets the others go
    on, then raises ``StepsFailed``. On Ctrl-C, ``interrupt()`` stops the running steps."""
    results: dict[str, R] = {}
    failures: dict[str, BaseException] = {}
    blocked: set[str] = set()
    pending = sorted(needs)
    rank = priority or {}

    def ready() -> list[str]:
        waiting = [n for n in pending if n not in blocked and set(needs[n]) <= set(results)]
        return sorted(waiting, key=lambda n: (-rank.get(n, 0.0), n))

    def failed(name: str, error: BaseException) -> None:
        failures[name] = error
        blocked.update(downstream(name, needs))

    if jobs <= 1:
        for name in list(pending):
            if name in blocked:
                continue
            pending.remove(name)
            try:
                results[name] = step(name)
            except Exception as error:  # noqa: BLE001 (reported together at the end)
                failed(name, error)
    else:
        _run_threads(jobs, step, ready, pending, results, failed, interrupt)
    if failures:
        raise StepsFailed(failures, sorted(blocked - set(failures)))
    return results


def _run_threads(
    jobs: int,
    step: Callable[[str], R],
    ready: Callable[[], list[str]],
    pending: list[str],
    results: dict[str, R],
    failed: Callable[[str, BaseException], None],
    interrupt: Callable[[], None] | None,
) -> None:
    """The scheduler's loop with ``jobs`` worker threads: start what is ready, wait for one to
    end, record it, until nothing is left that can start."""
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebook") as pool:
        try:
            while True:
                for name in ready()[: jobs - len(running)]:
                    pending.remove(name)
                    running[pool.submit(step, name)] = name
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=running.get):
                    name = running.pop(future)
                    error = future.exception()
                    if error is None:
                        results[name] = future.result()
                    else:
                        failed(name, error)
        except KeyboardInterrupt:
            if interrupt is not None:
                interrupt()
            pool.shutdown(wait=True, cancel_futures=True)  # the stopped steps end quickly
            raise
