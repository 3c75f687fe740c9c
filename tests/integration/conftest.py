"""Fixtures shared by the integration tests: an in-memory span exporter, a TracerProvider that
feeds it through the usage/cost processor, and that provider set as the global one; the fake
OpenAI server (`srv`, which a folder with another fake overrides) and the requests made to it,
the content switch, the OpenAI instrumentor, the fake Opik back end of the zero-code tests; and
two checks a folder turns on for all its tests by overriding them as autouse fixtures
(`no_context_errors`, `spans_end_exactly_once`).

Only OpenTelemetry, opik_otel and the fakes are imported here: each provider's directory imports
(or importorskips) its SDK in its own conftest, which adds the instrumentor and the clients."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from opik_otel import UsageCostSpanProcessor
from opik_otel.instrumentors.openai import OpenAIInstrumentor
from tests.fakes.openai_server import FakeOpenAIServer


@contextlib.contextmanager
def global_tracer_provider(provider: TracerProvider, monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """`provider` as the global TracerProvider inside the block, the previous one restored after it
    (and `ensure_configured` a no-op, so that the track_* helpers configure nothing)."""
    import opik_otel._configure

    monkeypatch.setattr(opik_otel._configure, "ensure_configured", lambda: None)
    saved = trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    trace.set_tracer_provider(provider)
    try:
        yield provider
    finally:
        trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = saved


def instrumented(instrumentor_class: type, provider: TracerProvider, capture_content: bool) -> Iterator[object]:
    """For a fixture (`yield from`): the instrumentor, instrumented on the test's provider with the
    test's content switch, uninstrumented after the test."""
    instrumentor = instrumentor_class()
    instrumentor.instrument(tracer_provider=provider, capture_content=capture_content)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter):
    provider = TracerProvider()
    provider.add_span_processor(UsageCostSpanProcessor(SimpleSpanProcessor(exporter)))
    yield provider
    provider.shutdown()


@pytest.fixture
def global_provider(provider, monkeypatch):
    """`provider` as the global TracerProvider for this test only (the track_* helpers read the global one)."""
    with global_tracer_provider(provider, monkeypatch):
        yield provider


@pytest.fixture(scope="session")
def srv():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def requests_made(srv):
    """The fake's requests to `path_end` made during this test (a callable: call it after the run)."""
    before = len(srv.requests)
    return lambda path_end="/chat/completions": [r for r in srv.requests[before:] if r["path"].endswith(path_end)]


@pytest.fixture
def capture_content():
    """Whether the instrumentors record content; a test module overrides this fixture to turn it off."""
    return True


@pytest.fixture
def openai_instrumentor(provider, capture_content):
    yield from instrumented(OpenAIInstrumentor, provider, capture_content)


@pytest.fixture
def backend():
    """The fake Opik back end (it validates bodies with the opik package) for the zero-code tests."""
    from tests.fakes.opik_backend import FakeOpikBackend

    with FakeOpikBackend() as backend:
        yield backend


@pytest.fixture
def no_context_errors(caplog):
    """No run may make OpenTelemetry log "Failed to detach context", nor leave a context attached."""
    from opentelemetry import context as otel_context

    before = otel_context.get_current()
    with caplog.at_level(logging.DEBUG, logger="opentelemetry.context"):
        yield
    assert "Failed to detach context" not in caplog.text
    assert otel_context.get_current() is before


class _EndedTwice(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "ended span" in record.getMessage():
            self.messages.append(record.getMessage())


@pytest.fixture
def spans_end_exactly_once():
    """The SDK logs "Calling end() on an ended span." on a second end() (and "Setting attribute on
    ended span." for late writes): no test may trigger either."""
    handler = _EndedTwice()
    sdk_logger = logging.getLogger("opentelemetry.sdk.trace")
    sdk_logger.addHandler(handler)
    yield
    sdk_logger.removeHandler(handler)
    assert handler.messages == [], "a span was ended twice or written to after it ended"
