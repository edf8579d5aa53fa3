"""Assemble the Diffusers pipeline from a spec: random weights, a local weights directory, or given parts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import DependencyError, WeightsMismatchError
from t2v_energy_lib.models.builder import build_component, component_dtype, resolve_spec
from t2v_energy_lib.models.spec import ModelSpec
from t2v_energy_lib.models.weights import load_component


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())


def pipeline_class(spec: ModelSpec) -> Any:
    """The Diffusers pipeline class of ``spec``.

    Raises:
        DependencyError: the installed diffusers predates the pipeline (names the version needed).
    """
    import diffusers

    cls = getattr(diffusers, spec.pipeline_class, None)
    too_old = _version_tuple(diffusers.__version__) < _version_tuple(spec.min_diffusers)
    if cls is None or too_old:
        raise DependencyError(
            f"{spec.id} needs diffusers >= {spec.min_diffusers} ({spec.pipeline_class}); installed "
            f"{diffusers.__version__}. Upgrade diffusers or pick another model."
        )
    if dict(spec.pipeline_kwargs).get("expand_timesteps") and _version_tuple(diffusers.__version__) < (0, 35):
        raise DependencyError(f"{spec.id} needs diffusers >= 0.35 (WanPipeline expand_timesteps).")
    return cls


def _check_accelerate(spec: ModelSpec, name: str) -> None:
    import importlib.util

    import diffusers

    cls = getattr(diffusers, spec.component_classes[name], None)
    if getattr(cls, "_keep_in_fp32_modules", None) and importlib.util.find_spec("accelerate") is None:
        raise DependencyError(
            f"{spec.id}: loading {name!r} ({cls.__name__}) with from_pretrained needs the 'accelerate' "
            "package "
            "(diffusers requires low_cpu_mem_usage for _keep_in_fp32_modules). pip install accelerate."
        )


def _load_all(spec: ModelSpec, root: Path, device: Any, dtype: Any) -> dict[str, Any]:
    if not root.is_dir():
        raise WeightsMismatchError(f"{spec.id}: weights directory {root} does not exist.")
    parts: dict[str, Any] = {}
    for name in spec.component_names:
        if (
            name == "motion_adapter"
            and (root / "unet" / "config.json").is_file()
            and not (root / name).is_dir()
        ):
            parts[name] = None  # a saved AnimateDiffPipeline: unet/ already holds the merged UNetMotionModel
            continue
        if not name.startswith("tokenizer") and name != "scheduler":
            _check_accelerate(spec, name)
        parts[name] = load_component(spec, root, name, device, component_dtype(spec, name, dtype))
    return parts


def build_pipeline(
    spec_or_id: ModelSpec | str,
    device: Any = "cpu",
    dtype: Any = "bfloat16",
    weights: str | Path | None = None,
    seed: int = 0,
    components: Mapping[str, Any] | None = None,
    meta: bool = False,
) -> Any:
    """Build the real Diffusers pipeline of a model.

    Args:
        spec_or_id: A spec or registry id (``"<id>-tiny"`` for the CPU variants).
        device: Device every component is built on (never built on the CPU first); ``"meta"`` = shapes only.
        dtype: Compute dtype (``torch.dtype`` or name); ``spec.dtype_policy`` pins some components (Wan VAE).
        weights: A local directory in the Diffusers layout; ``None`` builds random, seeded weights.
        seed: Seed of the random build.
        components: Prebuilt parts to use as they are, by component name (e.g. a shared text encoder).
        meta: Same as ``device="meta"``.

    Raises:
        WeightsMismatchError: ``weights`` does not fit the spec (names the component).
        DependencyError: diffusers too old for this pipeline, or accelerate missing where loading needs it.
    """
    spec = resolve_spec(spec_or_id)
    cls = pipeline_class(spec)
    device = "meta" if meta else device
    given = dict(components or {})
    if weights is not None:
        parts = _load_all(spec, Path(weights), device, dtype)
    else:
        parts = {}
        for name in spec.component_names:
            if name in given:
                continue
            family = spec.model_family
            if name in family.absorbed_components:
                parts[name] = None  # merged into another component, as the pipeline would do on load
            else:
                built = family.merged_components.get(name, name)  # AnimateDiff: the merged UNetMotionModel
                parts[name] = build_component(spec, built, device, dtype, seed)
    parts.update(given)
    return cls(**parts, **dict(spec.pipeline_kwargs))
