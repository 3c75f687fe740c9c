#!/usr/bin/env bash
# Creates one virtual environment per benchmark configuration under benchmarks/.venvs/<name>,
# all on Python 3.11, with uv. Re-running rebuilds them from scratch.
#
#   bash benchmarks/setup.sh              # every environment
#   bash benchmarks/setup.sh official     # only the named ones
#
# Environments (the overhead harness is self-contained: stdlib + openai + opentelemetry-sdk,
# so the peers' environments do not install opik-otel):
#   opik-otel      this repository, editable, [openai,anthropic,bedrock,otlp,test] + anthropic
#                  and boto3   (configs none, opik-otel-off, opik-otel-on; every --provider)
#   official       the official OTel GenAI OpenAI instrumentation, built on opentelemetry-util-genai
#   openllmetry    Traceloop's opentelemetry-instrumentation-openai
#   openinference  Arize's openinference-instrumentation-openai
#   opik-sdk       the Opik SDK (opik.integrations.openai.track_openai)
# LangChain / LangGraph (langchain_overhead.py; all on the same LANGCHAIN_SPEC):
#   lc-opik-otel       this repository, editable, [openai,langchain,otlp,test] (configs none,
#                      opik-otel-off, opik-otel-on; any environment with these packages will do:
#                      run_langchain_overhead.sh takes LC_OURS_VENV=…)
#   lc-openinference   Arize's openinference-instrumentation-langchain
#   lc-openllmetry     Traceloop's opentelemetry-instrumentation-langchain
# LlamaIndex (framework_overhead.py --framework llama_index; all on LLAMA_INDEX_SPEC):
#   li-opik-otel       this repository, editable, [openai,llama-index,otlp] + opik (for the fake
#                      Opik back end; not [test], whose opentelemetry-instrumentation-urllib holds
#                      opentelemetry-instrumentation one release behind the peers')
#   li-openinference   Arize's openinference-instrumentation-llama-index
#   li-openllmetry     Traceloop's opentelemetry-instrumentation-llamaindex
# Haystack (framework_overhead.py --framework haystack; all on HAYSTACK_SPEC):
#   hs-opik-otel       this repository, editable, [openai,haystack,otlp] + opik
#   hs-openinference   Arize's openinference-instrumentation-haystack
#   hs-openllmetry     Traceloop's opentelemetry-instrumentation-haystack
#   hs2-opik-otel, hs2-openinference, hs2-openllmetry
#                      the same on HAYSTACK2_SPEC (haystack-ai 2.x: OpenLLMetry's instrumentor
#                      wraps OpenAIGenerator, which haystack-ai 3 no longer has)
# google-genai (overhead.py --provider genai; all on GENAI_SPEC):
#   genai-opik-otel      this repository, editable, [genai,otlp] + opik (for the fake Opik back end)
#   genai-official       the official opentelemetry-instrumentation-google-genai (util-genai)
#   genai-openinference  Arize's openinference-instrumentation-google-genai
# LiteLLM (overhead.py --provider litellm; all on LITELLM_SPEC):
#   litellm-opik-otel      this repository, editable, [litellm,otlp] + opik
#   litellm-openinference  Arize's openinference-instrumentation-litellm
# DSPy (framework_overhead.py --framework dspy; all on DSPY_SPEC):
#   ds-opik-otel       this repository, editable, [openai,litellm,dspy,otlp] + opik
#   ds-openinference   Arize's openinference-instrumentation-dspy (no OpenLLMetry instrumentation of DSPy exists)
# CrewAI (framework_overhead.py --framework crewai; all on CREWAI_SPEC):
#   cr-opik-otel       this repository, editable, [openai,litellm,crewai,otlp] + opik
#   cr-openinference   Arize's openinference-instrumentation-crewai
# Google ADK (framework_overhead.py --framework adk; all on ADK_SPEC):
#   ad-opik-otel       this repository, editable, [genai,adk,otlp] + opik (also ADK's own tracing alone:
#                      configs native / native-off)
#   ad-openinference   Arize's openinference-instrumentation-google-adk
# In-process comparisons (floors.py crewai / adk: ours and the peer toggled in one process):
#   cr-floors          cr-opik-otel + openinference-instrumentation-crewai and -openai (its LLM spans)
#   ad-floors          ad-opik-otel + openinference-instrumentation-google-adk and the official
#                      google-genai instrumentation (ADK hands it its inference spans)
#
# Versions are pinned so runs are comparable; override with the variables below
# (e.g. OPENAI_SPEC='openai==3.57.0'). Each environment records what it got in
# benchmarks/.venvs/<name>/versions.json.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENVS="$HERE/.venvs"

