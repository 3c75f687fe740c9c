"""`OpikTracer`: trace one LangChain invocation, Opik-SDK style (`config={"callbacks": [OpikTracer()]}`)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from opentelemetry import trace

from opik_otel._content import content_policy
from opik_otel.instrumentors._callbacks import RunSpans
from opik_otel.instrumentors._framework import handler_attributes
from opik_otel.instrumentors.langchain.callbacks import OpikCallbackHandler
from opik_otel.instrumentors.langchain.instrumentor import _SCOPE, active_runs


class OpikTracer(OpikCallbackHandler):
    """A LangChain callback handler tracing the runs it is passed to.

    `project_name` routes the trace to that Opik project, `tags` and `metadata` go on every span,
    `thread_id` groups the trace into an Opik thread. With `LangChainInstrumentor` on as well,
    both share one run map: each run still gets one span.
    """

    def __init__(
        self,
        project_name: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        thread_id: str | None = None,
    ) -> None:
        from opik_otel import __version__

        extra = handler_attributes(project_name, tags, metadata, thread_id)
        runs = active_runs() or RunSpans(trace.get_tracer(_SCOPE, __version__))
        super().__init__(runs, content_policy, extra)
