"""A variant's status from its verdicts and deviation, and the best combinations of measured single levers.

Status values: ``reference`` (the default), ``engaged`` (every lever counted activity and the output moved),
``not_engaged`` (some lever counted none, or the output is bit-identical to the default's), and, set by the
runner, ``not_available`` / ``failed``. Only ``engaged`` variants are candidates for a saving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from t2v_energy_lib.bench.compose import means
from t2v_energy_lib.bench.optimizations.variants import Variant, combination
from t2v_energy_lib.errors import OptimizationError

#: A single lever joins the best combination only if it saved at least this fraction of the default's
#: figure (GPU energy, or latency where no GPU energy was measured).
MIN_SAVING_FRACTION = 0.02


def variant_status(
    variant: Variant, verdicts: Mapping[str, Mapping[str, Any]], dev: Mapping[str, Any] | None
) -> tuple[str, str]:
    """``(status, reason)`` of a measured variant (see the module docstring)."""
    if variant.is_default:
        return "reference", "the default pipeline (reference of every saving and deviation)"
    idle = [f"{name}: {v['reason']}" for name, v in verdicts.items() if not v["engaged"]]
    if idle:
        return "not_engaged", "; ".join(idle)
    if dev is not None and dev.get("bit_identical"):
        counted = "; ".join(f"{name}: {v['reason']}" for name, v in verdicts.items())
        return "not_engaged", f"output bit-identical to the default's (counted: {counted}); never a saving"
    return "engaged", "every lever counted activity and the output differs from the default's"


def figure(record: Any) -> tuple[str, float] | None:
    """``(quantity, mean)`` a saving is judged on: GPU energy per video, else latency; None if unmeasured."""
    m = means(record.rounds)
    for q in ("gpu_energy_j", "latency_s"):
        if q in m:
            return q, m[q]
    return None


def best_combinations(results: Sequence[Any]) -> list[Variant]:
    """Combinations of the engaged single levers that saved the most, one lever per kind.

    The first holds every kind's best lever, except that compilation and a cache hook are not combined (the
    hook's per-step Python state inside compiled blocks makes Dynamo recompile every step): then the first
    holds the cache, the second the compilation. The last is the first without fewer steps (whose
    deviation is large by construction). Each needs at least two levers.

    Args:
        results: ``VariantResult``-like objects (``variant``, ``status``, ``record``), default first.
    """
    default = next((r for r in results if r.variant.is_default), None)
    base = figure(default.record) if default is not None else None
    if base is None or base[1] <= 0:
        return []
    quantity, reference = base
    best: dict[str, tuple[float, Any]] = {}
    for r in results:
        if r.status != "engaged" or len(r.variant.levers) != 1:
            continue
        f = figure(r.record)
        if f is None or f[0] != quantity:
            continue
        saving = (reference - f[1]) / reference
        lever = r.variant.levers[0]
        if saving >= MIN_SAVING_FRACTION and saving > best.get(lever.kind, (0.0, None))[0]:
            best[lever.kind] = (saving, lever)
    chosen = [lv for _, lv in sorted(best.values(), key=lambda sl: -sl[0])]
    kinds = {lv.kind for lv in chosen}
    candidates = [chosen]
    if {"compile", "cache"} <= kinds:  # a cache hook's Python state in compiled blocks recompiles every step
        candidates = [
            [lv for lv in chosen if lv.kind != "compile"],
            [lv for lv in chosen if lv.kind != "cache"],
        ]
    candidates.append([lv for lv in candidates[0] if lv.kind != "steps"])
    out: list[Variant] = []
    for levers in candidates:
        variant = _combine(levers)
        if variant is not None and all(variant.name != v.name for v in out):
            out.append(variant)
    return out


def _combine(levers: list[Any]) -> Variant | None:
    """The combination of ``levers`` (already sorted by saving), dropping the weaker of an impossible pair."""
    while len(levers) >= 2:
        try:
            return combination(levers, "best combination of the engaged single levers that saved the most")
        except OptimizationError:
            levers = levers[:-1]
    return None
