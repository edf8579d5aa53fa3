"""Claim 4 of the study: the denoiser dominates, and inside it matmul and attention kernels dominate.

Both read the 'cross_model' suite: per model, the denoiser's share of per-video GPU energy (from the
``denoiser_step`` record times steps over the per-video total), and the kernel-time share of matmul plus
attention in the ``operator_profile`` record.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.points import (
    ENERGY_KEY,
    LATENCY_KEY,
    models_in,
    open_results,
    per_video_values,
    require_records,
)
from t2v_energy_lib.errors import FitError, MissingResultsError
from t2v_energy_lib.results.machine import on_other_gpus

DENOISER_SHARE_MIN = 0.60
#: A share is a fraction of the whole: above 1 the denoiser exceeds the video it is part of, i.e. the total
#: and the parts do not add up (a total from another GPU, or a wrong record); never a pass.
SHARE_MAX = 1.0
MATMUL_ATTENTION_SHARE_MIN = 0.60
PARTS = ("text_encoder", "denoiser_step", "vae_decode")
#: The parts measured per video shape (the text encoder is per prompt).
SHAPE_PARTS = ("denoiser_step", "vae_decode")
#: Where an operator_profile record may keep its kernel-time shares (first found wins; else top-level extra).
SHARE_CONTAINERS = ("shares", "kernel_time_shares", "op_shares")
KERNEL_CATEGORIES = ("matmul", "attention", "convolution", "norm_elementwise", "other")
#: Components of a cross_model record that say a model's run failed (``extra['error']`` holds why).
ERROR_COMPONENTS = ("error",)


#: The generation settings that make two records parts of the same video (component options such as
#: ``vae_tiling`` on a vae_decode record are not among them).
GENERATION_KEYS = ("height", "width", "num_frames", "num_inference_steps", "guidance_scale")


def _settings_key(settings: Mapping[str, Any]) -> str:
    return json.dumps({k: settings.get(k) for k in GENERATION_KEYS}, sort_keys=True, default=str)


def _mean_per_video_j(record: Any) -> float:
    return statistics.fmean(per_video_values(record, ENERGY_KEY))


def _mean_per_video_s(record: Any) -> float:
    return statistics.fmean(per_video_values(record, LATENCY_KEY))


def denoiser_share_of(records: list[Any], label: str) -> dict[str, Any]:
    """The denoiser's share of per-video GPU energy among one model's records at one setting.

    The total is the ``end_to_end`` record if it was measured on the GPU that measured the denoiser step,
    else the ``composed`` one, else the sum of the parts: a share must not divide figures of two GPUs (chips
    of one model differ by a few percent in power at the same work).

    Raises:
        FitError: No denoiser_step record, or no total and a part missing.
    """
    by_component = {r.component: r for r in records}
    if "denoiser_step" not in by_component:
        raise FitError(
            f"no denoiser_step record for {records[0].model} in the cross_model records of {label}"
        )
    denoiser_j = _mean_per_video_j(by_component["denoiser_step"])
    for whole in ("end_to_end", "composed"):
        if whole == "end_to_end" and on_other_gpus(by_component.get(whole), by_component["denoiser_step"]):
            continue  # measured on another GPU than the parts (no GPU recorded, e.g. CPU: same machine)
        if whole in by_component:
            total_j, total_from = _mean_per_video_j(by_component[whole]), whole
            total_s = _mean_per_video_s(by_component[whole])
            break
    else:
        missing = [p for p in PARTS if p not in by_component]
        if missing:
            raise FitError(
                f"cannot total the per-video energy of {records[0].model} in {label}: no end_to_end or "
                f"composed record and no {', '.join(missing)} record; run "
                "`t2v-energy characterize --suites cross_model`"
            )
        total_j, total_from = sum(_mean_per_video_j(by_component[p]) for p in PARTS), "sum of parts"
        total_s = sum(_mean_per_video_s(by_component[p]) for p in PARTS)
    parts = {p: _mean_per_video_j(by_component[p]) for p in PARTS if p in by_component}
    return {
        "share": denoiser_j / total_j,
        "denoiser_j": denoiser_j,
        "total_j": total_j,
        "total_s": total_s,
        "total_from": total_from,
        "parts_j": parts,
        "settings": dict(records[0].settings),
    }


def failed_runs(records: list[Any] | tuple[Any, ...]) -> str:
    """``model: error`` of every failed-run record, joined by ``"; "`` (empty when none failed)."""
    return "; ".join(
        f"{r.model}: {' '.join(str((r.extra or {}).get('error', 'no error text')).split())[:300]}"
        for r in records
        if r.component in ERROR_COMPONENTS
    )


def denoiser_shares(results: Any) -> dict[str, dict[str, Any]]:
    """Per model (and setting, as ``model`` or ``model@HxWxF-sS`` when a model has several), the share dict.

    Raises:
        MissingResultsError: No 'cross_model' records, or only failed-run records.
    """
    rf, label = open_results(results)
    records = require_records(rf, label, "cross_model")
    usable = [r for r in records if r.component not in ERROR_COMPONENTS]
    if not usable:
        raise MissingResultsError(
            f"the 'cross_model' records in {label} are only failed runs ({failed_runs(records)}): fix the "
            "error and run `t2v-energy characterize --suites cross_model`",
            suite="cross_model",
            component="denoiser_step",
        )
    out: dict[str, dict[str, Any]] = {}
    for model in models_in(usable):
        groups: dict[str, list[Any]] = {}
        for r in records:
            if r.model == model and r.component in (*SHAPE_PARTS, "end_to_end", "composed"):
                groups.setdefault(_settings_key(r.settings), []).append(r)
        texts = {r.id: r for r in records if r.model == model and r.component == "text_encoder"}
        for group in groups.values():
            text = _text_encoder_of(group, texts)
            if text is not None:
                group.append(text)
        for i, group in enumerate(groups.values()):
            key = model if len(groups) == 1 else f"{model}@{_shape_label(group, i)}"
            out[key] = denoiser_share_of(group, label)
    return out


def _text_encoder_of(group: list[Any], texts: Mapping[str, Any]) -> Any:
    """The text-encoder record of a point: the one its composed record names, else the model's first.

    The text encoder runs on the prompt, not on the video's shape, so one record serves every setting of a
    model (it carries the settings of the point it was first measured at).
    """
    composed = next((r for r in group if r.component == "composed"), None)
    named = ((composed.extra or {}).get("parts") or {}).get("text_encoder") if composed is not None else None
    return texts.get(named) or next(iter(texts.values()), None)


def _shape_label(group: list[Any], index: int) -> str:
    """``HxWxF-sS`` of a group of one model's records at one setting (its index if a size is missing)."""
    for r in group:
        s = r.settings
        if all(k in s for k in ("height", "width", "num_frames", "num_inference_steps")):
            return f"{s['height']}x{s['width']}x{s['num_frames']}-s{s['num_inference_steps']}"
    return str(index)


