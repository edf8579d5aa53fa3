"""The plugin's per-session state: options, the GPU probe, result records, provenance and the energy gate.

One :class:`EnergySession` lives in ``config.stash[SESSION_KEY]`` from ``pytest_configure`` on; the hooks in
:mod:`pytest_t2v_energy.plugin` are thin calls into it. Hardware is touched only on demand (first GPU-marked
test, first ``energy`` use, first provenance request), never at configure time.

Under pytest-xdist (``-n N``) the session keeps its process's role and delegates to
:mod:`pytest_t2v_energy.xdist`: a worker reports to the controller and never gates; the controller merges the
workers' result files (:class:`~pytest_t2v_energy.xdist.XdistController`) and gates once, on the merge.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_t2v_energy.fixture import settings_id, settings_mapping
from pytest_t2v_energy.gate import AdaptivePlan, Selection, gate_comparison
from pytest_t2v_energy.gpu_probe import GpuProbe, h100_requested, probe_gpus
from pytest_t2v_energy.xdist import (
    XDIST_REPORT_KEY,
    XdistController,
    enable_worker_benchmarks,
    refuse_under_xdist,
    worker_results,
    xdist_role,
)
from t2v_energy_lib.results.provenance import RESULTS_PATH_PLACEHOLDERS

GPU_MARKERS = ("h100", "gpu")
DEFAULT_COMPARE_FAIL = "energy:5%,latency:5%"
GATE_CONFIDENCE = 0.99
UNRUNNABLE_KEY = pytest.StashKey[str]()


@dataclass(frozen=True)
class EnergyOptions:
    """The plugin's command-line options, resolved.

    Attributes:
        results_path: ``--energy-results``: result file to write (None: none); may hold ``{gpu}`` and
            ``{diffusers}``, filled from the provenance when the first record is written
            (:meth:`EnergySession.results_file`).
        baseline_path: ``--energy-baseline``: result file/folder (or pytest-benchmark JSON) to gate against.
        compare_fail: ``--energy-compare-fail``: thresholds spec (default ``energy:5%,latency:5%``).
        allow_hardware_mismatch: ``--energy-allow-hardware-mismatch``.
        idle_s: ``--energy-idle-seconds``: idle baseline duration, 0 = none. Units: s.
        require_gpu: ``--require-gpu``: GPU skips and empty sessions fail.
        baseline_dir: ``--baseline-dir``: stored-baseline folder (default ``<rootdir>/baselines``).
        xdist: This process's pytest-xdist role (:func:`~pytest_t2v_energy.xdist.xdist_role`); None: no xdist.
        worker_id: The xdist worker id (``gw0``...) on a worker, else None.
        allow_missing: ``--energy-allow-missing``: baseline records not produced do not fail the gate.
        strict: ``--energy-strict``: an undecided comparison fails the gate.
        summary_path: ``--energy-summary``: markdown summary of the gate (also to ``$GITHUB_STEP_SUMMARY``).
        adaptive: ``--energy-adaptive``: add rounds until the gate can decide (or a baseline is precise).
        max_rounds: ``--energy-max-rounds``: adaptive cap on rounds per benchmark.
        max_seconds: ``--energy-max-seconds``: adaptive cap on measured seconds per benchmark. Units: s.

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
    allow_missing: bool = False
    strict: bool = False
    summary_path: Path | None = None
    adaptive: bool = False
    max_rounds: int = 30
    max_seconds: float = 60.0

    @property
    def confidence(self) -> float:
        """The gate's confidence: 0.99, or per look in adaptive mode (corrected for the repeated looks)."""
        if not self.adaptive:
            return GATE_CONFIDENCE
        from t2v_energy_lib.results.adaptive import sequential_confidence

        return sequential_confidence(GATE_CONFIDENCE, self.max_rounds)

    @classmethod
    def from_config(cls, config: pytest.Config) -> EnergyOptions:
        """Read and validate the options.

        Raises:
            pytest.UsageError: A threshold spec that does not parse, a spec without a baseline, or a negative
                idle duration.
        """
        spec = config.getoption("energy_compare_fail")
        baseline = config.getoption("energy_baseline")
        if spec is not None and baseline is None and not config.getoption("energy_adaptive", False):
            raise pytest.UsageError(
                "--energy-compare-fail needs --energy-baseline PATH to compare against (or "
                "--energy-adaptive, where it sets the precision of a baseline being taken)"
            )
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
            if results and any(p in results for p in RESULTS_PATH_PLACEHOLDERS):
                raise pytest.UsageError(
                    f"--energy-results {results}: {{gpu}}/{{diffusers}} placeholders are not supported under "
                    "pytest-xdist (-n); give the path itself, e.g. baselines/nvidia-h200/pytest-0.42.1/x.json"
                )
        if role == "worker":
            worker_id, results_path = worker_results(config, results)
        base_dir = config.getoption("baseline_dir")
        summary = config.getoption("energy_summary", None)
        max_rounds = int(config.getoption("energy_max_rounds", 30))
        max_seconds = float(config.getoption("energy_max_seconds", 60.0))
        if max_rounds < 2 or max_seconds <= 0:
            raise pytest.UsageError(
                f"--energy-max-rounds must be >= 2 and --energy-max-seconds > 0, got {max_rounds} and "
                f"{max_seconds}"
            )
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
            allow_missing=bool(config.getoption("energy_allow_missing", False)),
            strict=bool(config.getoption("energy_strict", False)),
            summary_path=Path(summary) if summary else None,
            adaptive=bool(config.getoption("energy_adaptive", False)),
            max_rounds=max_rounds,
            max_seconds=max_seconds,
        )


