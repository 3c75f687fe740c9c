"""Every test gets its own spool folder, so no test reads or fills the user's real one."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_spool(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("OPIK_OTEL_SPOOL_DIR", str(tmp_path_factory.mktemp("spool")))
