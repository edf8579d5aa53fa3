"""Comparison and gating on synthetic result sets built from the golden fixture (no measured numbers)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from t2v_energy_lib.errors import HardwareMismatchError
from t2v_energy_lib.results import ResultFile, Thresholds, compare, load_results, ratio_test
from t2v_energy_lib.results.schema import parse_document

GOLDEN = Path(__file__).parent / "data" / "results" / "synthetic_v1.json"
DENOISER = "synthetic/tiny-model/16x16x9-s2/denoiser_step"
VAE = "synthetic/tiny-model/16x16x9-s2/vae_decode"


def doc() -> dict:
    return json.loads(GOLDEN.read_text())


def variant(
    test_id: str = DENOISER, key: str = "gpu_energy_j", factor: float = 1.0, **prov: object
) -> ResultFile:
    """The golden set with one test's per-round values of ``key`` scaled by ``factor``."""
    d = doc()
    for rec in d["records"]:
        if rec["id"] == test_id:
            rec["rounds"][key] = [v * factor for v in rec["rounds"][key]]
    for dotted, value in prov.items():
        section, field = dotted.split("__")
        d["provenance"][section][field] = value
    return parse_document(d, "variant")


def row(result, test_id: str, metric: str):
    (found,) = [r for r in result.rows if r.test_id == test_id and r.metric == metric]
    return found


def test_comparing_a_file_with_itself_passes() -> None:
    base = load_results(GOLDEN)
    result = compare(base, base)
    assert result.passed and result.regressions == ()
    assert len(result.rows) == 6  # 3 tests x (energy, latency)
    assert {r.verdict for r in result.rows} == {"unchanged", "excluded"}
    assert row(result, VAE, "energy").verdict == "excluded"  # one round: no interval, out of the verdict
    assert all(r.ratio == 1.0 for r in result.rows)
    assert result.missing_ids == result.new_ids == result.version_changes == ()


def test_energy_raised_10_percent_is_a_regression_naming_the_test() -> None:
    result = compare(load_results(GOLDEN), variant(factor=1.10))
    assert [(r.test_id, r.metric) for r in result.regressions] == [(DENOISER, "energy")]
    reg = result.regressions[0]
    assert reg.ratio == pytest.approx(1.10)
    assert reg.ci_low > 1.0 and reg.p_value < 0.01
    assert row(result, DENOISER, "latency").verdict == "unchanged"
    table = result.format_table()
    assert DENOISER in table and "REGRESSION" in table and "FAILED: 1 regression(s)" in table


def test_one_percent_change_inside_the_noise_passes_even_with_a_tiny_threshold() -> None:
    thresholds = Thresholds.parse("energy:0.5%")
    result = compare(load_results(GOLDEN), variant(factor=1.01), thresholds)
    r = row(result, DENOISER, "energy")
    assert r.change > r.threshold  # above the threshold...
    assert r.ci_low < 1.0  # ...but inside the noise
    assert r.ci_high > 1.005  # ...and the interval cannot rule out a change of the threshold's size
    assert r.verdict == "undecided" and result.passed  # reported, not failing...
    strict = compare(load_results(GOLDEN), variant(factor=1.01), thresholds, strict=True)
    assert not strict.passed and row(strict, DENOISER, "energy") in strict.failures  # ...unless strict


def test_improvement_is_reported_and_fails_only_two_sided() -> None:
    one = compare(load_results(GOLDEN), variant(factor=0.80))
    assert row(one, DENOISER, "energy").verdict == "improvement" and one.passed
    two = compare(load_results(GOLDEN), variant(factor=0.80), two_sided=True)
    assert [r.test_id for r in two.failures] == [DENOISER] and not two.passed


def test_single_round_is_excluded_from_the_verdict_with_a_note() -> None:
    result = compare(load_results(GOLDEN), variant(VAE, factor=1.10))
    up = row(result, VAE, "energy")
    assert up.verdict == "excluded" and "no-noise" in up.flags and math.isnan(up.ci_low)
    assert result.passed  # the threshold alone would turn one-round noise into false alarms
    assert any("excluded from the verdict" in n and VAE in n for n in result.notes)


