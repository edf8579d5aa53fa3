"""Every stored optimisation run of one GPU kind side by side: does a saving hold from run to run?

Each run of the optimisation suite is stored in its own folder (one physical GPU, one default: savings are
only ever judged against the default measured in the same run). A user asking "what saves energy on this
GPU" should not have to read six reports, so this module reads every ``optimizations.json`` under a GPU
folder (``baselines/<gpu>/``, skipping ``runs/`` and ``report/``) and writes ``OPTIMIZATIONS-SUMMARY.md``:

- the runs (label, folder, GPU uuid, date, Diffusers version);
- per model and setting, one row per variant, one column per run: the saving in % of GPU energy per video
  where it engaged (with the report's label when the rounds overlap or the variant cost more), otherwise
  the status (``not engaged``, ``not available``, ``not reached``, ``failed``); the default's row gives its
  energy per video, so a drift of the default between GPUs is visible;
- the best significant saving per model and setting over all runs (with its run, latency, deviation and
  payback);
- the goal verdict per run, and one chart per setting (a bar per variant: the mean saving over the runs
  where it engaged, a dot per run).

The savings are those of :mod:`t2v_energy_lib.analysis.optimizations` (the same rows as each run's report);
nothing is pooled across runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

from t2v_energy_lib.analysis.optimizations import (
    GOAL_SAVING_FRACTION,
    MIN_EFFECT_FRACTION,
    SAVES,
    OptimizationRow,
    best_saving,
    goal_verdict,
    optimization_rows,
)
from t2v_energy_lib.errors import MissingResultsError
from t2v_energy_lib.report import fmt
from t2v_energy_lib.report.optimizations_section import RANDOM_WEIGHTS, _slug
from t2v_energy_lib.report.plots import _figure, _save

FILE_NAME = "optimizations.json"
SUMMARY_NAME = "OPTIMIZATIONS-SUMMARY.md"
CHART_DIR = "optimizations-summary"
_SKIPPED = ("runs", "report")


@dataclass(frozen=True)
class OptimizationRun:
    """One stored run of the optimisation suite.

    Attributes:
        label: Its column in the summary (1, 2, ...), in date order.
        folder: The folder holding its ``optimizations.json``, relative to the GPU folder.
        gpu_uuid: The GPU it ran on (None on a CPU run).
        date_utc: When the run started.
        diffusers: The Diffusers version of the run.
        groups: Rows per model and setting (:func:`~t2v_energy_lib.analysis.optimizations.optimization_rows`).
    """

    label: str
    folder: str
    gpu_uuid: str | None
    date_utc: str
    diffusers: str | None
    groups: dict[str, list[OptimizationRow]]


def find_runs(gpu_dir: Path) -> list[OptimizationRun]:
    """Every optimisation run stored under ``gpu_dir``, oldest first.

    Raises:
        MissingResultsError: no ``optimizations.json`` there (run ``t2v-energy optimize`` first).
    """
    from t2v_energy_lib.results.storage import load_results

    paths = [
        p
        for p in sorted(Path(gpu_dir).rglob(FILE_NAME))
        if not set(p.relative_to(gpu_dir).parts[:-1]) & set(_SKIPPED)
    ]
    if not paths:
        raise MissingResultsError(
            f"no {FILE_NAME} under {gpu_dir}: run `t2v-energy optimize` and store its file there first",
            "optimizations",
        )
    loaded = []
    for path in paths:
        rf = load_results(path)
        prov = rf.provenance
        gpu = prov.get("gpu") or {}
        loaded.append(
            (
                str(prov.get("date_utc") or ""),
                str(path.parent.relative_to(gpu_dir)),
                gpu.get("uuid"),
                (prov.get("versions") or {}).get("diffusers"),
                optimization_rows(rf.records),
            )
        )
    loaded.sort(key=lambda run: (run[0], run[1]))
    return [
        OptimizationRun(str(i), folder, uuid, date, diffusers, groups)
        for i, (date, folder, uuid, diffusers, groups) in enumerate(loaded, start=1)
    ]


#: How a failed record's reason says the device ran out of memory (torch's CUDA message).
OUT_OF_MEMORY = "out of memory"


def cell(row: OptimizationRow | None) -> str:
    """One run's entry for a variant: its saving where it engaged, else its status."""
    if row is None:
        return ""
    if row.status == "reference":
        return _figure_text(row)
    if row.status == "engaged" and row.saving_fraction is not None:
        text = fmt.pct(row.saving_fraction)
        return text if row.label == SAVES else f"{text} ({row.label})"
    if row.status == "failed" and OUT_OF_MEMORY in (row.reason or "").lower():
        return "failed (out of memory)"  # the run's report gives the lever's cause
    return row.status.replace("_", " ")


