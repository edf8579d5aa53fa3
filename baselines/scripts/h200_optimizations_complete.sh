#!/usr/bin/env bash
# Device calls on one H200 (issue 16): the single levers no stored H200 run has measured yet, one model a
# call, each into a NEW file (its own default, 10 steps, ROUNDS videos per variant, no combinations).
#   PART=wan  Wan2.1-1.3B 480x832x81: the attention backends that come with torch and are not measured yet
#             (flex compiled, the math reference; flash and memory-efficient SDPA and TaylorSeer's low-memory
#             mode ran in the first call, cuDNN in baselines/nvidia-h200/0.42.1), then every other backend
#             of the dispatcher, recorded not_available with its reason at no cost (their packages are not
#             on the runner).
#   PART=cog  CogVideoX-2b 480x720x49: the levers measured alone on both Wan sizes but not on CogVideoX
#             (optimizations-2 to -4 measured PAB, FasterCache, half steps and compilation there), then
#             torch's SDPA backends; flex compiled does not fit beside them (its first compile is priced
#             120 s) and was left for a later call, which the run showed is not needed (below).
# Both parts ran 2026-12-01 (552 + 439 s, GPU-56eb4c9a; stored in baselines/nvidia-h200/optimizations-9, -10).
# On CogVideoX every SDPA backend was not_engaged: its attention never calls the dispatcher (0 calls), so
# compiled flex is not planned there (tests/test_optimizations_coverage.py checks the reason on the stored run).
# On Wan the compiled flex variant failed out of memory in the tool's counting generation, which ran flex
# eagerly (mended: it now compiles flex alone there), and the math reference was still running when the call's
# time limit stopped it. PART=wan ROUNDS=1 with the default list below (flex compiled, then math) ran
# 2026-12-01 (381 s, GPU-1dac8ce7; stored in baselines/nvidia-h200/optimizations-11): flex compiled -0.4% (n.s.),
# the math reference +974.7% (178 s a video). Nothing of the catalogue is left to measure on either model.
# tests/test_optimizations_next.py prices each list with the runner's own estimate from the stored defaults
# and fails if it does not fit LIMIT=560; the runner's budget stops cleanly before what does not fit anyway.
# Usage (repo root, diffusers wheel on PYTHONPATH, e.g. PYTHONPATH=/tmp/site:$PWD; torchao in .whl-torchao):
#   OUT=<folder> PART=wan ROUNDS=1 LIMIT=560 bash baselines/scripts/h200_optimizations_complete.sh
# CPU check of the flow (tiny models): DEVICE=cpu STEPS=2 EXTRA="--compile-backend eager" ...
# Stores: $OUT/results.tgz (optimizations.json), $OUT/report/ (OPTIMIZATIONS.md + chart), $OUT/logs.tgz.
set -u
: "${OUT:?set OUT to the folder that comes back}"
PART=${PART:?PART must be wan or cog}
R=/tmp/r-complete-$PART; L=/tmp/logs-complete-$PART
rm -rf "$R" "$L"; mkdir -p "$R" "$L" "$OUT"   # a new file: never resume an older call's results
LIMIT=${LIMIT:-560}
DEVICE=${DEVICE:-cuda}
EXTRA=${EXTRA:-}
STEPS=${STEPS:-10}
ROUNDS=${ROUNDS:-2}   # videos per variant (ROUNDS=1 leaves the math reference room in one call)
# Every backend of Diffusers 0.42.1's dispatcher whose package is not on the runner, or that runs on another
# accelerator, or (flex) only compiled: recorded with the dispatcher's own reason before any measurement.
FREE=attention:flash,attention:flash_hub,attention:flash_varlen,attention:flash_varlen_hub,attention:flash_4_hub,attention:_flash_3,attention:_flash_varlen_3,attention:_flash_3_hub,attention:_flash_3_varlen_hub,attention:aiter_fa2_hub,attention:flex,attention:_native_npu,attention:_native_xla,attention:sage,attention:sage_hub,attention:sage_blackwell_hub,attention:sage_varlen,attention:_sage_qk_int8_pv_fp8_cuda,attention:_sage_qk_int8_pv_fp8_cuda_sm90,attention:_sage_qk_int8_pv_fp16_cuda,attention:_sage_qk_int8_pv_fp16_triton,attention:xformers
# Compiled flex first; the math reference last (it materialises the scores: ~26 GB a call at 480p, and
# took over 290 s where the default's variant took 42 s). Measured in the first call (optimizations-9):
# cache:taylorseer@lite,attention:_native_flash,attention:_native_efficient.
WAN_VARIANTS=${WAN_VARIANTS:-$FREE,attention:flex+compile,attention:_native_math}
COG_VARIANTS=${COG_VARIANTS:-$FREE,cache:mag,cache:taylorseer@attn,cache:fbc,cache:sea,fp8:torchao_weight,attention:_native_cudnn,vae:tiling,fp8:layerwise,fp8:torchao_dynamic,cache:fbc@0.2,cache:taylorseer@lite,cache:taylorseer,vae:slicing,attention:_native_flash,attention:_native_efficient,attention:_native_math}
case "$PART" in
  wan) TARGET=wan2.1-t2v-1.3b; VARIANTS=$WAN_VARIANTS ;;
  cog) TARGET=cogvideox-2b; VARIANTS=$COG_VARIANTS ;;
  *) echo "PART must be wan or cog, not '$PART'" >&2; exit 2 ;;
esac
. "$(dirname "$0")/carried_wheels.sh"
C="$L/console.log"
[ "$PART" = cog ] && carried_wheels .whl-torchao /tmp/site-fp8 >>"$C"   # fp8 levers (pure-Python torchao)
export T2V_ENERGY_GIT_COMMIT=${T2V_ENERGY_GIT_COMMIT:-unknown}
nvidia-smi --query-gpu=name,uuid,driver_version,power.limit,clocks.max.sm,temperature.gpu --format=csv >"$L/nvidia-smi.csv" 2>&1
python3 -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__)" >>"$C" 2>&1
BUDGET=$(( LIMIT - SECONDS - 45 ))   # 45 s kept for imports, the idle-power measurement, report, archives
echo "== $TARGET ($PART) at $SECONDS s (budget $BUDGET s)" >>"$C"
timeout -s INT -k 20 $(( BUDGET + 25 )) python3 -m t2v_energy_lib optimize --device "$DEVICE" \
    --target "$TARGET" --steps "$STEPS" --rounds "$ROUNDS" --variants "$VARIANTS" --no-best \
    --time-budget-s "$BUDGET" --out "$R" --no-report $EXTRA >>"$C" 2>&1
echo "optimize exit $? after $SECONDS s" >>"$C"
. "$(dirname "$0")/optimizations_finish.sh"
grep -E "^==|exit|not reached|stopping|: (engaged|not_engaged|failed|reference)" "$C" | tail -n 40