def short_windows_line(count: int) -> str:
    """The summary line on ``count`` energy rounds shorter than the meter's ``min_window_s``."""
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
        self.selection = Selection()
        self.adaptive_outcomes: list[str] = []  # from xdist workers
        self.plans: list[AdaptivePlan] = []
        self._baseline: Any = None

    # -- GPU markers ---------------------------------------------------------------------------------------

    def probe(self) -> GpuProbe:
        """The GPU probe, run on first use and cached for the session."""
        if self._probe is None:
            self._probe = probe_gpus()
        return self._probe

    def gpu_skip_reason(self, item: pytest.Item) -> str | None:
        """Why a ``gpu``/``h100``-marked item cannot run here; None when it can or is not marked.

        An item marked both (the any-GPU suite) needs an H100 only under ``-m h100``
        (:func:`~pytest_t2v_energy.gpu_probe.h100_requested`); otherwise any usable NVIDIA GPU.
        """
        gpu = item.get_closest_marker("gpu") is not None
        if item.get_closest_marker("h100") is not None and h100_requested(self.markexpr(), gpu):
            return self.probe().h100_reason(gpu_suite=gpu)
        if gpu:
            return self.probe().gpu_reason()
        return None

    def markexpr(self) -> str:
        """The session's ``-m`` expression (empty when none)."""
        return str(self.config.getoption("markexpr", "") or "")

    def mark_items(self, items: list[pytest.Item]) -> None:
        """Add a skip marker with the reason to each selected ``gpu``/``h100`` item this machine cannot run.

        Probes the GPU only when such an item is selected. With ``--require-gpu`` no skip is added: the
        reason is kept and :meth:`fail_if_required` fails the item at setup instead.
        """
        self.selection.add(items, selected=True)
        for item in items:
            reason = self.gpu_skip_reason(item)
            if reason is None:
                continue
            self.gpu_skips.setdefault(reason, []).append(item.nodeid)
            if self.options.require_gpu:
                item.stash[UNRUNNABLE_KEY] = reason
            else:
                item.add_marker(pytest.mark.skip(reason=reason))

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        """Hook: remember tests deselected by ``-k``/``-m`` (their baseline records are excused)."""
        self.selection.add(items, selected=False)

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
        measurements: Sequence[Any],
        latency_s: Sequence[float],
        metadata: Mapping[str, Any],
    ) -> Any:
        """Turn one ``energy`` benchmark into a result record; write it when ``--energy-results`` is set.

        Returns:
            The :class:`~t2v_energy_lib.results.ResultRecord`.

        Raises:
            ValueError: Another test of this session produced the same record id.
        """
        key = self.selection.key(test_id) or test_id
        record = build_record(key, test_name, measurements, latency_s, {**metadata, "node_id": test_id})
        if record.id in self.records:
            raise ValueError(
                f"result record id {record.id!r} was already produced by {self.record_tests[record.id]} in "
                "this session; ids must be unique: give distinct settings/component, or pass record_id=..."
            )
        self.records[record.id] = record
        self.record_tests[record.id] = test_id
        self.short_windows += int(record.extra.get("short_windows", 0))
        if self.options.results_path is not None:
            self.writer().add(record)
        return record

    def results_file(self) -> Path | None:
        """``--energy-results`` with its ``{gpu}``/``{diffusers}`` filled from the provenance (None: none)."""
        path = self.options.results_path
        if path is None or not any(p in str(path) for p in RESULTS_PATH_PLACEHOLDERS):
            return path
        from t2v_energy_lib.results import expand_results_path

        return expand_results_path(path, self.provenance())

    def baseline(self) -> Any:
        """The ``--energy-baseline`` results, loaded once (None without the option)."""
        if self._baseline is None and self.options.baseline_path is not None:
            from t2v_energy_lib.results import load_results

            self._baseline = load_results(self.options.baseline_path)
        return self._baseline

    def adaptive_plan(self, node_id: str, metadata: Mapping[str, Any], units: int) -> AdaptivePlan | None:
        """With ``--energy-adaptive``, the plan of one benchmark (its baseline record's rounds, the caps)."""
        if not self.options.adaptive:
            return None
        from t2v_energy_lib.results import Thresholds

        record_id = record_id_for(self.selection.key(node_id) or node_id, metadata)
        baseline = self.baseline()
        base = baseline.by_id().get(record_id) if baseline is not None else None
        if base is None and baseline is not None:
            from t2v_energy_lib.results.identity import align_ids

            aligned = {c: b for b, c in align_ids(baseline.by_id(), [record_id]).items()}
            base = baseline.by_id().get(aligned.get(record_id, ""))
        plan = AdaptivePlan(
            record_id=record_id,
            baseline=dict(base.rounds) if base is not None else None,
            thresholds=Thresholds.parse(self.options.compare_fail),
            units=units,
            max_rounds=self.options.max_rounds,
            max_seconds=self.options.max_seconds,
            confidence=self.options.confidence,
        )
        self.plans.append(plan)
        return plan

    def adaptive_lines(self) -> list[str]:
        """What adaptive mode did per benchmark (this process's plans; on the controller, the workers')."""
        return sorted([*self.adaptive_outcomes, *(p.outcome for p in self.plans if p.outcome)])

    def writer(self) -> Any:
        """The result writer (created at the first record; resumes an existing file of the same hardware)."""
        if self._writer is None:
            from t2v_energy_lib.results import ResultWriter

            # An xdist worker starts its file afresh: xdist may send a test to any worker, so resuming a
            # worker file of an earlier run would put one test in two files (the merge refuses that).
            resume = self.options.xdist != "worker"
            self._writer = ResultWriter(self.results_file(), self.provenance(), resume=resume)
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

        See :func:`~pytest_t2v_energy.xdist.enable_worker_benchmarks` for why that is sound; the outcome is
        kept in ``benchmark_state`` for the worker's report.
        """
        if self.options.xdist == "worker":
            self.benchmark_state = enable_worker_benchmarks(self.config, self.pinned_gpu)

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
            "selection": self.selection.to_report(),
            "adaptive": self.adaptive_lines(),
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
        assert self.xdist is not None
        for report in self.xdist.reports.values():
            self.selection.merge(report.get("selection", {}))
            self.adaptive_outcomes.extend(report.get("adaptive", ()))
        merged, failure = self.xdist.merge_or_failure()
        if failure is not None:
            self._fail(session, failure)
            return
        if self.options.baseline_path is not None and exitstatus != pytest.ExitCode.INTERRUPTED:
            self._gate(session, merged)

    def _fail(self, session: pytest.Session, message: str) -> None:
        self.failures.append(message)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _gate(self, session: pytest.Session, merged: Any) -> None:
        """Compare with the baseline: this process's records, or ``merged`` (the xdist controller's).

        Fails the session on a regression, an undecided row under ``--energy-strict``, a baseline benchmark
        selected here but not produced (unless ``--energy-allow-missing``), and a gate that compared nothing.
        """
        from t2v_energy_lib.errors import T2VEnergyError
        from t2v_energy_lib.results import ResultFile

        path = self.options.baseline_path
        try:
            baseline = self.baseline()
            # Nothing measured: no hardware to check, so no provenance is collected (it would probe the GPU
            # and import torch for a comparison that fails anyway as "nothing compared").
            provenance = self.provenance() if self.records else baseline.provenance
            current = merged or ResultFile(
                provenance=provenance, records=tuple(self.records.values()), path=self.results_file()
            )
            self.comparison = gate_comparison(baseline, current, self.options, self.selection)
        except T2VEnergyError as exc:
            self._fail(session, f"energy gate against {path} could not run: {exc}")
            return
        if self.options.summary_path is not None or os.environ.get("GITHUB_STEP_SUMMARY"):
            from t2v_energy_lib.results.markdown import write_summary

            for written in write_summary(self.comparison.format_markdown(), self.options.summary_path):
                self.notes.append(f"gate summary (markdown) written to {written}")
        failures = self.comparison.failures
        if failures:
            counts = {
                v: sum(r.verdict == v for r in failures) for v in dict.fromkeys(r.verdict for r in failures)
            }
            what = ", ".join(
                f"{n} {v}" if v != "regression" else f"{n} regression(s)" for v, n in counts.items()
            )
            self._fail(session, f"energy gate: {what} beyond {self.options.compare_fail} against {path}")
        for problem in self.comparison.problems:
            self._fail(session, f"energy gate against {path}: {problem}")

    def summary_lines(self) -> list[str]:
        """What the terminal summary prints (empty when there is nothing to say)."""
        lines: list[str] = []
        for reason, node_ids in self.gpu_skips.items():
            verb = "failed" if self.options.require_gpu else "skipped"
            lines.append(f"{len(node_ids)} GPU-marked test(s) {verb}: {reason}")
        markexpr = self.markexpr()
        if self.gpu_skips and "h100" in markexpr and not self.options.require_gpu:
            other = self._probe is not None and self._probe.names and self._probe.gpu_reason() is None
            lines.append(
                f"-m {markexpr!r} ran no H100 test on this machine; run on an H100 runner, and pass "
                "--require-gpu there so a missing GPU fails instead of skipping."
                + (" On this GPU, `pytest -m gpu` runs the suite." if other else "")
            )
        if self.short_windows:
            lines.append(short_windows_line(self.short_windows))
        if self.records and self.options.results_path is not None:
            lines.append(f"wrote {len(self.records)} result record(s) to {self.results_file()}")
        if self.xdist is not None:
            lines.extend(self.xdist.summary_lines())
        lines.extend(self.notes)
        lines.extend(f"adaptive: {outcome}" for outcome in self.adaptive_lines())
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


def record_id_for(benchmark_key: str, metadata: Mapping[str, Any]) -> str:
    """A record's id (see :mod:`t2v_energy_lib.results.identity`): ``record_id`` if given, else
    ``suite/model/<settings id>/component`` when suite, model and component are all given, else the test key.
    """
    if metadata.get("record_id"):
        return str(metadata["record_id"])
    if all(metadata.get(k) for k in ("suite", "model", "component")):
        settings = settings_id(metadata.get("settings"))
        return f"{metadata['suite']}/{metadata['model']}/{settings}/{metadata['component']}"
    return benchmark_key


def build_record(
    test_id: str,
    test_name: str,
    measurements: Sequence[Any],
    latency_s: Sequence[float],
    metadata: Mapping[str, Any],
) -> Any:
    """A :class:`~t2v_energy_lib.results.ResultRecord` of one ``energy`` benchmark (values per unit of work).

    The library's one builder (:func:`~t2v_energy_lib.results.record_builder.record_from_windows`) over the
    round windows, with pytest-benchmark's own timings as ``latency_s``; here only the id, suite, model and
    component defaults of a test. ``test_id`` is the test's invocation-independent key
    (:func:`~t2v_energy_lib.results.identity.benchmark_key`), stored as ``extra["test"]``;
    ``metadata["node_id"]``, when given, is kept as ``extra["node_id"]``.
    """
    from t2v_energy_lib.results.record_builder import record_from_windows

    suite = metadata.get("suite") or "pytest"
    model = metadata.get("model") or "unknown"
    component = metadata.get("component") or test_name
    settings = metadata.get("settings")
    return record_from_windows(
        record_id=record_id_for(test_id, metadata),
        suite=suite,
        model=model,
        component=component,
        settings=settings_mapping(settings),
        measurements=measurements,
        units_per_round=int(metadata.get("units_per_round", 1)),
        latency_s=latency_s,
        extra={
            "test": test_id,
            **({"node_id": metadata["node_id"]} if metadata.get("node_id") else {}),
            "energy_meter": str(metadata.get("energy_meter", "")),
        },
    )
