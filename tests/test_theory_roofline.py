"""Roofline classification: GPU ceilings, per-operator bound, whole-forward regime and crossovers."""

from __future__ import annotations

import pytest

from t2v_energy_lib.errors import UnknownModelError
from t2v_energy_lib.theory import (
    GPUS,
    GpuSpec,
    attention,
    classify,
    compute_bound_token_length,
    gemm_compute_bound_rows,
    get_gpu,
    linear,
    roofline,
)

H100 = GPUS["h100"]


def test_gpu_ceilings_and_ridge_points() -> None:
    assert H100.ridge_flops_per_byte == pytest.approx(989e12 / 3.35e12)
    assert GPUS["h200"].ridge_flops_per_byte == pytest.approx(989e12 / 4.8e12)
    assert GPUS["a100"].peak_flops == 312e12 and GPUS["a100"].tdp_w == 400
    assert GPUS["l40s"].mem_bandwidth_bytes_per_s == 0.864e12
    assert get_gpu("H100-SXM") is H100
    with pytest.raises(UnknownModelError, match="known: h100"):
        get_gpu("tpu-v5")


def test_measured_ceilings_replace_the_datasheet() -> None:
    measured = GpuSpec.from_measured(H100, 606e12, 2.9e12)
    assert measured.measured and measured.tdp_w == H100.tdp_w
    assert measured.ridge_flops_per_byte == pytest.approx(606e12 / 2.9e12)
    with pytest.raises(ValueError, match="positive"):
        GpuSpec.from_measured(H100, 0.0, 1.0)


@pytest.mark.parametrize(("rows", "bound"), [(64, "memory"), (75_600, "compute")], ids=["l64", "l75600"])
def test_wan_projection_gemm_bound_by_token_length(rows: int, bound: str) -> None:
    op = linear("attn.to_q", "attn_proj", rows, 1536, 1536)
    assert classify(op, H100).bound == bound


def test_gemm_crossover_rows_matches_classification() -> None:
    rows = gemm_compute_bound_rows(1536, 1536, H100)
    assert 300 < rows < 1000
    assert classify(linear("x", "t", int(rows) + 1, 1536, 1536), H100).bound == "compute"
    assert classify(linear("x", "t", int(rows) - 1, 1536, 1536), H100).bound == "memory"
    assert gemm_compute_bound_rows(64, 64, H100) == float("inf")  # intensity never reaches the ridge


def test_fused_attention_intensity_is_l_over_two() -> None:
    op = attention("sdpa", "attn_scores", 12, 4096, 4096, 128)
    assert op.intensity_flops_per_byte == pytest.approx(4096 / 2)
    l = compute_bound_token_length(lambda n: [attention("a", "s", 12, n, n, 128)], H100)  # noqa: E741 (l: token length, the paper's notation)
    assert l == pytest.approx(2 * H100.ridge_flops_per_byte, abs=1)


def test_whole_forward_regime_and_time_bound() -> None:
    ops = [linear("a", "t", 64, 4096, 4096, count=10), linear("b", "t", 100_000, 4096, 4096)]
    rep = roofline(ops, H100)
    assert [r.bound for r in rep.ops] == ["memory", "compute"]
    assert rep.bound == "compute"
    assert rep.flops == pytest.approx(sum(op.total_flops for op in ops))
    t_b = ops[1].total_flops / H100.peak_flops
    t_a = ops[0].total_bytes / H100.mem_bandwidth_bytes_per_s
    assert rep.min_time_s == pytest.approx(t_a + t_b)
    assert 0.99 < rep.flops_share_compute_bound() < 1.0


def test_wan_forward_crossovers_on_h100() -> None:
    from t2v_energy_lib.models import get_spec
    from t2v_energy_lib.theory import ops_at_token_length

    spec = get_spec("wan2.1-t2v-1.3b")
    attn = compute_bound_token_length(lambda n: ops_at_token_length(spec, n), H100, kind="attention")
    whole = compute_bound_token_length(lambda n: ops_at_token_length(spec, n), H100)
    assert attn is not None and whole is not None
    assert 2 * H100.ridge_flops_per_byte <= attn < 1000  # the 512 text keys of cross-attention slow it a bit
    assert roofline(ops_at_token_length(spec, whole), H100).bound == "compute"
    assert roofline(ops_at_token_length(spec, whole - 1), H100).bound == "memory"


def test_gpu_specs_are_found_by_the_name_nvml_reports_and_pcie_is_not_mistaken_for_sxm() -> None:
    from t2v_energy_lib.errors import UnknownModelError
    from t2v_energy_lib.theory import GPUS, get_gpu

    assert get_gpu("NVIDIA H100 80GB HBM3") is GPUS["h100"]
    assert get_gpu("h200") is GPUS["h200"]
    with pytest.raises(UnknownModelError, match="PCIe"):
        get_gpu("NVIDIA H100 PCIe")
