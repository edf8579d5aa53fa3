"""Markdown tables of a report: the claim fits, predictor MAPE, and cross-model figures beside the study's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.claims import CLAIM_STATEMENTS
from t2v_energy_lib.report import fmt
from t2v_energy_lib.report.published import DIFFERENCE_NOTES, PUBLISHED_MAPE, SOURCE, published_for
from t2v_energy_lib.results.machine import on_other_gpus
from t2v_energy_lib.results.quantities import GPU_ENERGY, LATENCY
from t2v_energy_lib.units import j_to_wh

FIT_HEADERS = ("claim", "model [fixed settings]", "quantity", "holds", "R^2", "fit / figure", "p")


def _yes(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "**NO**")


def _poly(fit: Any, x: str) -> str:
    terms = [fmt.num(fit.coefficients[0])]
    for i, c in enumerate(fit.coefficients[1:], start=1):
        terms.append(f"{fmt.num(c)}·{x}" + (f"^{i}" if i > 1 else ""))
    return " + ".join(terms)


def _sweep_rows(name: str, result: ClaimResult, x: str) -> list[list[str]]:
    rows = []
    for model, entry in result.details.items():
        for key, group in entry.get("groups", {}).items():
            if not group["judged"]:
                rows.append(
                    [name, f"{model} [{key}]", "-", "not judged", "-", f"{len(group['points'])} points", "-"]
                )
                continue
            for metric in ("energy_j", "latency_s"):
                if metric not in group:  # a run without GPU energy judges latency only
                    continue
                verdict = group[metric]
                fit = verdict.get("quadratic") or verdict["linear"]
                p = verdict["f_test"].p_value if "f_test" in verdict else fit.p_values[-1]
                holds = verdict.get("holds", group["holds"])
                rows.append(
                    [
                        name,
                        f"{model} [{key}]",
                        metric,
                        _yes(holds),
                        fmt.r2(fit.r_squared),
                        _poly(fit, x),
                        fmt.p_value(p),
                    ]
                )
        if "max_relative_deviation" in entry:
            rows.append(
                [
                    name,
                    model,
                    "per-step energy",
                    _yes(entry["holds"]),
                    "-",
                    f"max deviation {fmt.pct(entry['max_relative_deviation'], 2)} ({entry['basis']})",
                    "-",
                ]
            )
    return rows


def _share_rows(name: str, result: ClaimResult, label: str) -> list[list[str]]:
    return [
        [name, model, label, _yes(d["holds"]), "-", fmt.pct(d["share"]), "-"]
        for model, d in result.details.items()
    ]


def _compute_bound_rows(name: str, result: ClaimResult) -> list[list[str]]:
    rows = []
    for model, d in result.details.items():
        if d.get("threshold_tokens") is None:
            rows.append([name, model, "-", "not judged", "-", d.get("reason", "no threshold"), "-"])
            continue
        figure = (
            f"threshold l >= {d['threshold_tokens']}; {len(d['below_ridge'])} of "
            f"{d['points_above_threshold']} points above it at or below the ridge "
            f"{fmt.num(d['ridge_flops_per_byte'])} FLOP/B"
        )
        if not d["judged"]:
            rows.append(
                [
                    name,
                    model,
                    "-",
                    "not judged",
                    "-",
                    f"{figure}; {d['stable_points']} points with l >= 30000 (needs 2)",
                    "-",
                ]
            )
            continue
        figure += (
            f"; achieved {fmt.num(d['min_achieved_flops_per_s'] / 1e12)}-"
            f"{fmt.num(d['max_achieved_flops_per_s'] / 1e12)} TFLOP/s over {d['stable_points']} points, "
            f"max/min {fmt.num(d['flops_ratio_max_min'], 3)}"
        )
        rows.append([name, model, "achieved FLOP/s", _yes(d["holds"]), "-", figure, "-"])
    return rows


def _predictor_rows(name: str, result: ClaimResult) -> list[list[str]]:
    rows = []
    for sweep, d in result.details.items():
        if not isinstance(d, Mapping) or "mape" not in d:
            continue
        figure = "; ".join(
            f"{predictor} E {fmt.pct(m['energy_j'], 2)} t {fmt.pct(m['latency_s'], 2)}"
            for predictor, m in d["mape"].items()
        )
        rows.append([name, f"{sweep} ({d['n']} points)", "held-out MAPE", _yes(d["holds"]), "-", figure, "-"])
    return rows


#: Typed rows of one claim shown in full up to this many; beyond, the failing ones and a count.
MAX_ROWS_PER_CLAIM = 20


def _typed_rows(name: str, result: ClaimResult) -> list[list[str]]:
    """The claim's typed rows (``ClaimResult.rows``), condensed when there are many (e.g. re-derivations)."""
    shown = list(result.rows)
    if len(shown) > MAX_ROWS_PER_CLAIM:
        failing = [r for r in shown if not r.holds]
        count = f"{len(shown) - len(failing)} of {len(shown)} checks hold"
        shown = failing
        extra = [[name, "all", "-", _yes(not failing), "-", count, "-"]]
    else:
        extra = []
    return extra + [[name, r.subject, r.quantity, _yes(r.holds), "-", r.figure, "-"] for r in shown]


