"""The real-hardware check of the energy meter: a bf16 matmul loop measured by the counter AND the sampler.

Run it on a GPU machine::

    python -m t2v_energy_lib.bench.reference OUT.json [--matmul-seconds 12] [--idle-seconds 5] [--device 0]

What it does, on one CUDA device: measures the energy counter's update period, measures idle power for
``idle_seconds`` (one window), then runs ``C = A @ B`` on bf16 ``n x n`` matrices (n = 8192) in a loop for at
least ``matmul_seconds`` inside ONE window. Both windows are measured at once by NVML's energy counter and by
the background sampler of ``NVML_FI_DEV_POWER_INSTANT`` (trapezoid integral), so the two sources cover exactly
the same interval.

The JSON written (atomically: temp file + ``os.replace``) is a t2v-energy result file::

    {"schema": "t2v-energy.results", "schema_version": 1,
     "provenance": {"tool", "t2v_energy_version", "date_utc", "gpu_name", "gpu_uuid", "driver_version",
                    "power_limit_w", "torch_version", "cuda_version", "python_version"},
     "records": [idle record, matmul record]}

Each record: ``id`` (``reference/idle/idle``, ``reference/matmul-bf16-8192/matmul``), ``suite``
("reference"), ``model``, ``component``, ``settings`` (n, dtype, seconds, device), ``rounds`` (one round:
``latency_s``, ``gpu_energy_j`` (counter), ``sampled_gpu_energy_j`` (sampler) and, for the matmul,
``gpu_energy_above_idle_j``), ``units_per_round`` (1: the unit is the whole window), ``extra``
(``agreement_pct`` = |counter - sampled| / counter x 100, ``mean_power_w``, ``sampled_mean_power_w``,
``counter_update_period_s``, ``source``, ``power_metric``, ``sample_count``, ``short_window``,
``counter_reset``; the matmul adds ``iterations``, ``flops_per_iteration``, ``achieved_tflops`` and
``idle_power_w``) and ``machine_state`` (the window's GpuState). All floats are raw.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from t2v_energy_lib.energy.gpu_meter import GpuMeter
from t2v_energy_lib.energy.measurements import GpuWindow
from t2v_energy_lib.errors import GpuUnavailableError, T2VEnergyError
from t2v_energy_lib.results import collect_provenance
from t2v_energy_lib.results.quantities import GPU_ENERGY, GPU_ENERGY_ABOVE_IDLE, LATENCY, SAMPLED_GPU_ENERGY
from t2v_energy_lib.results.storage import atomic_write_text

SUITE = "reference"
MATMUL_N = 8192
CHUNK_ITERATIONS = 20  # matmuls queued between two host-side time checks


def agreement_pct(counter_j: float, sampled_j: float) -> float:
    """|counter - sampled| / counter x 100. Units: %."""
    if counter_j <= 0:
        raise ValueError(f"counter energy must be > 0 J to compare sources, got {counter_j}")
    return abs(counter_j - sampled_j) / counter_j * 100.0


def matmul_flops(n: int) -> float:
    """FLOPs of one ``n x n`` by ``n x n`` matmul (2 n^3). Units: FLOP."""
    return 2.0 * float(n) ** 3


def _window_record(
    record_id: str,
    model: str,
    component: str,
    settings: dict[str, Any],
    w: GpuWindow,
    device: int,
    period_s: float | None,
) -> dict[str, Any]:
    if w.sampled_energy_j is None:
        raise ValueError(f"window {w.key!r} has no sampled energy; measure it with compare_sources=True")
    counter_j, sampled_j = w.gpu_energy_j[device], w.sampled_energy_j[device]
    rounds = {LATENCY.key: [w.duration_s], GPU_ENERGY.key: [counter_j], SAMPLED_GPU_ENERGY.key: [sampled_j]}
    if w.gpu_energy_above_idle_j is not None:
        rounds[GPU_ENERGY_ABOVE_IDLE.key] = [w.gpu_energy_above_idle_j[device]]
    return {
        "id": record_id,
        "suite": SUITE,
        "model": model,
        "component": component,
        "settings": settings,
        "rounds": rounds,
        "units_per_round": 1,
        "extra": {
            "agreement_pct": agreement_pct(counter_j, sampled_j),
            "mean_power_w": w.mean_power_w[device],
            "sampled_mean_power_w": sampled_j / w.duration_s,
            "counter_update_period_s": period_s,
            "source": w.sources[device],
            "power_metric": w.power_metric[device],
            "sample_count": w.sample_counts[device],
            "short_window": w.short_window,
            "counter_reset": device in w.counter_reset_devices,
        },
        "machine_state": w.states[device].to_dict(),
    }


def build_document(
    idle: GpuWindow,
    matmul: GpuWindow,
    device: int,
    n: int,
    iterations: int,
    counter_period_s: float | None,
    provenance: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The result document of one reference run (pure; see the module docstring for the layout).

    Args:
        idle: The idle window (measured with ``compare_sources=True``).
        matmul: The matmul window (measured with ``compare_sources=True`` after ``measure_idle``).
        device: The CUDA-visible device index both windows measured.
        n: Matrix size.
        iterations: Matmuls completed inside the matmul window.
        counter_period_s: The measured counter update period. Units: s.
        provenance: Machine and software facts.
        settings: Run settings (seconds asked for, dtype, device).
    """
    idle_settings = {"idle_seconds": settings.get("idle_seconds"), "device": device}
    idle_rec = _window_record(
        f"{SUITE}/idle/idle", "idle", "idle", idle_settings, idle, device, counter_period_s
    )
    idle_rec["extra"]["idle_power_w"] = idle.mean_power_w[device]
    model = f"matmul-bf16-{n}"
    mm = _window_record(
        f"{SUITE}/{model}/matmul", model, "matmul", settings, matmul, device, counter_period_s
    )
    mm["extra"].update(
        {
            "iterations": iterations,
            "flops_per_iteration": matmul_flops(n),
            "achieved_tflops": iterations * matmul_flops(n) / matmul.duration_s / 1e12,
            "idle_power_w": idle.mean_power_w[device],
        }
    )
    return {
        "schema": "t2v-energy.results",
        "schema_version": 1,
        "provenance": provenance,
        "records": [idle_rec, mm],
    }


