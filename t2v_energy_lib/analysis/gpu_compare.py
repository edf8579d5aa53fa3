"""Two GPUs side by side: the same record ids measured in two folders, with what theory expects between them.

For every measured part and per-video figure present in both folders (``baselines/<gpu>/<version>``), a row
holds both latencies, energies and mean powers, the achieved FLOP/s of a denoiser step, and the latency ratio
the datasheets predict (:mod:`t2v_energy_lib.theory.transfer`: roofline split of the part's operators plus
the normalisation/elementwise share profiled in the first folder; board power unchanged, so the energy ratio
expected is the same). Records only one folder holds are listed, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2v_energy_lib.analysis.cross_gpu import (
    DENOISER_PARTS,
    PartOps,
    elementwise_seconds_per_token,
    mean,
    measured_memory_share,
    tokens_and_steps,
)
from t2v_energy_lib.errors import BaselineFormatError

COMPONENTS = ("denoiser_step", "denoise_loop", "text_encoder", "vae_decode", "composed")


@dataclass(frozen=True)
class GpuComparisonRow:
    """One record id on both GPUs.

    Attributes:
        record_id: The id (the same in both folders).
        suite: Its suite.
        model: Its model.
        component: ``denoiser_step``, ``denoise_loop``, ``text_encoder``, ``vae_decode`` or ``composed``.
        token_length: Denoiser tokens of its shape (0: not a shape record).
        latency_s: Mean latency on (first, second). Units: s.
        energy_j: Mean GPU energy on (first, second). Units: J.
        achieved_flops_per_s: Analytic FLOPs of a denoiser step / its latency on (first, second); None for
            other components. Units: FLOP/s.
        expected_latency_ratio: second / first latency the datasheets predict (None where no operator model
            applies, e.g. per-video figures of models without one).
    """

    record_id: str
    suite: str
    model: str
    component: str
    token_length: int
    latency_s: tuple[float, float]
    energy_j: tuple[float, float]
    achieved_flops_per_s: tuple[float, float] | None
    expected_latency_ratio: float | None

    @property
    def latency_ratio(self) -> float:
        """second / first latency."""
        return self.latency_s[1] / self.latency_s[0]

    @property
    def energy_ratio(self) -> float:
        """second / first energy."""
        return self.energy_j[1] / self.energy_j[0]

    @property
    def power_w(self) -> tuple[float, float]:
        """Mean power (energy / latency) on (first, second). Units: W."""
        return self.energy_j[0] / self.latency_s[0], self.energy_j[1] / self.latency_s[1]


@dataclass(frozen=True)
class GpuComparison:
    """Two folders compared record by record.

    Attributes:
        gpus: GPU names of (first, second).
        folders: The folders compared.
        rows: Records in both, in the first folder's order.
        only_first: Record ids only the first folder holds (of the compared components).
        only_second: Record ids only the second folder holds.
        datasheets: The datasheet short names used for the expectation (first, second), or None when a GPU
            is not in theory/gpus.py.
    """

    gpus: tuple[str, str]
    folders: tuple[str, str]
    rows: tuple[GpuComparisonRow, ...]
    only_first: tuple[str, ...]
    only_second: tuple[str, ...]
    datasheets: tuple[Any, Any] | None

    def of(self, component: str) -> list[GpuComparisonRow]:
        """Rows of one component."""
        return [r for r in self.rows if r.component == component]


def _usable(records: Any) -> dict[str, Any]:
    return {
        r.id: r
        for r in records
        if r.component in COMPONENTS
        and "error" not in r.extra
        and "latency_s" in r.rounds
        and "gpu_energy_j" in r.rounds
    }


def _tokens(record: Any) -> int:
    try:
        return tokens_and_steps(record)[0] if record.component != "text_encoder" else 0
    except Exception:  # a model without a token rule: the row still compares measurements
        return 0


def compare_gpus(first: str | Path, second: str | Path) -> GpuComparison:
    """Compare two measured folders record by record (see the module docstring).

    Raises:
        BaselineFormatError: A folder cannot be read, both are the same GPU model, or no record is in both.
    """
    from t2v_energy_lib.results import load_results
    from t2v_energy_lib.theory import get_gpu
    from t2v_energy_lib.theory.transfer import transfer

    a, b = load_results(first), load_results(second)
    names = tuple(str((f.provenance.get("gpu") or {}).get("name")) for f in (a, b))
    if names[0] == names[1]:
        raise BaselineFormatError(
            f"{first} and {second} were both measured on {names[0]}; compare two GPU models "
            "(for two runs of one GPU use `t2v-energy compare`)"
        )
    rec_a, rec_b = _usable(a.records), _usable(b.records)
    try:
        sheets: tuple[Any, Any] | None = (get_gpu(names[0]), get_gpu(names[1]))
    except Exception:  # a GPU without datasheet figures: measurements only, no expectation
        sheets = None
    per_token_s = elementwise_seconds_per_token(a.records)
    ops = PartOps()
    rows, expected = [], {}
    for rid, ra in rec_a.items():
        rb = rec_b.get(rid)
        if rb is None or ra.component == "composed":
            continue
        flops = None
        ratio = None
        try:
            part_ops = ops(ra)
            if sheets is not None:
                ratio = transfer(part_ops, *sheets, measured_memory_share(ra, per_token_s)).latency_ratio
            if ra.component == "denoiser_step":
                step_flops = sum(op.total_flops for op in part_ops) * _forwards(ra)
                flops = (step_flops / mean(ra.rounds["latency_s"]), step_flops / mean(rb.rounds["latency_s"]))
        except Exception:  # no operator model for this part: compare measurements only
            pass
        expected[rid] = ratio
        rows.append(_row(ra, rb, flops, ratio))
    for rid, ra in rec_a.items():
        rb = rec_b.get(rid)
        if rb is None or ra.component != "composed":
            continue
        rows.append(_row(ra, rb, None, _composed_expectation(ra, rec_a, expected)))
    if not rows:
        raise BaselineFormatError(
            f"{first} and {second} hold no record id in common; measure the same suites on both GPUs"
        )
    return GpuComparison(
        gpus=(names[0], names[1]),
        folders=(str(first), str(second)),
        rows=tuple(rows),
        only_first=tuple(sorted(set(rec_a) - set(rec_b))),
        only_second=tuple(sorted(set(rec_b) - set(rec_a))),
        datasheets=sheets,
    )


def _forwards(record: Any) -> int:
    from t2v_energy_lib.models import get_spec
    from t2v_energy_lib.theory import cfg_execution, settings_from_mapping

    spec = get_spec(record.model)
    return cfg_execution(spec, settings_from_mapping(spec, record.settings).guidance_scale)[0]


def _composed_expectation(
    record: Any, by_id: dict[str, Any], expected: dict[str, float | None]
) -> float | None:
    """Expected latency ratio of a per-video figure: its parts' expectations weighted by their latency."""
    parts = record.extra.get("parts") or {}
    steps = int(record.settings.get("num_inference_steps", 1))
    total = weighted = 0.0
    for name, pid in parts.items():
        ratio, part = expected.get(pid), by_id.get(pid)
        if ratio is None or part is None:
            return None
        t = mean(part.rounds["latency_s"]) * (steps if name == "denoiser_step" else 1)
        total += t
        weighted += t * ratio
    return weighted / total if total > 0 else None


def _row(ra: Any, rb: Any, flops: tuple[float, float] | None, ratio: float | None) -> GpuComparisonRow:
    return GpuComparisonRow(
        record_id=ra.id,
        suite=ra.suite,
        model=ra.model,
        component=ra.component,
        token_length=_tokens(ra) if ra.component in (*DENOISER_PARTS, "vae_decode", "composed") else 0,
        latency_s=(mean(ra.rounds["latency_s"]), mean(rb.rounds["latency_s"])),
        energy_j=(mean(ra.rounds["gpu_energy_j"]), mean(rb.rounds["gpu_energy_j"])),
        achieved_flops_per_s=flops,
        expected_latency_ratio=ratio,
    )
