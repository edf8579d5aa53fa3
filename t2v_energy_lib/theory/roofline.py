"""Roofline classification of operators and of a whole forward against a :class:`GpuSpec`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from t2v_energy_lib.theory.gpus import GpuSpec
from t2v_energy_lib.theory.ops import Op


@dataclass(frozen=True)
class OpRegime:
    """One operator placed on the roofline.

    Attributes:
        op: The operator.
        intensity_flops_per_byte: Its arithmetic intensity. Units: FLOP/byte.
        bound: ``"compute"`` or ``"memory"``.
        min_time_s: Roofline lower bound of all its executions, max(FLOPs/peak, bytes/bandwidth). Units: s.
    """

    op: Op
    intensity_flops_per_byte: float
    bound: str
    min_time_s: float


@dataclass(frozen=True)
class RooflineReport:
    """Operators of one forward (or step) on one GPU's roofline.

    Attributes:
        gpu: The ceilings used.
        ops: Every operator's regime.
        flops: Total FLOPs. Units: FLOP.
        bytes_moved: Total bytes moved (fused-kernel model). Units: bytes.
    """

    gpu: GpuSpec
    ops: tuple[OpRegime, ...]
    flops: float
    bytes_moved: float

    @property
    def intensity_flops_per_byte(self) -> float:
        """Whole-forward arithmetic intensity. Units: FLOP/byte."""
        return self.flops / self.bytes_moved if self.bytes_moved else float("inf")

    @property
    def bound(self) -> str:
        """``"compute"`` when the whole-forward intensity is at or above the ridge point."""
        return "compute" if self.intensity_flops_per_byte >= self.gpu.ridge_flops_per_byte else "memory"

    @property
    def min_time_s(self) -> float:
        """Sum of per-operator roofline bounds (kernels in sequence). Units: s."""
        return float(sum(r.min_time_s for r in self.ops))

    def flops_share_compute_bound(self) -> float:
        """Fraction of FLOPs in compute-bound operators (0..1)."""
        total = sum(r.op.total_flops for r in self.ops)
        bound = sum(r.op.total_flops for r in self.ops if r.bound == "compute")
        return bound / total if total else 0.0


def classify(op: Op, gpu: GpuSpec) -> OpRegime:
    """Place one operator on the roofline of ``gpu``."""
    intensity = op.intensity_flops_per_byte
    bound = "compute" if intensity >= gpu.ridge_flops_per_byte else "memory"
    t = max(op.total_flops / gpu.peak_flops, op.total_bytes / gpu.mem_bandwidth_bytes_per_s)
    return OpRegime(op, intensity, bound, t)


def roofline(ops: Iterable[Op], gpu: GpuSpec) -> RooflineReport:
    """Classify every operator and the whole list (whole intensity = total FLOPs / total bytes)."""
    ops = tuple(ops)
    return RooflineReport(
        gpu,
        tuple(classify(op, gpu) for op in ops),
        float(sum(op.total_flops for op in ops)),
        float(sum(op.total_bytes for op in ops)),
    )


def gemm_compute_bound_rows(d_in: int, d_out: int, gpu: GpuSpec, dtype_bytes: int = 2) -> float:
    """Rows (tokens) above which a ``d_in x d_out`` GEMM is compute-bound; ``inf`` if never.

    From intensity(l) = l * d_in * d_out / (dtype_bytes / 2 * (d_in * d_out + l * (d_in + d_out))).
    """
    r = gpu.ridge_flops_per_byte * dtype_bytes / 2
    denom = d_in * d_out - r * (d_in + d_out)
    return float("inf") if denom <= 0 else r * d_in * d_out / denom


def compute_bound_token_length(
    ops_at: Callable[[int], Sequence[Op]],
    gpu: GpuSpec,
    *,
    kind: str | None = None,
    max_tokens: int = 10_000_000,
) -> int | None:
    """Smallest token length at which the operators (of one ``kind``, or all) become compute-bound.

    Args:
        ops_at: Token length -> operators of one forward at that length.
        gpu: The ceilings.
        kind: ``"attention"``, ``"gemm"``, or None for the whole forward.
        max_tokens: Upper end of the search.

    Returns:
        The token length, or None when still memory-bound at ``max_tokens``. Assumes intensity grows with l.
    """

    def compute_bound(l: int) -> bool:  # noqa: E741 (l: token length, the paper's notation)
        ops = [op for op in ops_at(l) if kind is None or op.kind == kind]
        return roofline(ops, gpu).bound == "compute"

    if not compute_bound(max_tokens):
        return None
    lo, hi = 1, max_tokens
    if compute_bound(lo):
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if compute_bound(mid) else (mid, hi)
    return hi