def write_json_atomic(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (no NaN allowed), through the results layer's writer."""
    target = Path(path)
    atomic_write_text(target, json.dumps(data, indent=2, allow_nan=False) + "\n")
    return target


def _provenance(window: GpuWindow, device: int, settings: dict[str, Any]) -> dict[str, Any]:
    """Full provenance (results layer) plus the measured window's GPU state and this tool's name."""
    provenance = collect_provenance(settings=settings, cuda_index=device)
    provenance["tool"] = "t2v_energy_lib.bench.reference"
    provenance["window_gpu_state"] = window.states[device].to_dict()
    return provenance


def _matmul_loop(a: Any, b: Any, c: Any, seconds: float) -> int:
    """Run ``c = a @ b`` for at least ``seconds`` (checked every CHUNK_ITERATIONS); returns iterations."""
    import torch

    iterations, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(CHUNK_ITERATIONS):
            torch.matmul(a, b, out=c)
        iterations += CHUNK_ITERATIONS
        torch.cuda.synchronize(a.device)
    return iterations


def run_reference(
    out_path: str | os.PathLike[str],
    matmul_seconds: float = 12.0,
    idle_seconds: float = 5.0,
    device: int = 0,
    n: int = MATMUL_N,
) -> dict[str, Any]:
    """Measure idle and a bf16 matmul loop with both energy sources; write and return the result document.

    Args:
        out_path: Where the JSON goes.
        matmul_seconds: Minimum length of the matmul window. Units: s.
        idle_seconds: Length of the idle window. Units: s.
        device: CUDA-visible device index.
        n: Matrix size (8192 by default).

    Raises:
        GpuUnavailableError: torch has no CUDA device, or NVML is unavailable.
    """
    import torch

    if not torch.cuda.is_available():
        raise GpuUnavailableError("torch.cuda is not available; the reference workload needs a CUDA GPU")
    dev = torch.device("cuda", device)
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    c = torch.empty(n, n, device=dev, dtype=torch.bfloat16)
    torch.cuda.synchronize(dev)
    meter = GpuMeter(devices=[device], compare_sources=True)
    try:
        period_s = meter.measure_counter_period()
        meter.measure_idle(idle_seconds, compare_sources=True)
        _matmul_loop(a, b, c, 1.0)  # warm-up: cuBLAS heuristics, clocks up
        with meter.window("matmul", compare_sources=True) as handle:
            iterations = _matmul_loop(a, b, c, matmul_seconds)
        if meter.idle_window is None or handle.result is None:
            raise RuntimeError("the meter returned no idle or matmul window; this is a bug in GpuMeter")
        settings = {
            "n": n,
            "dtype": "bfloat16",
            "matmul_seconds": matmul_seconds,
            "idle_seconds": idle_seconds,
            "device": device,
        }
        doc = build_document(
            meter.idle_window,
            handle.result,
            device,
            n,
            iterations,
            period_s,
            _provenance(handle.result, device, settings),
            settings,
        )
    finally:
        meter.close()
    write_json_atomic(out_path, doc)
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m t2v_energy_lib.bench.reference OUT.json``; prints a one-line summary."""
    parser = argparse.ArgumentParser(prog="python -m t2v_energy_lib.bench.reference", description=__doc__)
    parser.add_argument("out", help="result JSON path")
    parser.add_argument("--matmul-seconds", type=float, default=12.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--device", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        doc = run_reference(args.out, args.matmul_seconds, args.idle_seconds, args.device)
    except T2VEnergyError as exc:
        print(f"reference run failed: {exc}", file=sys.stderr)
        return 2
    idle, mm = doc["records"]
    print(
        f"idle {idle['extra']['idle_power_w']:.1f} W; matmul {mm['extra']['achieved_tflops']:.1f} TFLOP/s at "
        f"{mm['extra']['mean_power_w']:.1f} W (counter) vs {mm['extra']['sampled_mean_power_w']:.1f} W "
        f"(sampled), agreement {mm['extra']['agreement_pct']:.2f} %; counter period "
        f"{mm['extra']['counter_update_period_s']} s -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
