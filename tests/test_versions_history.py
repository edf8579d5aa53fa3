"""History runner on a fake launcher (synthetic result files, no subprocess, no measurement): job order,
time budget, error records, the merge of runs, step report, chart, explanation and the CLI's exit codes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from t2v_energy_lib.cli import main
from t2v_energy_lib.errors import BaselineFormatError, HardwareMismatchError, VersionEnvError
from t2v_energy_lib.results.schema import ResultRecord
from t2v_energy_lib.results.storage import ResultWriter, load_results
from t2v_energy_lib.versions.causes import causes_between
from t2v_energy_lib.versions.explain import explain_step
from t2v_energy_lib.versions.history import JobSettings, plan, run_history, spread
from t2v_energy_lib.versions.matrix import resolve
from t2v_energy_lib.versions.records import merge_version
from t2v_energy_lib.versions.view import analyse, format_history, plot_history

MODEL = "wan2.1-t2v-1.3b"
STEP = f"history/{MODEL}/480x832x81-s4/denoiser_step"
#: Synthetic per-version energy levels: 5 % less from 0.40.0 on (the shape of a step, not a measurement).
LEVELS = {"0.33.1": 100.0, "0.35.2": 100.0, "0.37.1": 100.0, "0.39.0": 100.0, "0.40.0": 95.0, "0.42.1": 95.0}


def provenance(version: str, gpu: str = "Fake GPU") -> dict:
    return {
        "gpu": {"name": gpu, "uuid": "GPU-fake", "driver_version": "1.0", "power_limit_w": 700.0},
        "versions": {"diffusers": version, "transformers": "5.17.0"},
        "date_utc": "2026-12-01T00:00:00Z",
        "settings": {},
    }


def profile(elementwise_us: float) -> dict:
    return {
        "shares": {},
        "time_us": {"attention": 700e3, "matmul": 220e3, "norm_elementwise": elementwise_us, "other": 1e3},
        "top": [{"name": "strided_add" if elementwise_us > 400e3 else "vectorized_add", "time_us": 70e3}],
        "activity": "cuda kernels (device self time)",
    }


def write_run(folder: Path, version: str, seed: int, gpu: str = "Fake GPU") -> None:
    """A worker's result file (synthetic figures around LEVELS[version])."""
    rng = random.Random(seed)
    writer = ResultWriter(folder / "history.json", provenance(version, gpu), resume=False)
    level = LEVELS[version]
    values = [level * (1 + rng.gauss(0, 0.003)) for _ in range(3)]
    writer.add(
        ResultRecord(
            STEP, "history", MODEL, "denoiser_step", {}, {"gpu_energy_j": values, "latency_s": values}
        )
    )
    writer.add(
        ResultRecord(
            STEP.replace("denoiser_step", "operator_profile"), "history", MODEL, "operator_profile", {},
            {"profiled_call_s": [1.0]}, extra={"profile": profile(450e3 if level == 100.0 else 375e3)},
        )
    )  # fmt: skip


class FakeLauncher:
    """Writes a synthetic result file where the worker would; fails for ``broken`` versions."""

    def __init__(self, clock: list[float], seconds: float = 10.0, broken: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, str]] = []
        self.clock, self.seconds, self.broken = clock, seconds, broken

    def __call__(self, argv: list[str], env: dict, log: Path, timeout_s: float) -> int:
        version = argv[argv.index("--expect-diffusers") + 1]
        rnd = int(argv[argv.index("--round") + 1])
        self.calls.append((version, argv[argv.index("--models") + 1]))
        self.clock[0] += self.seconds
        log.parent.mkdir(parents=True, exist_ok=True)
        if version in self.broken:
            log.write_text("Traceback...\nImportError: cannot import name 'X'\n")
            return 1
        write_run(Path(argv[argv.index("--out") + 1]), version, seed=rnd * 100 + len(self.calls))
        return 0


def run(tmp_path: Path, versions: str, rounds: int = 2, **kw) -> tuple[FakeLauncher, object]:
    clock = [0.0]
    launcher = FakeLauncher(clock, broken=kw.pop("broken", ()))
    jobs = plan(resolve(versions), [MODEL], rounds)
    result = run_history(
        jobs, tmp_path, JobSettings(), kw.pop("prepare", lambda spec: None), repo=Path.cwd(),
        launcher=launcher, clock=lambda: clock[0], log=lambda _: None, **kw,
    )  # fmt: skip
    return launcher, result


def test_rounds_alternate_direction_against_drift() -> None:
    jobs = plan(resolve("0.33.1,0.37.1,0.42.1"), ["a", "b"], 2)
    assert [(j.version.diffusers, j.model, j.round) for j in jobs[:3]] == [
        ("0.33.1", "a", 0), ("0.37.1", "a", 0), ("0.42.1", "a", 0),
    ]  # fmt: skip
    assert [j.version.diffusers for j in jobs if j.round == 1 and j.model == "a"] == [
        "0.42.1",
        "0.37.1",
        "0.33.1",
    ]
    assert [v.diffusers for v in spread(resolve("all"))][:3] == ["0.33.1", "0.42.1", "0.37.1"]
    listed = plan(resolve("0.42.1,0.33.1", keep_order=True), ["a"], 2, "listed")
    assert [j.version.diffusers for j in listed] == ["0.42.1", "0.33.1", "0.33.1", "0.42.1"]


