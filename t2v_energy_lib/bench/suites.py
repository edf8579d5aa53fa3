"""What each suite measures per point, on top of :class:`~t2v_energy_lib.bench.runner.Characterizer`.

* resolution / frames: text encoder (once), denoiser step, VAE decode, composed video.
* validation: the same parts, then complete generations measured whole, compared with the composition.
* cross_model: the parts, a component breakdown (J, s, % of the video, host CPU/RAM alongside), one
  profiled denoising step (defaults only), and complete generations where they are cheap.
* holdout: the sweep points' parts and composed video at the blind holdout's shapes (several models).
* steps: one long run with a window per step; measured prefixes E(S), T(S) for S <= N, composed beyond.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from t2v_energy_lib.bench import records as rec
from t2v_energy_lib.bench.breakdown import totals, video_breakdown
from t2v_energy_lib.bench.compose import (
    compose_loop,
    compose_video,
    cumulative,
    means,
    relative_difference,
    subtract,
)
from t2v_energy_lib.bench.measure import Series
from t2v_energy_lib.bench.runner import Characterizer, SuiteOutcome
from t2v_energy_lib.bench.scenarios import Scenario
from t2v_energy_lib.results.quantities import GPU_ENERGY, LATENCY
from t2v_energy_lib.results.storage import ResultWriter


def _fmt(record: Any) -> str:
    m = means(record.rounds)
    e = m.get(GPU_ENERGY.key)
    e_text = f", {e:.1f} J" if e is not None else ""
    return f"{m[LATENCY.key]:.4g} s{e_text}"


def parts(ch: Characterizer, sc: Scenario, writer: ResultWriter) -> tuple[Any, Any, Any]:
    """Text encoder, denoiser step and VAE decode records of ``sc`` (measured or reused)."""
    text = ch.text_encoder(sc, writer)
    step = ch.shape_component(sc, "denoiser_step", writer)
    vae = ch.shape_component(sc, "vae_decode", writer)
    return text, step, vae


def sweep_point(ch: Characterizer, sc: Scenario, writer: ResultWriter) -> str:
    """Resolution / frames point: parts and the composed video."""
    text, step, vae = parts(ch, sc, writer)
    video = ch.composed(sc, writer, text, step, vae)
    k = step.units_per_round
    return f"step {_fmt(step)} ({k} steps/window), vae {_fmt(vae)}, video (composed) {_fmt(video)}"


def validation_point(ch: Characterizer, sc: Scenario, writer: ResultWriter) -> str:
    """Validation point: parts, complete generations, composed vs measured (relative difference)."""
    text, step, vae = parts(ch, sc, writer)
    m = ch.ensure_warm(sc)
    e2e_series = m.measure_end_to_end()
    e2e = ch.add(writer, rec.series_record(sc, e2e_series, ch.run_settings))
    composed = compose_video(
        means(text.rounds), means(step.rounds), sc.settings.num_inference_steps, means(vae.rounds)
    )
    measured = means(e2e.rounds)
    diff = relative_difference(composed, measured)
    extra = {
        "end_to_end": e2e.id,
        "measured_vs_composed_rel": diff,
        "rest_of_pipeline": subtract(measured, composed),
        "rest_definition": "end_to_end mean - (text_encoder + S x denoiser_step + vae_decode)",
    }
    ch.composed(sc, writer, text, step, vae, extra)
    rel = ", ".join(f"{q} {v:+.2%}" for q, v in diff.items() if q in (LATENCY.key, GPU_ENERGY.key))
    return f"video measured {_fmt(e2e)}; composed vs measured: {rel}"


def cross_model_point(ch: Characterizer, sc: Scenario, writer: ResultWriter) -> str:
    """Cross-model point: parts, composed video, breakdown, operator profile, cheap complete generations.

    On ``--resume`` every record already in the file is reused and only what is missing is measured (a
    profile, or complete generations newly under ``e2e_max_s``); the breakdown is then rebuilt from them.
    """
    text, step, vae = parts(ch, sc, writer)
    video = ch.composed(sc, writer, text, step, vae)
    info = [f"video (composed) {_fmt(video)}"]
    e2e = _end_to_end(ch, sc, writer, means(video.rounds)[LATENCY.key])
    if e2e is not None:
        info.append(f"measured {_fmt(e2e)}")
    pieces, breakdown = video_breakdown(text, step, vae, sc.settings.num_inference_steps, video, e2e)
    if "rest_set_aside" in breakdown:
        info.append("rest not taken: complete generation on another GPU than the parts")
    ch.add(
        writer,
        rec.composed_record(
            sc,
            "breakdown",
            totals(pieces),
            dict(video.extra["parts"]),
            ch.run_settings,
            {"breakdown": breakdown, "estimated": breakdown["host_energy_estimated"]},
        ),
    )
    wanted = ch.options.profile_ops and sc.label == "defaults"
    if wanted and not (ch.options.resume and sc.record_id("operator_profile") in writer):
        info.append(profile_point(ch, sc, writer))
    return "; ".join(info)


def _end_to_end(ch: Characterizer, sc: Scenario, writer: ResultWriter, composed_latency_s: float) -> Any:
    """The complete-generation record of ``sc``: reused on resume, measured if the video is short enough."""
    rid = sc.record_id("end_to_end")
    if ch.options.resume and rid in writer:
        return writer.result_file().by_id()[rid]
    if composed_latency_s > ch.options.e2e_max_s:
        return None
    m = ch.ensure_warm(sc)
    return ch.add(writer, rec.series_record(sc, m.measure_end_to_end(), ch.run_settings))


def profile_point(ch: Characterizer, sc: Scenario, writer: ResultWriter) -> str:
    """One profiled denoising step (operator shares); stored as an ``operator_profile`` record."""
    from t2v_energy_lib.bench.profile_ops import profile_step

    m = ch.ensure_warm(sc)
    import time

    t0 = time.perf_counter()
    profile = profile_step(lambda: m.call(m.min_steps, "latent"), ch.options.device)
    took = time.perf_counter() - t0
    ch.add(
        writer,
        rec.composed_record(
            sc,
            "operator_profile",
            {"profiled_call_s": took},
            {},
            ch.run_settings,
            {
                "composed": False,
                "measured": True,
                "profile": profile,
                "note": f"one {m.min_steps}-step call, profiled",
            },
        ),
    )
    top = max(profile["shares"].items(), key=lambda kv: kv[1])
    return f"ops: {top[0]} {top[1]:.0%} of {profile['activity']}"


def run_steps_suite(ch: Characterizer, scenarios: Sequence[Scenario], indices: Sequence[int]) -> SuiteOutcome:
    """Steps suite: the measured long run (once), then every selected step count's loop and video."""
    base = scenarios[0]
    n = base.measured_steps or max(s.settings.num_inference_steps for s in scenarios)
    trace_sc = base.with_steps(n)
    trace_id = trace_sc.record_id("denoiser_step_trace")

    def measure_trace(sc: Scenario, w: ResultWriter) -> str:
        if trace_id in w and ch.options.resume:
            return "trace already recorded"
        m = ch.ensure_warm(sc)
        windows, tail = m.trace_steps(n)
        series = Series(
            "denoiser_step_trace",
            tuple(windows),
            1,
            {
                "tail_window_s": tail.duration_s,
                "first_step_includes_call_startup": True,
                "steps_in_run": n,
            },
        )
        r = ch.add(w, rec.series_record(sc, series, ch.run_settings, trace_id))
        return f"{n} per-step windows, step {_fmt(r)}"

    outcome = ch.run_points(
        "steps", [trace_sc], [0], measure_trace, done_components=lambda sc: ("denoiser_step_trace",)
    )
    by_id = ch.writer("steps").result_file().by_id()
    if trace_id not in by_id:
        return outcome
    trace = by_id[trace_id]
    prefixes = cumulative(trace.rounds)

    def measure_point(sc: Scenario, w: ResultWriter) -> str:
        s_count = sc.settings.num_inference_steps
        text = ch.text_encoder(sc, w)
        vae = ch.shape_component(sc, "vae_decode", w)
        step_mean = means(trace.rounds)
        loop_measured = s_count <= len(prefixes)
        if loop_measured:  # a prefix of the traced run
            loop_values = prefixes[s_count - 1]
            how: dict[str, Any] = {"composed": False, "measured": True, "measured_prefix_of_run_steps": n}
        else:  # composed: the measured prefix, then the mean step for the rest
            loop_values = compose_loop(step_mean, s_count, prefixes[-1], len(prefixes))
            how = {"formula": f"measured prefix of {len(prefixes)} steps + mean step x rest"}
        extra = {**how, "host_energy_estimated": trace.extra.get("host_energy_estimated", True)}
        loop = ch.add(
            w,
            rec.composed_record(sc, "denoise_loop", loop_values, {"trace": trace.id}, ch.run_settings, extra),
        )
        video_values = compose_video(means(text.rounds), loop_values, 1, means(vae.rounds))
        parts_ids = {"text_encoder": text.id, "denoise_loop": loop.id, "vae_decode": vae.id}
        ch.add(
            w,
            rec.composed_record(
                sc,
                "composed",
                video_values,
                parts_ids,
                ch.run_settings,
                {
                    "host_energy_estimated": any(
                        p.extra.get("host_energy_estimated", False) for p in (text, trace, vae)
                    ),
                    "formula": "text_encoder + denoise_loop + vae_decode",
                    "fixed_overhead_included": False,
                    "loop_measured": loop_measured,
                },
            ),
        )
        kind = "measured" if loop_measured else "composed"
        return f"loop ({kind}) {_fmt(loop)}"

    rest = ch.run_points("steps", scenarios, indices, measure_point)
    outcome.done += rest.done
    outcome.skipped += rest.skipped
    outcome.failed += rest.failed
    outcome.stopped_for_budget = outcome.stopped_for_budget or rest.stopped_for_budget
    return outcome


