"""``DIFFUSERS-VERSIONS.md`` from a measured history: values per version, steps, explanations, errors.

Generated text only restates what the result files hold (means and intervals computed on read from the raw
rounds); every figure in it comes from a stored run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from t2v_energy_lib.results.schema import ResultFile
from t2v_energy_lib.versions.confounders import also_changed
from t2v_energy_lib.versions.explain import StepExplanation
from t2v_energy_lib.versions.records import errors_by_version
from t2v_energy_lib.versions.view import UNITS, MetricHistory


def _provenance_lines(files: Mapping[str, ResultFile]) -> list[str]:
    first = next(iter(files.values())).provenance
    gpu = first.get("gpu") or {}
    versions = first.get("versions") or {}
    lines = [
        f"- GPU: {gpu.get('name', 'none (CPU run)')} ({gpu.get('uuid', '-')}), "
        f"driver {gpu.get('driver_version', '-')}, power limit {gpu.get('power_limit_w', '-')} W; "
        f"torch {versions.get('torch', '-')}",
        "- Per version (transformers as imported by its jobs; job start times from their provenance):",
    ]
    for version, rf in files.items():
        runs = rf.provenance.get("history_runs", [])
        tf = sorted({str(r.get("transformers")) for r in runs})
        dates = [str(r.get("date_utc")) for r in runs]
        lines.append(f"  - {version}: transformers {', '.join(tf)}; runs {', '.join(dates)}")
    return lines


#: The footnote of the noise rule (:mod:`t2v_energy_lib.analysis.steps`, step 4) and of confounded steps.
NOISY_RULE = [
    "Noisy records: when one version's rounds spread by more than 10 % (max/min), the call is host-bound and",
    "switches latency regimes within a job, so one job per version cannot bound the job-to-job variance.",
    "Such a record takes its largest within-version range R as a noise band: each version's standard error",
    "is floored at (R - 1)/2 of its mean and a change within a factor R is not a step; it is marked",
    '"noisy (host-bound?): needs more runs per version". A step between versions whose jobs imported other',
    "versions of another package (transformers, torch, ...) names them: it cannot be attributed to Diffusers",
    "alone.",
]


def _steps_cell(h: MetricHistory, files: Mapping[str, ResultFile]) -> str:
    """Steps with their level ratio and interval, confounding packages, and the noisy flag."""
    assert h.report is not None
    parts = []
    for st in h.report.steps:
        interval = f"[{st.segment_ci_low:.3f}, {st.segment_ci_high:.3f}]"
        text = f"{st.before}->{st.after} x{st.segment_ratio:.3f} {interval}"
        changed = also_changed(files[st.before], files[st.after])
        if changed:
            text += f" (also changed: {'; '.join(changed)})"
        parts.append(text)
    cell = "; ".join(parts) or "none"
    if h.report.noisy:
        cell += (
            f"; noisy (host-bound?): rounds spread x{h.report.round_spread:.3f} within one version: "
            "needs more runs per version"
        )
    return cell


def render(
    files: Mapping[str, ResultFile],
    histories: Sequence[MetricHistory],
    explanations: Sequence[StepExplanation],
    command: str,
) -> str:
    """The Markdown document (see the module docstring)."""
    lines = [
        "# Diffusers versions: history",
        "",
        f"Produced by `{command}` from the stored result files.",
        "",
    ]
    lines += _provenance_lines(files)
    lines += [
        "",
        "| record | metric | " + " | ".join(files) + " | steps |",
        "| --- | --- |" + " --- |" * (len(files) + 1),
    ]
    for h in histories:
        if h.report is None:
            continue
        cells = {}
        for i, s in enumerate(h.series):
            low, high = h.report.interval(i)
            cells[s.version] = f"{h.report.levels[i].mean:.4g} [{low:.4g}, {high:.4g}]"
        row = " | ".join(cells.get(v, "-") for v in files)
        lines.append(
            f"| {h.key} | {h.metric} ({UNITS.get(h.metric, '')}) | {row} | {_steps_cell(h, files)} |"
        )
    lines += [
        "",
        "Intervals: per version, t interval of the mean of its raw rounds (all rounds of all runs); steps:",
    ]
    lines.append("weighted segmentation and Welch ratio intervals (`t2v_energy_lib/analysis/steps.py`).")
    lines += [*NOISY_RULE, ""]
    drifts = [h for h in histories if h.report is not None and h.report.drift]
    for h in drifts:
        lines.append(
            f"- drift, not one release: {h.key} {h.metric} x{h.report.total_ratio:.3f} first to last"
        )  # type: ignore[union-attr]
    if explanations:
        lines += ["", "## Steps explained", ""]
        for e in explanations:
            lines += ["```", *e.lines(), "```"]
    errors = errors_by_version(files)
    if errors:
        lines += ["", "## Versions that could not run a model", ""]
        for version, msgs in errors.items():
            lines += [f"- {version}: {m[:400]}" for m in msgs]
    lines += [
        "",
        "Random weights: the figures are the cost of the computation each version runs at these shapes; they",
        "say nothing about video quality.",
    ]
    return "\n".join(lines) + "\n"
