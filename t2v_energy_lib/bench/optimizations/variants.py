"""Optimisation levers and variants (frozen dataclasses) and the catalogue of levers per model family.

A :class:`Lever` is one change to the default pipeline (regional compilation, an attention backend, a cache
hook at its documented settings, fp8 weights, CFG as one batch, fewer steps, VAE tiling/slicing). A
:class:`Variant` is a set of levers measured together (``default`` has none). How a lever is applied and how
its engagement is proven lives in :mod:`.levers`; nothing here imports torch or diffusers at import time.

Settings follow the Diffusers 0.42.1 documentation (``docs/source/en/optimization/cache.md``, the
``*CacheConfig`` docstrings, ``ModelMixin.compile_repeated_blocks``, ``set_attention_backend``,
``enable_layerwise_casting``); where the documentation leaves a model-dependent value to the user (MagCache's
``mag_ratios``), the lever says how it obtains it (calibrated on the model's own run, the documented path).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.errors import OptimizationError

LEVER_KINDS = ("compile", "attention", "cache", "fp8", "cfg_batch", "steps", "vae")
#: Levers of these kinds change per-step work: their per-video figures are never composed from steps.
PER_STEP_WORK_KINDS = ("cache", "steps")
#: Attention backends that only exist on other accelerators (recorded as not available on NVIDIA/CPU).
OTHER_ACCELERATOR_BACKENDS = ("_native_npu", "_native_xla")
DEFAULT_BACKEND = "native"
#: The package (distribution name) each lever needs beyond torch and Diffusers. Its installed version is
#: stored in the lever's records (``extra["lever_packages"]``): a call may install it into a resumed file.
LEVER_PACKAGES = {
    "fp8:torchao_weight": "torchao",
    "fp8:torchao_dynamic": "torchao",
    "attention:xformers": "xformers",
    "attention:flash": "flash-attn",
    "attention:_flash_3": "flash_attn_3",
    "attention:sage": "sageattention",
    "attention:flash_hub": "kernels",
}


def _frozen(settings: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((str(k), _freeze(v)) for k, v in settings.items()))


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class Lever:
    """One optimisation lever.

    Attributes:
        kind: One of :data:`LEVER_KINDS`.
        name: Unique, readable name (``"cache:pab"``, ``"attention:_native_cudnn"``, ``"compile"``).
        settings: The lever's settings as sorted ``(key, value)`` pairs (JSON-ready values).
        source: Where the settings come from (documentation page or docstring).
    """

    kind: str
    name: str
    settings: tuple[tuple[str, Any], ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in LEVER_KINDS:
            raise OptimizationError(
                f"lever {self.name!r}: unknown kind {self.kind!r}; use one of {', '.join(LEVER_KINDS)}"
            )

    @classmethod
    def make(cls, kind: str, name: str, source: str = "", **settings: Any) -> Lever:
        """A lever from keyword settings."""
        return cls(kind, name, _frozen(settings), source)

    def setting(self, key: str, default: Any = None) -> Any:
        """One setting's value (``default`` when absent)."""
        return dict(self.settings).get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (stored in every record of a variant that uses the lever)."""
        return {"kind": self.kind, "name": self.name, "settings": dict(self.settings), "source": self.source}


@dataclass(frozen=True)
class Variant:
    """Levers measured together. ``default`` (no lever) is the reference of every saving and deviation.

    Attributes:
        name: Readable id, ``"default"``, a lever's name, or ``"a+b+c"`` for a combination.
        levers: The levers, applied in this order (compile last, CFG batching after the caches).
        note: Why the variant exists (``"best combination of the measured single levers"``).
    """

    name: str
    levers: tuple[Lever, ...] = ()
    note: str = ""

    @property
    def is_default(self) -> bool:
        """True for the unmodified pipeline."""
        return not self.levers

    @property
    def kinds(self) -> tuple[str, ...]:
        """The lever kinds in this variant."""
        return tuple(lv.kind for lv in self.levers)

    @property
    def changes_per_step_work(self) -> bool:
        """True when a lever skips or removes work per step (caches, fewer steps): never composed."""
        return any(k in PER_STEP_WORK_KINDS for k in self.kinds)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"name": self.name, "levers": [lv.to_dict() for lv in self.levers], "note": self.note}

    def packages(self) -> dict[str, str | None]:
        """The installed version of each package this variant's levers need (None: not installed)."""
        out: dict[str, str | None] = {}
        for lever in self.levers:
            name = LEVER_PACKAGES.get(lever.name)
            if name is not None:
                try:
                    out[name] = importlib.metadata.version(name)
                except importlib.metadata.PackageNotFoundError:
                    out[name] = None
        return out


