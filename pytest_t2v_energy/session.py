"""The plugin's per-session state: options, the GPU probe, result records, provenance and the energy gate.

One :class:`EnergySession` lives in ``config.stash[SESSION_KEY]`` from ``pytest_configure`` on; the hooks in
:mod:`pytest_t2v_energy.plugin` are thin calls into it. Hardware is touched only on demand (first GPU-marked
test, first ``energy`` use, first provenance request), never at configure time.

Under pytest-xdist (``-n N``) each process plays one role (:func:`xdist_role`):

- a *worker* (one per GPU, pinned by :mod:`t2v_energy_lib.scaleout.sharding`) measures its share of the tests,
  writes them to its own result file ``<PATH stem>.gw<N><suffix>`` (fresh each run, atomically after every
  record) and reports to the controller through ``config.workeroutput``; it never gates;
- the *controller* (the process that started the workers, no ``workerinput``) tells each worker where to write
  (``workerinput``), merges this run's worker files into ``--energy-results PATH`` with
  :func:`~t2v_energy_lib.scaleout.merge_result_files` at session finish, and runs the energy gate once, on the
  merged file (:class:`XdistController`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_t2v_energy.fixture import per_unit, settings_id, settings_mapping
from pytest_t2v_energy.gpu_probe import GpuProbe, probe_gpus

GPU_MARKERS = ("h100", "gpu")
DEFAULT_COMPARE_FAIL = "energy:5%,latency:5%"
UNRUNNABLE_KEY = pytest.StashKey[str]()
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


@dataclass(frozen=True)
class EnergyOptions:
    """The plugin's command-line options, resolved.

    Attributes:
        results_path: ``--energy-results``: result file to write (None: none).
        baseline_path: ``--energy-baseline``: result file/folder (or pytest-benchmark JSON) to gate against.
        compare_fail: ``--energy-compare-fail``: thresholds spec (default ``energy:5%,latency:5%``).
        allow_hardware_mismatch: ``--energy-allow-hardware-mismatch``.
        idle_s: ``--energy-idle-seconds``: idle baseline duration, 0 = none. Units: s.
        require_gpu: ``--require-gpu``: GPU skips and empty sessions fail.
        baseline_dir: ``--baseline-dir``: stored-baseline folder (default ``<rootdir>/baselines``).
        xdist: This process's pytest-xdist role (:func:`xdist_role`), None without xdist.
        worker_id: The xdist worker id (``gw0``...) on a worker, else None.

    On an xdist worker ``results_path`` is the worker's own file (``results.gw0.json``, derived from the path
    the controller passed, which is ``--energy-results`` or a temporary file for a gate-only run).
    """

    results_path: Path | None
    baseline_path: Path | None
    compare_fail: str
    allow_hardware_mismatch: bool
    idle_s: float
    require_gpu: bool
    baseline_dir: Path
    xdist: str | None = None
    worker_id: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> EnergyOptions:
        """Read and validate the options.

        Raises:
            pytest.UsageError: A threshold spec that does not parse, a spec without a baseline, or a negative
                idle duration.
        """
        spec = config.getoption("energy_compare_fail")
        baseline = config.getoption("energy_baseline")
        if spec is not None and baseline is None:
            raise pytest.UsageError("--energy-compare-fail needs --energy-baseline PATH to compare against")
        idle_s = config.getoption("energy_idle_seconds")
        if idle_s < 0:
            raise pytest.UsageError(
                f"--energy-idle-seconds must be >= 0 (0 = no idle baseline), got {idle_s}"
            )
        from t2v_energy_lib.results import Thresholds

        try:
            Thresholds.parse(spec or DEFAULT_COMPARE_FAIL)
        except ValueError as exc:
            raise pytest.UsageError(f"--energy-compare-fail: {exc}") from None
        results = config.getoption("energy_results")
        results_path = Path(results) if results else None
        role = xdist_role(config)
        worker_id = None
        if role is not None:
            refuse_under_xdist(config)
        if role == "worker":
            from t2v_energy_lib.scaleout import worker_result_path

            worker_id = str(config.workerinput["workerid"])
            base = config.workerinput.get(XDIST_RESULTS_KEY) or results
            results_path = worker_result_path(base, worker_id) if base else None
        base_dir = config.getoption("baseline_dir")
        return cls(
            results_path=results_path,
            baseline_path=Path(baseline) if baseline else None,
            compare_fail=spec or DEFAULT_COMPARE_FAIL,
            allow_hardware_mismatch=bool(config.getoption("energy_allow_hardware_mismatch")),
            idle_s=float(idle_s),
            require_gpu=bool(config.getoption("require_gpu")),
            baseline_dir=Path(base_dir) if base_dir else Path(config.rootpath) / "baselines",
            xdist=role,
            worker_id=worker_id,
        )


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

    def cleanup(self) -> None:
        """Remove the temporary folder of a gate-only run."""
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir)
            self._temp_dir = None

    def summary_lines(self) -> list[str]:
        """What the controller says about the workers and the merge."""
        lines = self._benchmark_lines()
        short = sum(int(r.get("short_windows", 0)) for r in self.reports.values())
        if short:
            lines.append(_short_windows_line(short))
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
        files = ", ".join(Path(str(w["file"])).name for w in summary.workers)
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


def _short_windows_line(count: int) -> str:
    return (
        f"{count} energy round(s) were shorter than the meter's min_window_s: their energy is dominated by "
        "counter granularity; do more work per round (units_per_round)."
    )


class EnergySession:
    """State of one pytest session for the t2v-energy plugin.

    Args:
        config: The pytest config.
        pinned_gpu: On an xdist worker, the GPU it was pinned to (``CUDA_VISIBLE_DEVICES`` entry); None
            elsewhere and on a worker of a host without GPUs.
    """

    def __init__(self, config: pytest.Config, pinned_gpu: str | None = None) -> None:
        self.config = config
        self.options = EnergyOptions.from_config(config)
        self.pinned_gpu = pinned_gpu
        self.benchmark_state: str | None = None
        self.unmeasured = 0
        self.xdist = XdistController(self.options) if self.options.xdist == "controller" else None
        self._probe: GpuProbe | None = None
        self._provenance: dict[str, Any] | None = None
        self._writer: Any = None
        self.records: dict[str, Any] = {}
        self.record_tests: dict[str, str] = {}
        self.gpu_skips: dict[str, list[str]] = {}
        self.comparison: Any = None
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.short_windows = 0
        self.idle_power_w: dict[int, float] | None = None
        self.nvml_index = 0

    # -- GPU markers ---------------------------------------------------------------------------------------

    def probe(self) -> GpuProbe:
        """The GPU probe, run on first use and cached for the session."""
        if self._probe is None:
            self._probe = probe_gpus()
        return self._probe

    def gpu_skip_reason(self, item: pytest.Item) -> str | None:
        """Why a ``gpu``/``h100``-marked item cannot run here; None when it can or is not marked."""
        if item.get_closest_marker("h100") is not None:
            return self.probe().h100_reason()
        if item.get_closest_marker("gpu") is not None:
            return self.probe().gpu_reason()
        return None

    def mark_items(self, items: list[pytest.Item]) -> None:
        """Add a skip marker with the reason to each selected ``gpu``/``h100`` item this machine cannot run.

        Probes the GPU only when such an item is selected. With ``--require-gpu`` no skip is added: the
        reason is kept and :meth:`fail_if_required` fails the item at setup instead.
        """
        for item in items:
            reason = self.gpu_skip_reason(item)
            if reason is None:
                continue
            self.gpu_skips.setdefault(reason, []).append(item.nodeid)
            if self.options.require_gpu:
                item.stash[UNRUNNABLE_KEY] = reason
            else:
                item.add_marker(pytest.mark.skip(reason=reason))

    def fail_if_required(self, item: pytest.Item) -> None:
        """With ``--require-gpu``, fail an item :meth:`mark_items` found unrunnable."""
        reason = item.stash.get(UNRUNNABLE_KEY, None)
        if reason is not None:
            pytest.fail(f"--require-gpu: {reason}", pytrace=False)

    # -- measurement ---------------------------------------------------------------------------------------

    def make_meter(self) -> Any:
        """An ``EnergyMeter.auto()`` (GPU when there is one, else CPU-only), calibrated once.

        With a GPU, the counter update period is measured and, with ``--energy-idle-seconds N``, the idle
        power over N s, so later windows carry energy above idle.
        """
        from t2v_energy_lib.energy import EnergyMeter

        meter = EnergyMeter.auto()
        if meter.gpu is None:
            if self.options.require_gpu:
                pytest.fail(f"--require-gpu: the energy meter found no GPU ({meter.cpu_only_reason})")
            if self.options.idle_s > 0:
                self.notes.append(f"--energy-idle-seconds ignored: {meter.description}")
            return meter
        self.nvml_index = meter.gpu.nvml_indices[meter.gpu.devices[0]]
        meter.gpu.measure_counter_period()
        if self.options.idle_s > 0:
            self.idle_power_w = meter.gpu.measure_idle(self.options.idle_s)
        return meter

    def provenance(self) -> dict[str, Any]:
        """This session's provenance (collected once, on first request).

        Describes the meter's first GPU when the plugin's meter was built first (the usual case for records),
        else NVML device 0.
        """
        if self._provenance is None:
            from t2v_energy_lib.results import collect_provenance

            self._provenance = collect_provenance(device_index=self.nvml_index)
            if self.idle_power_w is not None:
                self._provenance["idle_power_w"] = {str(k): v for k, v in self.idle_power_w.items()}
        return self._provenance

    def add_benchmark(
        self,
        test_id: str,
        test_name: str,
        info: Mapping[str, Any],
        latency_s: Sequence[float],
        metadata: Mapping[str, Any],
    ) -> Any:
        """Turn one ``energy`` benchmark into a result record; write it when ``--energy-results`` is set.

        Returns:
            The :class:`~t2v_energy_lib.results.ResultRecord`.

        Raises:
            ValueError: Another test of this session produced the same record id.
        """
        record = build_record(test_id, test_name, info, latency_s, metadata)
        if record.id in self.records:
            raise ValueError(
                f"result record id {record.id!r} was already produced by {self.record_tests[record.id]} in "
                "this session; ids must be unique: give distinct settings/component, or pass record_id=..."
            )
        self.records[record.id] = record
        self.record_tests[record.id] = test_id
        self.short_windows += int(info.get("short_windows", 0))
        if self.options.results_path is not None:
            self.writer().add(record)
        return record

    def writer(self) -> Any:
        """The result writer (created at the first record; resumes an existing file of the same hardware)."""
        if self._writer is None:
            from t2v_energy_lib.results import ResultWriter

            # An xdist worker starts its file afresh: xdist may send a test to any worker, so resuming a
            # worker file of an earlier run would put one test in two files (the merge refuses that).
            resume = self.options.xdist != "worker"
            self._writer = ResultWriter(self.options.results_path, self.provenance(), resume=resume)
        return self._writer

    # -- pytest-xdist ----------------------------------------------------------------------------------------

    def xdist_controller(self) -> XdistController:
        """The controller's xdist state.

        Raises:
            RuntimeError: This process is not an xdist controller (an xdist hook fired unexpectedly).
        """
        if self.xdist is None:
            raise RuntimeError(
                "an xdist controller hook ran in a process the t2v-energy plugin did not see as the xdist "
                "controller (no -n/--dist); report this with the pytest and pytest-xdist versions"
            )
        return self.xdist

    def enable_benchmarks(self) -> None:
        """On an xdist worker pinned to its own GPU, switch pytest-benchmark back on.

        pytest-benchmark disables itself whenever xdist is active (``BenchmarkSession.disabled``), because
        parallel workers share the hardware and disturb each other's timings. That reason does not hold when
        every worker owns one GPU (:func:`~t2v_energy_lib.scaleout.pin_current_worker` refuses more workers
        than GPUs) and the measured work runs on it. A worker without a GPU (a CPU host) keeps benchmarks off:
        its workers would share the CPU cores. An explicit ``--benchmark-disable`` is kept.

        pytest-benchmark reads ``disabled`` when it builds each test's ``benchmark`` fixture, so setting it at
        session start (before any test) is enough. ``config._benchmarksession`` is pytest-benchmark's own
        attribute (no public API exists); without pytest-benchmark nothing changes.
        """
        if self.options.xdist != "worker":
            return
        bench_session = getattr(self.config, "_benchmarksession", None)
        if bench_session is None or not bench_session.disabled:
            return
        asked_off = self.config.getoption("benchmark_disable", False) and not self.config.getoption(
            "benchmark_enable", False
        )
        if asked_off:
            return
        if self.pinned_gpu is None:
            self.benchmark_state = "no-gpu"
            return
        bench_session.disabled = False
        self.benchmark_state = "enabled"

    def worker_report(self) -> dict[str, Any]:
        """What a worker tells the controller at session end (plain data, sent through ``workeroutput``)."""
        return {
            "gpu": self.pinned_gpu,
            "benchmarks": self.benchmark_state,
            "unmeasured": self.unmeasured,
            "n_records": len(self.records),
            "short_windows": self.short_windows,
            "notes": list(self.notes),
            "results_file": str(self.options.results_path) if self.records else None,
        }

    # -- end of session ------------------------------------------------------------------------------------

    def finish(self, session: pytest.Session, exitstatus: int) -> None:
        """Apply ``--require-gpu`` to an empty session and the energy gate; may set ``session.exitstatus``.

        An xdist worker only reports to the controller (``config.workeroutput``); the controller first merges
        the workers' files, then gates once against the merged records.
        """
        if self.options.xdist == "worker":
            self.config.workeroutput[XDIST_REPORT_KEY] = self.worker_report()  # type: ignore[attr-defined]
            return
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and self.options.require_gpu:
            self._fail(
                session,
                "--require-gpu: no tests ran (pytest exit code 5: none collected or all deselected); a GPU "
                "runner must run its GPU tests. Check -m/-k and the test paths.",
            )
        if self.xdist is None:
            if self.options.baseline_path is not None and exitstatus != pytest.ExitCode.INTERRUPTED:
                self._gate(session, None)
            return
        try:
            self._finish_controller(session, exitstatus)
        finally:
            self.xdist.cleanup()

    def _finish_controller(self, session: pytest.Session, exitstatus: int) -> None:
        from t2v_energy_lib.errors import ResultConflictError, T2VEnergyError

        assert self.xdist is not None
        files = ", ".join(path.name for path in self.xdist.part_files())
        try:
            merged = self.xdist.merge()
        except T2VEnergyError as exc:
            hint = ""
            if isinstance(exc, ResultConflictError):
                hint = (
                    " Within one xdist run this means two tests produced one record id on different workers: "
                    "ids must be unique (give distinct settings/component, or pass record_id=...)."
                )
            self._fail(session, f"merging the xdist workers' result files ({files}) failed: {exc}{hint}")
            return
        if self.options.baseline_path is not None and exitstatus != pytest.ExitCode.INTERRUPTED:
            self._gate(session, merged)

    def _fail(self, session: pytest.Session, message: str) -> None:
        self.failures.append(message)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _gate(self, session: pytest.Session, merged: Any) -> None:
        """Compare with the baseline: this process's records, or ``merged`` (the xdist controller's)."""
        from t2v_energy_lib.errors import T2VEnergyError
        from t2v_energy_lib.results import ResultFile, Thresholds, compare, load_results

        path = self.options.baseline_path
        if not (merged.records if merged is not None else self.records):
            self.notes.append(
                f"--energy-baseline {path}: no energy results in this session; nothing compared"
            )
            return
        try:
            baseline = load_results(path)
            current = merged or ResultFile(
                provenance=self.provenance(),
                records=tuple(self.records.values()),
                path=self.options.results_path,
            )
            self.comparison = compare(
                baseline,
                current,
                Thresholds.parse(self.options.compare_fail),
                allow_hardware_mismatch=self.options.allow_hardware_mismatch,
            )
        except T2VEnergyError as exc:
            self._fail(session, f"energy gate against {path} could not run: {exc}")
            return
        if self.comparison.failures:
            self._fail(
                session,
                f"energy gate: {len(self.comparison.failures)} regression(s) beyond "
                f"{self.options.compare_fail} against {path}",
            )

    def summary_lines(self) -> list[str]:
        """What the terminal summary prints (empty when there is nothing to say)."""
        lines: list[str] = []
        for reason, node_ids in self.gpu_skips.items():
            verb = "failed" if self.options.require_gpu else "skipped"
            lines.append(f"{len(node_ids)} GPU-marked test(s) {verb}: {reason}")
        markexpr = str(self.config.getoption("markexpr", "") or "")
        if self.gpu_skips and "h100" in markexpr and not self.options.require_gpu:
            lines.append(
                f"-m {markexpr!r} ran no H100 test on this machine; run on an H100 runner, and pass "
                "--require-gpu there so a missing GPU fails instead of skipping."
            )
        if self.short_windows:
            lines.append(_short_windows_line(self.short_windows))
        if self.records and self.options.results_path is not None:
            lines.append(f"wrote {len(self.records)} result record(s) to {self.options.results_path}")
        if self.xdist is not None:
            lines.extend(self.xdist.summary_lines())
        lines.extend(self.notes)
        if self.comparison is not None:
            lines.append(self.comparison.format_table())
            lines.append(_improvement_line(self.comparison))
        lines.extend(f"FAILED: {message}" for message in self.failures)
        return lines


def _improvement_line(comparison: Any) -> str:
    improvements = comparison.improvements
    if not improvements:
        return "improvements: none"
    listed = ", ".join(f"{row.test_id} {row.metric} {row.change:+.1%}" for row in improvements)
    return f"improvements: {listed}"


def build_record(
    test_id: str,
    test_name: str,
    info: Mapping[str, Any],
    latency_s: Sequence[float],
    metadata: Mapping[str, Any],
) -> Any:
    """A :class:`~t2v_energy_lib.results.ResultRecord` of one ``energy`` benchmark (values per unit of work).

    Rounds: ``latency_s`` (pytest-benchmark's own timings), ``gpu_energy_j``, ``gpu_energy_above_idle_j``
    (with an idle baseline), ``host_energy_j`` (flagged ``host_energy_estimated`` in ``extra`` when so).
    """
    from t2v_energy_lib.results import ResultRecord

    units = int(info["units_per_round"])
    suite = metadata.get("suite") or "pytest"
    model = metadata.get("model") or "unknown"
    component = metadata.get("component") or test_name
    settings = metadata.get("settings")
    record_id = metadata.get("record_id")
    if not record_id:
        named = all(metadata.get(k) for k in ("suite", "model", "component"))
        record_id = f"{suite}/{model}/{settings_id(settings)}/{component}" if named else test_id
    rounds = {"latency_s": per_unit(latency_s, units)}
    for key, info_key in (
        ("gpu_energy_j", "energy_gpu_j_rounds"),
        ("gpu_energy_above_idle_j", "energy_gpu_above_idle_j_rounds"),
        ("host_energy_j", "host_energy_j_rounds"),
    ):
        if info_key in info:
            rounds[key] = per_unit(info[info_key], units)
    extra = {
        "test": test_id,
        "energy_source": info["energy_source"],
        "short_windows": info["short_windows"],
        "host_energy_estimated": info["host_energy_estimated"],
        "host_energy_method": info["host_energy_method"],
        "energy_meter": info["energy_meter"],
    }
    return ResultRecord(
        id=record_id,
        suite=suite,
        model=model,
        component=component,
        settings=settings_mapping(settings),
        rounds=rounds,
        units_per_round=units,
        extra=extra,
        machine_state=info.get("machine_state", {}),
    )
