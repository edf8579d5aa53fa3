"""The optimisation suite under a time budget and on resume (tiny Wan, CPU): levers that cannot be installed
are recorded even when the budget stops the run, the variants it did not reach are named, and a resumed run
keeps every default round with the run it came from (or refuses to resume). Latency only: code paths."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from t2v_energy_lib.analysis.optimizations import optimization_rows  # noqa: E402
from t2v_energy_lib.bench.optimizations import OptimizeOptions, catalogue, tiny_target  # noqa: E402
from t2v_energy_lib.bench.optimizations.api import optimize_provenance  # noqa: E402
from t2v_energy_lib.bench.optimizations.resume import UNRECORDED, labelled_default  # noqa: E402
from t2v_energy_lib.bench.optimizations.runner import OptimizationRunner  # noqa: E402
from t2v_energy_lib.bench.optimizations.variants import (  # noqa: E402
    LEVER_PACKAGES,
    variants_from_names,
)
from t2v_energy_lib.energy import EnergyMeter  # noqa: E402
from t2v_energy_lib.errors import OptimizationError  # noqa: E402
from t2v_energy_lib.results.schema import ResultRecord  # noqa: E402
from t2v_energy_lib.results.storage import load_results  # noqa: E402

WAN = "wan2.1-t2v-1.3b"
NOT_INSTALLABLE = ["attention:_native_npu", "attention:flex"]  # on every CPU runner
if importlib.util.find_spec("flash_attn") is None:
    NOT_INSTALLABLE.append("attention:flash")
if importlib.util.find_spec("torchao") is None:
    NOT_INSTALLABLE.append("fp8:torchao_weight")


def _runner(out: Path, budget: float | None, provenance: dict[str, Any] | None = None, **kw: Any) -> Any:
    target = tiny_target(WAN, steps=2)
    options = OptimizeOptions(
        out_dir=out, device="cpu", rounds=1, best_combination=False, time_budget_s=budget, **kw
    )
    prov = provenance or optimize_provenance(options, [target])
    lines: list[str] = []
    runner = OptimizationRunner(options, EnergyMeter.for_device("cpu"), prov, log=lines.append)
    return runner, target, lines


def _run(runner: Any, target: Any, names: list[str]) -> Any:
    torch.set_num_threads(1)
    variants = variants_from_names(names, catalogue(target.model_id), include_default=False)
    return runner.run(target, variants)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run 1: a budget that stops after the default; run 2 resumes into the same file and measures PAB."""
    out = tmp_path_factory.mktemp("resume")
    runner, target, log1 = _runner(out, budget=1e-6)
    first = _run(runner, target, ["cache:pab", *NOT_INSTALLABLE, "steps:half"])
    after_first = load_results(out / "optimizations.json")
    runner2, _, log2 = _runner(out, budget=None)
    second = _run(runner2, target, ["cache:pab"])
    return {
        "out": out,
        "first": first,
        "log1": log1,
        "after_first": {r.extra["variant"]["name"]: r for r in after_first.records},
        "second": second,
        "log2": log2,
        "final": load_results(out / "optimizations.json"),
        "labels": (runner.run_label, runner2.run_label),
    }


def test_budget_stop_still_records_every_not_installable_lever(two_runs: dict[str, Any]) -> None:
    records = two_runs["after_first"]
    assert two_runs["first"].stopped_for_budget
    for name in NOT_INSTALLABLE:
        r = records[name]
        assert r.extra["status"] == "not_available" and r.extra["reason"], name
        assert "before any measurement" in r.extra["checked"]
    assert "NPU" in records["attention:_native_npu"].extra["reason"]
    assert records["default"].extra["status"] == "reference"


def test_levers_the_budget_did_not_reach_are_named_in_log_records_and_report(
    two_runs: dict[str, Any], tmp_path: Path
) -> None:
    records = two_runs["after_first"]
    for name in ("cache:pab", "steps:half"):
        assert records[name].extra["status"] == "not_reached" and records[name].component == "not_measured"
        assert "time budget" in records[name].extra["reason"]
    assert any("not reached (2): cache:pab, steps:half" in line for line in two_runs["log1"])
    from t2v_energy_lib.report.optimizations_section import optimizations_section
    from t2v_energy_lib.results.schema import ResultFile

    first = ResultFile(provenance={}, records=tuple(records.values()))
    text = optimizations_section(first, tmp_path)
    assert "`steps:half` (not_reached)" in text and "`attention:_native_npu` (not_available)" in text


