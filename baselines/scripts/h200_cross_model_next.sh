#!/usr/bin/env bash
# Next device calls on one H200 (issue 14): the cross-model points still missing on the H200, biggest value first,
# then the score of the prediction committed BEFORE them (docs/predictions/h200-cross-model-2026-12-01.json), and
# once a small `pytest -m gpu` selection (the benchmark suite through pytest on the H200, results per GPU slug).
#
# Run the SAME script in each call: every job is `characterize --resume` into one folder, a finished point is
# skipped in a few seconds, a point cut by the time limit keeps its finished parts and is completed next time.
# A job starts only when the time left covers its estimate (else the next, cheaper job gets the time).
#
#   call 1:  OUT=<folder> T2V_ENERGY_GIT_COMMIT=<sha> bash baselines/scripts/h200_cross_model_next.sh
#   call N:  extract the previous call's $OUT/h200-cross-model-next.tgz into out/h200-cross-model-next/ (ignored by
#            git: pass it with the device tool's carry) and run the same line; RESUME_FROM=<folder> names another.
# Repo root; carry .whl (diffusers 0.42.1 + importlib_metadata: installed into /tmp/site, as in the other scripts).
# Flow test on the CPU (tiny models, no GPU energy: NOT a measurement, writes a FLOW-TEST marker):
#   FLOW=cpu OUT=/tmp/flow bash baselines/scripts/h200_cross_model_next.sh
#
# Job estimates on an H200, from the stored logs (H100: baselines/nvidia-h100-80gb-hbm3/0.42.1/logs/; H200:
# baselines/nvidia-h200/0.42.1/logs/): a cross-model point is mostly fixed windows, warm-ups and complete
# generations, so its duration is close to the H100's; complete generations scale with the per-video latency
# (H200 predicted/measured about 0.92-0.96x the H100's).
#   1 Wan2.2-TI2V-5B defaults, 2 complete generations (~125 s each predicted) + profile  ~310 s  (H100: 330 s with
#     its complete generation, h100x1-call3; H200 Wan2.1-1.3B defaults with 2 generations: 141 s, h200x2-call2-g0)
#   2 Wan2.1-T2V-14B defaults 480x832x81 + profile (video ~333 s: no complete generation)      ~70 s (H100 70.3 s)
#   3 pytest -m gpu: Wan2.1-1.3B denoiser step at 256x256x81 and 480x832x81 (build + 2 points)   ~90 s (H200
#     characterize points 23 s each at these sizes, h200x2-call1-g0)
#   4 HunyuanVideo defaults 720x1280x129 + profile: H100 556 s (cut in its profile) + 296 s resumed; each start
#     pays a ~190 s warm-up at this shape (h100x4-call1-g1, h100x4-call2-g1)                  ~480 s + ~280 s
#   5 Wan2.1-T2V-14B 720x1280x81 (study settings)                                             ~145 s (H100 143.8 s)
#   6 Mochi 480x848x85, 64 steps (study settings; video ~184 s predicted, at the 180 s line for complete
#     generations: if it lands under 180 s, 2 generations add ~360 s, done by the next call)  ~60 s (H100 46-67 s)
#   7 Wan2.1-T2V-1.3B 720x1280x81 (study settings; the resolution sweep's stored point has the same parts) ~55 s
#   8 score (CPU, JSON only) and the tarball                                                     ~20 s
# Whole: ~1,600 s of commands, packed into 4 calls of 9 minutes, since HunyuanVideo cannot share a call with its
# parts: call 1 jobs 1-3 (~485 s); call 2 job 4's parts (~495 s); call 3 job 4's profile (~290 s: the estimate
# drops to 300 s once its breakdown is stored), 5 Wan2.1-14B at 720x1280 (~145 s) and 7 if it fits; call 4 what is
# left (6 Mochi at 85 frames, 7, and Mochi's complete generations if its video lands under 180 s).
set -u
LIMIT=${LIMIT:-540}
RESERVE=${RESERVE:-30}                                   # seconds kept for the score and the tarball
PRED=${PRED:-docs/predictions/h200-cross-model-2026-12-01.json}
RESUME_FROM=${RESUME_FROM:-out/h200-cross-model-next}
W=${WORK:-/tmp/h200cm}; R="$W/cross_model"; P="$W/pytest"; L="$W/logs"
rm -rf "$W"; mkdir -p "$R" "$P" "$L" "$OUT"
export PYTHONUNBUFFERED=1 CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
CALL=$(date -u +%Y%m%dT%H%M%SZ)
if [ -d "$RESUME_FROM" ]; then                           # the previous call's results, logs kept beside
    cp -r "$RESUME_FROM"/. "$W"/ 2>/dev/null
    echo "resumed from $RESUME_FROM" >>"$L/$CALL-plan.log"
fi
DEVICE=cuda; GPU_ARGS=(--require-gpu); STUDY=1; CHAR_EXTRA=(--no-calibration)
if [ "${FLOW:-}" = cpu ]; then                           # tiny models have no study settings: defaults only
    DEVICE=cpu; GPU_ARGS=(); STUDY=0; CHAR_EXTRA=(--cpu-threads 1); LIMIT=${FLOW_LIMIT:-900}
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

PLUGIN=(-p pytest_t2v_energy.plugin)      # the runner has no pip-installed project; where it is, its entry point loads it
python3 -c "import importlib.metadata as m, sys; sys.exit(not any(e.value.startswith('pytest_t2v_energy') \
    for e in m.entry_points(group='pytest11')))" 2>/dev/null && PLUGIN=()

