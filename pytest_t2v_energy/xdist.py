"""The plugin under pytest-xdist (``-n N``): process roles, refused options, worker files and the merge.

Each process plays one role (:func:`xdist_role`):

- a *worker* (one per GPU, pinned by :mod:`t2v_energy_lib.scaleout.sharding`) measures its share of the tests,
  writes them to its own result file ``<PATH stem>.gw<N><suffix>`` (fresh each run, atomically after every
  record, :func:`worker_results`) and reports to the controller through ``config.workeroutput``; it never
  gates; pinned to its own GPU, it gets pytest-benchmark back (:func:`enable_worker_benchmarks`);
- the *controller* (the process that started the workers, no ``workerinput``) tells each worker where to write
  (``workerinput``), merges this run's worker files into ``--energy-results PATH`` with
  :func:`~t2v_energy_lib.scaleout.merge_result_files` at session finish, and runs the energy gate once, on the
  merged file (:class:`XdistController`).

The single-process session that calls into this module is :class:`pytest_t2v_energy.session.EnergySession`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_t2v_energy.session import EnergyOptions

XDIST_RESULTS_KEY = "t2v_energy_results_base"  # workerinput: absolute PATH the worker derives its file from
XDIST_REPORT_KEY = "t2v_energy"  # workeroutput: what a worker tells the controller (see worker_report)

_XDIST_FIX = (
    "Use --energy-results PATH instead (each worker writes PATH.gw<N>.json, merged into PATH at the end, "
    "latency rounds included) and --energy-baseline PATH to gate; or drop -n."
)
_XDIST_REFUSED = (
    ("benchmark_json", "--benchmark-json", "every worker would write its own share to that one path"),
    ("benchmark_autosave", "--benchmark-autosave", "every worker would save its share as a separate run"),
    ("benchmark_save", "--benchmark-save", "every worker would save its share as a separate run"),
    (
        "benchmark_compare_fail",
        "--benchmark-compare-fail",
        "each worker would compare only its share, and its verdict never reaches the controller",
    ),
)


def xdist_role(config: pytest.Config) -> str | None:
    """This process's pytest-xdist role: ``"worker"``, ``"controller"`` (starts the workers) or None."""
    if hasattr(config, "workerinput"):
        return "worker"
    if config.getoption("numprocesses", None) or config.getoption("dist", "no") not in ("no", None):
        return "controller"
    return None


def refuse_under_xdist(config: pytest.Config) -> None:
    """Refuse the pytest-benchmark options that cannot work with several worker processes.

    Raises:
        pytest.UsageError: ``--benchmark-json``/``-autosave``/``-save``/``-compare-fail`` or
            ``--benchmark-only`` given with xdist.
    """
    for dest, flag, why in _XDIST_REFUSED:
        if config.getoption(dest, None):
            raise pytest.UsageError(f"{flag} under pytest-xdist (-n): {why}. {_XDIST_FIX}")
    if config.getoption("benchmark_only", None):
        raise pytest.UsageError(
            "--benchmark-only under pytest-xdist (-n): pytest-benchmark switches itself off in the xdist "
            "controller and refuses --benchmark-only there. Select the benchmarks with -m or -k instead."
        )


def worker_results(config: pytest.Config, results: str | None) -> tuple[str, Path | None]:
    """On an xdist worker: its id and its own result file (None: it writes none).

    The file derives from the path the controller passed in ``workerinput`` (``--energy-results`` made
    absolute, or a temporary file for a gate-only run), else from ``results`` (``--energy-results``).
    """
    from t2v_energy_lib.scaleout import worker_result_path

    worker_id = str(config.workerinput["workerid"])
    base = config.workerinput.get(XDIST_RESULTS_KEY) or results
    return worker_id, (worker_result_path(base, worker_id) if base else None)


