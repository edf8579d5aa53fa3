"""The history of each metric across versions: steps detected, a text table and a chart.

Per record (``wan2.1-t2v-1.3b/480x832x81-s4/denoiser_step``) and metric (``latency_s``, ``gpu_energy_j``):
each version's mean with its interval, the steps (:mod:`t2v_energy_lib.analysis.steps`), the releases that
did nothing, and the versions that have no figure (their error records say why). Nothing is rounded before
the report formats it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from t2v_energy_lib.analysis.steps import StepReport, VersionValues, detect_steps
from t2v_energy_lib.errors import FitError
from t2v_energy_lib.results.schema import ResultFile
from t2v_energy_lib.versions.records import errors_by_version, metric_series

UNITS = {"latency_s": "s", "gpu_energy_j": "J"}


@dataclass(frozen=True)
class MetricHistory:
    """One record's metric across versions.

    Attributes:
        key: Record id without the suite.
        metric: Rounds key (``gpu_energy_j``).
        series: Versions with values, release order.
        missing: Versions of the run without this record.
        report: Steps, or None with ``problem`` saying why none could be computed.
    """

    key: str
    metric: str
    series: tuple[VersionValues, ...]
    missing: tuple[str, ...]
    report: StepReport | None
    problem: str | None = None


def analyse(
    files: Mapping[str, ResultFile], *, min_change: float = 0.02, confidence: float = 0.99
) -> list[MetricHistory]:
    """Detect steps in every followed record and metric of ``files`` (version -> merged file, in order)."""
    out = []
    versions = list(files)
    for (key, metric), series in metric_series(files).items():
        have = {s.version for s in series}
        missing = tuple(v for v in versions if v not in have)
        try:
            report = detect_steps(series, min_change=min_change, confidence=confidence)
            problem = None
        except FitError as exc:
            report, problem = None, str(exc)
        out.append(MetricHistory(key, metric, tuple(series), missing, report, problem))
    return out


def _fmt(value: float, metric: str) -> str:
    return f"{value:.4g} {UNITS.get(metric, '')}".strip()


def format_history(histories: Sequence[MetricHistory], files: Mapping[str, ResultFile]) -> str:
    """Plain-text history: per record and metric, every version's value with interval, then the verdicts."""
    lines = []
    for h in histories:
        lines.append(f"{h.key}  {h.metric}")
        if h.report is None:
            lines.append(f"  no history: {h.problem}")
            continue
        r = h.report
        for i, s in enumerate(h.series):
            low, high = r.interval(i)
            mean = r.levels[i].mean
            interval = f"[{_fmt(low, h.metric)}, {_fmt(high, h.metric)}]"
            lines.append(f"  {s.version:>8}  {_fmt(mean, h.metric):>12}  {interval}  n={r.levels[i].n}")
        for st in r.steps:
            lines.append(
                f"  STEP {st.before} -> {st.after}: x{st.ratio:.3f} [{st.ci_low:.3f}, {st.ci_high:.3f}] "
                f"(level x{st.segment_ratio:.3f} [{st.segment_ci_low:.3f}, {st.segment_ci_high:.3f}])"
            )
        if r.unchanged:
            lines.append("  unchanged: " + ", ".join(f"{a}->{b}" for a, b in r.unchanged))
        if r.noisy:
            lines.append(
                f"  NOISY (host-bound?): rounds spread x{r.round_spread:.3f} within one version; changes "
                "within that band are not steps: needs more runs per version"
            )
        drift = "  DRIFT (not one release)" if r.drift else ""
        lines.append(
            f"  {r.versions[0]} -> {r.versions[-1]}: x{r.total_ratio:.3f} "
            f"[{r.total_ci[0]:.3f}, {r.total_ci[1]:.3f}]{drift}"
        )
        if h.missing:
            lines.append(f"  not measured: {', '.join(h.missing)}")
    errors = errors_by_version(files)
    for version, msgs in errors.items():
        for msg in msgs:
            lines.append(f"error record {version}: {msg[:300]}")
    n_steps = sum(len(h.report.steps) for h in histories if h.report)
    lines.append(
        f"{len(histories)} metric histories over {len(files)} versions; {n_steps} step(s) "
        f"(confidence {histories[0].report.confidence if histories and histories[0].report else '-'}, "
        f"min change {histories[0].report.min_change if histories and histories[0].report else '-'})"
    )
    return "\n".join(lines)


def plot_history(histories: Sequence[MetricHistory], path: str | Path) -> Path:
    """One panel per record and metric: mean and interval per version, dashed lines at detected steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [h for h in histories if h.report is not None]
    if not shown:
        raise FitError("no metric has a history of two or more versions; nothing to plot")
    cols = 2
    rows = (len(shown) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 2.8 * rows), squeeze=False)
    for ax, h in zip(axes.flat, shown, strict=False):
        r = h.report
        assert r is not None
        xs = list(range(len(h.series)))
        means = [lv.mean for lv in r.levels]
        lows = [m - r.interval(i)[0] for i, m in enumerate(means)]
        highs = [r.interval(i)[1] - m for i, m in enumerate(means)]
        ax.errorbar(xs, means, yerr=[lows, highs], fmt="o-", capsize=3)
        for st in r.steps:
            b = r.versions.index(st.after)
            ax.axvline(b - 0.5, color="tab:red", linestyle="--")
            ax.annotate(f"x{st.segment_ratio:.3f}", (b - 0.5, max(means)), color="tab:red", fontsize=8)
        ax.set_xticks(xs, [s.version for s in h.series], rotation=30, fontsize=8)
        noisy = " (noisy: needs more runs per version)" if r.noisy else ""
        ax.set_title(f"{h.key}\n{h.metric}{noisy}", fontsize=8)
        ax.set_ylabel(UNITS.get(h.metric, ""))
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
