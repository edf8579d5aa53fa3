"""``DIFFUSERS-VERSIONS.md`` from a measured history: values per version, steps, explanations, errors.

Generated text only restates what the result files hold (means and intervals computed on read from the raw
rounds); every figure in it comes from a stored run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from t2v_energy_lib.results.schema import ResultFile
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
        steps = "; ".join(
            f"{st.before}->{st.after} x{st.segment_ratio:.3f} "
            f"[{st.segment_ci_low:.3f}, {st.segment_ci_high:.3f}]"
            for st in h.report.steps
        )
        row = " | ".join(cells.get(v, "-") for v in files)
        lines.append(f"| {h.key} | {h.metric} ({UNITS.get(h.metric, '')}) | {row} | {steps or 'none'} |")
    lines += [
        "",
        "Intervals: per version, t interval of the mean of its raw rounds (all rounds of all runs); steps:",
    ]
    lines.append("weighted segmentation and Welch ratio intervals (`t2v_energy_lib/analysis/steps.py`).")
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