def enable_worker_benchmarks(config: pytest.Config, pinned_gpu: str | None) -> str | None:
    """On an xdist worker pinned to its own GPU, switch pytest-benchmark back on.

    pytest-benchmark disables itself whenever xdist is active (``BenchmarkSession.disabled``), because
    parallel workers share the hardware and disturb each other's timings. That reason does not hold when
    every worker owns one GPU (:func:`~t2v_energy_lib.scaleout.pin_current_worker` refuses more workers
    than GPUs) and the measured work runs on it. A worker without a GPU (a CPU host) keeps benchmarks off:
    its workers would share the CPU cores. An explicit ``--benchmark-disable`` is kept.

    pytest-benchmark reads ``disabled`` when it builds each test's ``benchmark`` fixture, so setting it at
    session start (before any test) is enough. ``config._benchmarksession`` is pytest-benchmark's own
    attribute (no public API exists); without pytest-benchmark nothing changes.

    Args:
        config: The worker's pytest config.
        pinned_gpu: The GPU the worker was pinned to; None on a host without GPUs.

    Returns:
        ``"enabled"`` (switched back on), ``"no-gpu"`` (kept off: no GPU of its own), or None (nothing to
        do: no pytest-benchmark, not disabled, or ``--benchmark-disable`` given).
    """
    bench_session = getattr(config, "_benchmarksession", None)
    if bench_session is None or not bench_session.disabled:
        return None
    asked_off = config.getoption("benchmark_disable", False) and not config.getoption(
        "benchmark_enable", False
    )
    if asked_off:
        return None
    if pinned_gpu is None:
        return "no-gpu"
    bench_session.disabled = False
    return "enabled"


