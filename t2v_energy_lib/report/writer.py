"""``write_report``: PNG plots and a markdown summary (``REPORT.md``) of a result file or folder.

Every claim is checked (:func:`t2v_energy_lib.analysis.claims.check_all`); a plot whose suite is missing is
skipped with a line in ``REPORT.md`` saying why. Numbers are formatted only in this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from t2v_energy_lib.analysis.breakdown import denoiser_shares
from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.claims import check_all
from t2v_energy_lib.analysis.points import open_results
from t2v_energy_lib.analysis.theory_view import TheoryView
from t2v_energy_lib.errors import FitError
from t2v_energy_lib.report import plots, tables

SWEEP_PLOTS = (
    ("quadratic_in_pixels", "resolution", "pixels per frame (H x W)"),
    ("quadratic_in_frames", "frames", "latent frames ((F-1)/4+1 for Wan)"),
    ("linear_in_steps", "steps", "denoising steps S"),
)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text).strip("_")


def _predictions_for(claims: Mapping[str, Any], suite: str) -> dict[str, dict[str, list[float]]] | None:
    """Predictor name -> record id -> (energy_j, latency_s), from the predictor claim's details."""
    result = claims.get("better_predictor")
    if not isinstance(result, ClaimResult):
        return None
    return result.details.get(suite, {}).get("predictions_by_record")


def _sweep_plots(claims: Mapping[str, Any], out_dir: Path, lines: list[str]) -> None:
    for name, suite, x_label in SWEEP_PLOTS:
        result = claims.get(name)
        if not isinstance(result, ClaimResult):
            lines.append(f"- {suite} plots skipped: {result}")
            continue
        by_record = _predictions_for(claims, suite) or {}
        for model, entry in result.details.items():
            for key, group in entry["groups"].items():
                points = group["points"]
                fits = {
                    m: (group[m].get("quadratic") or group[m]["linear"])
                    for m in ("energy_j", "latency_s")
                    if m in group
                }
                predictions = {
                    predictor: {
                        "energy_j": [per[p.record_id][0] for p in points],
                        "latency_s": [per[p.record_id][1] for p in points],
                    }
                    for predictor, per in by_record.items()
                    if all(p.record_id in per for p in points)
                }
                path = out_dir / f"{suite}_{_slug(model)}_{_slug(key)}.png"
                plots.plot_sweep(
                    points,
                    fits,
                    path,
                    title=f"{suite} sweep: {model} ({key})",
                    x_label=x_label,
                    predictions=predictions,
                )
                lines.append(f"![{suite} sweep of {model} ({key})]({path.name})")


def _timeline_of(record: Any) -> tuple[list[float], list[float]] | None:
    """The first (timestamps_s, power_w) series in ``extra['timeline']`` (flat, or keyed by device)."""
    timeline = (record.extra or {}).get("timeline")
    if not isinstance(timeline, Mapping):
        return None
    candidates = [timeline, *[v for v in timeline.values() if isinstance(v, Mapping)]]
    for c in candidates:
        if c.get("timestamps_s") and c.get("power_w"):
            return list(c["timestamps_s"]), list(c["power_w"])
    return None


def _timeline_plot(rf: Any, out_dir: Path, lines: list[str]) -> None:
    for record in rf.records:
        series = _timeline_of(record)
        if series is None:
            continue
        gpu = (rf.provenance or {}).get("gpu") or {}
        path = plots.plot_power_timeline(
            *series,
            out_dir / "power_timeline.png",
            title=f"GPU power during {record.id}",
            limit_w=gpu.get("power_limit_w"),
        )
        lines.append(f"![GPU power timeline of {record.id}]({path.name})")
        return
    lines.append("- power timeline skipped: no record has a power timeline in extra (run with timelines on)")


def _cross_model(rf: Any, out_dir: Path, lines: list[str]) -> None:
    try:
        shares = denoiser_shares(rf)
    except FitError as exc:
        lines.append(f"- cross-model chart and table skipped: {exc}")
        return
    parts = {m: d["parts_j"] for m, d in shares.items()}
    path = plots.plot_cross_model(
        parts, out_dir / "cross_model_energy.png", title="GPU energy per video by component"
    )
    lines += [f"![cross-model GPU energy per video]({path.name})", "", tables.cross_model_table(shares)]


def _header(rf: Any, label: str) -> list[str]:
    prov = rf.provenance or {}
    gpu = (prov.get("gpu") or {}).get("name", "unknown GPU")
    versions = prov.get("versions") or {}
    lines = [
        "# t2v-energy report",
        "",
        f"Results: `{label}`  ",
        f"GPU: {gpu}; diffusers {versions.get('diffusers', '?')}; torch {versions.get('torch', '?')}; "
        f"date {prov.get('date_utc', '?')}",
    ]
    if prov.get("synthetic"):
        lines += ["", "**SYNTHETIC DATA: nothing in this report was measured.**"]
    return lines


def _mape_section(claims: Mapping[str, Any]) -> list[str]:
    result = claims.get("better_predictor")
    if not isinstance(result, ClaimResult):
        return ["## Predictor accuracy (MAPE)", "", f"Not computed: {result}"]
    mape = {s: d["mape"] for s, d in result.details.items() if isinstance(d, Mapping) and "mape" in d}
    return ["## Predictor accuracy (MAPE)", "", tables.mape_table(mape), "", result.summary]


def write_report(results: Any, out_dir: str | Path | None = None, theory: TheoryView | None = None) -> Path:
    """Write PNG plots and ``REPORT.md`` for a result file or folder.

    Args:
        results: A ``ResultFile``, or a path to a result file or a folder of result files.
        out_dir: Output folder (created). Default: ``<folder>/report`` (or ``<file's folder>/report``).
        theory: Theory quantities for the compute-bound and predictor claims (default: the theory layer).

    Returns:
        The path of ``REPORT.md``.
    """
    rf, label = open_results(results)
    if out_dir is None:
        base = Path(rf.path) if getattr(rf, "path", None) else Path(str(results))
        out_dir = (base if base.is_dir() else base.parent) / "report"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    claims = check_all(rf, theory=theory)
    fit_md, not_checked = tables.fit_table(claims)
    lines = _header(rf, label)
    lines += ["", "## Claims", "", fit_md, ""]
    lines += not_checked
    lines += ["", "Claim summaries:", ""]
    lines += [f"- `{n}`: {r.summary}" for n, r in claims.items() if isinstance(r, ClaimResult)]
    lines += ["", *_mape_section(claims), "", "## Sweeps", ""]
    _sweep_plots(claims, out, lines)
    lines += ["", "## Power timeline", ""]
    _timeline_plot(rf, out, lines)
    lines += ["", "## Cross-model", ""]
    _cross_model(rf, out, lines)
    report = out / "REPORT.md"
    report.write_text("\n".join(lines) + "\n")
    return report