DEFAULT = Variant(
    "default", (), "the pipeline as built: native attention, no cache, CFG as the pipeline runs it"
)

_CACHE_DOC = "diffusers 0.42.1 docs/source/en/optimization/cache.md"
# The attention modules of a transformer block, whatever the block list is called and whether the block has
# one attention (attn) or self and cross attention (attn1, attn2).
TAYLORSEER_ATTENTION_PATTERN = r"(?:single_transformer_blocks|transformer_blocks|blocks)\.\d+\.attn\d*"


def cache_levers(family: str) -> tuple[Lever, ...]:
    """Every cache hook of Diffusers 0.42.1 at its documented settings (per family where the docs differ)."""
    tensor_format = "BFCHW" if family == "cogvideox" else "BCFHW"
    return (
        Lever.make("cache", "cache:fbc", "FirstBlockCacheConfig() default threshold", threshold=0.05),
        Lever.make("cache", "cache:fbc@0.2", "apply_first_block_cache docstring example", threshold=0.2),
        Lever.make(
            "cache",
            "cache:pab",
            _CACHE_DOC,
            spatial_attention_block_skip_range=2,
            spatial_attention_timestep_skip_range=[100, 800],
        ),
        Lever.make(
            "cache",
            "cache:faster",
            _CACHE_DOC,
            spatial_attention_block_skip_range=2,
            spatial_attention_timestep_skip_range=[-1, 681],
            attention_weight=0.3,
            unconditional_batch_skip_range=5,
            unconditional_batch_timestep_skip_range=[-1, 781],
            tensor_format=tensor_format,
        ),
        Lever.make("cache", "cache:taylorseer", "TaylorSeerCacheConfig() defaults"),
        Lever.make(
            "cache",
            "cache:taylorseer@attn",
            "TaylorSeerCacheConfig() defaults, cache_identifiers matching the attention modules (the default "
            "patterns '^blocks.*attn', '^transformer_blocks.*attn' hook nothing under re.fullmatch when a "
            "block's attention is named attn1/attn2, as in Wan and CogVideoX)",
            cache_identifiers=[TAYLORSEER_ATTENTION_PATTERN],
        ),
        Lever.make(
            "cache",
            "cache:taylorseer@lite",
            "TaylorSeerCacheConfig(use_lite_mode=True): the documented low-memory mode, blocks skipped on "
            "predicted steps and only proj_out's output predicted (cache:taylorseer@attn keeps two tensors "
            "per attention module and CFG branch, more than an H200 holds for Wan2.1-14B at 720p)",
            use_lite_mode=True,
        ),
        Lever.make(
            "cache",
            "cache:mag",
            "MagCacheConfig defaults; mag_ratios calibrated here (calibrate=True, the documented path)",
            threshold=0.06,
            max_skip_steps=3,
            retention_ratio=0.2,
        ),
        Lever.make("cache", "cache:sea", "SeaCacheConfig() defaults"),
    )


