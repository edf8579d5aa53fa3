"""Gate rules without pytest sessions: identity keys, old-id alignment, `compare` exit codes, composed figures
decided from their parts, the markdown summary and the adaptive decision (SYNTHETIC values unless a stored
baseline is named)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2v_energy_lib.cli import main
from t2v_energy_lib.results import Thresholds, compare, load_results
from t2v_energy_lib.results.adaptive import CONTINUE, DECIDED, PRECISE, REGRESSION, adaptive_state
from t2v_energy_lib.results.identity import align_ids, benchmark_key, key_root, same_test
from t2v_energy_lib.results.markdown import write_summary
from t2v_energy_lib.results.schema import parse_document

pytest_plugins = ["pytester"]

GOLDEN = Path(__file__).parent / "data" / "results" / "synthetic_v1.json"
DENOISER = "synthetic/tiny-model/16x16x9-s2/denoiser_step"
VALIDATION = Path(__file__).parents[1] / "baselines" / "nvidia-h100-80gb-hbm3" / "0.42.1" / "validation.json"


# -- identity ------------------------------------------------------------------------------------------------


def test_key_is_relative_to_the_files_own_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "tests" / "gpu").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    test_file = project / "tests" / "gpu" / "test_gate.py"
    assert key_root(test_file) == project
    for cwd, relative in (
        (tmp_path, "project/tests/gpu/test_gate.py"),
        (project / "tests", "gpu/test_gate.py"),
    ):
        monkeypatch.chdir(cwd)
        for path in (test_file, Path(relative)):
            for node_id in ("tests/gpu/test_gate.py::test_x[a]", "project/tests/gpu/test_gate.py::test_x[a]"):
                assert benchmark_key(node_id, path) == "tests/gpu/test_gate.py::test_x[a]"


def test_without_an_ini_the_key_starts_at_the_top_of_the_package_chain(tmp_path: Path) -> None:
    package = tmp_path / "user" / "bench" / "sub"
    package.mkdir(parents=True)
    for folder in (tmp_path / "user" / "bench", package):
        (folder / "__init__.py").write_text("")
    assert benchmark_key("a/b/c::T::test_y", package / "t_y.py") == "bench/sub/t_y.py::T::test_y"
    assert benchmark_key("x::test_z", tmp_path / "user" / "t_z.py") == "t_z.py::test_z"


def test_old_node_ids_align_by_path_suffix_and_never_by_guess() -> None:
    assert same_test("tmp/user/t_bench.py::test_x", "t_bench.py::test_x")
    assert not same_test("tmp/user/t_bench.py::test_x", "er/t_bench.py::test_x")  # path parts, not characters
    assert not same_test("t_bench.py::test_x", "t_bench.py::test_y")
    aligned = align_ids(
        ["tmp/user/t_bench.py::test_x", "a/t.py::test_y", "b/t.py::test_y", "suite/m/s/c"],
        ["t_bench.py::test_x", "t.py::test_y", "suite/m/s/c"],
    )
    assert aligned == {"tmp/user/t_bench.py::test_x": "t_bench.py::test_x"}  # test_y is ambiguous


# -- compare: alignment, exit codes, summary -----------------------------------------------------------------


def _golden_with(
    path: Path, *, ids: dict[str, str] | None = None, factor: float = 1.0, drop: str = ""
) -> Path:
    doc = json.loads(GOLDEN.read_text())
    doc["records"] = [r for r in doc["records"] if r["id"] != drop]
    for record in doc["records"]:
        record["id"] = (ids or {}).get(record["id"], record["id"])
        if record["id"].endswith("denoiser_step") or "::" in record["id"]:
            record["rounds"]["gpu_energy_j"] = [v * factor for v in record["rounds"]["gpu_energy_j"]]
    path.write_text(json.dumps(doc))
    return path


def test_an_old_node_id_in_the_baseline_is_compared_with_the_current_key(tmp_path: Path) -> None:
    base = _golden_with(tmp_path / "b.json", ids={DENOISER: "tmp/user/t_bench.py::test_step"})
    cur = _golden_with(tmp_path / "c.json", ids={DENOISER: "t_bench.py::test_step"}, factor=1.2)
    result = compare(load_results(base), load_results(cur))
    (row,) = [r for r in result.regressions]
    assert row.test_id == "t_bench.py::test_step" and "aligned" in row.flags
    assert result.missing_ids == result.new_ids == ()


@pytest.mark.parametrize(
    ("current", "args", "code", "expected"),
    [
        ({}, [], 0, "PASSED: 0 regression(s)"),
        ({"factor": 1.2}, [], 1, "FAILED: 1 regression(s)"),
        ({"drop": DENOISER}, [], 1, "GATE FAILURE: 1 baseline benchmark(s) not produced"),
        ({"drop": DENOISER}, ["--allow-missing"], 0, "(not a failure: missing allowed explicitly)"),
        ({"factor": 1.01}, ["--fail", "energy:0.5%", "--strict"], 1, "undecided (strict: fails)"),
        (
            {"factor": 1.01},
            ["--fail", "energy:0.5%"],
            0,
            "PASSED: 0 regression(s), 0 improvement(s), 2 undecided,",
        ),
    ],
)
def test_compare_exit_codes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    current: dict,
    args: list[str],
    code: int,
    expected: str,
) -> None:
    cur = _golden_with(tmp_path / "c.json", **current)
    assert main(["compare", str(GOLDEN), str(cur), *args]) == code
    assert expected in capsys.readouterr().out


def test_compare_exits_2_when_nothing_is_in_common(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(GOLDEN.read_text())
    for record in doc["records"]:
        record["id"] = "other/" + record["id"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    assert main(["compare", str(GOLDEN), str(other), "--allow-missing"]) == 2
    assert "nothing to compare" in capsys.readouterr().err


def test_markdown_summary_goes_to_the_path_and_to_github(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    cur = _golden_with(tmp_path / "c.json", factor=1.2)
    assert main(["compare", str(GOLDEN), str(cur), "--summary", str(tmp_path / "s" / "gate.md")]) == 1
    text = (tmp_path / "s" / "gate.md").read_text()
    assert text.startswith("## t2v-energy gate: FAILED")
    assert f"| `{DENOISER}` | energy | 1.2000 (+20.00%) |" in text and "❌ regression" in text
    assert step.read_text() == "earlier step\n" + text + "\n"
    assert write_summary("x", None, environ={}) == []


# -- composed figures ----------------------------------------------------------------------------------------


def test_composed_figures_are_decided_from_their_stored_parts() -> None:
    """Stored H100 validation records (0.42.1): one-value composed rows are decided from the parts' rounds."""
    base = load_results(VALIDATION)
    same = compare(base, base)
    composed = [r for r in same.rows if r.test_id.endswith("/composed")]
    assert composed and all("from-parts" in r.flags and r.verdict != "excluded" for r in composed)
    assert not same.regressions and same.passed
    doc = json.loads(VALIDATION.read_text())
    for record in doc["records"]:  # +10 % on every denoiser step part
        if record["id"].endswith("480x832x33-s20/denoiser_step"):
            record["rounds"]["gpu_energy_j"] = [v * 1.1 for v in record["rounds"]["gpu_energy_j"]]
    slower = compare(base, parse_document(doc, "slower"), Thresholds.parse("energy:5%"))
    flagged = {r.test_id for r in slower.regressions}
    assert "validation/wan2.1-t2v-1.3b/480x832x33-s20/composed" in flagged  # decided from its parts


