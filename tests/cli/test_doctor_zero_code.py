"""`opik-otel doctor` says which distro and configurator `opentelemetry-instrument` would load when
another distro (opentelemetry-distro: entry points `distro` and `configurator`) is installed too."""

from __future__ import annotations

import pytest

from tests.cli._run import opik_otel
from tests.e2e._helpers import clean_env

pytest.importorskip("opentelemetry.distro")  # opentelemetry-distro is in the `test` extra

FIX = "set OTEL_PYTHON_DISTRO=opik_otel and OTEL_PYTHON_CONFIGURATOR=opik_otel"
LOADS = "zero code: {verdict} - opentelemetry-instrument loads distro {distro} and configurator {configurator}"


def zero_code_line(tmp_path, **variables: str) -> str:
    result = opik_otel("doctor", "--offline", env=clean_env(tmp_path, **variables))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    (start,) = [index for index, line in enumerate(lines) if line.startswith("zero code:")]
    end = next((index for index in range(start + 1, len(lines)) if not lines[index].startswith("  ")), len(lines))
    return " ".join(line.strip() for line in lines[start:end])  # the entry, wrapped at 80 columns, as one line


@pytest.mark.parametrize("configurator", ["opik_otel", "configurator"])
def test_our_distro_chosen_is_ok_whichever_configurator(tmp_path, configurator):
    line = zero_code_line(tmp_path, OTEL_PYTHON_DISTRO="opik_otel", OTEL_PYTHON_CONFIGURATOR=configurator)
    assert line == LOADS.format(verdict="OK", distro="opik_otel", configurator=configurator)


def test_another_distro_with_our_configurator_is_a_problem(tmp_path):
    line = zero_code_line(tmp_path, OTEL_PYTHON_DISTRO="distro", OTEL_PYTHON_CONFIGURATOR="opik_otel")
    assert line.startswith(LOADS.format(verdict="PROBLEM", distro="distro", configurator="opik_otel") + " (installed distros: ")
    assert "that distro's defaults apply (opentelemetry-distro's sends to OTLP, not Opik)" in line
    assert line.endswith(FIX)


def test_another_distro_and_configurator_is_a_problem(tmp_path):
    line = zero_code_line(tmp_path, OTEL_PYTHON_DISTRO="distro", OTEL_PYTHON_CONFIGURATOR="configurator")
    assert line.startswith(LOADS.format(verdict="PROBLEM", distro="distro", configurator="configurator"))
    assert "nothing reaches opik-otel's pipeline" in line and line.endswith(FIX)


def test_unset_variables_with_two_distros_point_at_the_order(tmp_path):
    """Which distro wins then depends on the order in which Python finds the installed packages."""
    line = zero_code_line(tmp_path)
    assert "opik_otel" in line and "distro" in line
    assert line.endswith("set OTEL_PYTHON_DISTRO=opik_otel not to depend on that order") or line.endswith(FIX)