def attention_levers(backends: Iterable[str]) -> tuple[Lever, ...]:
    """One lever per attention backend name other than the default ``native``."""
    doc = "ModelMixin.set_attention_backend (diffusers.models.attention_dispatch.AttentionBackendName)"
    return tuple(
        Lever.make("attention", f"attention:{b}", doc, backend=b) for b in backends if b != DEFAULT_BACKEND
    )


def all_attention_backends() -> tuple[str, ...]:
    """Every backend name of the installed Diffusers' attention dispatcher (imports diffusers)."""
    from diffusers.models.attention_dispatch import AttentionBackendName

    return tuple(b.value for b in AttentionBackendName)


def compile_lever(**compile_kwargs: Any) -> Lever:
    """Regional compilation: ``transformer.compile_repeated_blocks(**kwargs)`` (docs: fullgraph=True)."""
    kwargs = {"fullgraph": True, **compile_kwargs}
    return Lever.make("compile", "compile", "ModelMixin.compile_repeated_blocks docstring", **kwargs)


def fp8_levers() -> tuple[Lever, ...]:
    """fp8 weights (layerwise casting), and torchao float8 weight-only / dynamic activations + weights."""
    return (
        Lever.make(
            "fp8",
            "fp8:layerwise",
            "ModelMixin.enable_layerwise_casting (weights stored in fp8, computed in the pipeline dtype)",
            storage_dtype="float8_e4m3fn",
        ),
        Lever.make("fp8", "fp8:torchao_weight", "torchao quantize_ Float8WeightOnlyConfig", config="weight"),
        Lever.make(
            "fp8",
            "fp8:torchao_dynamic",
            "torchao quantize_ Float8DynamicActivationFloat8WeightConfig (weights and activations)",
            config="dynamic",
        ),
    )


def single_levers(
    family: str, cfg_mode: str, attention_backends: Iterable[str] = (), compile_kwargs: Mapping[str, Any] = ()
) -> tuple[Lever, ...]:
    """The catalogue of single levers for a model family (each measured alone against the default).

    Args:
        family: Model family (``wan``, ``cogvideox``...).
        cfg_mode: The spec's CFG execution; CFG batching is a lever only for ``two_pass`` pipelines.
        attention_backends: Backend names to try (default: none; the runner passes every installed name).
        compile_kwargs: Extra ``torch.compile`` keywords (tests pass ``backend="eager"``).
    """
    levers = [compile_lever(**dict(compile_kwargs))]
    levers += attention_levers(attention_backends)
    levers += cache_levers(family)
    levers += fp8_levers()
    if cfg_mode == "two_pass":
        levers.append(Lever.make("cfg_batch", "cfg_batch", "cond and uncond in one batch-2 forward per step"))
    levers.append(
        Lever.make(
            "steps", "steps:half", "half the steps with the model's own multistep solver", fraction=0.5
        )
    )
    levers.append(Lever.make("vae", "vae:tiling", "AutoencoderKL*.enable_tiling()", mode="tiling"))
    levers.append(Lever.make("vae", "vae:slicing", "AutoencoderKL*.enable_slicing()", mode="slicing"))
    return tuple(levers)


# Levers that cannot run together: a combination never holds two of a kind (one cache, one backend...), and
# FasterCache approximates the unconditional branch itself (it expects CFG batched by the pipeline).
_EXCLUSIVE_KINDS = ("cache", "attention", "fp8", "steps")
_INCOMPATIBLE = (("cache:faster", "cfg_batch"),)
# Order of application: weights first, then backends and hooks, CFG batching outside the hooks, compile last.
# The steps lever goes first: MagCache calibrates at the step count the generation will run.
_ORDER = {"steps": 0, "fp8": 1, "attention": 2, "cache": 3, "vae": 4, "cfg_batch": 5, "compile": 6}


