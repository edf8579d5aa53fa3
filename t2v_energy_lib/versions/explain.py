"""Explain a step: how the operator profile of one denoiser step moved between two versions, and the
Diffusers changes on file (:mod:`.causes`) that lie between them.

The profiles are the ones each history job stores (:func:`t2v_energy_lib.bench.profile_ops.profile_step`:
CUDA kernel self time on a GPU, aten CPU self time on the CPU), classified by the same rules as every other
operator breakdown of the project. Kernel names that enter or leave the top of the profile are listed, since
a kernel swap (a strided copy gone, a vectorized add instead of a strided one) is what a diff of categories
alone hides.

Candidate causes are ranked by the profile: a cause whose predicted kernel class
(:attr:`t2v_energy_lib.versions.causes.Cause.kernel_class`) is the class whose time moved most (largest
absolute change per profiled call) comes first; one that predicts another class is kept but marked "does not
match the measured kernel classes". Packages other than Diffusers that differ between the two versions' jobs
(:mod:`t2v_energy_lib.versions.confounders`) are named: such a step cannot be attributed to Diffusers alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.bench.profile_ops import CATEGORIES
from t2v_energy_lib.results.schema import ResultFile
from t2v_energy_lib.versions.causes import Cause, causes_between
from t2v_energy_lib.versions.confounders import also_changed, confounder_note
from t2v_energy_lib.versions.records import profile_of


@dataclass(frozen=True)
class ProfileShift:
    """One category's profiled time before and after. Units: us (per profiled call)."""

    category: str
    before_us: float
    after_us: float

    @property
    def change(self) -> float:
        """Relative change (NaN when there was none before)."""
        return self.after_us / self.before_us - 1.0 if self.before_us > 0 else float("nan")


@dataclass(frozen=True)
class StepExplanation:
    """What moved between two versions of a model, and the candidate causes.

    ``problem`` says why there is no profile comparison (a version without a stored profile).
    """

    model: str
    before: str
    after: str
    activity: str | None
    shifts: tuple[ProfileShift, ...]
    gone: tuple[tuple[str, float], ...]
    new: tuple[tuple[str, float], ...]
    causes: tuple[Cause, ...]
    problem: str | None = None
    also_changed: tuple[str, ...] = ()

    @property
    def moved_most(self) -> ProfileShift | None:
        """The category whose profiled time changed most in absolute terms (None without profiles)."""
        if not self.shifts:
            return None
        return max(self.shifts, key=lambda s: abs(s.after_us - s.before_us))

    def matches(self, cause: Cause) -> bool | None:
        """Whether ``cause`` predicts the category that moved most (None: no profile, or no prediction)."""
        top = self.moved_most
        if top is None or cause.kernel_class is None:
            return None
        return cause.kernel_class == top.category

    def ranked_causes(self) -> tuple[Cause, ...]:
        """Causes whose predicted class moved most first, then those without a prediction, then the rest."""
        order = {True: 0, None: 1, False: 2}
        return tuple(sorted(self.causes, key=lambda c: order[self.matches(c)]))

    def lines(self) -> list[str]:
        """Readable lines: category times, kernels in/out of the top, candidate causes."""
        out = [f"{self.model} {self.before} -> {self.after}:"]
        if self.problem:
            out.append(f"  no profile comparison: {self.problem}")
        else:
            out.append(f"  operator profile ({self.activity}), one profiled call:")
            for s in self.shifts:
                times = f"{s.before_us / 1e3:9.2f} ms -> {s.after_us / 1e3:9.2f} ms"
                out.append(f"    {s.category:<17} {times} ({s.change:+.1%})")
            out += [f"    gone from the top: {n} ({t / 1e3:.2f} ms)" for n, t in self.gone]
            out += [f"    new in the top:    {n} ({t / 1e3:.2f} ms)" for n, t in self.new]
        note = confounder_note(self.also_changed)
        if note:
            out.append(f"  {note}")
        top = self.moved_most
        moved = f"moved most: {top.category} {top.change:+.1%}" if top else ""
        if self.causes:
            for c in self.ranked_causes():
                out.append(f"  candidate cause ({c.absent_in} -> {c.present_in}, {c.file}): {c.change}")
                out.append(f"    expected effect: {c.expect}; source: {c.source}")
                verdict = self.matches(c)
                if verdict is True:
                    out.append(f"    matches the measured kernel classes ({moved})")
                elif verdict is False:
                    out.append(f"    does not match the measured kernel classes ({moved})")
        else:
            out.append("  no cause on file between these versions: diff the releases' sources of this model")
        return out


def _top(profile: Mapping[str, Any]) -> dict[str, float]:
    return {str(t["name"]): float(t["time_us"]) for t in profile.get("top", [])}


def explain_step(
    model: str, before: tuple[str, ResultFile], after: tuple[str, ResultFile]
) -> StepExplanation:
    """Compare the stored operator profiles of ``model`` in two versions' merged history files."""
    (v_a, f_a), (v_b, f_b) = before, after
    causes = causes_between(model, v_a, v_b)
    changed = also_changed(f_a, f_b)
    p_a, p_b = profile_of(f_a, model), profile_of(f_b, model)
    if p_a is None or p_b is None:
        missing = ", ".join(v for v, p in ((v_a, p_a), (v_b, p_b)) if p is None)
        problem = f"no operator profile in {missing}"
        return StepExplanation(model, v_a, v_b, None, (), (), (), causes, problem, changed)
    shifts = tuple(
        ProfileShift(c, float(p_a["time_us"].get(c, 0.0)), float(p_b["time_us"].get(c, 0.0)))
        for c in CATEGORIES
    )
    top_a, top_b = _top(p_a), _top(p_b)
    gone = tuple((n, t) for n, t in top_a.items() if n not in top_b)
    new = tuple((n, t) for n, t in top_b.items() if n not in top_a)
    activity = str(p_a.get("activity"))
    return StepExplanation(model, v_a, v_b, activity, shifts, gone, new, causes, None, changed)