def test_composed_records_are_flagged() -> None:
    result = compare(load_results(GOLDEN), load_results(GOLDEN))
    assert "composed" in row(result, "synthetic/tiny-model/16x16x9-s2/end_to_end", "energy").flags


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gpu__name", "Other Synthetic GPU", "GPU model: 'Synthetic GPU 80GB' vs 'Other Synthetic GPU'"),
        ("gpu__driver_version", "1.0.synthetic", "driver: '0.0.synthetic' vs '1.0.synthetic'"),
        ("gpu__power_limit_w", 50.0, "power limit W: 100.0 vs 50.0"),
    ],
)
def test_mismatched_hardware_is_refused_unless_overridden(field: str, value: object, message: str) -> None:
    base, other = load_results(GOLDEN), variant(**{field: value})
    with pytest.raises(HardwareMismatchError) as info:
        compare(base, other)
    assert message in str(info.value)
    assert "allow_hardware_mismatch=True" in str(info.value)
    assert "--energy-allow-hardware-mismatch" in str(info.value)
    allowed = compare(base, other, allow_hardware_mismatch=True)
    assert allowed.hardware_differences == (message,)
    assert "WARNING: hardware differs" in allowed.format_table()


def test_missing_and_new_ids_and_changed_versions_are_reported() -> None:
    d = doc()
    d["records"] = d["records"][:2]
    extra = copy.deepcopy(d["records"][0])
    extra["id"] = "synthetic/tiny-model/32x32x9-s2/denoiser_step"
    d["records"].append(extra)
    d["provenance"]["versions"]["torch"] = "0.1.synthetic"
    result = compare(load_results(GOLDEN), parse_document(d, "current"))
    assert result.missing_ids == ("synthetic/tiny-model/16x16x9-s2/end_to_end",)
    assert result.new_ids == ("synthetic/tiny-model/32x32x9-s2/denoiser_step",)
    assert result.version_changes == (("torch", "0.0.synthetic", "0.1.synthetic"),)
    table = result.format_table()
    assert "missing in current (1)" in table and "new in current (1)" in table
    assert "torch: 0.0.synthetic -> 0.1.synthetic" in table


def test_thresholds_parse() -> None:
    assert Thresholds.parse("energy:5%,latency:5%").limits == {"energy": 0.05, "latency": 0.05}
    assert Thresholds.parse(" energy : 0.05 ").limits == {"energy": 0.05}
    assert Thresholds.parse("energy_above_idle:2.5%").limits == {"energy_above_idle": 0.025}
    with pytest.raises(ValueError, match=r"unknown metric 'power'.*known metrics: energy \(gpu_energy_j\)"):
        Thresholds.parse("power:5%")
    with pytest.raises(ValueError, match="would allow 500%"):
        Thresholds.parse("energy:5")
    with pytest.raises(ValueError, match="not 'metric:value'"):
        Thresholds.parse("energy=5%")


def test_noise_based_threshold_raises_the_limit_for_noisy_tests() -> None:
    base = load_results(GOLDEN)
    energies = base.by_id()[DENOISER].rounds["gpu_energy_j"]
    rel = float(np.std(energies, ddof=1) / np.mean(energies))
    thresholds = Thresholds.parse("energy:0.1%", noise_k=3.0)
    assert thresholds.threshold_for("energy", energies) == pytest.approx(3.0 * rel)
    assert thresholds.threshold_for("energy", (1.0,)) == 0.001  # one round: no noise to use
    assert row(compare(base, base, thresholds), DENOISER, "energy").threshold == pytest.approx(3.0 * rel)


def test_welch_interval_matches_the_textbook_formula() -> None:
    base = [100.0, 101.0, 99.0, 100.5, 99.5]  # synthetic
    cur = [103.0, 105.0, 101.0, 104.0, 102.5]  # synthetic
    vb, vc = np.var(base, ddof=1) / 5, np.var(cur, ddof=1) / 5
    df = (vb + vc) ** 2 / (vb**2 / 4 + vc**2 / 4)  # Welch-Satterthwaite
    diff, se = np.mean(cur) - np.mean(base), math.sqrt(vb + vc)
    half = sps.t.ppf(0.975, df) * se
    two = ratio_test(base, cur, confidence=0.95, two_sided=True)
    assert two.ci_low == pytest.approx(1 + (diff - half) / np.mean(base))
    assert two.ci_high == pytest.approx(1 + (diff + half) / np.mean(base))
    assert two.p_value == pytest.approx(2 * sps.t.sf(diff / se, df))
    one = ratio_test(base, cur, confidence=0.95)
    assert one.ci_low == pytest.approx(1 + (diff - sps.t.ppf(0.95, df) * se) / np.mean(base))
    assert (one.ci_low > 1) == (one.p_value < 0.05)


def test_zero_spread_on_both_sides_is_exact() -> None:
    same = ratio_test([2.0, 2.0], [2.0, 2.0])
    assert (same.ratio, same.ci_low, same.ci_high, same.p_value) == (1.0, 1.0, 1.0, 1.0)
    up = ratio_test([2.0, 2.0], [3.0, 3.0])
    assert up.ci_low == 1.5 and up.p_value == 0.0
