#!/usr/bin/env bash
# One script for a GPU machine lent for about ten minutes, with no network:
#
#   bench/gpu-check.sh OUTDIR [--dry]
#
# Runs, each under `timeout` (limits in seconds below, EGOX_CHECK_<STEP>_S overrides one):
#   info         egox info --json (adapter, features, subgroup-matrix configs)
#   bench        the quick benchmark with tuning: bench/run.ts --quick --tune --json
#   dit-block    one 14B DiT block (dim 5120, 40 x 128 heads) forward at EgoX's 28,028 tokens
#                with random bf16 weights, resident (bench/dit-block.ts)
#   dit-stream   the same block with its weights streamed at every forward
#   demo         egox demo --size 448 --steps 2
# and writes into OUTDIR: <step>.log (stdout + stderr), <step>.json (the step's numbers),
# env.txt (date, load, commit, node, nvidia-smi) and summary.tsv (step, exit code, seconds;
# 124 = hit its time limit). A failing step does not stop the others; the script's exit code
# is 0 when all passed, 1 otherwise, 2 for bad usage.
#
# --dry shrinks every size so the whole script runs on lavapipe in a few minutes (CI runs it:
# test/bench/gpu-check.test.ts): the bench runs only its splat cases without peers, the DiT
# block is dim 256 at 88 tokens, the demo 64 px, 5 frames, 1 step.
#
# Installing without network: the script needs node_modules (tsx, webgpu; tfjs for the bench's
# peers, which are skipped when absent). It uses ./node_modules when present; otherwise it
# unpacks $EGOX_NODE_MODULES_TAR (default .cache/node_modules.tar.gz), a tarball made here with
#   tar -czhf .cache/node_modules.tar.gz --exclude='node_modules/webgpu/dist/[dw]*' \
#       --exclude='node_modules/webgpu/dist/linux-arm64' node_modules
# (37 MB on 2026-12-07, tfjs included; .cache/ is git-ignored, so carry it with the checkout). `npm ci --offline` cannot work there
# without a populated npm cache, so the script never calls npm.

set -u

usage() {
  echo "gpu-check: $1 (usage: bench/gpu-check.sh OUTDIR [--dry])" >&2
  exit 2
}

[ $# -ge 1 ] || usage "missing OUTDIR"
OUT=$1
DRY=0
shift
for a in "$@"; do
  case "$a" in
    --dry) DRY=1 ;;
    *) usage "unknown option '$a'" ;;
  esac
done
case "$OUT" in -*) usage "OUTDIR '$OUT' looks like an option" ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT" || usage "cannot create OUTDIR '$OUT'"
OUT=$(cd "$OUT" && pwd)
cd "$ROOT" || exit 1

if [ ! -e node_modules/tsx ] || [ ! -e node_modules/webgpu ]; then
  TAR=${EGOX_NODE_MODULES_TAR:-.cache/node_modules.tar.gz}
  if [ -f "$TAR" ]; then
    tar -xzf "$TAR" || { echo "gpu-check: could not unpack $TAR" >&2; exit 2; }
  else
    echo "gpu-check: no node_modules and no $TAR: carry node_modules or make the tarball (see the header of bench/gpu-check.sh)" >&2
    exit 2
  fi
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "uptime: $(uptime)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "node: $(node --version)"
  echo "dry: $DRY"
  echo "nproc: $(nproc)"
  if command -v nvidia-smi > /dev/null; then nvidia-smi 2>&1; else echo "nvidia-smi: not found"; fi
} > "$OUT/env.txt"

printf 'step\texit\tseconds\n' > "$OUT/summary.tsv"
FAILED=0

# run STEP LIMIT_S JSON(0|1) CMD...: stdout to STEP.json when JSON=1, everything to STEP.log.
run() {
  local step=$1 limit=$2 json=$3
  shift 3
  local var="EGOX_CHECK_$(echo "$step" | tr 'a-z-' 'A-Z_')_S"
  limit=${!var:-$limit}
  echo "== $step (limit ${limit}s): $*" | tee -a "$OUT/$step.log" >&2
  local t0=$SECONDS rc
  if [ "$json" = 1 ]; then
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$step.json" 2>> "$OUT/$step.log"
  else
    timeout --kill-after=10 "$limit" "$@" >> "$OUT/$step.log" 2>&1
  fi
  rc=$?
  printf '%s\t%s\t%s\n' "$step" "$rc" "$((SECONDS - t0))" >> "$OUT/summary.tsv"
  echo "== $step: exit $rc after $((SECONDS - t0)) s" | tee -a "$OUT/$step.log" >&2
  [ "$rc" = 0 ] || FAILED=1
}

TSX=(node --import tsx)
if [ "$DRY" = 1 ]; then
  run info 120 1 node bin/egox.js info --json
  run bench 300 1 "${TSX[@]}" bench/run.ts --quick --tune --no-peers --only splat --json
  run dit-block 300 1 "${TSX[@]}" bench/dit-block.ts --dry --rounds 2 --out "$OUT/dit-block.result.json"
  run dit-stream 300 1 "${TSX[@]}" bench/dit-block.ts --dry --stream --rounds 2 --out "$OUT/dit-stream.result.json"
  run demo 600 1 node bin/egox.js demo --size 64 --frames 5 --steps 1 --json --out "$OUT/demo" --weights "$OUT/demo-weights"
else
  run info 60 1 node bin/egox.js info --json
  run bench 180 1 "${TSX[@]}" bench/run.ts --quick --tune --json
  run dit-block 150 1 "${TSX[@]}" bench/dit-block.ts --rounds 3 --out "$OUT/dit-block.result.json"
  run dit-stream 120 1 "${TSX[@]}" bench/dit-block.ts --stream --rounds 2 --out "$OUT/dit-stream.result.json"
  run demo 180 1 node bin/egox.js demo --size 448 --steps 2 --json --out "$OUT/demo" --weights "$OUT/demo-weights"
fi

echo "uptime after: $(uptime)" >> "$OUT/env.txt"
cat "$OUT/summary.tsv" >&2
exit "$FAILED"
