#!/usr/bin/env bash
# The one set-up and test command. Builds (or refreshes) one virtual environment per library
# group under .venvs/ (versions conflict between groups) and runs the suite in each:
#   latest  newest openai 3.x, anthropic 2.x, boto3, google-genai, newest OpenTelemetry: the whole suite
#   oldest  the oldest versions we support (openai 1.40, anthropic 0.40, botocore 1.34.116,
#           OpenTelemetry 1.30, genai-prices 0.0.50)
#   genai-oldest  the google-genai tests with google-genai 1.10.0 and OpenTelemetry 1.30
#   <framework>-latest / <framework>-oldest  one framework's tests (tests/integration/<framework>,
#           tests/reliability/test_<framework>*.py) with the newest / the oldest versions of that
#           framework we support; the other groups leave these tests out. Frameworks:
#     langchain   langchain-core 0.3.23 + langgraph 0.2.57 ... newest (and their partner packages)
#     llama_index llama-index-core 0.12.0 (llms-openai, embeddings-openai 0.3.0) ... newest
#     haystack    haystack-ai 2.13.0 ... newest 3.x
#     litellm     litellm (it needs openai < 3)
#     aisuite     aisuite (it needs anthropic < 1)
#     generativeai  google-generativeai, the older Google SDK (its protobuf cannot go with latest's)
#     dspy        dspy (LiteLLM underneath)
#     crewai      crewai (OpenTelemetry >= 1.45.1)
#     adk         google-adk 1.x (oldest) and 2.x (latest; it caps OpenTelemetry at 1.44)
# Usage: bash scripts/test.sh [--setup-only] [--dry-run] [pytest options] [test paths]
#   --setup-only  build the environments, run no tests (the README's development set-up)
#   --dry-run     print the commands instead of running them
#   test paths    run only these (a file, folder or node id), in each group that runs them
# OPIK_OTEL_TEST_GROUPS="latest" runs one group; OPIK_OTEL_TEST_ENVS puts the environments
# elsewhere; PYTHON picks the interpreter (python3). uv builds the environments: the one on
# PATH, else a copy installed into "$envs/.tools" (never into the system interpreter).
# Exits with pytest's status: the first failing group's, after every group has run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
envs="${OPIK_OTEL_TEST_ENVS:-$root/.venvs}"
python="${PYTHON:-python3}"
frameworks="langchain llama_index haystack litellm aisuite generativeai dspy crewai adk"
known_groups="latest oldest genai-oldest"
for framework in $frameworks; do known_groups+=" ${framework//_/-}-latest ${framework//_/-}-oldest"; done
groups="${OPIK_OTEL_TEST_GROUPS:-$known_groups}"

setup_only=false dry_run=false options=() selected=()
for arg in "$@"; do
  case "$arg" in
    --setup-only) setup_only=true ;;
    --dry-run) dry_run=true ;;
    -*) options+=("$arg") ;;
    *) if [[ -e "$root/${arg%%::*}" ]]; then selected+=("${arg#./}"); else options+=("$arg"); fi ;;
  esac
done

for group in $groups; do
  [[ " $known_groups " == *" $group "* ]] || { echo "unknown test group: $group (groups: $known_groups)" >&2; exit 2; }
done

run() {  # run COMMAND...: run it, or print it in a dry run
  if $dry_run; then echo "$*"; else "$@"; fi
}

uv="$(command -v uv || true)"
if [[ -z "$uv" ]]; then
  uv="$envs/.tools/bin/uv"
  if [[ ! -x "$uv" ]]; then
    run "$python" -m venv "$envs/.tools"
    run "$envs/.tools/bin/python" -m pip install -q uv
  fi
fi

make_env() {  # make_env NAME REQUIREMENT...: create the environment, or bring it up to date
  local name=$1; shift
  run "$uv" venv -q --allow-existing -p "$python" "$envs/$name"
  run "$uv" pip install -q -p "$envs/$name/bin/python" "$@"
}

