#!/usr/bin/env bash
# One device call on one H200 (issue 14, prediction across GPUs): measure the blind holdout, 15 shapes that no
# GPU measured before (bench/scenarios.py HOLDOUT_POINTS: 12 Wan2.1-T2V-1.3B, 3 CogVideoX-2b, 50 steps, parts
# and composed video, no complete generation), into a FRESH folder, then score the prediction committed before
# it (docs/predictions/h200-holdout-2026-12-01.json, written from the H100 folder and the H200 calibration).
#
#   OUT=<folder> T2V_ENERGY_GIT_COMMIT=<sha> bash baselines/scripts/h200_holdout.sh
# Repo root; carry .whl (diffusers 0.42.1 + importlib_metadata: installed into /tmp/site, as in the other
# scripts). Resumable: a second call with the first call's $OUT/h200-holdout.tgz extracted into out/h200-holdout/
# (ignored by git: pass it with the device tool's carry; RESUME_FROM=<folder> names another) skips the points
# already measured and measures the rest.
# Flow test on the CPU (tiny models at tiny shapes, no GPU energy: NOT a measurement, writes a FLOW-TEST
# marker; the score then refuses the tiny folder, which is not an H200's):
#   FLOW=cpu OUT=/tmp/flow bash baselines/scripts/h200_holdout.sh
#
# Duration on an H200, from the stored logs (baselines/nvidia-h200/0.42.1/logs/h200x2-call1-g*.txt, --quick
# sweep points of Wan2.1-1.3B): a point with a step of 0.2-1.3 s and a decode of 1-3 s took 13-24 s (480x832x81:
# 22.9 s); the holdout's predicted steps are 0.21-1.09 s and decodes 0.96-3.1 s, so ~15-25 s each, ~300 s for
# 15 points, plus two builds (~10-14 s each), the 5 s idle measurement, two text encoders and the warm-ups:
# ~6-7 minutes of the 9. The time budget stops cleanly before a point that would not fit; the next call
# completes it.
set -u
LIMIT=${LIMIT:-540}
RESERVE=${RESERVE:-25}                                   # seconds kept for the score and the tarball
PRED=${PRED:-docs/predictions/h200-holdout-2026-12-01.json}
RESUME_FROM=${RESUME_FROM:-out/h200-holdout}
W=${WORK:-/tmp/h200holdout}; R="$W/holdout"; L="$W/logs"
rm -rf "$W"; mkdir -p "$R" "$L" "$OUT"
export PYTHONUNBUFFERED=1 CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
CALL=$(date -u +%Y%m%dT%H%M%SZ)
if [ -d "$RESUME_FROM" ]; then                           # the previous call's results, logs kept beside
    cp -r "$RESUME_FROM"/. "$W"/ 2>/dev/null
    echo "resumed from $RESUME_FROM" >>"$L/$CALL-plan.log"
fi
DEVICE=cuda; CHAR_EXTRA=(--no-calibration)              # the prediction used the stored H200 calibration
if [ "${FLOW:-}" = cpu ]; then
    DEVICE=cpu; CHAR_EXTRA=(--cpu-threads 1); LIMIT=${FLOW_LIMIT:-300}
    echo "FLOW TEST on the CPU with tiny models: not a measurement" >"$W/FLOW-TEST-NOT-A-MEASUREMENT.txt"
fi
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl >"$L/$CALL-pip.log" 2>&1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
[ -e .git ] || [ -n "${T2V_ENERGY_GIT_COMMIT:-}" ] || echo "WARNING: no .git and no T2V_ENERGY_GIT_COMMIT" \
    | tee -a "$L/$CALL-plan.log"
{ nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version,clocks.max.sm,persistence_mode --format=csv \
    || echo "no nvidia-smi"; } >"$L/$CALL-nvidia-smi.csv" 2>&1

left() { echo $(( LIMIT - RESERVE - SECONDS )); }
save() {  # the whole work folder to $OUT now: a later limit must not lose what is finished
    cp "$R/holdout.json" "$OUT/holdout.json" 2>/dev/null
    tar czf "$OUT/h200-holdout.tgz.part" -C "$W" . && mv "$OUT/h200-holdout.tgz.part" "$OUT/h200-holdout.tgz"
}

# The holdout, resumable: the runner's own budget stops before a point that would not fit (10 s of margin for
# the last records' write and the pipeline release); the timeout is the hard limit behind it.
BUDGET=$(( $(left) - 10 ))
echo "holdout: started at ${SECONDS}s (time budget ${BUDGET}s)" | tee -a "$L/$CALL-plan.log"
timeout -s INT -k 15 "$(left)" python3 -m t2v_energy_lib characterize --device "$DEVICE" --quick --no-report \
    --resume "${CHAR_EXTRA[@]}" --suites holdout --time-budget-s "$BUDGET" --out "$R" >>"$L/$CALL-holdout.log" 2>&1
echo "holdout: exit $? at ${SECONDS}s" | tee -a "$L/$CALL-plan.log"
save

# the committed prediction against the points measured after it (all 15: the goal is judged; fewer than 10
# after a cut call: a partial score, said so)
RESERVE=0
if [ -f "$PRED" ] && [ -s "$R/holdout.json" ]; then
    timeout -k 5 "$(( $(left) > 10 ? $(left) - 5 : 5 ))" python3 -m t2v_energy_lib gpus score "$PRED" "$R" \
        --min-points 1 >"$W/score-$CALL.txt" 2>&1
    echo "score: exit $? at ${SECONDS}s" | tee -a "$L/$CALL-plan.log"
    cp "$W/score-$CALL.txt" "$OUT/score.txt"
fi
echo "device call: ${SECONDS}s in all" | tee -a "$L/$CALL-plan.log"
save
ls -la "$OUT"; cat "$L/$CALL-plan.log"; tail -n 25 "$L/$CALL-holdout.log"; cat "$W/score-$CALL.txt" 2>/dev/null
