"""How long the next point of a sweep will take: the runner's time-budget estimate.

A point's wall time is mostly windows of FIXED length (``rounds`` denoiser windows of at least
``target_window_s`` each), plus work that grows with the shape (warm-up generations, the steps calibration
calls, the VAE decodes) and, for the first point of a model, the pipeline build. Scaling the whole of the
previous point by a power of the token ratio (what the runner did before) mistook the fixed windows and the
build for shape-dependent work: on an H200, a 23 s first point (build included) at 1,280 tokens forecast
~50 min for 480x832x81 and stopped a 220 s run after one point.

:func:`point_cost_s` models one point from its per-step and per-decode latency and the run's
:class:`~t2v_energy_lib.bench.measure.MeasureConfig`; :func:`estimate_next_point_s` extrapolates those two
latencies from the previous point and adds what the model did not explain of the previous point (without its
build). A step grows at least linearly in tokens (the projections), and is at least what the study's
single-efficiency predictor gives for its FLOPs (``step_floor_s``, computed by the runner from the theory
layer): small points are launch-bound, so scaling them by their FLOPs alone would overshoot by an order of
magnitude. Without that floor the step scales as tokens^1.5. A decode grows linearly in tokens. The total is
padded by :data:`SAFETY` so that the budget is kept rather than overrun. Pure functions: no hardware, no
clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from t2v_energy_lib.bench.instrument import calibrate_units
from t2v_energy_lib.bench.measure import MeasureConfig

STEP_TOKEN_EXPONENT = 1.5  # without a FLOP-based floor: between linear projections and quadratic attention
SAFETY = 1.2  # estimates are padded: stopping one point early is cheaper than overrunning the budget


@dataclass(frozen=True)
class PointTiming:
    """What the previous point cost and measured.

    Attributes:
        duration_s: Wall time of the whole point (build included when it built the pipeline). Units: s.
        build_s: Pipeline build time inside ``duration_s`` (0 when the pipeline was built before). Units: s.
        step_s: Its measured latency of one denoising step (None: not measured). Units: s.
        decode_s: Its measured latency of one VAE decode (None: not measured). Units: s.
        tokens: Its denoiser token length (0: unknown).
        first_shape: Whether its warm-up ran twice (first shape after a build).
    """

    duration_s: float
    build_s: float = 0.0
    step_s: float | None = None
    decode_s: float | None = None
    tokens: int = 0
    first_shape: bool = False


def point_cost_s(step_s: float, decode_s: float, config: MeasureConfig, *, warmups: int = 1) -> float:
    """Modelled wall time of one point's measurements: warm-ups, steps calibration, windows, decodes.

    Args:
        step_s: Latency of one denoising step at the point's shape. Units: s.
        decode_s: Latency of one VAE decode at the point's shape. Units: s.
        config: Window lengths and rounds of the run.
        warmups: Warm-up generations (1 step + decode each): 2 on the first shape after a build.

    Returns:
        Seconds. Units: s.
    """
    warm = warmups * (step_s + decode_s)
    calibration = 2 * step_s
    steps = calibrate_units(step_s, config.target_window_s, config.max_steps_per_window)
    if steps >= 4:
        calibration += max(2, steps // 4) * step_s
    windows = config.rounds * steps * step_s
    decodes = config.vae_rounds_long if decode_s > config.long_decode_s else config.vae_rounds
    return warm + calibration + windows + decodes * decode_s


def estimate_next_point_s(
    prev: PointTiming, next_tokens: int, config: MeasureConfig, step_floor_s: float | None = None
) -> float:
    """Wall time the next point will take, from the previous one's timing and measured latencies.

    Without the previous point's step and decode latencies (a suite whose points record neither), falls
    back to scaling its duration, build excluded, by ``(token ratio)^1.5``.

    Args:
        prev: The previous point.
        next_tokens: Token length of the next point (0: unknown, taken as the previous one's).
        config: Window lengths and rounds of the run.
        step_floor_s: Least plausible latency of one step of the next point (the study's predictor for its
            FLOPs on this GPU); None: unknown (the step then scales as tokens^1.5). Units: s.

    Returns:
        Seconds. Units: s.
    """
    ratio = max(1.0, next_tokens / prev.tokens) if prev.tokens > 0 and next_tokens > 0 else 1.0
    work_s = max(0.0, prev.duration_s - prev.build_s)
    if prev.step_s is None or prev.decode_s is None:
        return SAFETY * work_s * ratio**STEP_TOKEN_EXPONENT
    modelled_prev = point_cost_s(prev.step_s, prev.decode_s, config, warmups=2 if prev.first_shape else 1)
    unexplained = max(0.0, work_s - modelled_prev)  # text encoder, Python overhead, memory frees
    if step_floor_s is None:
        step = prev.step_s * ratio**STEP_TOKEN_EXPONENT
    else:
        step = max(prev.step_s * ratio, step_floor_s)
    return SAFETY * (point_cost_s(step, prev.decode_s * ratio, config) + unexplained)
