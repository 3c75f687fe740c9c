"""Every test gets its own spool folder, so no test reads or fills the user's real one."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_spool(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("OPIK_OTEL_SPOOL_DIR", str(tmp_path_factory.mktemp("spool")))


@pytest.fixture(autouse=True, scope="session")
def _prices_loaded():
    """The price data loads in the background in real use; tests that check a span synchronously
    need it loaded (the deferral itself is tested in test_processor.py, in a fresh process)."""
    from opik_otel._pricing import wait_ready

    assert wait_ready(60)
