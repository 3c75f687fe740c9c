#!/usr/bin/env bash
# Runs the per-call overhead benchmark for every configuration x mode, each in its own
# environment (built by benchmarks/setup.sh), in separate processes, one after another,
# and prints the Markdown table. Results: benchmarks/results/overhead-<date>.json (+ .md).
#
#   bash benchmarks/run_overhead.sh                    # the full run (~12-15 min on 2 cores)
#   bash benchmarks/run_overhead.sh --quick            # a smoke run (~3 min)
#   bash benchmarks/run_overhead.sh --configs "none opik-otel-off official" --modes chat --procs 5
#
# Flags: --blocks N (block pairs per process, default 8), --block-size N (calls per block,
# default 100), --warmup N (default 50), --procs N (processes per config x mode, default 3),
# --configs "...", --modes "...", --flush block|never, --out FILE.
# The processes of one repetition run every config x mode before the next repetition
# starts, so that slow drifts of a shared machine spread over all configurations.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="$HERE/.venvs"

BLOCKS=8
BLOCK_SIZE=100
WARMUP=50
PROCS=3
FLUSH=block
CONFIGS="none opik-otel-off opik-otel-on official openllmetry openinference opik-sdk"
MODES="chat stream async"
OUT=""

while [ $# -gt 0 ]; do
  case "$1" in
    --blocks) BLOCKS="$2"; shift 2 ;;
    --block-size) BLOCK_SIZE="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --procs) PROCS="$2"; shift 2 ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --modes) MODES="$2"; shift 2 ;;
    --flush) FLUSH="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --quick) BLOCKS=3; BLOCK_SIZE=40; WARMUP=40; PROCS=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done

OUT="${OUT:-$HERE/results/overhead-$(date +%Y-%m-%d).json}"
mkdir -p "$(dirname "$OUT")" "$HERE/results"
RUNS="$(mktemp -d "$HERE/results/.runs-XXXXXX")"
trap 'rm -rf "$RUNS"' EXIT

venv_of() {
  case "$1" in
    none|opik-otel-off|opik-otel-on) echo opik-otel ;;
    *) echo "$1" ;;
  esac
}

start=$(date +%s)
for rep in $(seq 1 "$PROCS"); do
  for mode in $MODES; do
    for config in $CONFIGS; do
      py="$VENVS/$(venv_of "$config")/bin/python"
      out="$RUNS/$rep-$config-$mode.json"
      err="$RUNS/$rep-$config-$mode.err"
      if [ ! -x "$py" ]; then
        msg="no environment $(venv_of "$config") (run benchmarks/setup.sh)"
      else
        "$py" "$HERE/overhead.py" --config "$config" --mode "$mode" --blocks "$BLOCKS" \
          --block-size "$BLOCK_SIZE" --warmup "$WARMUP" --flush "$FLUSH" --json "$out" 2>"$err" \
          | sed "s/^/[$rep] /"
        [ -s "$out" ] && continue
        msg="$(grep -v '^OPIK:' "$err" | tail -3 | tr '\n' ' ')"
      fi
      echo "[$rep] $config $mode FAILED: $msg" >&2
      python3 -c 'import json,sys; json.dump({"config": sys.argv[1], "mode": sys.argv[2], "rep": int(sys.argv[3]), "error": sys.argv[4]}, open(sys.argv[5], "w"))' \
        "$config" "$mode" "$rep" "$msg" "$out"
    done
  done
done
rm -f "$RUNS"/*.err
echo "elapsed: $(( $(date +%s) - start )) s" >&2

settings=$(printf '{"blocks": %s, "block_size": %s, "warmup": %s, "procs": %s, "flush": "%s"}' \
  "$BLOCKS" "$BLOCK_SIZE" "$WARMUP" "$PROCS" "$FLUSH")
echo
python3 "$HERE/overhead_report.py" "$RUNS" --out "$OUT" --md "${OUT%.json}.md" --settings "$settings"
echo
echo "results: $OUT"
