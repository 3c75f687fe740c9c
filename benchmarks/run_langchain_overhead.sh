#!/usr/bin/env bash
# Runs the LangChain / LangGraph overhead benchmark (langchain_overhead.py) for every
# configuration x workload, each in its own environment (benchmarks/setup.sh lc-opik-otel
# lc-openinference lc-openllmetry), one process at a time, and prints the Markdown table.
# Results: benchmarks/results/langchain-overhead-<date>.json (+ .md).
#
#   bash benchmarks/run_langchain_overhead.sh                         # 3 processes x 8 pairs x 50 runs
#   bash benchmarks/run_langchain_overhead.sh --procs 3 --blocks 6 --block-size 20 --warmup 20   # ~5 min
#   LC_OURS_VENV=.venvs/langchain-latest bash benchmarks/run_langchain_overhead.sh   # ours in another env
#
# Flags: --blocks N (block pairs per process, default 8), --block-size N (runs per block,
# default 50), --warmup N (default 50), --procs N (processes per config x workload, default 3),
# --configs "...", --workloads "...", --out FILE.
# Environments: LC_OURS_VENV (none, opik-otel-off, opik-otel-on; default .venvs/lc-opik-otel),
# LC_OPENINFERENCE_VENV, LC_OPENLLMETRY_VENV (default .venvs/lc-openinference, lc-openllmetry).
# Each repetition runs every config x workload before the next starts (drift spreads evenly).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="$HERE/.venvs"
OURS="${LC_OURS_VENV:-$VENVS/lc-opik-otel}"
OPENINFERENCE="${LC_OPENINFERENCE_VENV:-$VENVS/lc-openinference}"
OPENLLMETRY="${LC_OPENLLMETRY_VENV:-$VENVS/lc-openllmetry}"

BLOCKS=8
BLOCK_SIZE=50
WARMUP=50
PROCS=3
CONFIGS="none opik-otel-off opik-otel-on openinference openinference-off openllmetry openllmetry-off"
WORKLOADS="lcel graph"
OUT=""

while [ $# -gt 0 ]; do
  case "$1" in
    --blocks) BLOCKS="$2"; shift 2 ;;
    --block-size) BLOCK_SIZE="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --procs) PROCS="$2"; shift 2 ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --workloads) WORKLOADS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done

OUT="${OUT:-$HERE/results/langchain-overhead-$(date +%Y-%m-%d).json}"
mkdir -p "$(dirname "$OUT")" "$HERE/results"
RUNS="$(mktemp -d "$HERE/results/.lc-runs-XXXXXX")"
trap 'rm -rf "$RUNS"' EXIT

venv_of() {
  case "$1" in
    openinference*) echo "$OPENINFERENCE" ;;
    openllmetry*) echo "$OPENLLMETRY" ;;
    *) echo "$OURS" ;;
  esac
}

start=$(date +%s)
for rep in $(seq 1 "$PROCS"); do
  for workload in $WORKLOADS; do
    for config in $CONFIGS; do
      py="$(venv_of "$config")/bin/python"
      tag="$rep-$workload-$config"
      out="$RUNS/$tag.json"
      err="$RUNS/$tag.err"
      if [ ! -x "$py" ]; then
        msg="no environment $(venv_of "$config") (run benchmarks/setup.sh)"
      else
        "$py" "$HERE/langchain_overhead.py" --config "$config" --workload "$workload" --blocks "$BLOCKS" \
          --block-size "$BLOCK_SIZE" --warmup "$WARMUP" --json "$out" 2>"$err" | sed "s/^/[$rep] /"
        [ -s "$out" ] && continue
        msg="$(grep -v 'Warning\|masked_value' "$err" | tail -3 | tr '\n' ' ')"
      fi
      echo "[$rep] $workload $config FAILED: $msg" >&2
      python3 -c 'import json,sys; json.dump({"workload": sys.argv[1], "config": sys.argv[2], "rep": int(sys.argv[3]), "error": sys.argv[4]}, open(sys.argv[5], "w"))' \
        "$workload" "$config" "$rep" "$msg" "$out"
    done
  done
done
rm -f "$RUNS"/*.err
echo "elapsed: $(( $(date +%s) - start )) s" >&2

settings=$(printf '{"blocks": %s, "block_size": %s, "warmup": %s, "procs": %s}' "$BLOCKS" "$BLOCK_SIZE" "$WARMUP" "$PROCS")
echo
python3 "$HERE/langchain_overhead.py" --report "$RUNS" --out "$OUT" --md "${OUT%.json}.md" --settings "$settings"
echo
echo "results: $OUT"
