"""models layer: model specs (component configs shipped as JSON data), offline builders, tiny variants.

Public API::

    from t2v_energy_lib.models import get_spec, list_specs, GenerationSettings, build_pipeline
    spec = get_spec("wan2.1-t2v-1.3b")            # "<id>-tiny" for the CPU variant; spec.tiny() too
    spec.validate(settings); spec.token_length(h, w, f); spec.latent_shape(h, w, f)
    pipe = build_pipeline(spec, device="cuda", dtype=torch.bfloat16)   # random, seeded, built on the GPU
    counts = count_parameters(spec)               # meta-device builds
    denoiser_config(spec) -> DenoiserShape        # d, heads, layers, FFN, patch, text dim for the FLOP model

Importing this package does not import torch, diffusers or transformers.
"""

from t2v_energy_lib.models.builder import build_component, count_parameters, resolve_dtype
from t2v_energy_lib.models.denoiser import denoiser_config
from t2v_energy_lib.models.pipeline import build_pipeline
from t2v_energy_lib.models.registry import get_spec, known_ids, list_specs
from t2v_energy_lib.models.settings import GenerationSettings
from t2v_energy_lib.models.spec import CFG_MODES, DenoiserShape, ModelSpec, ShapeRules
from t2v_energy_lib.models.tokenizers import offline_tokenizer
from t2v_energy_lib.models.weights import check_component

__all__ = [
    "CFG_MODES",
    "DenoiserShape",
    "GenerationSettings",
    "ModelSpec",
    "ShapeRules",
    "build_component",
    "build_pipeline",
    "check_component",
    "count_parameters",
    "denoiser_config",
    "get_spec",
    "known_ids",
    "list_specs",
    "offline_tokenizer",
    "resolve_dtype",
]