def fit_table(claims: Mapping[str, ClaimResult | Exception]) -> tuple[str, list[str]]:
    """The claim table (markdown) and one line per claim that could not be checked or decided, with why."""
    rows: list[list[str]] = []
    skipped: list[str] = []
    x_names = {"quadratic_in_pixels": "px", "quadratic_in_frames": "latF", "linear_in_steps": "S"}
    for name, result in claims.items():
        if isinstance(result, Exception):
            skipped.append(f"- `{name}` ({CLAIM_STATEMENTS.get(name, name)}): not checked: {result}")
            continue
        if result.undecided:
            skipped.append(f"- `{name}` ({CLAIM_STATEMENTS.get(name, name)}): {result.summary}")
            continue
        if result.rows:
            rows.extend(_typed_rows(name, result))
        elif name in x_names:
            rows.extend(_sweep_rows(name, result, x_names[name]))
        elif name == "denoiser_dominates":
            rows.extend(_share_rows(name, result, "denoiser share of GPU energy"))
        elif name == "matmul_attention_dominate":
            rows.extend(_share_rows(name, result, "matmul+attention share of kernel time"))
        elif name == "compute_bound":
            rows.extend(_compute_bound_rows(name, result))
        elif name == "better_predictor":
            rows.extend(_predictor_rows(name, result))
        else:
            rows.append([name, "all", "-", _yes(result.holds), "-", result.summary, "-"])
    return fmt.md_table(FIT_HEADERS, rows), skipped


