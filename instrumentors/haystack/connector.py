"""`OpikConnector`: add it to a pipeline to trace that pipeline's runs to Opik, like Haystack's
other observability connectors (`pipeline.add_component("tracer", OpikConnector("my app"))`)."""

from __future__ import annotations

from typing import Any

from haystack import component
from opentelemetry import trace

from opik_otel._content import content_policy
from opik_otel.instrumentors._callbacks import RunSpans
from opik_otel.instrumentors.haystack import instrumentor as _instrumentor
from opik_otel.instrumentors.haystack import tracer as _tracer


@component
class OpikConnector:
    """Traces the runs of the pipeline it is added to, routed to `project_name`.

    The pipeline span is named `invoke_workflow {name}`. Its output is `{"name": name, "trace_id":
    the Opik trace id of the run}`. With `HaystackInstrumentor` on as well, Haystack keeps one
    tracer (the instrumentor's) and each run still gets one span.
    """

    def __init__(self, name: str, project_name: str | None = None) -> None:
        from opik_otel import __version__
        from opik_otel._configure import ensure_configured
        from haystack import tracing

        ensure_configured()
        self.name = name
        self.project_name = project_name
        _tracer.connectors.add(self)
        current = tracing.tracer.actual_tracer
        if not isinstance(current, _tracer.OpikHaystackTracer):
            runs = RunSpans(trace.get_tracer(_instrumentor._SCOPE, __version__))
            _instrumentor.enable(runs, content_policy, False)

    @component.output_types(name=str, trace_id=str)
    def run(self, invocation_context: dict[str, Any] | None = None) -> dict[str, Any]:
        """The connector's name and the Opik trace id of the pipeline run it is part of ("" outside one)."""
        from opik_otel._distributed import opik_ids

        ids = opik_ids(trace.get_current_span())
        return {"name": self.name, "trace_id": ids[0] if ids else ""}

    def to_dict(self) -> dict[str, Any]:
        from haystack import default_to_dict

        return default_to_dict(self, name=self.name, project_name=self.project_name)
