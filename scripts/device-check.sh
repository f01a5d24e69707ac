#!/usr/bin/env bash
# Device check: on a machine with an NVIDIA GPU and its Vulkan driver, the full-size SD 2-1 feature
# graph (VAE + UNet to up_blocks.1, ensemble 1), one training step (batch 1, latents cached) and one
# guided sampling step, all at 768 px, on WebGPU in fp32 and fp16 and on the CPU: time, peak host
# memory (the benches' peak RSS) and peak GPU memory (nvidia-smi, sampled), in under 8 minutes.
#
# It reuses the benches: `npm run bench -- scale --sizes 768 --ensembles 1 --batches 1 --steps 1`
# (features and the training step, each in its own process) and `npm run bench -- generate --sizes
# 768 --steps 1` (a guided DDIM step, then a VAE decode). The provider goes in SD4MATCH_PROVIDER
# (and `--provider` where the benches take it), the precision in SD4MATCH_PRECISION (and
# `--precision` where the benches take it); the fp16 rows are skipped, with a line, where this
# checkout has no float16 precision. Every step runs under `timeout`, within the whole budget; a
# step that would not fit is skipped and said so.
#
# usage: scripts/device-check.sh [--weights-dir DIR] [--full-size DIR] [--budget SECONDS]
#                                [--configs "webgpu:fp32 webgpu:fp16 cpu:fp32"] [--tiny] [--dry-run]
#   --weights-dir DIR  where the full-size models are written (default /tmp/sd4match-full; reruns reuse them)
#   --full-size DIR    the folder with make-weights.mjs and the graphs (default: ../shared/full-size
#                      beside the repository, else shared/full-size inside it); not needed when
#                      DIR/sd21 and DIR/dinov2-base are complete already
#   --budget SECONDS   the whole check's time limit (default 470)
#   --tiny             the tiny fixture models (test/fixtures/tiny) at 64 px on the CPU: a quick run
#                      of the script itself, no GPU or weights needed
#   --dry-run          print the steps and their time limits, run nothing
# Exit status: 0 every row ran, 1 a row failed or timed out, 2 a usage or set-up error.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

WEIGHTS_DIR="${SD4MATCH_FULL_DIR:-/tmp/sd4match-full}"
FULL_SIZE=""
BUDGET=470
CONFIGS=""
TINY=0
DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --weights-dir) WEIGHTS_DIR="$2"; shift 2 ;;
    --full-size) FULL_SIZE="$2"; shift 2 ;;
    --budget) BUDGET="$2"; shift 2 ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --tiny) TINY=1; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "device-check: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$BUDGET" in ''|*[!0-9]*) echo "device-check: --budget takes whole seconds, got '$BUDGET'" >&2; exit 2 ;; esac

if [ "$TINY" = 1 ]; then
  SIZE=64
  CONFIGS="${CONFIGS:-cpu:fp32}"
  # scale without --model-dir runs on a copy of the tiny fixture model with a generated tokenizer
  SCALE_MODEL=()
  GEN_MODEL=(--model-dir "$ROOT/test/fixtures/tiny/models/sd")
  LIMIT_SCALE=120; LIMIT_GEN=60
  [ -f "$ROOT/test/fixtures/tiny/models/sd/unet/model.onnx" ] || { echo "device-check: --tiny needs test/fixtures/tiny (the fixture models)" >&2; exit 2; }
else
  SIZE=768
  CONFIGS="${CONFIGS:-webgpu:fp32 webgpu:fp16 cpu:fp32}"
  SCALE_MODEL=(--model-dir "$WEIGHTS_DIR/sd21")
  GEN_MODEL=(--model-dir "$WEIGHTS_DIR/sd21")
  LIMIT_SCALE=150; LIMIT_GEN=90
fi
LIMIT_WEIGHTS=150

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sd4match-device-check-XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS"
# the logs stay for a real run; a dry run leaves nothing behind
[ "$DRY" = 1 ] && trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)
ROWS=()   # "config|work|seconds|peak RSS|peak GPU|status"
FAILED=0

remaining() { echo $(( BUDGET - ($(date +%s) - START) )); }