POINT_FUNCTIONS = {
    "resolution": sweep_point,
    "frames": sweep_point,
    "validation": validation_point,
    "cross_model": cross_model_point,
    "holdout": sweep_point,
}


def run_suite(
    ch: Characterizer, suite: str, scenarios: Sequence[Scenario], indices: Sequence[int]
) -> SuiteOutcome:
    """Run the selected points of ``suite``."""
    if suite == "steps":
        return run_steps_suite(ch, scenarios, indices)
    fn = POINT_FUNCTIONS[suite]
    ordered = list(indices)
    if suite == "cross_model":  # one build per model: keep each model's points together
        ordered.sort(key=lambda i: (scenarios[i].model_id, i))
    if suite == "holdout":  # the same, models in the order listed (the most points first)
        first = {sc.model_id: n for n, sc in reversed(list(enumerate(scenarios)))}
        ordered.sort(key=lambda i: (first[scenarios[i].model_id], i))
    if suite == "cross_model":
        return ch.run_points(
            suite, scenarios, ordered, lambda sc, w: fn(ch, sc, w), lambda sc: cross_model_done(ch, sc)
        )
    return ch.run_points(suite, scenarios, ordered, lambda sc, w: fn(ch, sc, w))


def cross_model_done(ch: Characterizer, sc: Scenario) -> tuple[str, ...]:
    """Records that make a cross-model point complete: the breakdown, the operator profile if wanted, and a
    complete generation if the composed video is under ``e2e_max_s``."""
    needed = ["breakdown"]
    if ch.options.profile_ops and sc.label == "defaults":
        needed.append("operator_profile")
    composed = ch.writer("cross_model").result_file().by_id().get(sc.record_id("composed"))
    if composed is not None and means(composed.rounds)[LATENCY.key] <= ch.options.e2e_max_s:
        needed.append("end_to_end")
    return tuple(needed)
