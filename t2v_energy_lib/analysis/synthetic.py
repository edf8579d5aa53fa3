"""SYNTHETIC result documents for tests and report previews. Nothing here was measured.

Every document this module makes says so in its provenance (``"synthetic": true``, GPU name
``"SYNTHETIC (no measurement)"``). Latency follows a made-up cost model: work ``w(l) = a*l + b*l^2`` per
denoiser step (the shapes of Wan2.1-1.3B's linear and attention terms), divided by an efficiency that rises
with token length; power is a made-up constant near a 700 W cap. The knobs let a test build results where a
claim holds or fails on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SYNTHETIC_GPU_NAME = "SYNTHETIC (no measurement)"
_D, _F, _M, _LAYERS = 1536, 8960, 512, 30  # Wan2.1-1.3B width, FFN width, text tokens, layers (models.md)
_PEAK_FLOPS = 989e12  # the H100's dense bf16 peak quoted by the study
#: Steps of the synthetic traced run, and the step counts of the steps suite (prefixes up to TRACE_STEPS).
TRACE_STEPS = 16
STEP_COUNTS = (1, 2, 5, 10, 16, 20, 50, 100, 200)


@dataclass(frozen=True)
class SyntheticKnobs:
    """How the synthetic data should behave.

    Attributes:
        attention_quadratic: False drops the l^2 term, so the quadratic claims fail.
        per_step_drift: Fractional rise of per-step energy from the first to the last step of the traced run
            (0.05 fails the 2% band).
        noise: Relative Gaussian noise per round.
        rounds: Rounds per record.
        seed: Random seed of the noise.
        low_denoiser_share_models: Models whose VAE decode is made so costly that the denoiser share is < 60%.
        low_matmul_models: Models whose operator profile gives matmul + attention < 60%.
        suites: Which suites to write.
        independent_steps: Step counts whose whole denoising loop is "measured" as separate runs
            (``denoise_run`` records, ``rounds`` runs each); per_step_drift bends them too.
        ceiling_flops_per_s: A made-up matmul ceiling written as a ``calibration`` record (None: none).
    """

    attention_quadratic: bool = True
    per_step_drift: float = 0.0
    noise: float = 0.002
    rounds: int = 3
    seed: int = 0
    low_denoiser_share_models: tuple[str, ...] = ()
    low_matmul_models: tuple[str, ...] = ()
    suites: tuple[str, ...] = ("resolution", "frames", "steps", "cross_model")
    models: tuple[str, ...] = field(default=("wan2.1-t2v-1.3b", "cogvideox-2b"))
    independent_steps: tuple[int, ...] = ()
    ceiling_flops_per_s: float | None = 700e12


def synthetic_token_length(height: int, width: int, num_frames: int) -> int:
    """Wan2.1's rule ``((F-1)/4+1) * H/16 * W/16``, used for every synthetic model."""
    return ((num_frames - 1) // 4 + 1) * (height // 16) * (width // 16)


def synthetic_step_flops(token_length: int, quadratic: bool = True) -> float:
    """Made-up per-step work from Wan2.1-1.3B's per-layer terms, two CFG passes. Units: FLOP."""
    lin = 12 * token_length * _D**2 + 4 * token_length * _D * _F + 4 * token_length * _M * _D + 4 * _M * _D**2
    quad = 4 * token_length**2 * _D if quadratic else 0
    return 2.0 * _LAYERS * (lin + quad)


def synthetic_attention_share(token_length: int) -> float:
    """The l^2 term's share of :func:`synthetic_step_flops` (made-up model, like Wan2.1-1.3B's)."""
    return 1.0 - synthetic_step_flops(token_length, quadratic=False) / synthetic_step_flops(token_length)


def _efficiency(token_length: int, quadratic: bool = True) -> float:
    """Made-up efficiency rising with l; constant for the purely linear variant (so it stays linear)."""
    return 0.5 * token_length / (token_length + 3000.0) if quadratic else 0.45


def _noiseless_step(
    settings: Mapping[str, Any], quadratic: bool, drift: float = 0.0
) -> tuple[float, float, int]:
    """Made-up (latency s, energy J, tokens) of one denoiser step, without noise."""
    tokens = synthetic_token_length(settings["height"], settings["width"], settings["num_frames"])
    efficiency = _efficiency(tokens, quadratic)
    latency = synthetic_step_flops(tokens, quadratic) / (efficiency * _PEAK_FLOPS)
    power_w = 560.0 + 120.0 * efficiency
    return latency, latency * power_w * (1 + drift), tokens


def _noiseless_parts(settings: Mapping[str, Any], vae_factor: float = 1.0) -> tuple[tuple[float, float], ...]:
    """Made-up ((text encoder s, J), (VAE decode s, J)) per video, without noise."""
    pixels = settings["height"] * settings["width"] * settings["num_frames"]
    return (0.05, 40.0), (1e-7 * pixels * vae_factor, 6.5e-5 * pixels * vae_factor)


class _Builder:
    def __init__(self, knobs: SyntheticKnobs) -> None:
        self.knobs = knobs
        self.rng = np.random.default_rng(knobs.seed)
        self.records: list[dict[str, Any]] = []

    def rounds(self, latency_s: float, energy_j: float) -> dict[str, list[float]]:
        n, noise = self.knobs.rounds, self.knobs.noise
        jitter = 1 + noise * self.rng.standard_normal((2, n))
        return {
            "latency_s": [float(v) for v in latency_s * jitter[0]],
            "gpu_energy_j": [float(v) for v in energy_j * jitter[1]],
            "gpu_energy_above_idle_j": [float(v) for v in (energy_j - 90.0 * latency_s) * jitter[1]],
        }

    @staticmethod
    def _id(suite: str, model: str, settings: Mapping[str, Any], component: str) -> str:
        size = f"{settings['height']}x{settings['width']}x{settings['num_frames']}"
        return f"{suite}/{model}/{size}-s{settings['num_inference_steps']}/{component}"

    def add(self, suite: str, model: str, settings: Mapping[str, Any], component: str, **kw: Any) -> None:
        self.records.append(
            {
                "id": self._id(suite, model, settings, component),
                "suite": suite,
                "model": model,
                "component": component,
                "settings": dict(settings),
                "rounds": kw["rounds"],
                "units_per_round": kw.get("units", 1),
                "extra": {"synthetic": True, **kw.get("extra", {})},
                "machine_state": {},
            }
        )

    def step(self, settings: Mapping[str, Any], drift: float = 0.0) -> tuple[float, float, int]:
        return _noiseless_step(settings, self.knobs.attention_quadratic, drift)

    def video(self, suite: str, model: str, settings: Mapping[str, Any], drift: float = 0.0) -> None:
        """denoiser_step, text_encoder, vae_decode and their composed per-video record."""
        step_s, step_j, tokens = self.step(settings, drift)
        vae_factor = 40.0 if model in self.knobs.low_denoiser_share_models else 1.0
        (te_s, te_j), (vae_s, vae_j) = _noiseless_parts(settings, vae_factor)
        steps = settings["num_inference_steps"]
        extra = {"token_length": tokens}
        self.add(
            suite,
            model,
            settings,
            "denoiser_step",
            rounds=self.rounds(step_s, step_j),
            units=steps,
            extra=extra,
        )
        self.add(suite, model, settings, "text_encoder", rounds=self.rounds(te_s, te_j))
        self.add(suite, model, settings, "vae_decode", rounds=self.rounds(vae_s, vae_j))
        total_s, total_j = te_s + steps * step_s + vae_s, te_j + steps * step_j + vae_j
        composed = {"composed": True, "token_length": tokens}
        self.add(suite, model, settings, "composed", rounds=self.rounds(total_s, total_j), extra=composed)

    def steps_suite(self, model: str, trace_settings: Mapping[str, Any]) -> None:
        """The steps suite as the runner writes it: one traced run, denoise_loop prefixes, composed loops."""
        step_s, step_j, tokens = self.step(trace_settings)
        n = int(trace_settings["num_inference_steps"])
        drift = [self.knobs.per_step_drift * i / (n - 1) for i in range(n)]
        jitter = 1 + self.knobs.noise * self.rng.standard_normal((2, n))
        lat = [float(step_s * jitter[0][i]) for i in range(n)]
        energy = [float(step_j * (1 + drift[i]) * jitter[1][i]) for i in range(n)]
        trace_id = self._id("steps", model, trace_settings, "denoiser_step_trace")
        self.add(
            "steps",
            model,
            trace_settings,
            "denoiser_step_trace",
            rounds={"latency_s": lat, "gpu_energy_j": energy},
            extra={"steps_in_run": n, "measured": True, "token_length": tokens},
        )
        (te_s, te_j), (vae_s, vae_j) = _noiseless_parts(trace_settings)
        for count in STEP_COUNTS:
            settings = {**trace_settings, "num_inference_steps": count}
            measured = count <= n
            if measured:
                loop_s, loop_j = sum(lat[:count]), sum(energy[:count])
                extra = {
                    "composed": False,
                    "measured": True,
                    "parts": {"trace": trace_id},
                    "token_length": tokens,
                }
            else:
                loop_s = sum(lat) + (count - n) * sum(lat) / n
                loop_j = sum(energy) + (count - n) * sum(energy) / n
                extra = {
                    "composed": True,
                    "measured": False,
                    "parts": {"trace": trace_id},
                    "token_length": tokens,
                }
            rounds = {"latency_s": [loop_s], "gpu_energy_j": [loop_j]}
            self.add("steps", model, settings, "denoise_loop", rounds=rounds, extra=extra)
            self.add("steps", model, settings, "vae_decode", rounds=self.rounds(vae_s, vae_j))
            total = {"latency_s": [te_s + loop_s + vae_s], "gpu_energy_j": [te_j + loop_j + vae_j]}
            self.add("steps", model, settings, "composed", rounds=total, extra={"composed": True})

    def independent_runs(self, model: str, base: Mapping[str, Any]) -> None:
        """Whole denoising loops of each step count of ``independent_steps``, one run per round."""
        step_s, step_j, tokens = self.step(base)
        top = max(self.knobs.independent_steps)
        for count in self.knobs.independent_steps:
            settings = {**base, "num_inference_steps": count}
            bend = 1 + self.knobs.per_step_drift * count / top
            rounds = self.rounds(0.05 + count * step_s, (30.0 + count * step_j) * bend)
            extra = {"measured": True, "independent": True, "runs": self.knobs.rounds, "token_length": tokens}
            self.add("steps", model, settings, "denoise_run", rounds=rounds, extra=extra)

    def profile(self, model: str, settings: Mapping[str, Any]) -> None:
        low = model in self.knobs.low_matmul_models
        shares = (
            {"matmul": 0.30, "attention": 0.20, "norm_elementwise": 0.35, "other": 0.15}
            if low
            else {"matmul": 0.55, "attention": 0.30, "norm_elementwise": 0.10, "other": 0.05}
        )
        step_s, _, tokens = self.step(settings)
        self.add(
            "cross_model",
            model,
            settings,
            "operator_profile",
            rounds={"latency_s": [step_s]},
            extra={"shares": shares, "token_length": tokens},
        )


def _settings(height: int, width: int, frames: int, steps: int) -> dict[str, Any]:
    return {
        "height": height,
        "width": width,
        "num_frames": frames,
        "num_inference_steps": steps,
        "guidance_scale": 5.0,
    }


def synthetic_document(knobs: SyntheticKnobs | None = None) -> dict[str, Any]:
    """A SYNTHETIC result document (schema ``t2v-energy.results`` v1) with the suites ``knobs`` asks for."""
    knobs = knobs or SyntheticKnobs()
    b = _Builder(knobs)
    wan = "wan2.1-t2v-1.3b"
    if "resolution" in knobs.suites:
        for h, w in ((256, 256), (320, 512), (480, 480), (480, 832), (720, 720), (720, 1280), (1008, 1792)):
            b.video("resolution", wan, _settings(h, w, 81, 50))
    if "frames" in knobs.suites:
        for frames in (1, 9, 17, 33, 49, 65, 81, 97):
            b.video("frames", wan, _settings(720, 1280, frames, 50))
    if "steps" in knobs.suites:
        b.steps_suite(wan, _settings(480, 832, 49, TRACE_STEPS))
        if knobs.independent_steps:
            b.independent_runs(wan, _settings(480, 832, 49, TRACE_STEPS))
    if knobs.ceiling_flops_per_s is not None:
        rate = knobs.ceiling_flops_per_s
        b.records.append(
            {
                "id": "calibration/matmul-bf16/matmul_ceiling",
                "suite": "calibration",
                "model": "matmul-bf16",
                "component": "matmul_ceiling",
                "settings": {"n": 8192, "dtype": "bfloat16"},
                "rounds": {"latency_s": [2.0], "gpu_energy_j": [1400.0], "achieved_flops_per_s": [rate]},
                "units_per_round": 1,
                "extra": {"synthetic": True},
            }
        )
    if "cross_model" in knobs.suites:
        for model in knobs.models:
            b.video("cross_model", model, _settings(480, 832, 81, 50))
            b.profile(model, _settings(480, 832, 81, 50))
    provenance = {
        "synthetic": True,
        "gpu": {"name": SYNTHETIC_GPU_NAME, "power_limit_w": 700.0},
        "versions": {"diffusers": "synthetic"},
        "note": "SYNTHETIC data for tests; nothing measured",
    }
    return {
        "schema": "t2v-energy.results",
        "schema_version": 1,
        "provenance": provenance,
        "records": b.records,
    }


def write_synthetic_results(folder: Path, knobs: SyntheticKnobs | None = None, split: bool = True) -> Path:
    """Write a SYNTHETIC result folder (one ``<suite>.json`` per suite when ``split``); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    doc = synthetic_document(knobs)
    if not split:
        (folder / "synthetic.json").write_text(json.dumps(doc, indent=1))
        return folder
    suites: Sequence[str] = tuple(dict.fromkeys(r["suite"] for r in doc["records"]))
    for suite in suites:
        part = {**doc, "records": [r for r in doc["records"] if r["suite"] == suite]}
        (folder / f"{suite}.json").write_text(json.dumps(part, indent=1))
    return folder


def _synthetic_fitter(sweeps: Mapping[str, Sequence[Any]]) -> Any:
    """Two SYNTHETIC predictors of the denoising work: one mu fitted on all sweeps (the study's form) and this
    module's cost model.

    The second knows how the synthetic data were made, so it wins; it exists to exercise the claim's plumbing.
    """
    from t2v_energy_lib.analysis.theory_view import PredictorFit

    points = [p for pts in sweeps.values() for p in pts]
    flops = np.array(
        [synthetic_step_flops(int(p.token_length)) * p.settings["num_inference_steps"] for p in points]
    )
    latency = np.array([p.latency_mean_s for p in points])
    power_w = float(sum(p.energy_mean_j for p in points) / latency.sum())
    mu_single = float(np.sum(flops**2) / np.sum(flops * latency * _PEAK_FLOPS))  # least squares through 0
    out: dict[str, dict[str, tuple[float, float]]] = {"study single-mu": {}, "synthetic cost model": {}}
    for p, f in zip(points, flops, strict=True):
        t_study = f / (mu_single * _PEAK_FLOPS)
        out["study single-mu"][p.record_id] = (power_w * t_study, t_study)
        step_s, step_j, _ = _noiseless_step(p.settings, quadratic=True)
        n = p.settings["num_inference_steps"]
        out["synthetic cost model"][p.record_id] = (n * step_j, n * step_s)
    return PredictorFit(
        held_out=out,
        in_sample=out,
        study=("study single-mu",),
        ours="synthetic cost model",
        cross_validated=False,
        parameters={"study single-mu": {"mu": mu_single, "power_w": power_w}},
        note="SYNTHETIC predictors",
    )


def synthetic_theory() -> Any:
    """A SYNTHETIC :class:`~t2v_energy_lib.analysis.theory_view.TheoryView` for this module's cost model."""
    from t2v_energy_lib.analysis.theory_view import TheoryView

    def tokens(_model: str, s: Mapping[str, Any]) -> int:
        return synthetic_token_length(s["height"], s["width"], s["num_frames"])

    def intensity(model: str, s: Mapping[str, Any]) -> float:
        return 300.0 * tokens(model, s) / (tokens(model, s) + 500.0) + 5.0  # made up, rises with l

    return TheoryView(
        gpu_name=SYNTHETIC_GPU_NAME,
        peak_flops_per_s=_PEAK_FLOPS,
        ridge_flops_per_byte=295.0,
        step_flops=lambda model, s: synthetic_step_flops(tokens(model, s)),
        step_intensity=intensity,
        token_length=tokens,
        threshold_tokens=lambda _model: 30_000,
        fit_predictors=_synthetic_fitter,
        attention_share=lambda model, s: synthetic_attention_share(tokens(model, s)),
    )
