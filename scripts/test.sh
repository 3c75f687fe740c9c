#!/usr/bin/env bash
# The one test command. Builds one virtual environment per library group (versions
# conflict between groups) and runs the suite in each:
#   latest  newest openai 3.x, anthropic 2.x, boto3, newest OpenTelemetry: the whole suite
#   oldest  the oldest versions we support (openai 1.40, anthropic 0.40, botocore 1.34.116,
#           OpenTelemetry 1.30, genai-prices 0.0.50)
# Usage: bash scripts/test.sh [extra pytest args]   (OPIK_OTEL_TEST_GROUPS="latest" to run one group)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
envs="${OPIK_OTEL_TEST_ENVS:-$root/.venvs}"
python="${PYTHON:-python3}"
groups="${OPIK_OTEL_TEST_GROUPS:-latest oldest}"

command -v uv >/dev/null 2>&1 || "$python" -m pip install -q uv

make_env() {  # make_env NAME REQUIREMENT...
  local name=$1; shift
  uv venv -q --allow-existing -p "$python" "$envs/$name"
  uv pip install -q -p "$envs/$name/bin/python" "$@"
}

run_group() {  # run_group NAME PYTEST-ARGS...
  local name=$1; shift
  echo "== test group: $name"
  (cd "$root" && "$envs/$name/bin/python" -m pytest -p no:cacheprovider "$@")
}

for group in $groups; do
  case "$group" in
    latest)
      make_env latest -e "$root[openai,anthropic,bedrock,otlp,test]" opentelemetry-instrumentation-botocore
      run_group latest tests "${@}"
      ;;
    oldest)
      # The opik package (REST models for the fake back end) needs a newer openai, so this
      # group skips the tests of the Opik exporter, which do not depend on the openai version.
      make_env oldest -e "$root[otlp]" "pytest>=8" "pytest-asyncio>=0.23" "pytest-timeout>=2.3" \
        "openai==1.40.0" "anthropic==0.40.0" "httpx<0.28" "boto3==1.34.116" "botocore==1.34.116" \
        "opentelemetry-api==1.30.0" "opentelemetry-sdk==1.30.0" \
        "opentelemetry-semantic-conventions==0.51b0" "opentelemetry-instrumentation==0.51b0" \
        "opentelemetry-exporter-otlp-proto-http==1.30.0" "opentelemetry-exporter-otlp-proto-grpc==1.30.0" \
        "genai-prices==0.0.50" "wrapt==1.14.1" "pydantic==2.10.0"
      run_group oldest tests/integration tests/tracking tests/unit/test_fake_openai_server.py tests/unit/test_ids.py \
        tests/unit/test_processor.py tests/unit/test_settings.py tests/reliability/test_batch.py \
        tests/reliability/test_spool.py tests/reliability/test_payload.py "${@}"
      ;;
    *) echo "unknown test group: $group" >&2; exit 2 ;;
  esac
done
