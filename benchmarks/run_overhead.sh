#!/usr/bin/env bash
# Runs the per-call overhead benchmark for every configuration x mode, each in its own
# environment (built by benchmarks/setup.sh), in separate processes, one after another,
# and prints the Markdown table. Results: benchmarks/results/overhead-<date>.json (+ .md).
#
#   bash benchmarks/run_overhead.sh                    # the full run (~12-15 min on 2 cores)
#   bash benchmarks/run_overhead.sh --quick            # a smoke run (~3 min)
#   bash benchmarks/run_overhead.sh --configs "none opik-otel-off official" --modes chat --procs 5
#   bash benchmarks/run_overhead.sh --provider "anthropic bedrock"   # ~6 min; one table per provider
#   bash benchmarks/run_overhead.sh --provider genai --block-size 60   # google-genai and its peers
#
# Flags: --provider "..." (openai, anthropic, bedrock, genai, litellm; default openai), --blocks N (block
# pairs per process, default 8), --block-size N (calls per block, default 100), --warmup N
# (default 50), --procs N (processes per config x mode, default 3), --configs "...",
# --modes "...", --flush block|never, --env KEY=VALUE (passed to overhead.py; repeatable),
# --out FILE.
# Without --configs / --modes each provider runs what it supports: openai every config,
# anthropic and bedrock none, opik-otel-off and opik-otel-on; bedrock no async mode; genai
# ours, official(-on) and openinference(-off) in genai-* environments.
# The default output of a run with other providers than openai is
# results/overhead-<providers>-<date>.json.
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
PROVIDERS="openai"
CONFIGS=""
MODES=""
OUT=""
ENVS=()

while [ $# -gt 0 ]; do
  case "$1" in
    --blocks) BLOCKS="$2"; shift 2 ;;
    --block-size) BLOCK_SIZE="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --procs) PROCS="$2"; shift 2 ;;
    --provider|--providers) PROVIDERS="$2"; shift 2 ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --modes) MODES="$2"; shift 2 ;;
    --flush) FLUSH="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --env) ENVS+=(--env "$2"); shift 2 ;;
    --quick) BLOCKS=3; BLOCK_SIZE=40; WARMUP=40; PROCS=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done

if [ "$PROVIDERS" = "openai" ]; then
  OUT="${OUT:-$HERE/results/overhead-$(date +%Y-%m-%d).json}"
else
  OUT="${OUT:-$HERE/results/overhead-$(echo $PROVIDERS | tr ' ' '-')-$(date +%Y-%m-%d).json}"
fi
mkdir -p "$(dirname "$OUT")" "$HERE/results"
RUNS="$(mktemp -d "$HERE/results/.runs-XXXXXX")"
trap 'rm -rf "$RUNS"' EXIT

venv_of() {  # config [provider]
  case "${2:-}:$1" in
    genai:none|genai:opik-otel-off|genai:opik-otel-on) echo genai-opik-otel ;;
    genai:official*) echo genai-official ;;
    genai:openinference*) echo genai-openinference ;;
    litellm:none|litellm:opik-otel-off|litellm:opik-otel-on) echo litellm-opik-otel ;;
    litellm:openinference*) echo litellm-openinference ;;
    *:none|*:opik-otel-off|*:opik-otel-on) echo opik-otel ;;
    *) echo "$1" ;;
  esac
}

configs_of() {  # the configurations a provider runs unless --configs says otherwise
  if [ -n "$CONFIGS" ]; then echo "$CONFIGS"; return; fi
  case "$1" in
    openai) echo "none opik-otel-off opik-otel-on official openllmetry openinference opik-sdk" ;;
    genai) echo "none opik-otel-off opik-otel-on official official-on openinference openinference-off" ;;
    litellm) echo "none opik-otel-off opik-otel-on openinference openinference-off" ;;
    *) echo "none opik-otel-off opik-otel-on" ;;
  esac
}

modes_of() {
  if [ -n "$MODES" ]; then echo "$MODES"; return; fi
  case "$1" in
    bedrock) echo "chat stream" ;;  # botocore has no async client
    *) echo "chat stream async" ;;
  esac
}

start=$(date +%s)
for rep in $(seq 1 "$PROCS"); do
  for provider in $PROVIDERS; do
    for mode in $(modes_of "$provider"); do
      for config in $(configs_of "$provider"); do
        py="$VENVS/$(venv_of "$config" "$provider")/bin/python"
        tag="$rep-$provider-$config-$mode"
        out="$RUNS/$tag.json"
        err="$RUNS/$tag.err"
        if [ ! -x "$py" ]; then
          msg="no environment $(venv_of "$config" "$provider") (run benchmarks/setup.sh)"
        else
          "$py" "$HERE/overhead.py" --provider "$provider" --config "$config" --mode "$mode" --blocks "$BLOCKS" \
            --block-size "$BLOCK_SIZE" --warmup "$WARMUP" --flush "$FLUSH" ${ENVS[@]+"${ENVS[@]}"} --json "$out" 2>"$err" \
            | sed "s/^/[$rep] /"
          [ -s "$out" ] && continue
          msg="$(grep -v '^OPIK:' "$err" | tail -3 | tr '\n' ' ')"
        fi
        echo "[$rep] $provider $config $mode FAILED: $msg" >&2
        python3 -c 'import json,sys; json.dump({"provider": sys.argv[1], "config": sys.argv[2], "mode": sys.argv[3], "rep": int(sys.argv[4]), "error": sys.argv[5]}, open(sys.argv[6], "w"))' \
          "$provider" "$config" "$mode" "$rep" "$msg" "$out"
      done
    done
  done
done
rm -f "$RUNS"/*.err
echo "elapsed: $(( $(date +%s) - start )) s" >&2

settings=$(printf '{"blocks": %s, "block_size": %s, "warmup": %s, "procs": %s, "flush": "%s", "providers": "%s"}' \
  "$BLOCKS" "$BLOCK_SIZE" "$WARMUP" "$PROCS" "$FLUSH" "$PROVIDERS")
echo
python3 "$HERE/overhead_report.py" "$RUNS" --out "$OUT" --md "${OUT%.json}.md" --settings "$settings"
echo
echo "results: $OUT"
