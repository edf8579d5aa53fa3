"""The plugin's gate parts: what this session selected, why a baseline record is missing, adaptive rounds.

- :class:`Selection` keeps the invocation-independent key
  (:func:`~t2v_energy_lib.results.identity.benchmark_key`) of every collected test, split into selected and
  deselected (``-k``/``-m``). Under pytest-xdist the workers collect and report it; the controller, which
  gates, merges their reports.
- :func:`missing_reasons` says, for each baseline record the current run did not produce, whether that fails
  the gate: a test selected this session that produced no record (skipped, failed, or its record id changed)
  fails, and so does a test whose file was collected but that no longer exists (renamed or removed);
  a deselected test, a record that names no test (a CLI result) and a test whose file this session did not
  collect are excused, each with its reason.
- :class:`AdaptivePlan` is what the ``energy`` fixture asks after each round in ``--energy-adaptive`` mode
  (decision by :func:`~t2v_energy_lib.results.adaptive.adaptive_state`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t2v_energy_lib.results.identity import benchmark_key, is_test_key, same_test

NO_TEST = "not a pytest benchmark (the record names no test)"
DESELECTED = "deselected in this session (-k/-m)"
NOT_COLLECTED = "its test file was not collected in this session"
SELECTED = "selected in this session but produced no record (skipped, failed, or its record id changed)"
GONE = "its test file was collected but the test no longer exists (renamed or removed)"


@dataclass
class Selection:
    """Keys of the tests this session collected: ``node id -> key`` of the selected ones, deselected keys."""

    selected: dict[str, str] = field(default_factory=dict)
    deselected: set[str] = field(default_factory=set)

    def add(self, items: Iterable[Any], *, selected: bool) -> None:
        """Record pytest items (anything with ``nodeid`` and ``path``)."""
        for item in items:
            key = benchmark_key(item.nodeid, Path(item.path))
            if selected:
                self.selected[item.nodeid] = key
            else:
                self.deselected.add(key)

    def key(self, node_id: str) -> str | None:
        """The key of a selected test (None when it was not collected in this process)."""
        return self.selected.get(node_id)

    def to_report(self) -> dict[str, Any]:
        """Plain data for an xdist worker's report."""
        return {"selected": dict(self.selected), "deselected": sorted(self.deselected)}

    def merge(self, report: Mapping[str, Any]) -> None:
        """Add a worker's :meth:`to_report`."""
        self.selected.update(report.get("selected", {}))
        self.deselected.update(report.get("deselected", ()))

    def files(self) -> set[str]:
        """The test-file part of every collected key."""
        keys = set(self.selected.values()) | self.deselected
        return {k.partition("::")[0] for k in keys}


def record_test(record: Any) -> str | None:
    """The test a record came from: ``extra["test"]`` when it is a test key/node id, else a test-key id."""
    test = record.extra.get("test")
    if isinstance(test, str) and is_test_key(test):
        return test
    return record.id if is_test_key(record.id) else None


def missing_reasons(records: Iterable[Any], selection: Selection) -> tuple[dict[str, str], dict[str, str]]:
    """Split missing baseline records into excused and failing, with the reason of each.

    Args:
        records: The baseline records the current run did not produce.
        selection: This session's selection.

    Returns:
        ``(excused, failing)``: record id -> reason.
    """
    selected, files = set(selection.selected.values()), selection.files()
    excused: dict[str, str] = {}
    failing: dict[str, str] = {}
    for record in records:
        test = record_test(record)
        if test is None:
            excused[record.id] = NO_TEST
        elif any(same_test(test, key) for key in selected):
            failing[record.id] = SELECTED
        elif any(same_test(test, key) for key in selection.deselected):
            excused[record.id] = DESELECTED
        elif any(same_test(test.partition("::")[0] + "::", f + "::") for f in files):
            failing[record.id] = GONE
        else:
            excused[record.id] = NOT_COLLECTED
    return excused, failing


def per_unit_rounds(
    latency_s: Sequence[float], measurements: Sequence[Any], units: int
) -> dict[str, tuple[float, ...]]:
    """Per-unit rounds by quantity from the fixture's raw rounds, as the record builder stores them."""
    from t2v_energy_lib.results.record_builder import per_unit, window_rounds

    return {key: per_unit(values, units) for key, values in window_rounds(measurements, latency_s).items()}


@dataclass
class AdaptivePlan:
    """Adaptive rounds of one benchmark (``--energy-adaptive``).

    Attributes:
        record_id: The record this benchmark will produce.
        baseline: The baseline record's rounds by quantity, None when there is none (taking a baseline).
        thresholds: The gate's :class:`~t2v_energy_lib.results.Thresholds`.
        units: Units of work per round.
        max_rounds: Cap on rounds (all rounds, the first ones included).
        max_seconds: Cap on the summed latency of the measured rounds. Units: s.
        confidence: The per-look confidence (:func:`~t2v_energy_lib.results.adaptive.sequential_confidence`).
        outcome: What happened, for the summary (set when the plan stops).
    """

    record_id: str
    baseline: Mapping[str, Sequence[float]] | None
    thresholds: Any
    units: int
    max_rounds: int
    max_seconds: float
    confidence: float = 0.99
    outcome: str = ""

    def wants_more(self, latency_s: Sequence[float], measurements: Sequence[Any]) -> bool:
        """Whether to run another round after these (sets :attr:`outcome` when it stops)."""
        from t2v_energy_lib.results.adaptive import CONTINUE, adaptive_state, look_points

        n, spent = len(latency_s), sum(latency_s)
        capped = n >= self.max_rounds or spent >= self.max_seconds
        if n not in look_points(self.max_rounds) and not capped:
            return True
        rounds = per_unit_rounds(latency_s, measurements, self.units)
        state = adaptive_state(self.baseline, rounds, self.thresholds, confidence=self.confidence)
        if state != CONTINUE:
            self.outcome = f"{self.record_id}: {state} after {n} round(s) ({spent:.1f} s)"
            return False
        if capped:
            cap = f"{self.max_rounds} rounds" if n >= self.max_rounds else f"{self.max_seconds:g} s"
            what = "UNDECIDED" if self.baseline is not None else "baseline not precise"
            self.outcome = f"{self.record_id}: {what} at the cap ({cap}) after {n} round(s) ({spent:.1f} s)"
            return False
        return True


def gate_comparison(baseline: Any, current: Any, options: Any, selection: Selection) -> Any:
    """The gate's :class:`~t2v_energy_lib.results.Comparison` with missing records classified by the session.

    ``options`` is the session's :class:`~pytest_t2v_energy.session.EnergyOptions`.

    Missing baseline records are excused or failing as :func:`~pytest_t2v_energy.gate.missing_reasons` says;
    the reason of a failing one is appended to the comparison's notes.
    """
    from dataclasses import replace

    from t2v_energy_lib.results import Thresholds, compare

    first = compare(
        baseline,
        current,
        Thresholds.parse(options.compare_fail),
        allow_hardware_mismatch=options.allow_hardware_mismatch,
        confidence=options.confidence,
        strict=options.strict,
        allow_missing=options.allow_missing,
    )
    by_id = baseline.by_id()
    excused, failing = missing_reasons([by_id[i] for i in first.missing_ids], selection)
    notes = (*first.notes, *(f"{i}: missing, {why}" for i, why in failing.items()))
    return replace(first, excused=excused, notes=notes)
