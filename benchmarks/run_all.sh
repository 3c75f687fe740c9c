#!/usr/bin/env bash
# Every benchmark, one run: environments, per-call overhead against the peers, start-up,
# pipeline throughput and memory. Results land in benchmarks/results/ (JSON + Markdown);
# benchmarks/README.md quotes the tables of one such run.
#   bash benchmarks/run_all.sh            # ~60 min on 2 cores
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="$HERE/.venvs"
OUT="$HERE/results"
DAY="$(date +%Y-%m-%d)"
mkdir -p "$OUT"

bash "$HERE/setup.sh"
bash "$HERE/run_overhead.sh" --out "$OUT/overhead-$DAY.json"
bash "$HERE/run_overhead.sh" --provider "anthropic bedrock" --out "$OUT/overhead-anthropic-bedrock-$DAY.json"
bash "$HERE/run_langchain_overhead.sh" --out "$OUT/langchain-overhead-$DAY.json"
bash "$HERE/run_framework_overhead.sh" --framework llama_index --out "$OUT/llama-index-overhead-$DAY.json"
bash "$HERE/run_framework_overhead.sh" --framework haystack --out "$OUT/haystack-overhead-$DAY.json"
bash "$HERE/run_framework_overhead.sh" --framework haystack --venv-prefix hs2 --out "$OUT/haystack2-overhead-$DAY.json"

echo "== stream proxy per chunk, in isolation"
"$VENVS/opik-otel/bin/python" "$HERE/stream_chunks.py" --json "$OUT/stream-chunks-$DAY.json"

echo "== start-up (opik-otel environment)"
"$VENVS/opik-otel/bin/python" "$HERE/startup.py" --json "$OUT/startup-$DAY.json"
for peer in official openllmetry openinference; do
  echo "== start-up ($peer environment: its own auto-instrumentation)"
  "$VENVS/$peer/bin/python" "$HERE/startup.py" --peer --json "$OUT/startup-$peer-$DAY.json" || echo "($peer: failed)"
done

echo "== pipeline throughput and memory"
"$VENVS/opik-otel/bin/python" "$HERE/pipeline.py" --json "$OUT/pipeline-$DAY.json"

echo "== floors: the cheapest instrumentation of the same work, beside ours"
for mode in chat async; do
  "$VENVS/opik-otel/bin/python" "$HERE/floors.py" call --provider openai --mode "$mode" --json "$OUT/floors-$DAY.json"
  "$VENVS/genai-opik-otel/bin/python" "$HERE/floors.py" call --provider genai --mode "$mode" --json "$OUT/floors-$DAY.json"
done
for workload in lcel graph; do
  "$VENVS/lc-opik-otel/bin/python" "$HERE/floors.py" langchain --workload "$workload" --json "$OUT/floors-$DAY.json"
done
"$VENVS/ad-floors/bin/python" "$HERE/floors.py" adk --pairs 80 --block-size 20 --json "$OUT/floors-$DAY.json"
"$VENVS/cr-floors/bin/python" "$HERE/floors.py" crewai --pairs 80 --block-size 5 --json "$OUT/floors-$DAY.json"
"$VENVS/opik-otel/bin/python" "$HERE/floors.py" startup --runs 15 --json "$OUT/floors-$DAY.json"
