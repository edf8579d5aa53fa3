"""``t2v-energy gpus``: two GPUs side by side; prediction across GPUs (before measuring) and its score.

    t2v-energy gpus compare FIRST_FOLDER SECOND_FOLDER [--out gpus.md]
    t2v-energy gpus predict --from baselines/nvidia-h100-80gb-hbm3/0.42.1 --calibration h200-cal.json
        --out prediction.json [--source-calibration h100-cal.json]
    t2v-energy gpus predict --holdout --from baselines/nvidia-h100-80gb-hbm3/0.42.1
        --calibration h200-cal.json --out holdout.json
    t2v-energy gpus score prediction.json baselines/nvidia-h200/0.42.1

``predict`` writes the prediction document with its creation time (commit it before measuring); with
``--holdout`` it predicts the blind holdout suite's shapes, which no GPU measured, from the source folder's
fits (``characterize --suites holdout`` measures them afterwards); ``score`` compares it with the measured
folder and exits 0 whatever the MAPE is (the figure is the result; use ``--fail-above PCT`` to make a goal a
gate). Too few common points (< 10) is an error, not a score.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``gpus`` subcommand and its actions."""
    p = subparsers.add_parser(
        "gpus", help="compare two GPUs' folders; predict one GPU from another, score it"
    )
    actions = p.add_subparsers(dest="action", required=True)
    c = actions.add_parser("compare", help="two measured folders of two GPU models, record by record")
    c.add_argument("first", help="folder of the first GPU, e.g. baselines/nvidia-h100-80gb-hbm3/0.42.1")
    c.add_argument("second", help="folder of the second GPU, e.g. baselines/nvidia-h200/0.42.1")
    c.add_argument("--out", help="write the markdown section there (default: print it)")
    c.set_defaults(func=run_compare)
    pr = actions.add_parser("predict", help="predict a GPU's per-video figures from another GPU's folder")
    pr.add_argument("--from", dest="source", required=True, help="measured folder of the source GPU")
    pr.add_argument(
        "--calibration",
        required=True,
        help="target GPU's calibration file (python -m t2v_energy_lib.bench.calibrate OUT.json)",
    )
    pr.add_argument(
        "--source-calibration",
        help="source GPU's calibration file (default: the folder's reference.json meter check)",
    )
    pr.add_argument("--out", required=True, help="prediction JSON to write")
    pr.add_argument(
        "--holdout",
        action="store_true",
        help="predict the holdout suite's shapes (measured by nobody) from the source's fits, not the "
        "source's measured points",
    )
    pr.set_defaults(func=run_predict)
    s = actions.add_parser("score", help="score a prediction against the target GPU's measured folder")
    s.add_argument("prediction", help="prediction JSON written by `gpus predict`")
    s.add_argument("measured", help="measured folder of the target GPU")
    s.add_argument("--fail-above", type=float, help="exit 1 when a per-video MAPE exceeds PCT")
    s.add_argument(
        "--min-points",
        type=int,
        help="score with as few per-video points (default 10; under 10 the goal is not judged: partial)",
    )
    s.set_defaults(func=run_score)
    return p


def run_compare(args: argparse.Namespace) -> int:
    """Print or write the side-by-side section; returns 0."""
    from t2v_energy_lib.analysis.gpu_compare import compare_gpus
    from t2v_energy_lib.report.gpu_compare import gpu_comparison_section

    text = gpu_comparison_section(compare_gpus(args.first, args.second))
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Write the prediction document; returns 0."""
    from t2v_energy_lib.analysis.cross_gpu import predict_folder, write_prediction
    from t2v_energy_lib.analysis.holdout_prediction import predict_holdout
    from t2v_energy_lib.theory.calibration import GpuCalibration

    target = GpuCalibration.from_json(args.calibration)
    source = GpuCalibration.from_json(args.source_calibration) if args.source_calibration else None
    predict = predict_holdout if args.holdout else predict_folder
    doc = predict(args.source, target, source, git_commit=_git_commit())
    path = write_prediction(args.out, doc)
    print(
        f"predicted {len(doc['points'])} {'holdout ' if args.holdout else ''}per-video point(s) and "
        f"{len(doc['parts'])} part(s) of "
        f"{doc['target']['gpu']} from {doc['source']['gpu']} ({args.source}) at {doc['created_utc']}; "
        f"skipped {len(doc['skipped'])}; bandwidth: {doc['ceilings']['bandwidth_from']} -> {path}"
    )
    for rid, why in doc["skipped"].items():
        print(f"  skipped {rid}: {why}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    """Print the score; returns 0 (1 with --fail-above when a MAPE is above it)."""
    from t2v_energy_lib.analysis.cross_gpu import MIN_SCORED_POINTS, load_prediction, score_prediction
    from t2v_energy_lib.report.gpu_compare import score_lines

    prediction = load_prediction(args.prediction)
    minimum = MIN_SCORED_POINTS if args.min_points is None else args.min_points
    score = score_prediction(prediction, args.measured, min_points=max(1, minimum))
    print("\n".join(score_lines(score, prediction)))
    worst = max(score.latency_mape_pct, score.energy_mape_pct)
    return 1 if args.fail_above is not None and worst > args.fail_above else 0


def _git_commit() -> str | None:
    """This code's commit (``$T2V_ENERGY_GIT_COMMIT`` where there is no .git), or None."""
    from t2v_energy_lib.results import collect_provenance

    git = collect_provenance(device_index=None).get("git")
    return git.get("commit") if isinstance(git, dict) else None
