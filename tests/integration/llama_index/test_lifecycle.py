"""instrument() adds one span handler and one event handler to LlamaIndex's root dispatcher,
uninstrument() removes them; instrumenting again works; an uninstrument() before the app imports
llama_index.core cancels the pending hook."""

from __future__ import annotations

import subprocess
import sys

from llama_index.core.instrumentation import get_dispatcher

from opik_otel.instrumentors.llama_index import LlamaIndexInstrumentor
from opik_otel.instrumentors.llama_index.callbacks import OpikEventHandler, OpikSpanHandler
from tests.integration.spans import tree


def ours() -> tuple[int, int]:
    dispatcher = get_dispatcher()
    return (
        sum(isinstance(h, OpikSpanHandler) for h in dispatcher.span_handlers),
        sum(isinstance(h, OpikEventHandler) for h in dispatcher.event_handlers),
    )


def test_uninstrument_removes_the_handlers_and_instrument_again_traces(provider, exporter, settings, llm):
    from opik_otel.instrumentors.llama_index.tracer import seeds_made

    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    assert ours() == (1, 1)
    instrumentor.instrument(tracer_provider=provider)  # twice: still one pair
    assert ours() == (1, 1)
    instrumentor.uninstrument()
    assert ours() == ((1, 1) if seeds_made() else (0, 0))  # an OpikCallbackHandler made earlier keeps them
    llm.complete("hi")
    assert exporter.get_finished_spans() == ()

    instrumentor.instrument(tracer_provider=provider)
    try:
        llm.complete("hi")
    finally:
        instrumentor.uninstrument()
    assert tree(exporter) == [("text_completion gpt-4o-mini", "CLIENT", None)]


def test_an_uninstrument_before_the_import_cancels_the_hook():
    code = (
        "from opik_otel.instrumentors.llama_index import LlamaIndexInstrumentor\n"
        "i = LlamaIndexInstrumentor(); i.instrument(); i.uninstrument(); i.instrument(); i.uninstrument()\n"
        "from llama_index.core.instrumentation import get_dispatcher\n"
        "d = get_dispatcher()\n"
        "print([type(h).__name__ for h in d.span_handlers], [type(h).__name__ for h in d.event_handlers])\n"
        "i.instrument()\n"
        "print([type(h).__name__ for h in d.span_handlers], [type(h).__name__ for h in d.event_handlers])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout.split("\n")
    assert out[0] == "['NullSpanHandler'] ['NullEventHandler']"  # LlamaIndex's own only
    assert out[1] == "['NullSpanHandler', 'OpikSpanHandler'] ['NullEventHandler', 'OpikEventHandler']"