PYTHON="${PYTHON:-$(python3.11 -c 'import sys; print(sys.executable)')}"
OPENAI_SPEC="${OPENAI_SPEC:-openai==3.57.0}"
ANTHROPIC_SPEC="${ANTHROPIC_SPEC:-anthropic==2.14.0}"
BOTO3_SPEC="${BOTO3_SPEC:-boto3==1.44.8}"
OTEL_SDK_SPEC="${OTEL_SDK_SPEC:-opentelemetry-sdk}"
OFFICIAL_SPEC="${OFFICIAL_SPEC:-opentelemetry-instrumentation-genai-openai==1.3b0 opentelemetry-util-genai==1.3b0}"
OPENLLMETRY_SPEC="${OPENLLMETRY_SPEC:-opentelemetry-instrumentation-openai==0.62.4}"
OPENINFERENCE_SPEC="${OPENINFERENCE_SPEC:-openinference-instrumentation-openai==0.1.66}"
OPIK_SPEC="${OPIK_SPEC:-opik==2.2.122}"
LANGCHAIN_SPEC="${LANGCHAIN_SPEC:-langchain-core==1.8.3 langgraph==1.2.24 langchain-openai==1.8.1 openai==3.60.0}"
LC_OPENINFERENCE_SPEC="${LC_OPENINFERENCE_SPEC:-openinference-instrumentation-langchain==0.1.80}"
LC_OPENLLMETRY_SPEC="${LC_OPENLLMETRY_SPEC:-opentelemetry-instrumentation-langchain==0.62.4}"
LLAMA_INDEX_SPEC="${LLAMA_INDEX_SPEC:-llama-index-core==0.14.25 llama-index-llms-openai==0.8.3 llama-index-embeddings-openai==0.7.0 openai==2.54.0}"
LI_OPENINFERENCE_SPEC="${LI_OPENINFERENCE_SPEC:-openinference-instrumentation-llama-index==4.6.1}"
LI_OPENLLMETRY_SPEC="${LI_OPENLLMETRY_SPEC:-opentelemetry-instrumentation-llamaindex==0.62.4}"
HAYSTACK_SPEC="${HAYSTACK_SPEC:-haystack-ai==3.4.1 openai==3.60.0}"
HAYSTACK2_SPEC="${HAYSTACK2_SPEC:-haystack-ai==2.31.0 openai==3.60.0}"
HS_OPENINFERENCE_SPEC="${HS_OPENINFERENCE_SPEC:-openinference-instrumentation-haystack==0.1.46}"
HS_OPENLLMETRY_SPEC="${HS_OPENLLMETRY_SPEC:-opentelemetry-instrumentation-haystack==0.62.4}"
GENAI_SPEC="${GENAI_SPEC:-google-genai==3.6.1}"
GENAI_OFFICIAL_SPEC="${GENAI_OFFICIAL_SPEC:-opentelemetry-instrumentation-google-genai==1.3b0 opentelemetry-util-genai==1.3b0}"
GENAI_OPENINFERENCE_SPEC="${GENAI_OPENINFERENCE_SPEC:-openinference-instrumentation-google-genai==1.4.14}"
LITELLM_SPEC="${LITELLM_SPEC:-litellm==1.80.17 openai==3.60.0}"
LITELLM_OPENINFERENCE_SPEC="${LITELLM_OPENINFERENCE_SPEC:-openinference-instrumentation-litellm==0.1.51}"
DSPY_SPEC="${DSPY_SPEC:-dspy==3.4.1 litellm==1.105.7}"
DS_OPENINFERENCE_SPEC="${DS_OPENINFERENCE_SPEC:-openinference-instrumentation-dspy==0.1.48}"
CREWAI_SPEC="${CREWAI_SPEC:-crewai==1.15.30}"
CR_OPENINFERENCE_SPEC="${CR_OPENINFERENCE_SPEC:-openinference-instrumentation-crewai==1.1.21}"
ADK_SPEC="${ADK_SPEC:-google-adk==2.13.0 opentelemetry-api==1.44.0 opentelemetry-sdk==1.44.0}"  # ADK 2.x caps OpenTelemetry at 1.44
AD_OPENINFERENCE_SPEC="${AD_OPENINFERENCE_SPEC:-openinference-instrumentation-google-adk==1.0.5}"

