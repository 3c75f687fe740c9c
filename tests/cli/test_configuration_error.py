"""An invalid setting raises `opik_otel.ConfigurationError`, and is shown under that public name
(in its repr and in a traceback), not under the private module that defines it."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

import opik_otel
from opik_otel._settings import resolve_settings
from tests.e2e._helpers import clean_env


def test_the_error_is_named_by_its_public_path():
    with pytest.raises(opik_otel.ConfigurationError) as caught:
        resolve_settings(url="not a url")
    assert repr(type(caught.value)) == "<class 'opik_otel.ConfigurationError'>"
    assert (type(caught.value).__module__, type(caught.value).__qualname__) == ("opik_otel", "ConfigurationError")
    assert isinstance(caught.value, ValueError)
    copy = pickle.loads(pickle.dumps(caught.value))  # found again by its public name
    assert type(copy) is opik_otel.ConfigurationError and copy.args == caught.value.args


def test_an_uncaught_error_shows_the_public_name_in_the_traceback(tmp_path):
    process = subprocess.run([sys.executable, "-c", "import opik_otel; opik_otel.configure(url='not a url')"],
                             env=clean_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert process.returncode == 1
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith("opik_otel.ConfigurationError: invalid setting: argument url= (")
    assert "opik_otel._settings.ConfigurationError" not in process.stderr