# -- adaptive decision ---------------------------------------------------------------------------------------


def test_adaptive_state_continues_until_the_interval_decides_at_the_threshold() -> None:
    thresholds = Thresholds.parse("energy:2%")
    noisy = [10.0, 10.3, 9.7]  # SYNTHETIC, 3 % noise
    assert (
        adaptive_state({"gpu_energy_j": noisy}, {"gpu_energy_j": [10.3, 10.0, 10.6]}, thresholds) == CONTINUE
    )
    tight = [10.0, 10.01, 9.99, 10.0]
    assert (
        adaptive_state({"gpu_energy_j": tight}, {"gpu_energy_j": [10.5, 10.49, 10.51]}, thresholds)
        == REGRESSION
    )
    assert (
        adaptive_state({"gpu_energy_j": tight}, {"gpu_energy_j": [10.0, 10.02, 9.99]}, thresholds) == DECIDED
    )
    assert adaptive_state(None, {"gpu_energy_j": noisy}, thresholds) == CONTINUE
    assert adaptive_state(None, {"gpu_energy_j": tight}, thresholds) == PRECISE


# -- gate power (simulation from stored rounds) --------------------------------------------------------------

H100 = Path(__file__).parents[1] / "baselines" / "nvidia-h100-80gb-hbm3"


def test_power_simulation_from_stored_rounds_separates_no_change_from_5_percent() -> None:
    """SIMULATION over the stored H100 per-round residuals (few trials: a smoke check of the arithmetic)."""
    from t2v_energy_lib.results.power import DEFAULT_GATE_SUITE, format_power, noise_pools, simulate_gate

    files = [load_results(H100 / "0.42.1" / name) for name in ("validation.json", "cross_model.json")]
    pools = noise_pools(files, [b.component for b in DEFAULT_GATE_SUITE])
    assert all(p.n_records >= 2 and len(p.residuals) >= 4 for p in pools.values())
    report = simulate_gate(pools, trials=25, changes=(0.0, 0.05), seed=1)
    none, plus5 = report["results"]
    assert plus5["benchmarks"]["denoiser_step"]["regression_rate"] >= 0.8
    assert none["benchmarks"]["denoiser_step"]["regression_rate"] <= 0.2
    assert "SIMULATION" in format_power(report)
    with pytest.raises(ValueError, match="nothing to simulate"):
        noise_pools(files, ["no_such_component"])


def test_gate_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gate: the small CI gate suite*"])