def _savings(runs: Sequence[OptimizationRun], group: str, variant: str) -> list[tuple[str, float]]:
    out = []
    for run in runs:
        for row in run.groups.get(group, ()):
            if row.variant == variant and row.status == "engaged" and row.saving_fraction is not None:
                out.append((run.label, row.saving_fraction))
    return out


def _variants(runs: Sequence[OptimizationRun], group: str) -> list[str]:
    """The group's variants: the default, then by best saving (engaged anywhere), then the rest by name."""
    names = {row.variant for run in runs for row in run.groups.get(group, ()) if row.status != "reference"}

    def key(name: str) -> tuple[int, float, str]:
        best = max((s for _, s in _savings(runs, group, name)), default=None)
        return (0, -best, name) if best is not None else (1, 0.0, name)

    return ["default", *sorted(names, key=key)]


def group_table(runs: Sequence[OptimizationRun], group: str) -> str:
    """The markdown table of one model and setting: a row per variant, a column per run that measured it."""
    present = [run for run in runs if group in run.groups]
    rows = []
    for name in _variants(present, group):
        by_run = {
            run.label: next((r for r in run.groups[group] if r.variant == name), None) for run in present
        }
        rows.append([f"`{name}`", *(cell(by_run[run.label]) for run in present)])
    return fmt.md_table(["variant", *(f"run {run.label}" for run in present)], rows)


def _figure_text(row: OptimizationRow) -> str:
    """A row's figure per video in its unit (J on a GPU run, s where only latency was measured)."""
    if row.value is None:
        return "-"
    return f"{row.value:,.0f} J" if row.quantity.endswith("_j") else f"{fmt.num(row.value)} s"


def best_table(runs: Sequence[OptimizationRun], groups: Sequence[str]) -> str:
    """One row per model and setting: the largest significant saving of any run, beside that run's default,
    with its latency, deviation and payback (a model without a saving says so)."""
    rows = []
    for group in groups:
        found = [(run, best_saving(run.groups[group])) for run in runs if group in run.groups]
        run, best = max(
            ((r, b) for r, b in found if b is not None),
            key=lambda pair: pair[1].saving_fraction or 0.0,
            default=(None, None),
        )
        if run is None or best is None:
            rows.append([group, "no significant saving in any run", "", "", "", "", "", ""])
            continue
        default = next(r for r in run.groups[group] if r.status == "reference")
        psnr = (best.deviation or {}).get("frames_psnr_db")
        payback = best.payback_videos
        rows.append(
            [
                group,
                f"`{best.variant}`",
                f"run {run.label}",
                fmt.pct(best.saving_fraction or 0.0),
                f"{_figure_text(best)} of {_figure_text(default)}",
                fmt.num(best.latency_s) if best.latency_s is not None else "-",
                "-" if psnr is None else f"{psnr:.1f}",
                "-" if payback is None else fmt.num(payback),
            ]
        )
    header = ["model/setting", "best variant", "run", "saving", "per video", "latency (s)", "PSNR (dB)"]
    return fmt.md_table([*header, "payback (videos)"], rows)


def goal_lines(runs: Sequence[OptimizationRun], group: str) -> list[str]:
    """The goal verdict of each run that measured ``group``."""
    lines = []
    for run in runs:
        if group in run.groups:
            verdict = goal_verdict(group, run.groups[group])
            lines.append(f"- run {run.label}: {'**met**' if verdict.met else 'not met'}. {verdict.message}")
    return lines


#: Characters of a failed or unreached variant's recorded reason shown in the summary.
REASON_CHARS = 220


def failure_lines(runs: Sequence[OptimizationRun], group: str) -> list[str]:
    """Each failed or unreached variant of ``group``, run by run, with the start of its recorded reason."""
    lines = []
    for run in runs:
        for row in run.groups.get(group, ()):
            if row.status in ("failed", "not_reached"):
                status = row.status.replace("_", " ")
                reason = " ".join(row.reason.split()).removeprefix(f"{status}: ")
                if len(reason) > REASON_CHARS:
                    reason = reason[: REASON_CHARS - 3].rstrip() + "..."
                lines.append(f"- `{row.variant}`, run {run.label}, {status}: {reason}")
    return lines


