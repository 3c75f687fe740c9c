"""`OpikHaystackTracer`: Haystack's tracing interface (`haystack.tracing.Tracer`) on `RunSpans`.

Haystack calls `tracer.trace(operation_name, tags, parent_span)` around each pipeline run,
component run, agent run, agent step, model call and tool call; each call is one run of the
callback engine (its own run id; the parent is `parent_span`'s run, else the current context).
What each becomes:

| Haystack operation | our span |
|---|---|
| `haystack.pipeline.run`, `haystack.async_pipeline.run` | `invoke_workflow {pipeline}` (an `OpikConnector`'s name, else metadata `name`, else "pipeline") |
| `haystack.component.run` of a `…Generator` | no span of its own: the provider call under it claims it, else `chat {model}` / `text_completion {model}` from the output `meta` |
| `haystack.component.run` of an `…Embedder` | likewise, `embeddings {model}` |
| `haystack.component.run` of a `…Retriever` | `retrieval`, documents as `output.value` |
| `haystack.component.run` of an `Agent` | `invoke_agent {component}` (the Agent's own `haystack.agent.run` under it is hidden) |
| `haystack.component.run` of a `ToolInvoker` | a span named by the component, `execute_tool {tool}` children from its results when Haystack made no tool spans |
| `haystack.component.run` (any other) | a span named by the component |
| `haystack.agent.run` outside a pipeline | `invoke_agent Agent` |
| `haystack.agent.step` | hidden (its children attach to the agent) |
| `haystack.agent.step.llm`, `haystack.chat_generator.run` | a model run, as a generator |
| `haystack.agent.step.tool` | `execute_tool {tool}` |
| anything else | a span named by the operation |

Content (`input.value`, `output.value`, messages, documents) is recorded only when both
Haystack's content tracing (`HAYSTACK_CONTENT_TRACING_ENABLED`) and our content switch are on;
`set_content_tag` always receives the values, so model, usage and finish reasons are read from
a generator's output `meta` with content off too. Nothing here raises into Haystack.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import weakref
from typing import Any, Callable, Iterator, Mapping

from haystack import tracing as haystack_tracing
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel.instrumentors._callbacks import Attributes, RunSpans
from opik_otel.instrumentors.haystack import readers

logger = logging.getLogger(__name__)

_PIPELINE_RUNS = frozenset({"haystack.pipeline.run", "haystack.async_pipeline.run"})
_MODEL_RUNS = frozenset({"haystack.agent.step.llm", "haystack.chat_generator.run"})
_INPUT_TAGS = frozenset({"haystack.component.input", "haystack.agent.input", "haystack.agent.step.llm.input", "haystack.agent.step.tool.input"})
_OUTPUT_TAGS = frozenset({
    "haystack.component.output", "haystack.component.outputs", "haystack.pipeline.output_data",
    "haystack.agent.output", "haystack.agent.step.llm.output", "haystack.agent.step.tool.output",
})
_ERROR_WRAPPERS = frozenset({"PipelineRuntimeError"})

# What a run becomes.
WORKFLOW, COMPONENT, MODEL, EMBEDDER, RETRIEVER, AGENT, TOOL, TOOL_INVOKER, HIDDEN, OFF = range(10)

_CURRENT: contextvars.ContextVar["OpikSpan | None"] = contextvars.ContextVar("opik_otel_haystack_span", default=None)
_run_ids = itertools.count(1)

#: Live `OpikConnector`s (the pipelines they route are found through them).
connectors: "weakref.WeakSet[Any]" = weakref.WeakSet()


class OpikSpan(haystack_tracing.Span):
    """One Haystack span: a run of `RunSpans`. Keeps the inputs and outputs Haystack hands it
    until the run ends, and reads them only then (and content only when it is on)."""

    __slots__ = ("run_id", "kind", "name", "component_type", "content", "input", "output", "otel_span", "tool_error", "tool_spans", "project")

    def __init__(self, kind: int, name: str = "", component_type: str = "", content: bool = False) -> None:
        self.run_id = next(_run_ids)
        self.kind = kind
        self.name = name
        self.component_type = component_type
        self.content = content
        self.input: Any = None
        self.output: Any = None
        self.otel_span: trace.Span | None = None
        self.tool_error = False
        self.tool_spans = False
        self.project: str | None = None

    def set_tag(self, key: str, value: Any) -> None:
        """Record a tag: inputs and outputs are kept for the run's end; other scalar tags become attributes."""
        try:
            if key in _OUTPUT_TAGS:
                self.output = value
            elif key in _INPUT_TAGS:
                self.input = value
            elif key == "haystack.tool.error":
                self.tool_error = bool(value)
            elif self.otel_span is not None and isinstance(value, (str, bool, int, float)):
                self.otel_span.set_attribute(key, value)
        except Exception:  # pragma: no cover - defensive
            logger.debug("opik-otel: could not record Haystack tag %s", key, exc_info=True)

    def set_content_tag(self, key: str, value: Any) -> None:
        """Content tags too: their non-content facts (model, usage) are read whatever the content switch says."""
        self.set_tag(key, value)

    def raw_span(self) -> Any:
        """The OpenTelemetry span (None for a hidden run or a model run, whose span is the provider's)."""
        return self.otel_span

    def get_correlation_data_for_logs(self) -> dict[str, Any]:
        span = self.otel_span
        if span is None:
            return {}
        context = span.get_span_context()
        return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


