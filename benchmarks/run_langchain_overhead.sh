#!/usr/bin/env bash
# Runs the LangChain / LangGraph overhead benchmark (langchain_overhead.py, on framework_overhead.py)
# for every configuration x workload, each in its own environment (benchmarks/setup.sh lc-opik-otel
# lc-openinference lc-openllmetry), one process at a time, and prints the Markdown table:
# run_framework_overhead.sh --framework langchain.
# Results: benchmarks/results/langchain-overhead-<date>.json (+ .md).
#
#   bash benchmarks/run_langchain_overhead.sh                         # 3 processes x 8 pairs x 50 runs
#   bash benchmarks/run_langchain_overhead.sh --procs 3 --blocks 6 --block-size 20 --warmup 20   # ~5 min
#   LC_OURS_VENV=.venvs/langchain-latest bash benchmarks/run_langchain_overhead.sh   # ours in another env
#
# Flags: those of run_framework_overhead.sh (--blocks, --block-size, --warmup, --procs,
# --configs, --workloads, --out).
# Environments: LC_OURS_VENV (none, opik-otel-off, opik-otel-on; default .venvs/lc-opik-otel),
# LC_OPENINFERENCE_VENV, LC_OPENLLMETRY_VENV (default .venvs/lc-openinference, lc-openllmetry).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ -n "${LC_OURS_VENV:-}" ] && export OURS_VENV="$LC_OURS_VENV"
[ -n "${LC_OPENINFERENCE_VENV:-}" ] && export OPENINFERENCE_VENV="$LC_OPENINFERENCE_VENV"
[ -n "${LC_OPENLLMETRY_VENV:-}" ] && export OPENLLMETRY_VENV="$LC_OPENLLMETRY_VENV"
exec bash "$HERE/run_framework_overhead.sh" --framework langchain "$@"
