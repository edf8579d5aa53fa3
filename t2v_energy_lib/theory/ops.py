"""Operators, their FLOPs and bytes, and named FLOP breakdowns.

Convention: one multiply-add is 2 FLOPs, as in ``torch.utils.flop_counter``. Only matrix products, attention
and convolutions are counted (what ``FlopCounterMode`` counts); norms, activations and elementwise work are
left out of FLOPs but their tensors still move bytes inside fused neighbours, which we do not model.

Bytes follow a fused-kernel model: a GEMM reads its weight and its input once and writes its output once; an
attention kernel (flash-style SDPA) reads Q, K, V and writes O only, never the score matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

BF16_BYTES = 2
FP32_BYTES = 4

#: Kinds of operator: a dense matrix product, a fused attention kernel, or a convolution.
OP_KINDS = ("gemm", "attention", "conv")


@dataclass(frozen=True)
class Op:
    """One operator of a forward pass, executed ``count`` times with the same shapes.

    Attributes:
        name: Where it sits, e.g. ``"blocks.attn1.to_q"``.
        term: The FLOP term it belongs to, e.g. ``"self_attn_proj"``.
        kind: One of ``OP_KINDS``.
        flops: FLOPs of one execution. Units: FLOP.
        weight_bytes: Weight bytes read by one execution. Units: bytes.
        act_bytes: Activation bytes read and written by one execution. Units: bytes.
        count: How many times it runs per forward (e.g. once per layer).
        tokens: The token (row) count of its GEMM or the query length of attention, for reporting.
    """

    name: str
    term: str
    kind: str
    flops: float
    weight_bytes: float
    act_bytes: float
    count: int = 1
    tokens: int = 0

    @property
    def bytes_moved(self) -> float:
        """Bytes moved by one execution (weights plus activations). Units: bytes."""
        return self.weight_bytes + self.act_bytes

    @property
    def intensity_flops_per_byte(self) -> float:
        """Arithmetic intensity of one execution. Units: FLOP/byte."""
        return self.flops / self.bytes_moved if self.bytes_moved else float("inf")

    @property
    def total_flops(self) -> float:
        """FLOPs of all ``count`` executions. Units: FLOP."""
        return self.flops * self.count

    @property
    def total_bytes(self) -> float:
        """Bytes of all ``count`` executions. Units: bytes."""
        return self.bytes_moved * self.count

    def times(self, n: int) -> Op:
        """The same operator run ``n`` times as often."""
        return Op(
            self.name,
            self.term,
            self.kind,
            self.flops,
            self.weight_bytes,
            self.act_bytes,
            self.count * n,
            self.tokens,
        )


def linear(
    name: str, term: str, tokens: int, d_in: int, d_out: int, *, count: int = 1, dtype_bytes: int = BF16_BYTES
) -> Op:
    """A linear layer applied to ``tokens`` rows (batch folded in): 2 * tokens * d_in * d_out FLOPs."""
    return Op(
        name,
        term,
        "gemm",
        2.0 * tokens * d_in * d_out,
        weight_bytes=float(d_in * d_out * dtype_bytes),
        act_bytes=float(tokens * (d_in + d_out) * dtype_bytes),
        count=count,
        tokens=tokens,
    )


def attention(
    name: str,
    term: str,
    batch_heads: int,
    lq: int,
    lk: int,
    head_dim: int,
    *,
    count: int = 1,
    dtype_bytes: int = BF16_BYTES,
) -> Op:
    """Scaled dot-product attention: QK^T and AV, 4 * batch_heads * lq * lk * head_dim FLOPs.

    Bytes assume a fused kernel: Q and O (lq rows) plus K and V (lk rows) are moved once.
    """
    return Op(
        name,
        term,
        "attention",
        4.0 * batch_heads * lq * lk * head_dim,
        weight_bytes=0.0,
        act_bytes=float(batch_heads * head_dim * (2 * lq + 2 * lk) * dtype_bytes),
        count=count,
        tokens=lq,
    )


def conv(
    name: str,
    term: str,
    out_positions: int,
    c_in: int,
    c_out: int,
    kernel_volume: int,
    *,
    in_positions: int | None = None,
    count: int = 1,
    dtype_bytes: int = BF16_BYTES,
) -> Op:
    """A dense convolution: 2 * out_positions * c_in * c_out * kernel_volume FLOPs (batch folded in)."""
    in_positions = out_positions if in_positions is None else in_positions
    return Op(
        name,
        term,
        "conv",
        2.0 * out_positions * c_in * c_out * kernel_volume,
        weight_bytes=float(c_in * c_out * kernel_volume * dtype_bytes),
        act_bytes=float((in_positions * c_in + out_positions * c_out) * dtype_bytes),
        count=count,
        tokens=out_positions,
    )


def _frozen(terms: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(terms))


@dataclass(frozen=True)
class FlopBreakdown:
    """FLOPs split into named terms (e.g. ``attn_scores``, ``mlp``). Units: FLOP.

    Attributes:
        terms: Term name -> FLOPs.
        ops: The operators behind the terms (empty when built from terms alone).
    """

    terms: Mapping[str, float]
    ops: tuple[Op, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", _frozen(self.terms))

    @classmethod
    def from_ops(cls, ops: Iterable[Op]) -> FlopBreakdown:
        """Sum operators into terms (order of first appearance)."""
        ops = tuple(ops)
        terms: dict[str, float] = {}
        for op in ops:
            terms[op.term] = terms.get(op.term, 0.0) + op.total_flops
        return cls(terms, ops)

    @property
    def total_flops(self) -> float:
        """Sum of all terms. Units: FLOP."""
        return float(sum(self.terms.values()))

    @property
    def total_bytes(self) -> float:
        """Bytes moved by all operators (0 when built without ops). Units: bytes."""
        return float(sum(op.total_bytes for op in self.ops))

    def flops_of_kind(self, kind: str) -> float:
        """FLOPs of the operators of one kind (``gemm``, ``attention``, ``conv``). Units: FLOP."""
        return float(sum(op.total_flops for op in self.ops if op.kind == kind))

    def shares(self) -> dict[str, float]:
        """Each term's fraction of the total (0..1)."""
        total = self.total_flops
        return {k: (v / total if total else 0.0) for k, v in self.terms.items()}

    def scaled(self, factor: float) -> FlopBreakdown:
        """Every term times ``factor`` (ops keep their per-execution shapes, counts scale when integral)."""
        n = round(factor)
        ops = tuple(op.times(n) for op in self.ops) if n == factor and n > 0 else ()
        return FlopBreakdown({k: v * factor for k, v in self.terms.items()}, ops)

    def __add__(self, other: FlopBreakdown) -> FlopBreakdown:
        terms = dict(self.terms)
        for k, v in other.terms.items():
            terms[k] = terms.get(k, 0.0) + v
        return FlopBreakdown(terms, self.ops + other.ops)
