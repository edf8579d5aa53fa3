"""Step explanations on synthetic merged history files (no measurement): causes ranked by the kernel class
that moved, packages other than Diffusers that changed between two versions' jobs, and the report's cells."""

from __future__ import annotations

from t2v_energy_lib.analysis.steps import VersionValues, detect_steps
from t2v_energy_lib.results.schema import ResultFile, ResultRecord
from t2v_energy_lib.versions.confounders import also_changed, package_versions
from t2v_energy_lib.versions.explain import explain_step
from t2v_energy_lib.versions.markdown import render
from t2v_energy_lib.versions.view import MetricHistory

MODEL = "wan2.1-t2v-1.3b"
STEP = f"history/{MODEL}/480x832x81-s4/denoiser_step"
NOTE = "also changed: transformers 4.57.6 -> 5.17.0: the step cannot be attributed to Diffusers alone"


def merged(
    version: str, transformers: str, times_us: dict[str, float], values: tuple[float, ...]
) -> ResultFile:
    """A version's merged history file as :func:`merge_version` writes it (synthetic figures)."""
    provenance = {
        "gpu": {"name": "Fake GPU", "uuid": "GPU-fake"},
        "versions": {"diffusers": version, "transformers": transformers, "torch": "2.11.0"},
        "history_runs": [{"run": f"r0-{MODEL}", "diffusers": version, "transformers": transformers}],
    }
    profile = {"time_us": times_us, "top": [], "activity": "cuda kernels (device self time)"}
    records = (
        ResultRecord(STEP, "history", MODEL, "denoiser_step", {}, {"latency_s": list(values)}),
        ResultRecord(
            STEP.replace("denoiser_step", "operator_profile"), "history", MODEL, "operator_profile", {},
            {"profiled_call_s": [1.0]}, extra={"profile": profile},
        ),
    )  # fmt: skip
    return ResultFile(provenance, records)


#: Synthetic category times (us): 0.35.x loses a quarter of its elementwise time, attention grows 2.5 %.
BEFORE = {"attention": 667e3, "matmul": 212e3, "norm_elementwise": 522e3, "other": 1e3}
AFTER = {"attention": 684e3, "matmul": 214e3, "norm_elementwise": 397e3, "other": 1e3}


def test_the_cause_matching_the_class_that_moved_comes_first() -> None:
    a = merged("0.33.1", "5.17.0", BEFORE, (1.42, 1.42, 1.42))
    b = merged("0.35.2", "5.17.0", AFTER, (1.31, 1.31, 1.31))
    why = explain_step(MODEL, ("0.33.1", a), ("0.35.2", b))
    assert why.moved_most is not None and why.moved_most.category == "norm_elementwise"
    assert [c.kernel_class for c in why.ranked_causes()] == ["norm_elementwise", "attention"]
    text = "\n".join(why.lines())
    assert "#11649" in text and text.index("real cos/sin") < text.index("attention dispatcher")
    dispatcher = text[text.index("attention dispatcher") :]
    assert "does not match the measured kernel classes (moved most: norm_elementwise -23.9%)" in dispatcher
    assert "matches the measured kernel classes" in text[: text.index("attention dispatcher")]
    assert "also changed" not in text


def test_when_attention_moves_most_the_dispatcher_comes_first() -> None:
    after = dict(BEFORE, attention=500e3)
    why = explain_step(
        MODEL,
        ("0.33.1", merged("0.33.1", "5.17.0", BEFORE, (1.0,))),
        ("0.35.2", merged("0.35.2", "5.17.0", after, (1.0,))),
    )
    assert [c.kernel_class for c in why.ranked_causes()] == ["attention", "norm_elementwise"]


def test_another_transformers_between_the_versions_is_named() -> None:
    a = merged("0.33.1", "4.57.6", BEFORE, (1.42,))
    b = merged("0.35.2", "5.17.0", AFTER, (1.31,))
    assert package_versions(a) == {"torch": ("2.11.0",), "transformers": ("4.57.6",)}
    assert also_changed(a, b) == ("transformers 4.57.6 -> 5.17.0",)
    lines = explain_step(MODEL, ("0.33.1", a), ("0.35.2", b)).lines()
    assert f"  {NOTE}" in lines
    same = explain_step(MODEL, ("0.33.1", merged("0.33.1", "5.17.0", BEFORE, (1.42,))), ("0.35.2", b))
    assert not any("also changed" in line for line in same.lines())


def test_a_package_recorded_on_one_side_only_is_not_ruled_out() -> None:
    a = merged("0.40.0", "5.17.0", BEFORE, (1.0,))
    b = merged("0.42.1", "5.17.0", BEFORE, (1.0,))
    b.provenance["versions"]["tokenizers"] = "0.22.1"  # type: ignore[index]
    assert also_changed(a, b) == ("tokenizers not recorded -> 0.22.1",)


def test_report_cell_names_the_confounder_and_the_noisy_flag() -> None:
    a = merged("0.33.1", "4.57.6", BEFORE, (1.42, 1.421, 1.419))
    b = merged("0.35.2", "5.17.0", AFTER, (1.31, 1.311, 1.309))
    files = {"0.33.1": a, "0.35.2": b}
    series = (VersionValues("0.33.1", (1.42, 1.421, 1.419)), VersionValues("0.35.2", (1.31, 1.311, 1.309)))
    step = MetricHistory(STEP.split("/", 1)[1], "latency_s", series, (), detect_steps(series))
    noisy_series = (VersionValues("0.33.1", (0.065, 0.104, 0.065)), VersionValues("0.35.2", (0.104,) * 3))
    noisy = MetricHistory("x/prompt/text_encoder", "latency_s", noisy_series, (), detect_steps(noisy_series))
    why = explain_step(MODEL, ("0.33.1", a), ("0.35.2", b))
    text = render(files, [step, noisy], [why], "t2v-energy history --report-only")
    [step_row] = [line for line in text.splitlines() if line.startswith(f"| {step.key}")]
    assert "0.33.1->0.35.2 x0.923" in step_row and "(also changed: transformers 4.57.6 -> 5.17.0)" in step_row
    [noisy_row] = [line for line in text.splitlines() if line.startswith("| x/prompt")]
    assert "none; noisy (host-bound?)" in noisy_row and "needs more runs per version" in noisy_row
    assert NOTE in text and "Noisy records:" in text
