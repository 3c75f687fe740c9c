"""`opik-otel --help`, each subcommand's help, bad arguments, and `doctor`."""

from __future__ import annotations

import pytest

from tests.cli._columns import assert_fits, data_home  # noqa: F401 - a fixture
from tests.cli._run import opik_otel, store_dir
from tests.e2e._helpers import clean_env
from tests.fakes.opik_backend import FakeOpikBackend


def said(text: str) -> str:
    """The output's words, as one line (it is wrapped at 80 columns)."""
    return " ".join(text.split())


@pytest.fixture
def env(tmp_path):
    return clean_env(tmp_path)


def test_help_lists_every_command(env):
    result = opik_otel("--help", env=env)
    assert result.returncode == 0
    for command in ("demo", "view", "upload", "doctor"):
        assert command in result.stdout
    assert "opik-otel demo" in result.stdout


@pytest.mark.parametrize("command", ["demo", "view", "upload", "doctor"])
def test_each_command_has_help(env, command):
    result = opik_otel(command, "--help", env=env)
    assert result.returncode == 0
    assert f"usage: opik-otel {command}" in result.stdout
    assert len(result.stdout.splitlines()) >= 4


@pytest.mark.parametrize("args", [["bogus"], ["view", "--last", "0"], ["view", "--last", "x"], ["upload", "--what"], ["doctor", "extra"]])
def test_bad_arguments_give_one_line_and_exit_2(env, args):
    result = opik_otel(*args, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "error:" in result.stderr


def test_doctor_with_nothing_configured(env):
    result = opik_otel("doctor", env=env)
    assert result.returncode == 0
    out = result.stdout
    assert "exporter in effect local" in said(out)
    assert "endpoint: OK - no server configured: traces are stored locally in" in out
    assert "openai" in out and "instrumented (opik_openai)" in out


def test_doctor_shows_sources_masks_the_key_and_checks_opik(tmp_path):
    with FakeOpikBackend() as backend:
        env = clean_env(tmp_path, OPIK_URL_OVERRIDE=backend.url, OPIK_API_KEY="opik-doctor-secret-123456", OPIK_PROJECT_NAME="from-env",
                        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="opik_anthropic")
        result = opik_otel("doctor", env=env)
        url = backend.url
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "opik-doctor-secret-123456" not in out + result.stderr
    assert "opi…56 (25 chars)" in out
    assert "from-env" in out and "env OPIK_PROJECT_NAME" in out and "env OPIK_URL_OVERRIDE" in out
    assert "exporter in effect opik" in said(out)
    assert f"endpoint: OK - the Opik server at\n    {url}\n  answered in " in out
    assert "not instrumented: disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS (opik_anthropic)" in said(out)


def test_doctor_says_plainly_when_opik_is_unreachable(tmp_path):
    with FakeOpikBackend() as gone:
        url = gone.url
    result = opik_otel("doctor", env=clean_env(tmp_path, OPIK_URL_OVERRIDE=url))
    assert result.returncode == 1
    assert f"endpoint: PROBLEM - cannot reach the Opik server at\n    {url}\n  (URLError: " in result.stdout


def test_doctor_reports_an_invalid_setting(tmp_path):
    result = opik_otel("doctor", env=clean_env(tmp_path, OPIK_URL_OVERRIDE="not a url"))
    assert result.returncode == 1
    assert "configuration: INVALID" in result.stdout and "OPIK_URL_OVERRIDE" in result.stdout


def test_every_line_of_doctor_fits_80_columns(data_home):
    """Paths and URLs on lines of their own, long texts wrapped, whatever is configured."""
    env = clean_env(data_home, XDG_DATA_HOME=str(data_home), COLUMNS="80")
    local = opik_otel("doctor", env=env)
    assert local.returncode == 0, local.stdout + local.stderr
    store = store_dir(env)
    assert f"  local_store_dir              (default)\n    {store}\n" in local.stdout
    assert f"endpoint: OK - no server configured: traces are stored locally in\n    {store}\n  (0 file(s)); " in local.stdout
    assert_fits(local.stdout, store)
    with FakeOpikBackend() as gone:
        url = gone.url
    unreachable = opik_otel("doctor", env={**env, "OPIK_URL_OVERRIDE": url, "OPIK_API_KEY": "opik-doctor-secret-123456",
                                           "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "opik_anthropic,opik_openai",
                                           "OTEL_PYTHON_DISTRO": "distro", "OTEL_PYTHON_CONFIGURATOR": "configurator"})
    assert unreachable.returncode == 1
    assert "disabled by\n                          OTEL_PYTHON_DISABLED_INSTRUMENTATIONS (opik_anthropic)" in unreachable.stdout
    assert_fits(unreachable.stdout, store, url)
    invalid = opik_otel("doctor", env={**env, "OPIK_OTEL_SPOOL_MAX_MB": "lots"})
    assert invalid.returncode == 1
    assert invalid.stdout.startswith("configuration: INVALID\n  invalid setting: env OPIK_OTEL_SPOOL_MAX_MB (spool_max_mb):")
    assert_fits(invalid.stdout)