left() { echo $(( LIMIT - RESERVE - SECONDS )); }
save() {  # the whole work folder to $OUT now: a later limit must not lose what is finished
    cp "$R/cross_model.json" "$OUT/cross_model.json" 2>/dev/null
    tar czf "$OUT/h200-cross-model-next.tgz.part" -C "$W" . && mv "$OUT/h200-cross-model-next.tgz.part" \
        "$OUT/h200-cross-model-next.tgz"
}
job() {  # job <name> <estimate s> <command...>: starts only if the estimate fits; SIGINT at the time left
    local name=$1 need=$2; shift 2
    if [ "$(left)" -lt "$need" ]; then
        echo "$name: not started at ${SECONDS}s (needs ~${need}s, $(left)s left)" | tee -a "$L/$CALL-plan.log"
        return
    fi
    echo "$name: started at ${SECONDS}s (estimate ${need}s, limit $(left)s)" | tee -a "$L/$CALL-plan.log"
    timeout -s INT -k 15 "$(left)" "$@" >>"$L/$CALL-$name.log" 2>&1
    echo "$name: exit $? at ${SECONDS}s" | tee -a "$L/$CALL-plan.log"
    save
}
STORED=${STORED:-baselines/nvidia-h200/0.42.1/cross_model.json}   # committed: its finished points are not re-run
stored() {  # stored <model> <index> [options]: the committed H200 folder already holds this point's job
    [ "${FLOW:-}" = cpu ] && return 1
    python3 - "$STORED" "$@" <<'PY' 2>/dev/null
import json, sys
from t2v_energy_lib.bench.scenarios import cross_model_points
path, model, index, options = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
ids = {r["id"] for r in json.load(open(path))["records"]}
sc = cross_model_points([model])[index]
needed = ["breakdown"] + ([] if index or "--no-profile" in options else ["operator_profile"])
sys.exit(not all(sc.record_id(c) in ids for c in needed))
PY
}
point() {  # point <name> <estimate s> <model> <0 defaults | 1 study settings> [characterize options...]
    local name=$1 need=$2 model=$3 index=$4
    shift 4
    [ "$STUDY" = 1 ] || index=0
    if stored "$model" "$index" "$@"; then
        echo "$name: already in $STORED, not run" | tee -a "$L/$CALL-plan.log"
        return
    fi
    job "$name" "$need" python3 -m t2v_energy_lib characterize --device "$DEVICE" --quick --no-report --resume \
        --e2e-rounds 2 "${CHAR_EXTRA[@]}" --suites cross_model --model "$model" --points "$index" --out "$R" "$@"
}
pytest_gpu() {  # the suite through pytest on this GPU, once (skipped when a previous call stored its results)
    if ls "$P"/*/pytest-*/results.json >/dev/null 2>&1 || { [ "${FLOW:-}" != cpu ] && \
            [ -f baselines/nvidia-h200/pytest-gpu/0.42.1/results.json ]; }; then
        echo "pytest-gpu: results already there, not run again" | tee -a "$L/$CALL-plan.log"; return
    fi
    job pytest-gpu "$1" python3 -m pytest "${PLUGIN[@]}" -p no:cacheprovider -p no:randomly \
        -m gpu "${GPU_ARGS[@]}" -rs tests/gpu/test_gpu_bench.py \
        -k "resolution_denoiser_step and (256x256x81 or 480x832x81)" \
        --energy-results "$P/{gpu}/pytest-{diffusers}/results.json"
}

have() {  # have <record id>: the results hold it (a point whose parts are done needs less time)
    python3 -c "import json, sys; ids = {r['id'] for r in json.load(open(sys.argv[1]))['records']}; \
sys.exit(sys.argv[2] not in ids)" "$R/cross_model.json" "$1" 2>/dev/null
}
# HunyuanVideo in two jobs: its parts without the profile (build, ~190 s warm-up, parts: ~480 s, one call of its
# own), and the profile last (a new warm-up + the profile, ~300 s), so that the parts never wait for it.
# After the third session's calls (2026-12-01 13:07-13:33 UTC) only HunyuanVideo and Wan2.1-14B at 720x1280 are
# left: Wan2.1-14B at 720x1280 was cut at 167 s by the call's limit (build 11 s, warm-up 52 s), hence 200 s.

point  wan2.2-defaults       320 wan2.2-ti2v-5b   0
point  wan14b-defaults        80 wan2.1-t2v-14b   0
pytest_gpu                   100
have cross_model/hunyuanvideo/720x1280x129-s50/breakdown ||
point  hunyuan-parts         480 hunyuanvideo     0 --no-profile
point  wan14b-720p-study     200 wan2.1-t2v-14b   1
point  mochi-85f-study        70 mochi-1-preview  1
point  wan1.3b-720p-study     60 wan2.1-t2v-1.3b  1
point  hunyuan-profile       300 hunyuanvideo     0

# the committed prediction against the points measured after it (fewer than 10: a partial score, said so)
RESERVE=0
if [ -f "$PRED" ] && [ -s "$R/cross_model.json" ]; then
    timeout -k 5 "$(( $(left) > 10 ? $(left) - 5 : 5 ))" python3 -m t2v_energy_lib gpus score "$PRED" "$R" \
        --min-points 1 >"$W/score-$CALL.txt" 2>&1
    echo "score: exit $? at ${SECONDS}s" | tee -a "$L/$CALL-plan.log"
fi
save
ls -la "$OUT"; cat "$L/$CALL-plan.log"; cat "$W/score-$CALL.txt" 2>/dev/null
