#!/usr/bin/env bash
# Runs the framework overhead benchmark (framework_overhead.py) of one framework for every
# configuration x workload, each in its own environment (benchmarks/setup.sh: <prefix>-opik-otel,
# <prefix>-openinference, <prefix>-openllmetry; prefix lc, li or hs), one process at a time,
# and prints the Markdown table.
# Results: benchmarks/results/<framework>-overhead-<date>.json (+ .md).
#
#   bash benchmarks/run_framework_overhead.sh --framework llama_index      # 3 processes x 8 pairs x 50 runs
#   bash benchmarks/run_framework_overhead.sh --framework haystack --procs 3 --blocks 6 --block-size 20 --warmup 20
#   bash benchmarks/run_framework_overhead.sh --framework haystack --venv-prefix hs2   # on haystack-ai 2.x
#
# Flags: --framework langchain|llama_index|haystack (required), --blocks N (block pairs per
# process, default 8), --block-size N (runs per block, default 50), --warmup N (default 50),
# --procs N (processes per config x workload, default 3), --configs "...", --workloads "...",
# --venv-prefix P (environments P-opik-otel, P-openinference, P-openllmetry), --out FILE,
# --env KEY=VALUE (passed to every process; repeatable). `--env OTEL_BSP_SCHEDULE_DELAY=600000`
# holds every configuration's batch export until the flush after each block (outside the timed
# part): the timed blocks then hold the instrumentation alone, the export CPU is reported apart.
# Environments: OURS_VENV (none, opik-otel-off, opik-otel-on), OPENINFERENCE_VENV, OPENLLMETRY_VENV
# override the prefix's. Each repetition runs every config x workload before the next starts
# (drift spreads evenly).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="$HERE/.venvs"

FRAMEWORK=""
BLOCKS=8
BLOCK_SIZE=50
WARMUP=50
PROCS=3
CONFIGS="none opik-otel-off opik-otel-on openinference openinference-off openllmetry openllmetry-off"
WORKLOADS=""
PREFIX=""
OUT=""
ENVS=()

while [ $# -gt 0 ]; do
  case "$1" in
    --framework) FRAMEWORK="$2"; shift 2 ;;
    --blocks) BLOCKS="$2"; shift 2 ;;
    --block-size) BLOCK_SIZE="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --procs) PROCS="$2"; shift 2 ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --workloads) WORKLOADS="$2"; shift 2 ;;
    --venv-prefix) PREFIX="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --env) ENVS+=(--env "$2"); shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done

case "$FRAMEWORK" in
  langchain) PREFIX="${PREFIX:-lc}"; WORKLOADS="${WORKLOADS:-lcel graph}"; NAME=langchain ;;
  llama_index) PREFIX="${PREFIX:-li}"; WORKLOADS="${WORKLOADS:-query}"; NAME=llama-index ;;
  haystack) PREFIX="${PREFIX:-hs}"; WORKLOADS="${WORKLOADS:-pipeline}"; NAME=haystack ;;
  dspy) PREFIX="${PREFIX:-ds}"; WORKLOADS="${WORKLOADS:-cot}"; NAME=dspy
    CONFIGS="$(for c in $CONFIGS; do [[ $c == openllmetry* ]] || printf '%s ' "$c"; done)" ;;  # no OpenLLMetry DSPy instrumentation
  crewai) PREFIX="${PREFIX:-cr}"; WORKLOADS="${WORKLOADS:-crew}"; NAME=crewai
    CONFIGS="$(for c in $CONFIGS; do [[ $c == openllmetry* ]] || printf '%s ' "$c"; done)" ;;  # OpenInference only (see crewai_overhead.py)
  adk) PREFIX="${PREFIX:-ad}"; WORKLOADS="${WORKLOADS:-turn}"; NAME=adk
    CONFIGS="$(for c in $CONFIGS; do [[ $c == openllmetry* ]] || printf '%s ' "$c"; done)native native-off" ;;  # ADK's own tracing alone (adk_overhead.py)
  *) echo "--framework: langchain, llama_index, haystack, dspy, crewai or adk" >&2; exit 2 ;;
esac
OURS="${OURS_VENV:-$VENVS/$PREFIX-opik-otel}"
OPENINFERENCE="${OPENINFERENCE_VENV:-$VENVS/$PREFIX-openinference}"
OPENLLMETRY="${OPENLLMETRY_VENV:-$VENVS/$PREFIX-openllmetry}"

OUT="${OUT:-$HERE/results/$NAME-overhead-$(date +%Y-%m-%d).json}"
mkdir -p "$(dirname "$OUT")" "$HERE/results"
RUNS="$(mktemp -d "$HERE/results/.$PREFIX-runs-XXXXXX")"
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
        "$py" "$HERE/framework_overhead.py" --framework "$FRAMEWORK" --config "$config" --workload "$workload" \
          --blocks "$BLOCKS" --block-size "$BLOCK_SIZE" --warmup "$WARMUP" "${ENVS[@]}" --json "$out" 2>"$err" | sed "s/^/[$rep] /"
        [ -s "$out" ] && continue
        msg="$(grep -v 'Warning\|masked_value\|^ *\^' "$err" | tail -1 | cut -c1-300)"
      fi
      echo "[$rep] $workload $config FAILED: $msg" >&2
      python3 -c 'import json,sys; json.dump({"workload": sys.argv[1], "config": sys.argv[2], "rep": int(sys.argv[3]), "error": sys.argv[4]}, open(sys.argv[5], "w"))' \
        "$workload" "$config" "$rep" "$msg" "$out"
    done
  done
done
rm -f "$RUNS"/*.err
echo "elapsed: $(( $(date +%s) - start )) s" >&2

settings=$(printf '{"blocks": %s, "block_size": %s, "warmup": %s, "procs": %s, "environments": "%s", "env": "%s"}' \
  "$BLOCKS" "$BLOCK_SIZE" "$WARMUP" "$PROCS" "$PREFIX" "${ENVS[*]:-}")
echo
python3 "$HERE/framework_overhead.py" --framework "$FRAMEWORK" --report "$RUNS" --out "$OUT" --md "${OUT%.json}.md" \
  --settings "$settings"
echo
echo "results: $OUT"
