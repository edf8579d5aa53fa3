#!/usr/bin/env bash
# Device call on one H200 (issue 16, second optimisation call), <= 9 min, into a NEW optimizations.json
# (never resuming the committed baselines/nvidia-h200/0.42.1/optimizations.json; the second invocation below
# resumes the first's file of this call: same GPU and versions, so its default rounds are pooled honestly).
#  1. CogVideoX-2b at its default shape 480x720x49, 10 steps (~8.5 s a video on the H200 from the stored
#     50-step figures: 0.63 s a step, 2.1 s decode): default, PAB, half steps, regional compilation, then the
#     best combinations of those that engaged and saved; the not-installed levers are recorded for free.
#  2. Wan2.1-1.3B 480x832x81, 10 steps (~16 s a video): the levers the first call did not reach (SeaCache,
#     FasterCache) and the not-installed ones (recorded as not available, no GPU time), then the best
#     combination measured beside this call's own default and extended with compilation
#     (steps:half+cache:mag+compile, cache:mag+compile; Dynamo may recompile the hooked blocks: last, and the
#     runner's budget stops cleanly before what does not fit, naming it in the log and the file).
# Expected: CogVideoX ~3.5 min, Wan ~4.5 min, report ~15 s (see docs/notes/issue-16.md, Session 13).
# Usage (repo root, diffusers wheel on PYTHONPATH, e.g. PYTHONPATH=/tmp/site:$PWD):
#   OUT=<folder> bash baselines/scripts/h200_optimizations_next.sh   (SKIP_COG=1 LIMIT=<s>: Wan only)
# CPU check of the flow (tiny models): DEVICE=cpu STEPS_WAN=2 STEPS_COG=2 EXTRA="--compile-backend eager" ...
# Stores: $OUT/results.tgz (optimizations.json: both models, raw rounds, provenance), $OUT/report/
#         (OPTIMIZATIONS.md + one energy-vs-deviation chart per model), $OUT/logs.tgz (console, nvidia-smi).
set -u
: "${OUT:?set OUT to the folder that comes back}"
R=/tmp/r-next; L=/tmp/logs-next
rm -rf "$R" "$L"; mkdir -p "$R" "$L" "$OUT"   # a new file: never resume an older call's results
LIMIT=${LIMIT:-540}           # whole call, seconds
DEVICE=${DEVICE:-cuda}
EXTRA=${EXTRA:-}
STEPS_WAN=${STEPS_WAN:-10}
STEPS_COG=${STEPS_COG:-10}
COG_BUDGET=${COG_BUDGET:-230}
COG_RESERVE=${COG_RESERVE:-70}
FREE=attention:flash,attention:_flash_3,attention:sage,attention:xformers,attention:flash_hub,fp8:torchao_weight,fp8:torchao_dynamic
COG_VARIANTS=${COG_VARIANTS:-cache:pab,steps:half,compile,$FREE}
WAN_VARIANTS=${WAN_VARIANTS:-$FREE,cache:sea,cache:faster,steps:half+cache:mag,steps:half+cache:mag+compile,cache:mag+compile}
export T2V_ENERGY_GIT_COMMIT=${T2V_ENERGY_GIT_COMMIT:-unknown}
C="$L/console.log"
nvidia-smi --query-gpu=name,uuid,driver_version,power.limit,clocks.max.sm,temperature.gpu --format=csv >"$L/nvidia-smi.csv" 2>&1
python3 -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__)" >>"$C" 2>&1

if [ "${SKIP_COG:-0}" = 1 ]; then   # SKIP_COG=1: Wan only (a short call on what is left of a session)
  echo "== CogVideoX-2b skipped (SKIP_COG=1)" >>"$C"
else
  echo "== CogVideoX-2b at $SECONDS s" >>"$C"
  timeout -s INT -k 20 $(( COG_BUDGET + 40 )) python3 -m t2v_energy_lib optimize --device "$DEVICE" \
      --target cogvideox-2b --steps "$STEPS_COG" --rounds 2 --variants "$COG_VARIANTS" \
      --time-budget-s "$COG_BUDGET" --combo-reserve-s "$COG_RESERVE" --out "$R" --no-report $EXTRA >>"$C" 2>&1
  echo "cogvideox exit $? after $SECONDS s" >>"$C"
fi

BUDGET=$(( LIMIT - SECONDS - 45 ))   # 45 s kept for imports, the idle-power measurement, report, archives
echo "== Wan2.1-1.3B at $SECONDS s (budget $BUDGET s)" >>"$C"
if [ "$BUDGET" -gt 60 ]; then
  timeout -s INT -k 20 $(( BUDGET + 25 )) python3 -m t2v_energy_lib optimize --device "$DEVICE" \
      --target wan2.1-t2v-1.3b --steps "$STEPS_WAN" --rounds 2 --variants "$WAN_VARIANTS" --no-best \
      --time-budget-s "$BUDGET" --out "$R" --no-report $EXTRA >>"$C" 2>&1
  echo "wan exit $? after $SECONDS s" >>"$C"
else
  echo "wan skipped: only $BUDGET s left" >>"$C"
fi

. "$(dirname "$0")/optimizations_finish.sh"
grep -E "^==|exit|not_available|not reached|stopping|: (engaged|not_engaged|failed|reference)" "$C" | tail -n 40