# name -> the packages it installs (word-split on purpose)
declare -A SPECS=(
  [opik-otel]="-e $ROOT[openai,anthropic,bedrock,otlp,test] $OPENAI_SPEC $ANTHROPIC_SPEC $BOTO3_SPEC"
  [official]="$OFFICIAL_SPEC $OPENAI_SPEC $OTEL_SDK_SPEC"
  [openllmetry]="$OPENLLMETRY_SPEC $OPENAI_SPEC $OTEL_SDK_SPEC"
  [openinference]="$OPENINFERENCE_SPEC $OPENAI_SPEC $OTEL_SDK_SPEC"
  [opik-sdk]="$OPIK_SPEC $OPENAI_SPEC $OTEL_SDK_SPEC"
  [lc-opik-otel]="-e $ROOT[openai,langchain,otlp,test] $LANGCHAIN_SPEC"
  [lc-openinference]="$LC_OPENINFERENCE_SPEC $LANGCHAIN_SPEC $OTEL_SDK_SPEC"
  [lc-openllmetry]="$LC_OPENLLMETRY_SPEC $LANGCHAIN_SPEC $OTEL_SDK_SPEC"
  [li-opik-otel]="-e $ROOT[openai,llama-index,otlp] $OPIK_SPEC $LLAMA_INDEX_SPEC $OTEL_SDK_SPEC"
  [li-openinference]="$LI_OPENINFERENCE_SPEC $LLAMA_INDEX_SPEC $OTEL_SDK_SPEC"
  [li-openllmetry]="$LI_OPENLLMETRY_SPEC $LLAMA_INDEX_SPEC $OTEL_SDK_SPEC"
  [hs-opik-otel]="-e $ROOT[openai,haystack,otlp] $OPIK_SPEC $HAYSTACK_SPEC $OTEL_SDK_SPEC"
  [hs-openinference]="$HS_OPENINFERENCE_SPEC $HAYSTACK_SPEC $OTEL_SDK_SPEC"
  [hs-openllmetry]="$HS_OPENLLMETRY_SPEC $HAYSTACK_SPEC $OTEL_SDK_SPEC"
  [hs2-opik-otel]="-e $ROOT[openai,haystack,otlp] $OPIK_SPEC $HAYSTACK2_SPEC $OTEL_SDK_SPEC"
  [hs2-openinference]="$HS_OPENINFERENCE_SPEC $HAYSTACK2_SPEC $OTEL_SDK_SPEC"
  [hs2-openllmetry]="$HS_OPENLLMETRY_SPEC $HAYSTACK2_SPEC $OTEL_SDK_SPEC"
  [genai-opik-otel]="-e $ROOT[genai,otlp] $OPIK_SPEC $GENAI_SPEC $OTEL_SDK_SPEC"
  [genai-official]="$GENAI_OFFICIAL_SPEC $GENAI_SPEC $OTEL_SDK_SPEC"
  [genai-openinference]="$GENAI_OPENINFERENCE_SPEC $GENAI_SPEC $OTEL_SDK_SPEC"
  [litellm-opik-otel]="-e $ROOT[litellm,otlp] $OPIK_SPEC $LITELLM_SPEC $OTEL_SDK_SPEC"
  [litellm-openinference]="$LITELLM_OPENINFERENCE_SPEC $LITELLM_SPEC $OTEL_SDK_SPEC"
  [ds-opik-otel]="-e $ROOT[openai,litellm,dspy,otlp] $OPIK_SPEC $DSPY_SPEC $OTEL_SDK_SPEC"
  [ds-openinference]="$DS_OPENINFERENCE_SPEC $DSPY_SPEC $OTEL_SDK_SPEC"
  [cr-opik-otel]="-e $ROOT[openai,litellm,crewai,otlp] $OPIK_SPEC $CREWAI_SPEC $OTEL_SDK_SPEC"
  [cr-openinference]="$CR_OPENINFERENCE_SPEC $CREWAI_SPEC $OTEL_SDK_SPEC"
  [ad-opik-otel]="-e $ROOT[genai,adk,otlp] $OPIK_SPEC $ADK_SPEC"
  [ad-openinference]="$AD_OPENINFERENCE_SPEC $ADK_SPEC"
  [cr-floors]="-e $ROOT[openai,litellm,crewai,otlp] $OPIK_SPEC $CR_OPENINFERENCE_SPEC $OPENINFERENCE_SPEC $CREWAI_SPEC $OTEL_SDK_SPEC"
  [ad-floors]="-e $ROOT[genai,adk,otlp] $OPIK_SPEC $AD_OPENINFERENCE_SPEC $GENAI_OFFICIAL_SPEC $ADK_SPEC"
)
ORDER=(opik-otel official openllmetry openinference opik-sdk lc-opik-otel lc-openinference lc-openllmetry
       li-opik-otel li-openinference li-openllmetry hs-opik-otel hs-openinference hs-openllmetry
       hs2-opik-otel hs2-openinference hs2-openllmetry genai-opik-otel genai-official genai-openinference
       litellm-opik-otel litellm-openinference ds-opik-otel ds-openinference cr-opik-otel cr-openinference
       ad-opik-otel ad-openinference cr-floors ad-floors)