def test_history_finds_the_synthetic_step_and_explains_it(tmp_path: Path) -> None:
    launcher, result = run(tmp_path, "0.33.1,0.35.2,0.37.1,0.39.0,0.40.0,0.42.1")
    assert len(launcher.calls) == 12 and not result.skipped
    files = {v: merge_version(tmp_path / v) for v in LEVELS}
    merged = files["0.40.0"].by_id()[STEP]
    assert len(merged.rounds["gpu_energy_j"]) == 6 and merged.extra["history_runs"] == [
        f"r0-{MODEL}",
        f"r1-{MODEL}",
    ]
    assert [r["run"] for r in files["0.40.0"].provenance["history_runs"]] == [f"r0-{MODEL}", f"r1-{MODEL}"]
    [energy] = [h for h in analyse(files) if h.metric == "gpu_energy_j"]
    assert [(s.before, s.after) for s in energy.report.steps] == [("0.39.0", "0.40.0")]
    text = format_history(analyse(files), files)
    assert "STEP 0.39.0 -> 0.40.0" in text and "unchanged: 0.33.1->0.35.2" in text
    chart = plot_history(analyse(files), tmp_path / "h.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    why = explain_step(MODEL, ("0.39.0", files["0.39.0"]), ("0.40.0", files["0.40.0"]))
    shift = {s.category: s for s in why.shifts}
    assert shift["norm_elementwise"].change == pytest.approx(375 / 450 - 1) and shift["attention"].change == 0
    assert why.gone[0][0] == "strided_add" and why.new[0][0] == "vectorized_add"
    assert [c.present_in for c in why.causes] == ["0.40.0"] and "#14236" in why.causes[0].source


def test_causes_are_only_those_between_the_two_versions() -> None:
    assert causes_between(MODEL, "0.40.0", "0.42.1") == ()
    assert {c.present_in for c in causes_between(MODEL, "0.33.1", "0.42.1")} == {"0.35.0", "0.39.0", "0.40.0"}
    assert causes_between("cogvideox-2b", "0.33.1", "0.42.1") == ()


def test_time_budget_leaves_out_jobs_that_would_not_fit(tmp_path: Path) -> None:
    launcher, result = run(tmp_path, "0.33.1,0.37.1,0.42.1", time_budget_s=25.0)
    assert len(launcher.calls) == 2 and len(result.skipped) == 4  # 10 s per job: a third would end at 30 s


def test_a_version_that_cannot_run_leaves_an_error_record(tmp_path: Path) -> None:
    _, result = run(tmp_path, "0.33.1,0.42.1", rounds=1, broken=("0.33.1",))
    [failed] = [o for o in result.outcomes if o.returncode]
    assert "without an error record" in failed.error
    rec = load_results(tmp_path / "0.33.1" / "runs" / f"r0-{MODEL}" / "history.json").records[0]
    assert rec.component == "error" and "ImportError" in rec.extra["error"]
    assert (
        load_results(tmp_path / "0.33.1" / "runs" / f"r0-{MODEL}" / "history.json").provenance["versions"][
            "diffusers"
        ]
        == "0.33.1"
    )


def test_an_environment_that_cannot_be_built_is_an_error_record(tmp_path: Path) -> None:
    def prepare(spec):
        raise VersionEnvError(f"diffusers {spec.diffusers}: no wheel for diffusers=={spec.diffusers}")

    launcher, result = run(tmp_path, "0.37.1", rounds=1, prepare=prepare)
    assert launcher.calls == [] and result.outcomes[0].returncode is None
    rec = load_results(tmp_path / "0.37.1" / "runs" / f"r0-{MODEL}" / "history.json").records[0]
    assert "environment: diffusers 0.37.1: no wheel" in rec.extra["error"]


def test_runs_of_other_hardware_are_not_merged(tmp_path: Path) -> None:
    write_run(tmp_path / "0.37.1" / "runs" / "r0-x", "0.37.1", 1)
    write_run(tmp_path / "0.37.1" / "runs" / "r1-x", "0.37.1", 2, gpu="Other GPU")
    with pytest.raises(HardwareMismatchError, match="one machine"):
        merge_version(tmp_path / "0.37.1")


def test_report_only_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "0.37.1" / "runs" / f"r0-{MODEL}", "0.37.1", 1)
    args = ["history", "--report-only", "--out", str(tmp_path), "--versions", "0.37.1,0.42.1"]
    assert main(args) == 1  # one version with figures: no history
    assert "a history needs two or more" in capsys.readouterr().out
    write_run(tmp_path / "0.42.1" / "runs" / f"r0-{MODEL}", "0.42.1", 2)
    md = tmp_path / "V.md"
    assert main([*args, "--markdown", str(md)]) == 0
    out = capsys.readouterr().out
    assert "STEP 0.37.1 -> 0.42.1" in out and "candidate cause (0.39.0 -> 0.40.0" in out
    assert "| 0.37.1 | 0.42.1 |" in md.read_text() and (tmp_path / "history.png").exists()


def test_pytest_selection_writes_the_plugins_results_into_the_job_folder(tmp_path: Path) -> None:
    [job] = plan(resolve("0.37.1"), [MODEL], 1)
    argv = JobSettings(pytest_mark="gate", extra_args=("tests/gpu",)).worker_argv(job, tmp_path / "job")
    assert argv[1:5] == ["-m", "pytest", "-m", "gate"] and argv[-1] == "tests/gpu"
    assert argv[argv.index("--energy-results") + 1] == str(tmp_path / "job" / "history.json")


def test_a_run_that_imported_another_diffusers_is_refused(tmp_path: Path) -> None:
    # the runner's diffusers shadowed the version's
    write_run(tmp_path / "0.37.1" / "runs" / "r0-x", "0.42.1", 1)
    with pytest.raises(BaselineFormatError, match=r"ran diffusers 0\.42\.1, not 0\.37\.1"):
        merge_version(tmp_path / "0.37.1")