def mape_table(mape: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """MAPE per sweep, metric and predictor, with the study's published MAPE beside them.

    Args:
        mape: Sweep -> predictor name -> metric (``energy_j`` / ``latency_s``) -> MAPE as a fraction.
    """
    predictors = list(dict.fromkeys(p for per in mape.values() for p in per))
    published = {m.sweep: m for m in PUBLISHED_MAPE}
    headers = ("sweep", "quantity", *predictors, "published single-mu (paper, not measured here)")
    rows = []
    for sweep, per in mape.items():
        for metric in ("energy_j", "latency_s"):
            pub = published.get(sweep)
            pub_value = (
                None if pub is None else (pub.energy_mape if metric == "energy_j" else pub.latency_mape)
            )
            rows.append(
                [
                    sweep,
                    metric,
                    *[fmt.pct(per.get(p, {}).get(metric)) for p in predictors],
                    fmt.pct(pub_value, 2),
                ]
            )
    return fmt.md_table(headers, rows)


#: What the ratio columns print where our settings are not the published row's.
NO_RATIO = "- (settings differ)"


def cross_model_table(shares: Mapping[str, Mapping[str, Any]]) -> str:
    """Our per-video figures per model beside the study's published ones, with ratios ours/theirs.

    A ratio is printed only where our height, width, frames and steps are the published row's; elsewhere
    the ratio columns say the settings differ (the figures are still listed side by side).

    Args:
        shares: Model -> the denoiser-share dict (``total_j``, ``total_s``, ``share``, ``settings``) from
            :func:`t2v_energy_lib.analysis.breakdown.denoiser_shares`.
    """
    headers = (
        "model",
        "our settings",
        "latency s",
        "GPU Wh",
        "denoiser share",
        "published settings",
        "published latency s",
        "published GPU Wh",
        "latency ours/theirs",
        "energy ours/theirs",
    )
    rows = []
    for model, d in shares.items():
        s = d["settings"]
        ours = f"{s.get('height')}x{s.get('width')}, {s.get('num_frames')} f, "
        ours += f"{s.get('num_inference_steps')} steps"
        pub = published_for(model.split("@")[0])
        gpu_wh = j_to_wh(d["total_j"])
        lat = d["total_s"]
        if pub is None:
            rows.append(
                [model, ours, fmt.num(lat), fmt.num(gpu_wh), fmt.pct(d["share"]), "-", "-", "-", "-", "-"]
            )
            continue
        theirs = f"{pub.height}x{pub.width}, {pub.num_frames} f, {pub.num_inference_steps} steps"
        same = (s.get("height"), s.get("width"), s.get("num_frames"), s.get("num_inference_steps")) == (
            pub.height,
            pub.width,
            pub.num_frames,
            pub.num_inference_steps,
        )
        # like with like only: a ratio across settings (480x832 vs the study's 720x1280) says nothing
        ratios = (
            [fmt.ratio(lat, pub.latency_s), fmt.ratio(gpu_wh, pub.gpu_wh)] if same else [NO_RATIO, NO_RATIO]
        )
        rows.append(
            [
                model,
                ours,
                fmt.num(lat),
                fmt.num(gpu_wh),
                fmt.pct(d["share"]),
                theirs,
                fmt.num(pub.latency_s),
                fmt.num(pub.gpu_wh),
                *ratios,
            ]
        )
    notes = "\n".join(f"- **{title}**: {text}" for title, text in DIFFERENCE_NOTES)
    return f"{fmt.md_table(headers, rows)}\n\nPublished columns: {SOURCE}.\n\nWhy figures differ:\n{notes}"


def complete_generation_table(records: Any) -> str:
    """Complete generations beside the per-video figure composed from parts, per cross-model point.

    Args:
        records: Result records (any suites); the ``cross_model`` ``end_to_end`` records with a ``composed``
            record of the same point are tabulated (means of rounds), saying whether they ran on the GPU
            that measured the parts. Empty string when there are none.
    """
    by_id = {r.id: r for r in records}
    rows = []
    for r in records:
        if r.suite != "cross_model" or r.component != "end_to_end":
            continue
        composed = by_id.get(r.id.rsplit("/", 1)[0] + "/composed")
        if composed is None:
            continue
        step = by_id.get(r.id.rsplit("/", 1)[0] + "/denoiser_step")
        same_gpu = "yes" if step is None or not on_other_gpus(r, step) else "no"
        cells = [r.model, r.id.split("/")[2], str(len(r.rounds[LATENCY.key])), same_gpu]
        for q, unit in ((LATENCY.key, 1.0), (GPU_ENERGY.key, 3600.0)):
            measured = sum(r.rounds[q]) / len(r.rounds[q])
            built = sum(composed.rounds[q]) / len(composed.rounds[q])
            cells += [fmt.num(measured / unit), fmt.num(built / unit), fmt.pct(built / measured - 1.0)]
        rows.append(cells)
    if not rows:
        return ""
    headers = (
        "model",
        "settings",
        "complete generations",
        "on the parts' GPU",
        "measured latency s",
        "composed latency s",
        "composed vs measured",
        "measured GPU Wh",
        "composed GPU Wh",
        "composed vs measured",
    )
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
