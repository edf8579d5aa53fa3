"""``write_report``: PNG plots and a markdown summary (``REPORT.md``) of a result file or folder.

Every claim is checked (:func:`t2v_energy_lib.analysis.claims.check_all`); a plot whose suite is missing is
skipped with a line in ``REPORT.md`` saying why. Numbers are formatted only in this package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from t2v_energy_lib.analysis.breakdown import denoiser_shares
from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.claims import check_all
from t2v_energy_lib.analysis.latency_view import has_gpu_energy
from t2v_energy_lib.analysis.points import open_results
from t2v_energy_lib.analysis.theory_view import TheoryView
from t2v_energy_lib.errors import FitError
from t2v_energy_lib.report import cpu_run, fmt, optimizations_section, plots, scaleout_section, tables

#: (claim, suite, x label, x scale): x values are divided by the scale for display.
SWEEP_PLOTS = (
    ("quadratic_in_pixels", "resolution", "pixels per frame H x W (millions)", 1e6),
    ("quadratic_in_frames", "frames", "latent frames ((F-1)/4+1 for Wan)", 1.0),
    ("linear_in_steps", "steps", "denoising steps S", 1.0),
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
    for name, suite, x_label, x_scale in SWEEP_PLOTS:
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
                    x_scale=x_scale,
                )
                lines.append(f"![{suite} sweep of {model} ({key})]({path.name})")


def _trace_plots(claims: Mapping[str, Any], out_dir: Path, lines: list[str]) -> None:
    result = claims.get("linear_in_steps")
    if not isinstance(result, ClaimResult):
        return
    from t2v_energy_lib.analysis.sweeps import PER_STEP_ENERGY_BAND

    for model, entry in result.details.items():
        if not entry.get("per_step_latency_s"):
            continue
        path = plots.plot_step_trace(
            entry["per_step_energy_j"],
            entry["per_step_latency_s"],
            out_dir / f"steps_trace_{_slug(model)}.png",
            title=f"{model}: GPU energy and latency of each of the "
            f"{len(entry['per_step_energy_j'])} steps of one run",
            band=PER_STEP_ENERGY_BAND,
        )
        lines.append(f"![per-step trace of {model}]({path.name})")


def _predictor_plots(claims: Mapping[str, Any], out_dir: Path, lines: list[str]) -> None:
    result = claims.get("better_predictor")
    if not isinstance(result, ClaimResult):
        lines.append(f"- predictor plots skipped: {result}")
        return
    for _, suite, x_label, x_scale in SWEEP_PLOTS:
        d = result.details.get(suite)
        if not isinstance(d, Mapping) or not d.get("points"):
            continue
        path = plots.plot_predictions(
            d["points"],
            d["predictions_by_record"],
            out_dir / f"predictors_{suite}.png",
            title=f"{suite} sweep: held-out predictions of the denoising loop ({d['n']} points)",
            x_label=x_label,
            x_scale=x_scale,
        )
        lines.append(f"![held-out predictor errors on the {suite} sweep]({path.name})")


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


def _timeline_plot(rf: Any, out_dir: Path, lines: list[str], gpu: bool = True) -> None:
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
    if not gpu:
        lines.append("- power timeline skipped: no GPU on this run (CPU run of the tiny model): no GPU power")
        return
    lines.append(
        "- power timeline skipped: no record has a power timeline in extra (the bench stores one for the "
        "first denoiser window of each point on a GPU; these results predate that, or came from elsewhere)"
    )


def _parts_with_rest(share: Mapping[str, Any]) -> dict[str, float]:
    """The measured parts (J per video), plus ``rest`` where a measured whole exceeds their sum."""
    parts = dict(share["parts_j"])
    rest_j = share["total_j"] - sum(parts.values())
    if share["total_from"] == "end_to_end" and rest_j > 0:
        parts["rest"] = rest_j
    return parts


def _cross_model(rf: Any, out_dir: Path, lines: list[str]) -> None:
    try:
        shares = denoiser_shares(rf)
    except FitError as exc:
        lines.append(f"- cross-model chart and table skipped: {exc}")
        return
    parts = {m: _parts_with_rest(d) for m, d in shares.items()}
    labels = {
        m: f"{m.split('@')[0]}\n{s['height']}x{s['width']}, {s['num_frames']} f, "
        f"{s['num_inference_steps']} steps"
        for m, d in shares.items()
        for s in [d["settings"]]
    }
    path = plots.plot_cross_model(
        parts, out_dir / "cross_model_energy.png", title="GPU energy per video by component", labels=labels
    )
    lines += [f"![cross-model GPU energy per video]({path.name})", "", tables.cross_model_table(shares)]
    validation = tables.complete_generation_table(rf.records)
    if validation:
        lines += [
            "",
            "Complete generations (`pipe(...)`, every step, decoded; measured) beside the figure composed "
            "from the measured parts (text encoder + steps x step + VAE decode), where a video takes under "
            "the run's `--e2e-max-s`. Where they ran on another GPU than the parts, the difference holds the "
            "two chips' spread (a few percent in energy) and no rest of the pipeline is taken from it:",
            "",
            validation,
        ]


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
    kind = "held out (leave-one-out)" if result.details.get("cross_validated") else "in-sample"
    params = result.details.get("parameters") or {}
    fitted = [
        f"- `{name}`: " + ", ".join(f"{k} = {fmt.num(v)}" for k, v in values.items())
        for name, values in params.items()
    ]
    return [
        "## Predictor accuracy (MAPE)",
        "",
        f"MAPE {kind}; the fits are described in the `better_predictor` summary above.",
        "",
        tables.mape_table(mape),
        "",
        *(["Parameters fitted on every point:", "", *fitted] if fitted else []),
    ]


def _claim_lines(claims: Mapping[str, Any]) -> list[str]:
    fit_md, not_checked = tables.fit_table(claims)
    lines = [fit_md, "", *not_checked, "", "Claim summaries:", ""]
    return lines + [f"- `{n}`: {r.summary}" for n, r in claims.items() if isinstance(r, ClaimResult)]


def write_report(
    results: Any,
    out_dir: str | Path | None = None,
    theory: TheoryView | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write PNG plots and ``REPORT.md`` for a result file or folder.

    Args:
        results: A ``ResultFile``, or a path to a result file or a folder of result files.
        out_dir: Output folder (created). Default: ``<folder>/report`` (or ``<file's folder>/report``).
        theory: Theory quantities for the compute-bound and predictor claims (default: the theory layer).
        log: Progress output, one line per stage (default: none).

    Returns:
        The path of ``REPORT.md``.
    """
    say = log or (lambda _line: None)
    rf, label = open_results(results)
    if out_dir is None:
        base = Path(rf.path) if getattr(rf, "path", None) else Path(str(results))
        out_dir = (base if base.is_dir() else base.parent) / "report"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say(f"report: {len(rf.records)} records from {label}; checking the claims (fits, leave-one-out)...")
    claims = check_all(rf, theory=theory)
    gpu = has_gpu_energy(rf)
    if not gpu:
        claims = cpu_run.claims_without_gpu(rf, claims)
    lines = _header(rf, label) if gpu else cpu_run.header_lines(rf, label)
    lines += ["", "## Claims", "", *_claim_lines(claims), "", *_mape_section(claims), "", "## Sweeps", ""]
    say(f"report: {len(claims)} claims checked; drawing the sweep plots...")
    if gpu:
        _sweep_plots(claims, out, lines)
        _trace_plots(claims, out, lines)
        lines += ["", "## Predictors per sweep", ""]
        _predictor_plots(claims, out, lines)
    else:
        cpu_run.sweep_plots(claims, out, lines)
    say("report: power timeline and cross-model...")
    lines += ["", "## Power timeline", ""]
    _timeline_plot(rf, out, lines, gpu)
    lines += ["", "## Cross-model", ""]
    (_cross_model if gpu else cpu_run.cross_model)(rf, out, lines)
    lines += scaleout_section.section_lines(rf, out)  # [] without scale-out records
    lines += optimizations_section.section_lines(rf, out)  # [] without optimisation records
    report = out / "REPORT.md"
    report.write_text("\n".join(lines) + "\n")
    return report