def share_holds(share: float) -> bool:
    """True when ``DENOISER_SHARE_MIN < share <= SHARE_MAX``."""
    return DENOISER_SHARE_MIN < share <= SHARE_MAX


def share_verdict(share: float) -> str:
    """Readable verdict of a denoiser share (says why a share above 100% fails)."""
    if share > SHARE_MAX:
        return f"does NOT hold: above {SHARE_MAX:.0%}, the parts exceed the whole (total and parts disagree)"
    if share <= DENOISER_SHARE_MIN:
        return f"does NOT hold: <= {DENOISER_SHARE_MIN:.0%}"
    return f"holds: > {DENOISER_SHARE_MIN:.0%}"


def check_denoiser_dominates(results: Any) -> ClaimResult:
    """Claim 4: the denoiser's share of per-video GPU energy is > 60% (and <= 100%) for every model.

    Raises:
        MissingResultsError: No 'cross_model' records.
        FitError: A model lacks the records needed for its share.
    """
    shares = denoiser_shares(results)
    details = {m: {**d, "holds": share_holds(d["share"])} for m, d in shares.items()}
    lines = [
        f"{m}: denoiser {d['denoiser_j']:.4g} J of {d['total_j']:.4g} J per video ({d['total_from']}) = "
        f"{d['share']:.1%}: {share_verdict(d['share'])}"
        for m, d in details.items()
    ]
    holds = all(d["holds"] for d in details.values())
    return ClaimResult(name="denoiser_dominates", holds=holds, summary="; ".join(lines), details=details)