within() {  # within GROUP-PATH...: the selected tests among these (all of them if none selected)
  if [[ ${#selected[@]} -eq 0 ]]; then printf '%s\n' "$@"; return; fi
  local sel path
  for sel in "${selected[@]}"; do
    for path in "$@"; do
      if [[ "${sel%%::*}" == "$path" || "${sel%%::*}" == "$path"/* ]]; then echo "$sel"; break; fi
      if [[ "$path" == "${sel%/}"/* ]]; then echo "$path"; fi
    done
  done
}

group_tests() {  # the selected tests among $tests, less those under the areas that $ignore leaves out
  local path option area
  while IFS= read -r path; do
    for option in ${ignore[@]+"${ignore[@]}"}; do
      area="${option#--ignore=}" && area="${area#--ignore-glob=}"
      # shellcheck disable=SC2053  # $area is a pattern (--ignore-glob)
      if [[ "$path" == $area || "$path" == $area/* ]]; then continue 2; fi
    done
    echo "$path"
  done < <(within "${tests[@]}")
}

status=0
run_group() {  # run_group NAME TEST-PATH...: run pytest on these tests, leaving out $ignore's areas
  local name=$1; shift
  local ignoring=() option area path
  for option in ${ignore[@]+"${ignore[@]}"}; do  # the --ignore options for areas inside a folder it runs
    area="${option#--ignore=}" && area="${area#--ignore-glob=}"
    for path in "$@"; do
      if [[ "$area" == "${path%/}"/* ]]; then ignoring+=("$option"); break; fi
    done
  done
  echo "== test group: $name"
  local command=("$envs/$name/bin/python" -m pytest -p no:cacheprovider ${options[@]+"${options[@]}"}
    ${ignoring[@]+"${ignoring[@]}"} "$@")
  if $dry_run; then echo "cd $root && ${command[*]}"; return; fi
  local code=0
  (cd "$root" && "${command[@]}") || code=$?
  if [[ $status -eq 0 ]]; then status=$code; fi
}

test_tools=("pytest>=8" "pytest-asyncio>=0.23" "pytest-timeout>=2.3")
oldest_tests=(tests/integration tests/tracking tests/unit/test_fake_openai_server.py tests/unit/test_ids.py
  tests/unit/test_processor.py tests/unit/test_settings.py tests/reliability/test_batch.py
  tests/reliability/test_spool.py tests/reliability/test_payload.py)
# A framework's tests need its groups' libraries: only those groups run them (a framework with
# no tests yet is skipped).
framework_tests() {  # framework_tests NAME: its test folder and reliability files that exist
  cd "$root" && { [[ ! -d "tests/integration/$1" ]] || echo "tests/integration/$1"
                  compgen -G "tests/reliability/test_$1*.py" || true; }
}
not_frameworks=()
for framework in $frameworks; do
  not_frameworks+=("--ignore=tests/integration/$framework" "--ignore-glob=tests/reliability/test_$framework*")
done

framework_group() {  # framework_group NAME: this group runs that framework's tests only
  tests=() ignore=()
  while IFS= read -r path; do tests+=("$path"); done < <(framework_tests "$1")
}

for group in $groups; do
  case "$group" in
    latest)
      requirements=(-e "$root[openai,anthropic,bedrock,otlp,test]" opentelemetry-instrumentation-botocore google-genai)
      tests=(tests) ignore=("${not_frameworks[@]}")
      ;;
    oldest)
      # The opik package (REST models for the fake back end) needs a newer openai, so this
      # group skips the tests of the Opik exporter, which do not depend on the openai version.
      requirements=(-e "$root[otlp]" "${test_tools[@]}"
        "openai==1.40.0" "anthropic==0.40.0" "httpx<0.28" "boto3==1.34.116" "botocore==1.34.116"
        "opentelemetry-api==1.30.0" "opentelemetry-sdk==1.30.0"
        "opentelemetry-semantic-conventions==0.51b0" "opentelemetry-instrumentation==0.51b0"
        "opentelemetry-exporter-otlp-proto-http==1.30.0" "opentelemetry-exporter-otlp-proto-grpc==1.30.0"
        "genai-prices==0.0.50" "wrapt==1.14.1" "pydantic==2.10.0")
      tests=("${oldest_tests[@]}") ignore=("${not_frameworks[@]}")
      ;;
    langchain-latest)
      # langchain (create_agent) and langchain-classic (AgentExecutor) for the agents; the httpx
      # instrumentation for spans of other instrumentation inside a step.
      requirements=(-e "$root[openai,anthropic,langchain]" "${test_tools[@]}" "opik>=1.8"
        opentelemetry-instrumentation-httpx
        langchain-core langgraph langchain-openai langchain-anthropic langchain langchain-classic)
      framework_group langchain
      ;;
    langchain-oldest)
      # LangGraph 0.2.57 (Dec 2024: Command with goto/update/resume, also returned by tools, and
      # interrupt) needs langchain-core >= 0.3.23; the partner packages and anthropic are those
      # of the same weeks (usage_metadata with cache and reasoning tokens). openai floats (< 2):
      # opik needs a newer one than langchain-openai does.
      requirements=(-e "$root[openai,anthropic,langchain]" "${test_tools[@]}" "opik>=1.8"
        opentelemetry-instrumentation-httpx
        "langchain-core==0.3.23" "langgraph==0.2.57" "langchain-openai==0.2.12"
        "langchain-anthropic==0.3.0" "langchain==0.3.10" "anthropic==0.40.0")
      framework_group langchain
      ;;
    llama-index-latest)
      requirements=(-e "$root[openai,llama-index]" "${test_tools[@]}" "opik>=1.8"
        llama-index-core llama-index-llms-openai llama-index-embeddings-openai)
      framework_group llama_index
      ;;
    llama-index-oldest)
      # llama-index-core 0.12.0 (Nov 2024: pydantic 2, the instrumentation dispatcher, workflows)
      # with the partner packages of the same weeks.
      requirements=(-e "$root[openai,llama-index]" "${test_tools[@]}" "opik>=1.8"
        "llama-index-core==0.12.0" "llama-index-llms-openai==0.3.0" "llama-index-embeddings-openai==0.3.0")
      framework_group llama_index
      ;;
    genai-oldest)
      # google-genai >= 1.4 needs httpx >= 0.28.1, which `oldest` (openai 1.40) cannot take: the
      # google-genai tests run here with its oldest supported version and the oldest OpenTelemetry
      # (the newest google-genai runs in `latest`).
      requirements=(-e "$root[genai]" "${test_tools[@]}" "opik>=1.8" "google-genai==1.10.0"
        "opentelemetry-api==1.30.0" "opentelemetry-sdk==1.30.0"
        "opentelemetry-semantic-conventions==0.51b0" "opentelemetry-instrumentation==0.51b0"
        "genai-prices==0.0.50" "wrapt==1.14.1" "pydantic==2.10.0")
      tests=(tests/integration/genai) ignore=()
      ;;
    haystack-latest)
      requirements=(-e "$root[openai,haystack]" "${test_tools[@]}" "opik>=1.8" haystack-ai)
      framework_group haystack
      ;;
    haystack-oldest)
      requirements=(-e "$root[openai,haystack]" "${test_tools[@]}" "opik>=1.8" "haystack-ai==2.13.0")
      framework_group haystack
      ;;
    litellm-latest)
      requirements=(-e "$root[openai,anthropic,litellm]" "${test_tools[@]}" "opik>=1.8" litellm)
      framework_group litellm
      ;;
    litellm-oldest)
      # litellm 1.53.1 (Dec 2024) with an openai of its time (it needs openai < 3; 2.x postdates it).
      requirements=(-e "$root[openai,anthropic,litellm]" "${test_tools[@]}" "opik>=1.8" "litellm==1.53.1" "openai<2")
      framework_group litellm
      ;;
    aisuite-latest)
      # aisuite pins anthropic < 1 in its extras; the provider SDKs we test under it: openai, anthropic.
      requirements=(-e "$root[openai,anthropic,aisuite]" "${test_tools[@]}" "opik>=1.8" aisuite "anthropic<1")
      framework_group aisuite
      ;;
    aisuite-oldest)
      # aisuite 0.1.10 (Feb 2025: the tool loop, `tools=[functions]` with `max_turns`) with the
      # oldest anthropic we support; openai floats (opik needs a newer one). aisuite 0.1.10 imports
      # docstring-parser without declaring it.
      requirements=(-e "$root[openai,anthropic,aisuite]" "${test_tools[@]}" "opik>=1.8" "aisuite==0.1.10" "anthropic==0.40.0"
        docstring-parser)
      framework_group aisuite
      ;;
    generativeai-latest)
      requirements=(-e "$root[generativeai]" "${test_tools[@]}" "opik>=1.8" google-generativeai)
      framework_group generativeai
      ;;
    generativeai-oldest)
      # google-generativeai 0.8.0 pins google-ai-generativelanguage 0.6.9 (the protos read here; 0.8.6: 0.6.15)
      requirements=(-e "$root[generativeai]" "${test_tools[@]}" "opik>=1.8" "google-generativeai==0.8.0")
      framework_group generativeai
      ;;
    dspy-latest)
      requirements=(-e "$root[openai,litellm,dspy]" "${test_tools[@]}" "opik>=1.8" dspy)
      framework_group dspy
      ;;
    dspy-oldest)
      requirements=(-e "$root[openai,litellm,dspy]" "${test_tools[@]}" "opik>=1.8" "dspy==2.6.0")
      framework_group dspy
      ;;
    crewai-latest)  # crewai >= 1.0 calls the openai SDK itself (LiteLLM only as an optional extra)
      requirements=(-e "$root[openai,crewai]" "${test_tools[@]}" "opik>=1.8" crewai)
      framework_group crewai
      ;;
    crewai-oldest)  # the first crewai tested (see instrumentors/crewai/package.py); it calls LiteLLM
      requirements=(-e "$root[openai,litellm,crewai]" "${test_tools[@]}" "opik>=1.8" "crewai==0.130.0")
      framework_group crewai
      ;;
    adk-latest)
      # google-adk 2.x caps OpenTelemetry at 1.44; without ">=2" uv settles on 1.x with a newer OpenTelemetry.
      requirements=(-e "$root[genai,adk]" "${test_tools[@]}" "opik>=1.8" "google-adk>=2" "opentelemetry-api<1.45")
      framework_group adk
      ;;
    adk-oldest)
      # google-adk 1.9.0 (Jul 2025): the first with the whole plugin interface we trace through
      # (1.7 added plugins; 1.9 on_model_error_callback / on_tool_error_callback).
      requirements=(-e "$root[genai,adk]" "${test_tools[@]}" "opik>=1.8" "google-adk==1.9.0")
      framework_group adk
      ;;
  esac
  if $setup_only; then make_env "$group" "${requirements[@]}"; continue; fi
  if [[ ${#tests[@]} -eq 0 ]]; then
    echo "== test group: $group: skipped, no tests yet"
    continue
  fi
  paths=()
  while IFS= read -r path; do paths+=("$path"); done < <(group_tests)
  if [[ ${#paths[@]} -eq 0 ]]; then
    echo "== test group: $group: none of the selected tests run in this group"
    continue
  fi
  make_env "$group" "${requirements[@]}"
  run_group "$group" "${paths[@]}"
done

if $setup_only; then
  echo "Activate the newest libraries' environment with: source $envs/latest/bin/activate"
fi
exit "$status"