class OpikHaystackTracer(haystack_tracing.Tracer):
    """Haystack's tracer, writing OpenTelemetry spans through the callback engine.

    `traces_all`: every pipeline (the instrumentor); else only pipelines holding an `OpikConnector`.
    """

    def __init__(self, runs: RunSpans, content: ContentPolicy, traces_all: bool = True) -> None:
        self.runs = runs
        self.content_policy = content
        self.traces_all = traces_all

    def current_span(self) -> OpikSpan | None:
        """The innermost open Haystack span of this context."""
        return _CURRENT.get()

    @contextlib.contextmanager
    def trace(self, operation_name: str, tags: dict[str, Any] | None = None, parent_span: Any = None) -> Iterator[OpikSpan]:
        """Open a run for `operation_name`; end it (failed, if the block raises) when the block exits."""
        span = self._open(operation_name, tags or {}, parent_span)
        token = _CURRENT.set(span)
        try:
            yield span
        except GeneratorExit:  # the block was abandoned (garbage collected), not failed
            self._close(span, None)
            raise
        except BaseException as error:
            self._close(span, error)
            raise
        else:
            self._close(span, None)
        finally:
            try:
                _CURRENT.reset(token)
            except ValueError:  # exited in another context: nothing of ours to undo there
                pass

    # -- start --

    def _content_enabled(self) -> bool:
        return self.content_policy.enabled and bool(getattr(haystack_tracing.tracer, "is_content_tracing_enabled", False))

    def _open(self, operation: str, tags: Mapping[str, Any], parent_span: Any) -> OpikSpan:
        try:
            parent = parent_span if isinstance(parent_span, OpikSpan) else _CURRENT.get()
            parent_run = parent_span.run_id if isinstance(parent_span, OpikSpan) else None
            if parent is not None and parent.kind == OFF:
                return OpikSpan(OFF)
            if parent is None and operation not in _PIPELINE_RUNS and not self.traces_all:
                return OpikSpan(OFF)
            span = self._classify(operation, tags, parent)
            if span.kind == OFF:
                return span
            self._start(span, operation, tags, parent, parent_run)
            return span
        except Exception:
            logger.debug("opik-otel: could not start a span for Haystack's %s", operation, exc_info=True)
            return OpikSpan(OFF)

    def _classify(self, operation: str, tags: Mapping[str, Any], parent: OpikSpan | None) -> OpikSpan:
        content = self._content_enabled()
        if operation in _PIPELINE_RUNS:
            metadata = tags.get("haystack.pipeline.metadata")
            connector = _connector_of(metadata)
            if connector is None and not self.traces_all and parent is None:
                return OpikSpan(OFF)
            name = getattr(connector, "name", None) or (metadata.get("name") if isinstance(metadata, Mapping) else None) or "pipeline"
            span = OpikSpan(WORKFLOW, str(name), content=content)
            span.project = getattr(connector, "project_name", None)
            span.input = tags.get("haystack.pipeline.input_data")
            span.output = tags.get("haystack.pipeline.output_data")
            return span
        component_type = str(tags.get("haystack.component.type") or "")
        if operation == "haystack.component.run":
            name = str(tags.get("haystack.component.name") or component_type or "component")
            if component_type.endswith("Generator"):
                return OpikSpan(MODEL, name, component_type, content)
            if component_type.endswith("Embedder"):
                return OpikSpan(EMBEDDER, name, component_type, content)
            if component_type.endswith("Retriever"):
                return OpikSpan(RETRIEVER, name, component_type, content)
            if component_type == "Agent":
                return OpikSpan(AGENT, name, component_type, content)
            if component_type == "ToolInvoker":
                return OpikSpan(TOOL_INVOKER, name, component_type, content)
            return OpikSpan(COMPONENT, name, component_type, content)
        if operation == "haystack.agent.run":
            if parent is not None and parent.kind == AGENT:
                return OpikSpan(HIDDEN)
            return OpikSpan(AGENT, "Agent", "Agent", content)
        if operation == "haystack.agent.step":
            return OpikSpan(HIDDEN)
        if operation in _MODEL_RUNS:
            return OpikSpan(MODEL, str(tags.get("haystack.component.name") or "chat_generator"), component_type, content)
        if operation == "haystack.agent.step.tool":
            if parent is not None:
                parent.tool_spans = True
            return OpikSpan(TOOL, str(tags.get("haystack.tool.name") or "tool"), content=content)
        return OpikSpan(COMPONENT, operation, content=content)

    def _start(self, span: OpikSpan, operation: str, tags: Mapping[str, Any], parent: OpikSpan | None, parent_run: int | None) -> None:
        runs = self.runs
        kind = span.kind
        if kind == HIDDEN:
            runs.hide(span.run_id, parent_run)
            return
        if kind in (MODEL, EMBEDDER):
            operation_name = sc.GenAiOperation.EMBEDDINGS if kind == EMBEDDER else _operation_of(span)
            claimable: Attributes = {sc.OPIK_METADATA_PREFIX + "haystack.component.name": span.name}
            if span.component_type:
                claimable[sc.OPIK_METADATA_PREFIX + "haystack.component.type"] = span.component_type
            attributes: Attributes = {
                sc.GEN_AI_OPERATION_NAME: operation_name,
                sc.GEN_AI_PROVIDER_NAME: readers.provider_of(span.component_type),
                **claimable,
            }
            runs.defer(span.run_id, parent_run, operation_name, attributes, claimable)
            return
        attributes = {}
        if kind == WORKFLOW:
            name = f"invoke_workflow {span.name}"
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.INVOKE_WORKFLOW
            if span.project:
                attributes[sc.OPIK_PROJECT_NAME] = span.project
        elif kind == AGENT:
            name = f"invoke_agent {span.name}"
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.INVOKE_AGENT
            attributes[sc.GEN_AI_AGENT_NAME] = span.name
        elif kind == RETRIEVER:
            name = "retrieval"
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.RETRIEVAL
        elif kind == TOOL:
            name = f"execute_tool {span.name}"
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.EXECUTE_TOOL
            attributes[sc.GEN_AI_TOOL_NAME] = span.name
        else:
            name = span.name
        if span.component_type:
            attributes["haystack.component.name"] = span.name
            attributes["haystack.component.type"] = span.component_type
        runs.start(span.run_id, parent_run, name, SpanKind.INTERNAL, attributes)
        current = trace.get_current_span()
        span.otel_span = current if getattr(current, "name", None) == name else None

    # -- end --

    def _close(self, span: OpikSpan, error: BaseException | None) -> None:
        if span.kind in (OFF, HIDDEN):
            if span.kind == HIDDEN:
                self.runs.end(span.run_id)
            return
        try:
            if span.kind == MODEL:
                model = readers.generator_model(span.output)
                if model:
                    self.runs.rename(span.run_id, f"{_operation_of(span)} {model}")
            elif span.kind == EMBEDDER:
                model = readers.generator_model(span.output)
                if model:
                    self.runs.rename(span.run_id, f"{sc.GenAiOperation.EMBEDDINGS} {model}")
            if error is not None:
                self.runs.fail(span.run_id, _unwrapped(error) if span.component_type else error, self._end_attributes(span))
            elif span.kind == TOOL and span.tool_error:
                self.runs.fail(span.run_id, ToolInvocationError(span), self._end_attributes(span))
            else:
                if span.kind == TOOL_INVOKER and not span.tool_spans:
                    self._tool_spans(span)
                self.runs.end(span.run_id, self._end_attributes(span))
        except Exception:  # pragma: no cover - defensive
            logger.debug("opik-otel: could not end the span of a Haystack run", exc_info=True)

    def _end_attributes(self, span: OpikSpan) -> Callable[[], Attributes]:
        def read() -> Attributes:
            kind, content = span.kind, span.content
            if kind == MODEL:
                return readers.generator_attributes(span.output, span.input, content)
            if kind == EMBEDDER:
                return readers.embedder_attributes(span.output)
            attributes: Attributes = {}
            inputs = span.input
            if kind == RETRIEVER:
                top_k = inputs.get("top_k") if isinstance(inputs, Mapping) else None
                if isinstance(top_k, int) and not isinstance(top_k, bool):
                    attributes[sc.GEN_AI_REQUEST_TOP_K] = top_k
                if content:
                    query = inputs.get("query") if isinstance(inputs, Mapping) else inputs
                    attributes.update(readers.content_value(sc.INPUT_VALUE, query))
                    documents = span.output.get("documents") if isinstance(span.output, Mapping) else None
                    attributes.update(readers.content_value(sc.OUTPUT_VALUE, readers.documents_rows(documents)))
                return attributes
            if content:
                if inputs is not None:
                    attributes.update(readers.content_value(sc.INPUT_VALUE, inputs))
                if span.output is not None:
                    attributes.update(readers.content_value(sc.OUTPUT_VALUE, span.output))
            return attributes

        return read

    def _tool_spans(self, invoker: OpikSpan) -> None:
        """`execute_tool` children of a `ToolInvoker` run, from its results (Haystack 2.x makes no tool spans)."""
        for result in readers.tool_results(invoker.output):
            origin = getattr(result, "origin", None)
            tool = OpikSpan(TOOL, str(getattr(origin, "tool_name", "") or "tool"), content=invoker.content)
            attributes: Attributes = {sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: tool.name}
            call_id = getattr(origin, "id", None)
            if call_id:
                attributes[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
            self.runs.start(tool.run_id, invoker.run_id, f"execute_tool {tool.name}", SpanKind.INTERNAL, attributes)
            tool.input = getattr(origin, "arguments", None)
            tool.output = getattr(result, "result", None)
            if getattr(result, "error", False):
                self.runs.fail(tool.run_id, ToolInvocationError(tool), self._end_attributes(tool))
            else:
                self.runs.end(tool.run_id, self._end_attributes(tool))


class ToolInvocationError(Exception):
    """A tool call Haystack reports as failed without raising (its ToolInvocationError is caught): the `error.type`."""

    def __init__(self, span: OpikSpan) -> None:
        super().__init__(f"tool {span.name} failed")


def _operation_of(span: OpikSpan) -> str:
    component_type = span.component_type
    if component_type.endswith("Generator") and "Chat" not in component_type:
        return sc.GenAiOperation.TEXT_COMPLETION
    return sc.GenAiOperation.CHAT


def _unwrapped(error: BaseException) -> BaseException:
    """The component's own exception inside Haystack's `PipelineRuntimeError` (what the component raised)."""
    cause = error.__cause__
    return cause if type(error).__name__ in _ERROR_WRAPPERS and cause is not None else error


def _connector_of(metadata: Any) -> Any:
    """The `OpikConnector` added to the pipeline whose metadata this is (found by identity)."""
    if metadata is None:
        return None
    for connector in list(connectors):
        pipeline = getattr(connector, "__haystack_added_to_pipeline__", None)
        if pipeline is not None and getattr(pipeline, "metadata", None) is metadata:
            return connector
    return None