def kernel_shares_of(record: Any) -> dict[str, float]:
    """Kernel-time shares (matmul, attention, convolution, norm_elementwise, other) of an operator_profile.

    Read from ``extra['profile']['shares']`` (what the profiler writes), else from ``extra[<container>]``
    for a container in :data:`SHARE_CONTAINERS`, else from ``extra`` itself.
    """
    extra = record.extra or {}
    profile = extra.get("profile") if isinstance(extra.get("profile"), Mapping) else {}
    holders = (profile, extra)
    container = next(
        (h[k] for h in holders for k in SHARE_CONTAINERS if isinstance(h.get(k), Mapping)), extra
    )
    shares = {k: float(container[k]) for k in KERNEL_CATEGORIES if k in container}
    if "matmul" not in shares or "attention" not in shares:
        raise FitError(
            f"operator_profile record {record.id} has no matmul and attention shares in extra "
            f"(keys: {sorted(extra)}); re-run `t2v-energy characterize --suites cross_model`"
        )
    return shares


def matmul_attention_shares(results: Any) -> dict[str, dict[str, Any]]:
    """Per operator_profile record (keyed by model, or by record id when a model has several), the shares.

    Raises:
        MissingResultsError: No operator_profile records (in any suite).
    """
    rf, label = open_results(results)
    records = [r for r in rf.select(component="operator_profile")]
    if not records:
        require_records(rf, label, "cross_model", component="operator_profile")
    out: dict[str, dict[str, Any]] = {}
    for model in models_in(records):
        mine = [r for r in records if r.model == model]
        for r in mine:
            shares = kernel_shares_of(r)
            key = model if len(mine) == 1 else r.id
            out[key] = {"share": shares["matmul"] + shares["attention"], "shares": shares, "record_id": r.id}
    return out


def _other_shares(shares: Mapping[str, float]) -> str:
    rest = {k: v for k, v in shares.items() if k not in ("matmul", "attention")}
    return ", ".join(f"{k} {v:.1%}" for k, v in rest.items()) or "none stated"


def check_matmul_attention_dominate(results: Any) -> ClaimResult:
    """Claim 4 (kernels): matmul + attention kernels take > 60% of denoiser GPU time, for every model.

    Raises:
        MissingResultsError: No operator_profile records.
        FitError: A record lacks the shares.
    """
    shares = matmul_attention_shares(results)
    details = {m: {**d, "holds": d["share"] > MATMUL_ATTENTION_SHARE_MIN} for m, d in shares.items()}
    lines = [
        f"{m}: matmul {d['shares']['matmul']:.1%} + attention {d['shares']['attention']:.1%} = "
        f"{d['share']:.1%} "
        f"{'>' if d['holds'] else '<='} {MATMUL_ATTENTION_SHARE_MIN:.0%} of denoiser kernel time "
        f"(rest: {_other_shares(d['shares'])})"
        for m, d in details.items()
    ]
    holds = all(d["holds"] for d in details.values())
    return ClaimResult(
        name="matmul_attention_dominate", holds=holds, summary="; ".join(lines), details=details
    )