def test_resume_keeps_every_default_round_with_its_run(two_runs: dict[str, Any]) -> None:
    by_id = {r.extra["variant"]["name"]: r for r in two_runs["final"].records}
    default = by_id["default"]
    label1, label2 = two_runs["labels"]
    assert label1 != label2
    assert len(default.rounds["latency_s"]) == 2  # one round per run, neither lost
    assert default.extra["round_runs"] == [label1, label2]
    assert [e["run"] for e in default.extra["runs"]] == [label1, label2]
    first_round = two_runs["after_first"]["default"].rounds["latency_s"][0]
    assert default.rounds["latency_s"][0] == first_round  # run 1's raw round, unchanged
    pab = by_id["cache:pab"]
    assert pab.component == "end_to_end" and pab.extra["reference_run"] == label2 == pab.extra["run"]
    ids = {r.id for r in two_runs["final"].records}
    assert not any(i.endswith("/cache:pab/not_measured") for i in ids)  # the placeholder is superseded
    assert any(i.endswith("/steps:half/not_measured") for i in ids)  # still not reached
    assert len(two_runs["final"].provenance["resumed_utc"]) == 1
    row = next(r for r in next(iter(optimization_rows(two_runs["final"].records).values())))
    assert row.variant == "default" and len(row.rounds) == 2  # savings are judged against both runs' rounds
    rows = {r.variant: r for r in next(iter(optimization_rows(two_runs["final"].records).values()))}
    assert rows["cache:pab"].own_reference is True  # its run's default rounds are in the default record


def test_resume_is_refused_on_other_versions_or_settings(two_runs: dict[str, Any]) -> None:
    out = two_runs["out"]
    prov = dict(two_runs["final"].provenance)
    prov["versions"] = {**prov["versions"], "diffusers": "0.0.0"}
    with pytest.raises(OptimizationError, match=r"resume refused.*diffusers"):
        _runner(out, None, provenance=prov)
    runner, target, _ = _runner(out, None, dtype="float32")
    with pytest.raises(OptimizationError, match=r"resume refused.*dtype"):
        _run(runner, target, ["cache:pab"])


def test_a_lever_package_installed_by_a_later_call_does_not_refuse_the_resume(
    two_runs: dict[str, Any],
) -> None:
    """A later call may carry torchao or xformers for its levers: the default never uses them, and the lever's
    records name the version they ran with."""
    prov = dict(two_runs["final"].provenance)
    prov["versions"] = {**prov["versions"], "torchao": "0.18.0", "xformers": "0.0.35"}
    _runner(two_runs["out"], None, provenance=prov)  # no OptimizationError
    pab = next(r for r in two_runs["final"].records if r.extra.get("variant", {}).get("name") == "cache:pab")
    assert pab.extra["lever_packages"] == {}  # PAB needs nothing beyond Diffusers
    fp8 = variants_from_names(["fp8:torchao_weight+compile"], catalogue(WAN), include_default=False)[0]
    assert list(fp8.packages()) == ["torchao"]
    for name in NOT_INSTALLABLE:  # recorded not_available, naming the package it lacks (if it needs one)
        record = two_runs["after_first"][name]
        assert record.extra["status"] == "not_available"
        expected = {LEVER_PACKAGES[name]: None} if name in LEVER_PACKAGES else {}
        assert record.extra["lever_packages"] == expected, name


def test_every_lever_package_is_recorded_in_provenance_where_installed() -> None:
    from t2v_energy_lib.results.provenance import OPTIONAL_PACKAGES

    assert set(LEVER_PACKAGES.values()) <= set(OPTIONAL_PACKAGES)


def _default(rounds: list[float], **extra: Any) -> ResultRecord:
    return ResultRecord(
        id="optimizations/m/1x1x1-s2/default/end_to_end",
        suite="optimizations",
        model="m",
        component="end_to_end",
        settings={"dtype": "bfloat16", "device": "cuda", "variant": "default"},
        rounds={"gpu_energy_j": rounds, "latency_s": [1.0] * len(rounds)},
        extra={"status": "reference", "setup_gpu_energy_j": 5.0, **extra},
    )


def test_a_stored_default_without_run_labels_is_kept_as_unrecorded() -> None:
    pooled = labelled_default(_default([3.0, 4.0]), _default([1.0, 2.0]), "run-2")
    assert pooled.rounds["gpu_energy_j"] == (1.0, 2.0, 3.0, 4.0)
    assert pooled.extra["round_runs"] == [UNRECORDED, UNRECORDED, "run-2", "run-2"]
    other = dataclasses.replace(_default([3.0]), settings={"dtype": "float32"})
    with pytest.raises(OptimizationError, match="other settings"):
        labelled_default(other, _default([1.0]), "run-2")
    fewer = dataclasses.replace(_default([3.0]), rounds={"gpu_energy_j": [3.0]})
    with pytest.raises(OptimizationError, match="cannot be pooled"):
        labelled_default(fewer, _default([1.0]), "run-2")
