"""The distro loads other packages' instrumentors, except those for libraries ours instrument
(two inference spans per call otherwise), unless ours is disabled."""

from __future__ import annotations

import pytest

from opik_otel.distro import OpikDistro


class EntryPoint:
    """An `opentelemetry_instrumentor` entry point as `opentelemetry-instrument` hands it over."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.instrumented = False

    def load(self):
        entry = self

        class Instrumentor:
            def instrument(self, **kwargs):
                entry.instrumented = True

        return Instrumentor


@pytest.mark.parametrize("name", ["openai", "openai_v2", "anthropic", "langchain"])
def test_a_peer_instrumentor_for_a_library_we_instrument_is_skipped(name):
    entry = EntryPoint(name)
    OpikDistro().load_instrumentor(entry)
    assert entry.instrumented is False


def test_other_instrumentors_load():
    entry = EntryPoint("requests")
    OpikDistro().load_instrumentor(entry)
    assert entry.instrumented is True


def test_a_peer_loads_when_ours_is_disabled(monkeypatch):
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "opik_langchain")
    entry = EntryPoint("langchain")
    OpikDistro().load_instrumentor(entry)
    assert entry.instrumented is True