def plot_group(runs: Sequence[OptimizationRun], group: str, out_path: Path) -> Path:
    """A bar per engaged variant (mean saving over the runs where it engaged), a dot per run."""
    names = [n for n in _variants(runs, group)[1:] if _savings(runs, group, n)]
    fig, (ax,) = _figure(1, 9.0, max(2.5, 0.45 * len(names) + 1.2))
    for i, name in enumerate(names):
        savings = _savings(runs, group, name)
        values = [100.0 * s for _, s in savings]
        ax.barh([i], [fmean(values)], color="tab:blue", alpha=0.35)
        ax.scatter(values, [i] * len(values), color="tab:blue", zorder=3, s=14)
        for label, value in zip((run for run, _ in savings), values, strict=True):
            ax.annotate(label, (value, i), fontsize=6, xytext=(2, 3), textcoords="offset points")
    ax.axvline(100.0 * GOAL_SAVING_FRACTION, color="tab:red", linestyle="--", label="goal")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("GPU energy saved per video (%), bar: mean over runs, dots: each run (number)")
    ax.set_title(f"{group}: engaged variants, run by run", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, out_path)


def summary_markdown(gpu_dir: Path, runs: Sequence[OptimizationRun], chart_dir: Path) -> str:
    """The summary's text (charts written under ``chart_dir``)."""
    lines = [
        f"# What saves energy on `{Path(gpu_dir).name}`: every stored optimisation run",
        "",
        f"Generated by `t2v-energy optimize --summary <this folder>` from {len(runs)} stored runs; "
        "do not edit. "
        "Each run is judged against the default it measured itself, on its own GPU: nothing is pooled "
        "across runs. A cell is the variant's saving of GPU energy per video in that run where it engaged "
        "(`n.s.`: its rounds overlap the default's, or the means differ by less than "
        f"{MIN_EFFECT_FRACTION:.0%} of the default's; `costs more`: every round above), otherwise its "
        "status; "
        "the default's row is its energy per video. Each run's own report (`report/OPTIMIZATIONS.md` in its "
        "folder) has latency, memory, deviation and payback.",
        "",
        RANDOM_WEIGHTS,
        "",
        fmt.md_table(
            ["run", "folder", "GPU", "date (UTC)", "diffusers"],
            [
                [
                    run.label,
                    f"`{run.folder}`",
                    str(run.gpu_uuid or "no GPU")[:12],
                    run.date_utc,
                    str(run.diffusers),
                ]
                for run in runs
            ],
        ),
    ]
    groups = sorted({g for run in runs for g in run.groups})
    lines += [
        "",
        "## Best saving per model",
        "",
        "The largest significant saving of GPU energy per video that any run measured, against that run's "
        "own default (PSNR: the variant's decoded frames against the default's, same seed and prompt).",
        "",
        best_table(runs, groups),
    ]
    for group in groups:
        chart = plot_group(runs, group, chart_dir / f"{_slug(group)}.png")
        lines += [
            "",
            f"## {group}",
            "",
            group_table(runs, group),
            "",
            f"Goal (an engaged variant saving >= {GOAL_SAVING_FRACTION:.0%} of GPU energy per video):",
            "",
            *goal_lines(runs, group),
        ]
        failures = failure_lines(runs, group)
        if failures:
            heading = "Failed or not reached, and why (the start of each recorded reason):"
            lines += ["", heading, "", *failures]
        lines += [
            "",
            f"![savings run by run, {group}]({chart.relative_to(chart_dir.parent).as_posix()})",
        ]
    return "\n".join(lines) + "\n"


def write_optimizations_summary(gpu_dir: Path) -> Path:
    """Write ``OPTIMIZATIONS-SUMMARY.md`` and its charts into ``gpu_dir``; return the markdown's path."""
    gpu_dir = Path(gpu_dir)
    runs = find_runs(gpu_dir)
    chart_dir = gpu_dir / CHART_DIR
    chart_dir.mkdir(parents=True, exist_ok=True)
    path = gpu_dir / SUMMARY_NAME
    path.write_text(summary_markdown(gpu_dir, runs, chart_dir), encoding="utf-8")
    return path