# Packages whose versions the results quote.
KEY_PACKAGES="openai httpx httpx2 opentelemetry-api opentelemetry-sdk opentelemetry-instrumentation \
opentelemetry-semantic-conventions opentelemetry-util-genai opentelemetry-instrumentation-genai-openai \
opentelemetry-instrumentation-openai-v2 opentelemetry-instrumentation-openai \
opentelemetry-semantic-conventions-ai openinference-instrumentation-openai openinference-instrumentation \
openinference-semantic-conventions opik opik-otel genai-prices pydantic wrapt anthropic boto3 botocore \
langchain-core langgraph langchain-openai openinference-instrumentation-langchain \
opentelemetry-instrumentation-langchain llama-index-core llama-index-llms-openai llama-index-embeddings-openai \
openinference-instrumentation-llama-index opentelemetry-instrumentation-llamaindex haystack-ai \
openinference-instrumentation-haystack opentelemetry-instrumentation-haystack \
google-genai opentelemetry-instrumentation-google-genai openinference-instrumentation-google-genai \
litellm openinference-instrumentation-litellm dspy openinference-instrumentation-dspy crewai \
openinference-instrumentation-crewai google-adk openinference-instrumentation-google-adk"

names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${ORDER[@]}")

mkdir -p "$VENVS"
failed=()
for name in "${names[@]}"; do
  spec="${SPECS[$name]:-}"
  if [ -z "$spec" ]; then
    echo "unknown environment: $name (known: ${ORDER[*]})" >&2
    exit 2
  fi
  venv="$VENVS/$name"
  echo "== $name: $spec"
  rm -rf "$venv"
  uv venv -q -p "$PYTHON" "$venv"
  # shellcheck disable=SC2086
  if ! uv pip install -q -p "$venv/bin/python" $spec; then
    echo "!! $name: install failed (see benchmarks/NOTES-peers.md)" >&2
    failed+=("$name")
    continue
  fi
  uv pip list -p "$venv/bin/python" --format json 2>/dev/null \
    | "$venv/bin/python" -c '
import json, platform, sys
key = set(sys.argv[1].split())
pkgs = json.load(sys.stdin)
out = {
    "python": platform.python_version(),
    "key": {p["name"]: p["version"] for p in pkgs if p["name"].lower() in key},
    "all": {p["name"]: p["version"] for p in pkgs},
}
json.dump(out, open(sys.argv[2], "w"), indent=2, sort_keys=True)
print("   " + ", ".join(f"{k} {v}" for k, v in sorted(out["key"].items())))
' "$KEY_PACKAGES" "$venv/versions.json"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
echo "ok: ${names[*]} in $VENVS"
