"""Which cross-model videos were checked by a complete generation, and which should have been.

A per-video figure of the cross-model suite is composed from measured parts (text encoder, steps x denoiser
step, VAE decode). The method is validated per model by at least one complete generation (``pipe(...)``,
every step, decoded) wherever a video of that model takes less than :data:`COMPLETE_GENERATION_MAX_S`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.analysis.breakdown import ERROR_COMPONENTS
from t2v_energy_lib.analysis.points import LATENCY_KEY, models_in, open_results, require_records

#: A model with a composed video shorter than this must have a complete generation. Units: s.
COMPLETE_GENERATION_MAX_S = 180.0  # also the default of `characterize --e2e-max-s` (tested)


@dataclass(frozen=True)
class CompleteGenerationCoverage:
    """One model's cross-model videos against the complete-generation rule.

    Attributes:
        model: Model id.
        shortest_point: Scenario id (``cross_model/<model>/<settings>``) of its fastest composed video.
        shortest_latency_s: That video's composed latency. Units: s.
        complete_generations: Ids of the model's ``end_to_end`` records (any setting).
    """

    model: str
    shortest_point: str
    shortest_latency_s: float
    complete_generations: tuple[str, ...]

    @property
    def required(self) -> bool:
        """True when a video of the model takes under :data:`COMPLETE_GENERATION_MAX_S`."""
        return self.shortest_latency_s < COMPLETE_GENERATION_MAX_S

    @property
    def validated(self) -> bool:
        """True when at least one complete generation of the model is stored."""
        return bool(self.complete_generations)


def complete_generation_coverage(results: Any) -> dict[str, CompleteGenerationCoverage]:
    """Per model of the cross-model records, its shortest composed video and its complete generations.

    Args:
        results: A ``ResultFile`` or a path to result files.

    Raises:
        MissingResultsError: No 'cross_model' composed records.
    """
    rf, label = open_results(results)
    composed = require_records(rf, label, "cross_model", component="composed")
    records = [r for r in rf.select(suite="cross_model") if r.component not in ERROR_COMPONENTS]
    out: dict[str, CompleteGenerationCoverage] = {}
    for model in models_in(composed):
        videos = {
            r.id.rsplit("/", 1)[0]: statistics.fmean(r.rounds[LATENCY_KEY])
            for r in composed
            if r.model == model
        }
        shortest = min(videos, key=videos.__getitem__)
        out[model] = CompleteGenerationCoverage(
            model=model,
            shortest_point=shortest,
            shortest_latency_s=videos[shortest],
            complete_generations=tuple(
                r.id for r in records if r.model == model and r.component == "end_to_end"
            ),
        )
    return out