# What the benches of this checkout take (other work may add these options later).
BENCH_PROVIDER_FLAG=0
grep -q "benchProvider" bench/table.ts 2>/dev/null && BENCH_PROVIDER_FLAG=1
BENCH_PRECISION_FLAG=0
grep -q "'--precision'" bench/table.ts bench/scale.ts bench/generate.ts 2>/dev/null && BENCH_PRECISION_FLAG=1
HAVE_FP16=0
grep -q "SD4MATCH_PRECISION" src/main/engine/onnx/precision.ts 2>/dev/null && HAVE_FP16=1

HAVE_NVSMI=0
command -v nvidia-smi >/dev/null 2>&1 && HAVE_NVSMI=1

# Runs "$@" under a time limit with GPU memory sampled; sets RC and GPU_PEAK (MiB or -).
run_limited() {
  local limit="$1" log="$2"; shift 2
  GPU_PEAK="-"
  if [ "$DRY" = 1 ]; then
    printf '  [limit %3ss] %s\n' "$limit" "$*"
    RC=0
    return
  fi
  local sampler=""
  if [ "$HAVE_NVSMI" = 1 ]; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 >"$log.gpu" 2>/dev/null &
    sampler=$!
  fi
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  RC=$?
  if [ -n "$sampler" ]; then
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
    GPU_PEAK=$(sort -n "$log.gpu" 2>/dev/null | tail -1)
    GPU_PEAK="${GPU_PEAK:--} MiB"
  fi
}

# The status of a finished step: ok, timed out, or failed with the log's last line.
status_of() {
  local log="$1"
  if [ "$RC" = 0 ]; then echo ok
  elif [ "$RC" = 124 ] || [ "$RC" = 137 ]; then echo "timed out"
  else echo "failed (exit $RC): $(grep -v '^\s*$' "$log" | tail -1 | cut -c1-120)"
  fi
}

# One cell of a bench table row: the row whose first cell starts with $2, column $3 (1-based).
# Columns are separated by two or more spaces (bench/table.ts printTable).
cell() {
  awk -F '  +' -v key="$2" -v col="$3" 'index($0, key) == 1 { print $col; exit }' "$1"
}

echo "device-check: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), budget ${BUDGET}s, logs in $LOGS"
if [ "$HAVE_NVSMI" = 1 ]; then
  echo "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
else
  echo "GPU: nvidia-smi not found (no GPU memory column)"
fi
if command -v vulkaninfo >/dev/null 2>&1; then
  echo "Vulkan: $(vulkaninfo --summary 2>/dev/null | grep -m3 -E 'deviceName|driverName' | tr -s ' ' | paste -sd ';' -)"
fi
[ "$BENCH_PROVIDER_FLAG" = 1 ] || echo "note: the benches here take no --provider: the provider goes in SD4MATCH_PROVIDER only"
[ "$BENCH_PRECISION_FLAG" = 1 ] || echo "note: the benches here take no --precision: the precision goes in SD4MATCH_PRECISION only"

# 1. The full-size weights (seeded random; reruns skip what is there).
if [ "$TINY" = 0 ]; then
  if [ -f "$WEIGHTS_DIR/sd21/unet/model.onnx_data" ] && [ -f "$WEIGHTS_DIR/dinov2-base/model.onnx_data" ] && [ -z "$FULL_SIZE" ]; then
    echo "weights: $WEIGHTS_DIR (already written)"
  else
    if [ -z "$FULL_SIZE" ]; then
      for d in "$ROOT/../shared/full-size" "$ROOT/shared/full-size"; do
        [ -f "$d/make-weights.mjs" ] && { FULL_SIZE="$d"; break; }
      done
    fi
    if [ -z "$FULL_SIZE" ] || [ ! -f "$FULL_SIZE/make-weights.mjs" ]; then
      echo "device-check: make-weights.mjs not found (looked in ../shared/full-size and shared/full-size); pass --full-size DIR, the folder holding it and the full-size graphs" >&2
      exit 2
    fi
    echo "weights: node $FULL_SIZE/make-weights.mjs $WEIGHTS_DIR"
    run_limited "$LIMIT_WEIGHTS" "$LOGS/weights.log" node "$FULL_SIZE/make-weights.mjs" "$WEIGHTS_DIR"
    if [ "$RC" != 0 ]; then
      echo "device-check: writing the weights $(status_of "$LOGS/weights.log")" >&2
      exit 2
    fi
  fi