def combination(levers: Sequence[Lever], note: str = "") -> Variant:
    """A variant of several levers, in application order; refuses impossible combinations.

    Raises:
        OptimizationError: two levers of an exclusive kind, or a known-incompatible pair.
    """
    if not levers:
        raise OptimizationError("a combination needs at least one lever; the default has none")
    for kind in _EXCLUSIVE_KINDS:
        same = [lv.name for lv in levers if lv.kind == kind]
        if len(same) > 1:
            raise OptimizationError(
                f"combination holds {len(same)} {kind} levers ({', '.join(same)}); keep one"
            )
    names = {lv.name for lv in levers}
    for a, b in _INCOMPATIBLE:
        if a in names and b in names:
            raise OptimizationError(f"{a} and {b} cannot run together; drop one of them")
    if "cache" in {lv.kind for lv in levers}:  # cache hooks break graphs: no fullgraph compile around them
        levers = [_without_fullgraph(lv) if lv.kind == "compile" else lv for lv in levers]
    ordered = tuple(sorted(levers, key=lambda lv: _ORDER[lv.kind]))
    return Variant("+".join(lv.name for lv in ordered), ordered, note)


def _without_fullgraph(lever: Lever) -> Lever:
    settings = {**dict(lever.settings), "fullgraph": False}
    return Lever(
        lever.kind, lever.name, _frozen(settings), lever.source + "; fullgraph=False beside cache hooks"
    )


def variants_from_names(
    names: Sequence[str], catalogue: Sequence[Lever], include_default: bool = True
) -> list[Variant]:
    """Variants named like ``"cache:pab"`` or ``"compile+cache:pab+cfg_batch"`` from ``catalogue``.

    Raises:
        OptimizationError: a name that is not in the catalogue (lists what is).
    """
    by_name = {lv.name: lv for lv in catalogue}
    out = [DEFAULT] if include_default else []
    for name in names:
        if name == "default":
            continue
        parts = name.split("+")
        missing = [p for p in parts if p not in by_name]
        if missing:
            raise OptimizationError(
                f"unknown lever(s) {missing} in variant {name!r}; known: {', '.join(sorted(by_name))}"
            )
        levers = [by_name[p] for p in parts]
        out.append(Variant(name, tuple(levers)) if len(levers) == 1 else combination(levers))
    return out


@dataclass(frozen=True)
class Target:
    """A model and setting the suite measures.

    Attributes:
        model_id: Registry id (``"wan2.1-t2v-1.3b"``; ``-tiny`` variants for the CPU).
        height: Frame height. Units: px.
        width: Frame width. Units: px.
        num_frames: Frames per video.
        steps: Denoising steps of every measured complete generation (a reduced count keeps a video short;
            caches are only ever measured this way).
        study_steps: The model's usual step count; when larger than ``steps``, per-video figures of levers
            that do not change per-step work are also composed at it (flagged ``composed``).
        guidance_scale: CFG scale.
        label: Short note (``"study setting, reduced steps"``).
    """

    model_id: str
    height: int
    width: int
    num_frames: int
    steps: int
    study_steps: int | None = None
    guidance_scale: float = 5.0
    label: str = ""

    @property
    def id(self) -> str:
        """``"<model>@<H>x<W>x<F>-s<steps>"``."""
        return f"{self.model_id}@{self.height}x{self.width}x{self.num_frames}-s{self.steps}"


#: The configurable targets: Wan2.1-1.3B at the study's 480p setting (the GPU script's target), Wan2.1-14B at
#: 720p (~20 min a video at 50 steps: measured at reduced steps, non-cache levers composed to 50 steps) and
#: CogVideoX-2b (another family: batch-2 CFG, joint attention).
TARGETS = {
    "wan2.1-t2v-1.3b": Target("wan2.1-t2v-1.3b", 480, 832, 81, 10, 50, label="study setting, 10 steps"),
    "wan2.1-t2v-14b": Target("wan2.1-t2v-14b", 720, 1280, 81, 4, 50, label="720p, 4 steps"),
    "cogvideox-2b": Target("cogvideox-2b", 480, 720, 49, 10, 50, label="model default shape, 10 steps"),
}