class XdistController:
    """The xdist controller's side: where the workers write, which files are this run's, and the merge.

    Each worker writes ``worker_result_path(base, worker_id)``; ``base`` is ``--energy-results PATH`` (made
    absolute: workers need not share the controller's working directory) or, for a run with
    ``--energy-baseline`` only, ``results.json`` in a temporary folder removed at :meth:`cleanup`. The worker
    files are kept beside PATH; a later xdist run removes the file of each worker id it starts (before that
    worker starts), so a merge only ever reads files written by this run's workers.

    Args:
        options: The resolved options of the controller.
    """

    def __init__(self, options: EnergyOptions) -> None:
        self.options = options
        self.worker_ids: list[str] = []
        self.reports: dict[str, Mapping[str, Any]] = {}
        self.crashed: list[str] = []
        self.summary: Any = None
        self._base: Path | None = None
        self._temp_dir: Path | None = None

    def part_base(self) -> Path | None:
        """The absolute path workers derive their files from (None: workers need not write)."""
        if self._base is None:
            if self.options.results_path is not None:
                self._base = self.options.results_path.resolve()
            elif self.options.baseline_path is not None:
                self._temp_dir = Path(tempfile.mkdtemp(prefix="t2v-energy-xdist-"))
                self._base = self._temp_dir / "results.json"
        return self._base

    def configure_node(self, workerinput: MutableMapping[str, Any]) -> None:
        """Before a worker starts: note its id, remove a stale file of that id, tell it where to write."""
        from t2v_energy_lib.scaleout import worker_result_path

        worker_id = str(workerinput["workerid"])
        self.worker_ids.append(worker_id)
        base = self.part_base()
        if base is not None:
            worker_result_path(base, worker_id).unlink(missing_ok=True)
            workerinput[XDIST_RESULTS_KEY] = str(base)

    def node_down(self, worker_id: str, workeroutput: Mapping[str, Any] | None, error: object) -> None:
        """A worker went down: keep its report; note it if it crashed (its finished records are on disk)."""
        if error is not None:
            self.crashed.append(worker_id)
        report = (workeroutput or {}).get(XDIST_REPORT_KEY)
        if report is not None:
            self.reports[worker_id] = report

    def part_files(self) -> list[Path]:
        """The result files written by this run's workers (crashed and replacement workers included)."""
        from t2v_energy_lib.scaleout import parse_worker_id, worker_result_path

        if self._base is None:
            return []
        ids = sorted(set(self.worker_ids), key=parse_worker_id)
        return [path for path in (worker_result_path(self._base, w) for w in ids) if path.exists()]

    def merge(self) -> Any:
        """Merge this run's worker files into the output; the merged :class:`ResultFile`, None if none.

        Raises:
            T2VEnergyError: A record id with different content in two worker files, unreadable files, or
                files of different hardware (without ``--energy-allow-hardware-mismatch``).
        """
        from t2v_energy_lib.results import ResultFile, load_results
        from t2v_energy_lib.scaleout import merge_result_files

        parts = self.part_files()
        if not parts or self._base is None:
            return None
        self.summary = merge_result_files(
            parts, self._base, allow_mismatch=self.options.allow_hardware_mismatch
        )
        merged = load_results(self._base)
        return ResultFile(merged.provenance, merged.records, path=self.options.results_path)

    def merge_or_failure(self) -> tuple[Any, str | None]:
        """:meth:`merge`, with a failure turned into the message the session fails with.

        Returns:
            ``(merged, None)`` (``merged`` as :meth:`merge` returns it), or ``(None, message)`` when the
            merge raised a :class:`~t2v_energy_lib.errors.T2VEnergyError`.
        """
        from t2v_energy_lib.errors import ResultConflictError, T2VEnergyError

        files = ", ".join(path.name for path in self.part_files())
        try:
            return self.merge(), None
        except T2VEnergyError as exc:
            hint = ""
            if isinstance(exc, ResultConflictError):
                hint = (
                    " Within one xdist run this means two tests produced one record id on different workers: "
                    "ids must be unique (give distinct settings/component, or pass record_id=...)."
                )
            return None, f"merging the xdist workers' result files ({files}) failed: {exc}{hint}"

    def cleanup(self) -> None:
        """Remove the temporary folder of a gate-only run."""
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir)
            self._temp_dir = None

    def summary_lines(self) -> list[str]:
        """What the controller says about the workers and the merge."""
        from pytest_t2v_energy.session import short_windows_line  # session imports this module

        lines = self._benchmark_lines()
        short = sum(int(r.get("short_windows", 0)) for r in self.reports.values())
        if short:
            lines.append(short_windows_line(short))
        for note in dict.fromkeys(n for r in self.reports.values() for n in r.get("notes", ())):
            lines.append(note)
        if self.crashed:
            kept = "; the records they finished are in the merge" if self.summary is not None else ""
            lines.append(f"xdist worker(s) {', '.join(self.crashed)} went down before finishing{kept}.")
        if self.summary is not None:
            lines.extend(self._merge_lines())
        return lines

    def _benchmark_lines(self) -> list[str]:
        reports = sorted(self.reports.items())
        enabled = [f"{w} (GPU {r.get('gpu')})" for w, r in reports if r.get("benchmarks") == "enabled"]
        no_gpu = [w for w, r in reports if r.get("benchmarks") == "no-gpu"]
        unmeasured = sum(int(r.get("unmeasured", 0)) for w, r in reports if w in no_gpu)
        lines = []
        if enabled:
            lines.append(
                f"pytest-benchmark enabled on xdist worker(s) {', '.join(enabled)}: each owns its GPU, so "
                "xdist's reason to disable benchmarks (workers sharing the hardware) does not hold."
            )
        asked = self.options.results_path is not None or self.options.baseline_path is not None
        if no_gpu and (unmeasured or asked):
            lines.append(
                f"pytest-benchmark stays disabled on xdist worker(s) {', '.join(no_gpu)}: no GPU of their "
                f"own (they would share the CPU cores); {unmeasured} `energy` test(s) ran once, unmeasured. "
                "Run without -n to measure on the CPU."
            )
        return lines

    def _merge_lines(self) -> list[str]:
        summary = self.summary
        files = ", ".join(str(w["source"]) for w in summary.workers)
        where = self.options.results_path
        if where is None:
            lines = [
                f"merged {summary.n_records} result record(s) of {len(summary.workers)} xdist worker file(s) "
                "for the gate (temporary, removed; pass --energy-results PATH to keep them)"
            ]
        else:
            lines = [
                f"merged {summary.n_records} result record(s) from {len(summary.workers)} xdist worker "
                f"file(s) into {where} (worker files kept beside it: {files})"
            ]
        if summary.n_duplicates_dropped:
            lines.append(f"{summary.n_duplicates_dropped} identical record(s) in two worker files kept once")
        if len(summary.workers) > 1:
            lines.append(
                "host (CPU/RAM) energy of each record covers the whole host, shared by the concurrent "
                "workers; GPU energy is per device and per test."
            )
        return lines
