"""theory layer: analytic FLOPs and bytes per operator, GPU specs, roofline regime, latency/energy predictors.

Public API::

    from t2v_energy_lib.theory import generation_flops, GPUS, get_gpu, roofline, fit_predictors
    g = generation_flops(spec, settings)          # per forward / step / video, by component and by term
    g.forward.terms, g.step.total_flops, g.components, g.total_flops
    rep = roofline(g.forward.ops, GPUS["h100"])   # per-operator intensity, bound, whole-forward regime
    cmp = fit_predictors(points)                  # single-mu (study) vs per-operator, in-sample + LOO

Importing this package does not import torch, diffusers or scipy (the VAE count and fits import them lazily).
"""

from t2v_energy_lib.theory.denoisers import (
    DenoiserInput,
    cogvideox_ops,
    hunyuan_video_ops,
    ltx_ops,
    mochi_ops,
    wan_ops,
)
from t2v_energy_lib.theory.encoders import clip_text_ops, llama_ops, t5_encoder_ops, text_encoder_ops
from t2v_energy_lib.theory.generation import (
    GenerationFlops,
    cfg_execution,
    denoiser_flops,
    denoiser_input,
    denoiser_ops,
    generation_flops,
    ops_at_token_length,
    text_encoder_flops,
    vae_latent_shape,
)
from t2v_energy_lib.theory.gpus import GPUS, GpuSpec, get_gpu
from t2v_energy_lib.theory.ops import BF16_BYTES, FP32_BYTES, FlopBreakdown, Op, attention, conv, linear
from t2v_energy_lib.theory.predictors import (
    STUDY_MU,
    STUDY_PEAK_FLOPS,
    FitQuality,
    FittedPredictor,
    PredictorComparison,
    PredictorPoint,
    fit_predictors,
    study_generic_flops,
    study_predictor,
)
from t2v_energy_lib.theory.records import points_from_records, predictor_point, settings_from_mapping
from t2v_energy_lib.theory.roofline import (
    OpRegime,
    RooflineReport,
    classify,
    compute_bound_token_length,
    gemm_compute_bound_rows,
    roofline,
)
from t2v_energy_lib.theory.unet import unet_motion_ops
from t2v_energy_lib.theory.vae import image_vae_decoder_ops, vae_decoder_flops, wan_vae_decoder_ops

__all__ = [
    "BF16_BYTES",
    "FP32_BYTES",
    "GPUS",
    "STUDY_MU",
    "STUDY_PEAK_FLOPS",
    "DenoiserInput",
    "FitQuality",
    "FittedPredictor",
    "FlopBreakdown",
    "GenerationFlops",
    "GpuSpec",
    "Op",
    "OpRegime",
    "PredictorComparison",
    "PredictorPoint",
    "RooflineReport",
    "attention",
    "cfg_execution",
    "classify",
    "clip_text_ops",
    "cogvideox_ops",
    "compute_bound_token_length",
    "conv",
    "denoiser_flops",
    "denoiser_input",
    "denoiser_ops",
    "fit_predictors",
    "gemm_compute_bound_rows",
    "generation_flops",
    "get_gpu",
    "hunyuan_video_ops",
    "image_vae_decoder_ops",
    "linear",
    "llama_ops",
    "ltx_ops",
    "mochi_ops",
    "ops_at_token_length",
    "points_from_records",
    "predictor_point",
    "roofline",
    "settings_from_mapping",
    "study_generic_flops",
    "study_predictor",
    "t5_encoder_ops",
    "text_encoder_flops",
    "text_encoder_ops",
    "unet_motion_ops",
    "vae_decoder_flops",
    "vae_latent_shape",
    "wan_ops",
    "wan_vae_decoder_ops",
]