fi

# 2. Per configuration: features + training step (scale), guided step (generate).
for config in $CONFIGS; do
  provider="${config%%:*}"
  precision="${config#*:}"
  if [ "$precision" = fp16 ] && [ "$HAVE_FP16" = 0 ]; then
    echo "$config: skipped: this checkout has no float16 precision (src/main/engine/onnx/precision.ts, SD4MATCH_PRECISION)"
    for w in features "training step" "guided step"; do ROWS+=("$config|$w|-|-|-|skipped: no fp16 here"); done
    continue
  fi
  envs=(env "SD4MATCH_PROVIDER=$provider" "SD4MATCH_PRECISION=$precision")
  flags=()
  [ "$BENCH_PROVIDER_FLAG" = 1 ] && flags+=(--provider "$provider")
  [ "$BENCH_PRECISION_FLAG" = 1 ] && flags+=(--precision "$precision")
  tag="${provider}-${precision}"

  for bench in scale generate; do
    left=$(remaining)
    limit=$([ "$bench" = scale ] && echo "$LIMIT_SCALE" || echo "$LIMIT_GEN")
    [ "$left" -lt "$limit" ] && limit=$(( left - 5 ))
    works=("features" "training step")
    [ "$bench" = generate ] && works=("guided step")
    if [ "$limit" -lt 20 ] && [ "$DRY" = 0 ]; then
      for w in "${works[@]}"; do ROWS+=("$config|$w|-|-|-|skipped: ${left}s of the budget left"); done
      FAILED=1
      continue
    fi
    log="$LOGS/$tag-$bench.log"
    echo "$config: $bench (limit ${limit}s)"
    if [ "$bench" = scale ]; then
      run_limited "$limit" "$log" "${envs[@]}" npm run -s bench -- scale "${SCALE_MODEL[@]}" --sizes "$SIZE" --ensembles 1 --batches 1 --steps 1 --cache-dir "$WORK/cache" "${flags[@]}"
    else
      run_limited "$limit" "$log" "${envs[@]}" npm run -s bench -- generate "${GEN_MODEL[@]}" --sizes "$SIZE" --steps 1 "${flags[@]}"
    fi
    [ "$DRY" = 1 ] && continue
    st=$(status_of "$log")
    if [ "$bench" = scale ]; then
      for w in "features, K=1" "training step, batch 1"; do
        s=$(cell "$log" "$w" 3); rss=$(cell "$log" "$w" 5)
        name=$([ "$w" = "features, K=1" ] && echo features || echo "training step")
        row_st="$st"
        if [ "$st" = ok ] && { [ -z "$s" ] || [ "$s" = skipped ]; }; then row_st="not measured: $(cell "$log" "$w" 4)"; fi
        [ "$row_st" = ok ] || FAILED=1
        ROWS+=("$config|$name|${s:--}|${rss:+$rss GB}|$GPU_PEAK|$row_st")
      done
    else
      s=$(cell "$log" "$SIZE " 2); rss=$(cell "$log" "$SIZE " 8)
      case "$s" in failed*) st="$s"; s="" ;; esac
      [ "$st" = ok ] || FAILED=1
      ROWS+=("$config|guided step|${s:--}|${rss:--}|$GPU_PEAK|$st")
    fi
  done
done

[ "$DRY" = 1 ] && { echo "dry run: nothing ran"; exit 0; }

# 3. The table.
echo
echo "device check, ${SIZE} px, batch 1 ($(( $(date +%s) - START ))s; peak GPU memory is the whole GPU's, sampled every 250 ms over each bench process)"
{
  echo "config|work|seconds|peak RSS|peak GPU|status"
  echo "------|----|-------|--------|--------|------"
  for r in "${ROWS[@]}"; do echo "$r"; done
} | column -t -s '|'
echo "logs: $LOGS"
exit "$FAILED"
