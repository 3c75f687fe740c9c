"""The CrewAI event reader: CrewAI's events, read in the thread that emits them, handed to `RunSpans`.

What each run becomes:

- a crew kickoff (`kickoff`, `kickoff_async`, each `kickoff_for_each` input): `invoke_workflow {crew}`;
- a task: `task {name}` (`task` when unnamed), its description as input and its output;
- an agent working on a task (or `Agent.kickoff`, a lite agent): `invoke_agent {role}`;
- a tool use: `execute_tool {tool}` with its arguments and result;
- an LLM call: no span of its own; the provider call under it (openai, LiteLLM …) claims its
  attributes, else `chat {model}` is made from CrewAI's data when the call ends;
- a Flow: `invoke_workflow {flow}`, each method a child span named by the method; the flows
  CrewAI runs inside an agent (its `AgentExecutor`) are plumbing: no span.

Run ids: crewai >= 1.0 gives every event an id, scope-ending events the id of the event that
opened the scope (`started_event_id`) and every event its parent's (`parent_event_id`); older
versions give none, so a run is keyed by the objects the event names and the emitting thread,
and its parent is the current context (we read events in the emitting thread, with the parent
run's context attached).
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, Callable, Hashable, Mapping

from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel._model_call import claim_model_call
from opik_otel.instrumentors._adapter import response_attributes
from opik_otel.instrumentors._callbacks import Attributes, LateAttributes, RunSpans
from opik_otel.instrumentors._framework import inference_span_name, request_numbers
from opik_otel.instrumentors._read import UNREAD, integer, maybe_json, plain_data
from opik_otel.semconv import messages as msg
from opik_otel.semconv.providers import OPENAI_FINISH_REASONS, finish_reason, known_provider

logger = logging.getLogger(__name__)

_WORKFLOW_PREFIX = "invoke_workflow "
_AGENT_PREFIX = "invoke_agent "
_TOOL_PREFIX = "execute_tool "
#: Flows CrewAI runs for itself (an agent's executor loop in crewai >= 1.x): plumbing, no span.
_INTERNAL_FLOWS = frozenset({"AgentExecutor"})
_REQUEST_PARAMETERS = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P),
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", sc.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
)


class EventError(Exception):
    """A failure CrewAI reported only as text (no exception being handled where it emitted it)."""


def _plain(value: Any, depth: int = 0) -> Any:
    return plain_data(value, _leaf, depth, otherwise=str)


def _leaf(value: Any, depth: int) -> Any:
    raw = getattr(value, "raw", None)  # CrewOutput / TaskOutput: their text
    return raw if isinstance(raw, str) else UNREAD


def _thread() -> int:
    return threading.get_ident()


def _start_id(event: Any, fallback: Hashable) -> Hashable:
    """A start event's run id: CrewAI's event id (>= 1.0), else `fallback` (the objects it names)."""
    return getattr(event, "event_id", None) or fallback


def _end_id(event: Any, fallback: Hashable) -> Hashable:
    """The run id an end event closes: the id of the event that opened it (>= 1.0), else `fallback`."""
    return getattr(event, "started_event_id", None) or fallback


def _parent(event: Any) -> Hashable | None:
    return getattr(event, "parent_event_id", None)


def _task_parent(event: Any, task: Any) -> Hashable | None:
    """A task's parent run: CrewAI's parent event (>= 1.0), else its crew's run: older crewai runs an
    `async_execution` task in a thread of its own that does not carry the crew's context."""
    if hasattr(event, "parent_event_id"):
        return event.parent_event_id
    crew = getattr(getattr(task, "agent", None), "crew", None)
    return ("crew", id(crew)) if crew is not None else None


def _error(event: Any) -> BaseException:
    """The exception CrewAI is handling where it emitted a failure event (the event carries only its
    text), else that text as an `EventError` (an exception the app is handling around the kickoff is
    not the step's: its text differs)."""
    error = getattr(event, "error", None)
    if isinstance(error, BaseException):
        return error
    current = sys.exc_info()[1]
    if isinstance(current, BaseException) and (error is None or str(current) in str(error)):
        return current
    return EventError(str(error))


def _model_and_provider(source: Any, event: Any) -> tuple[str, str]:
    """The model as the app named it, without a `provider/` prefix, and the provider's name."""
    model = str(getattr(event, "model", None) or getattr(source, "model", None) or "")
    provider = getattr(source, "provider", None)
    if "/" in model:
        prefix, rest = model.split("/", 1)
        provider = provider or prefix
        model = rest
    known = known_provider(provider)
    return model, known.name if known else str(provider or "crewai")


def _llm_request(event: Any, model: str, provider: str, capture_content: bool, claimable: Attributes) -> Attributes:
    """An unclaimed LLM call's request attributes, from its `LLMCallStartedEvent`."""
    attributes: Attributes = {sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.CHAT, sc.GEN_AI_PROVIDER_NAME: provider}
    if model:
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
    request_numbers(lambda key: getattr(event, key, None), _REQUEST_PARAMETERS, attributes)
    if capture_content:
        _input_messages(attributes, getattr(event, "messages", None))
        tools = getattr(event, "tools", None)
        if tools:
            attributes[sc.GEN_AI_TOOL_DEFINITIONS] = msg.content_json(_tool_definitions(tools))
    attributes.update(claimable)
    return attributes


def _input_messages(attributes: Attributes, messages: Any) -> None:
    if isinstance(messages, str):
        attributes[sc.GEN_AI_INPUT_MESSAGES] = msg.content_json([msg.message("user", [msg.text_part(messages)])])
        return
    system, rest = [], []
    for message in messages or ():
        if not isinstance(message, Mapping):
            continue
        role = str(message.get("role") or "user")
        content = message.get("content")
        parts = [msg.text_part(content)] if isinstance(content, str) else []
        if role == "system":
            system.extend(parts)
        elif role == "tool":
            rest.append(msg.message("tool", [msg.tool_call_response_part(content, message.get("tool_call_id"))]))
        else:
            for call in message.get("tool_calls") or ():
                function = (call.get("function") or {}) if isinstance(call, Mapping) else {}
                parts.append(msg.tool_call_part(str(function.get("name") or ""), function.get("arguments"), call.get("id")))
            rest.append(msg.message(role, parts))
    if system:
        attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = msg.content_json(system)
    attributes[sc.GEN_AI_INPUT_MESSAGES] = msg.content_json(rest)


def _tool_definitions(tools: Any) -> list[Any]:
    """CrewAI's tool schemas (OpenAI's `{"type": "function", "function": {...}}`) as the conventions' definitions."""
    definitions = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping):
            definitions.append(msg.tool_definition(str(function.get("name") or ""), function.get("description"), _plain(function.get("parameters"))))
        else:
            definitions.append(_plain(tool))
    return definitions


def _usage(usage: Any) -> Attributes:
    """CrewAI's usage dict (crewai >= 1.x): prompt tokens include the cached ones."""
    attributes: Attributes = {}
    if not isinstance(usage, Mapping):
        return attributes
    for key, attribute in (
        ("prompt_tokens", sc.GEN_AI_USAGE_INPUT_TOKENS),
        ("completion_tokens", sc.GEN_AI_USAGE_OUTPUT_TOKENS),
        ("cached_prompt_tokens", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        ("reasoning_tokens", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    ):
        value = integer(usage.get(key))
        if value is not None:
            attributes[attribute] = value
    return attributes


def _llm_result(event: Any, capture_content: bool) -> Attributes:
    """An unclaimed LLM call's response attributes, from `LLMCallCompletedEvent`."""
    reason = getattr(event, "finish_reason", None)
    response = getattr(event, "response", None)
    tool_calls = response if isinstance(response, list) else None
    reason = str(reason or ("tool_calls" if tool_calls else "stop"))
    outputs = None
    if capture_content:
        if tool_calls is not None:
            parts = []
            for call in tool_calls:
                function = (call.get("function") if isinstance(call, Mapping) else getattr(call, "function", None)) or {}
                name = function.get("name") if isinstance(function, Mapping) else getattr(function, "name", None)
                arguments = function.get("arguments") if isinstance(function, Mapping) else getattr(function, "arguments", None)
                call_id = call.get("id") if isinstance(call, Mapping) else getattr(call, "id", None)
                parts.append(msg.tool_call_part(str(name or ""), maybe_json(arguments), call_id))
        else:
            parts = [msg.text_part(response if isinstance(response, str) else msg.to_json(_plain(response)))]
        outputs = [msg.output_message(parts, finish_reason(reason, OPENAI_FINISH_REASONS))]
    model = getattr(event, "model", None)
    return response_attributes(getattr(event, "response_id", None), model, reason, _usage(getattr(event, "usage", None)), outputs)


class CrewAIEvents:
    """Turns CrewAI's events into spans. `handle` is called in the thread that emitted the event."""

    def __init__(self, runs: RunSpans, content: ContentPolicy) -> None:
        self.runs = runs
        self.content = content

    def handle(self, source: Any, event: Any, extra: Attributes | None, trace_new_runs: bool) -> None:
        """Read one event. Start events open runs only when `trace_new_runs`; `extra` (a tracked
        crew's project, …) goes on every span they open. Never raises."""
        try:
            kind = getattr(event, "type", None)
            entry = _HANDLERS.get(kind) if isinstance(kind, str) else None
            if entry is None:
                return
            starts, reader = entry
            if starts and not trace_new_runs:
                return
            reader(self, source, event, extra or {})
        except Exception:
            logger.debug("opik-otel: could not read a CrewAI event", exc_info=True)

    # -- shared --

    def _content(self, attributes: Attributes, key: str, value: Any) -> None:
        if self.content.enabled:
            attributes[key] = msg.content_json(_plain(value))

    def _output(self, value: Any) -> LateAttributes:
        return (lambda: {sc.OUTPUT_VALUE: msg.content_json(_plain(value))}) if self.content.enabled else None

    def _fail(self, run_id: Hashable, event: Any) -> None:
        self.runs.fail(run_id, _error(event))

    # -- crews --

    def crew_started(self, source: Any, event: Any, extra: Attributes) -> None:
        name = str(getattr(event, "crew_name", None) or getattr(source, "name", None) or "crew")
        attributes = {**extra, sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_WORKFLOW}
        self._content(attributes, sc.INPUT_VALUE, getattr(event, "inputs", None) or {})
        self.runs.start(_start_id(event, ("crew", id(source))), _parent(event), _WORKFLOW_PREFIX + name, SpanKind.INTERNAL, attributes)

    def crew_completed(self, source: Any, event: Any, extra: Attributes) -> None:
        self.runs.end(_end_id(event, ("crew", id(source))), self._output(getattr(event, "output", None)))

    def crew_failed(self, source: Any, event: Any, extra: Attributes) -> None:
        self._fail(_end_id(event, ("crew", id(source))), event)

    # -- tasks --

    def task_started(self, source: Any, event: Any, extra: Attributes) -> None:
        task = getattr(event, "task", None) or source
        name = getattr(task, "name", None)
        attributes = dict(extra)
        if self.content.enabled:
            task_input = {"description": getattr(task, "description", None), "expected_output": getattr(task, "expected_output", None)}
            context = getattr(event, "context", None)
            if context:
                task_input["context"] = context
            attributes[sc.INPUT_VALUE] = msg.content_json(_plain(task_input))
        run_id = _start_id(event, ("task", id(task)))
        self.runs.start(run_id, _task_parent(event, task), f"task {name}" if name else "task", SpanKind.INTERNAL, attributes)

    def task_completed(self, source: Any, event: Any, extra: Attributes) -> None:
        task = getattr(event, "task", None) or source
        self.runs.end(_end_id(event, ("task", id(task))), self._output(getattr(event, "output", None)))

    def task_failed(self, source: Any, event: Any, extra: Attributes) -> None:
        task = getattr(event, "task", None) or source
        self._fail(_end_id(event, ("task", id(task))), event)

    # -- agents --

    @staticmethod
    def _agent_key(event: Any) -> Hashable:
        return ("agent", id(getattr(event, "agent", None)), id(getattr(event, "task", None)))

    def agent_started(self, source: Any, event: Any, extra: Attributes) -> None:
        agent = getattr(event, "agent", None) or source
        role = str(getattr(agent, "role", None) or "agent")
        attributes = {**extra, sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_AGENT, sc.GEN_AI_AGENT_NAME: role}
        self._content(attributes, sc.INPUT_VALUE, getattr(event, "task_prompt", None))
        self.runs.start(_start_id(event, self._agent_key(event)), _parent(event), _AGENT_PREFIX + role, SpanKind.INTERNAL, attributes)

    def agent_completed(self, source: Any, event: Any, extra: Attributes) -> None:
        self.runs.end(_end_id(event, self._agent_key(event)), self._output(getattr(event, "output", None)))

    def agent_failed(self, source: Any, event: Any, extra: Attributes) -> None:
        self._fail(_end_id(event, self._agent_key(event)), event)

    def lite_agent_started(self, source: Any, event: Any, extra: Attributes) -> None:
        info = getattr(event, "agent_info", None) or {}
        role = str(info.get("role") or getattr(source, "role", None) or "agent")
        attributes = {**extra, sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_AGENT, sc.GEN_AI_AGENT_NAME: role}
        self._content(attributes, sc.INPUT_VALUE, getattr(event, "messages", None))
        self.runs.start(_start_id(event, ("lite", id(source), _thread())), _parent(event), _AGENT_PREFIX + role, SpanKind.INTERNAL, attributes)

    def lite_agent_completed(self, source: Any, event: Any, extra: Attributes) -> None:
        self.runs.end(_end_id(event, ("lite", id(source), _thread())), self._output(getattr(event, "output", None)))

    def lite_agent_failed(self, source: Any, event: Any, extra: Attributes) -> None:
        self._fail(_end_id(event, ("lite", id(source), _thread())), event)

    # -- tools --

    @staticmethod
    def _tool_key(source: Any, event: Any) -> Hashable:
        # not the source: crewai < 0.114 emits the start from the agent's executor, the end from its ToolUsage
        return ("tool", getattr(event, "tool_name", None), _thread())

    def tool_started(self, source: Any, event: Any, extra: Attributes) -> None:
        name = str(getattr(event, "tool_name", None) or "tool")
        attributes = {**extra, sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: name}
        self._content(attributes, sc.INPUT_VALUE, maybe_json(getattr(event, "tool_args", None)))
        self.runs.start(_start_id(event, self._tool_key(source, event)), _parent(event), _TOOL_PREFIX + name, SpanKind.INTERNAL, attributes)

    def tool_finished(self, source: Any, event: Any, extra: Attributes) -> None:
        attributes: LateAttributes = self._output(getattr(event, "output", None))
        if getattr(event, "from_cache", False):
            cached = {sc.OPIK_METADATA_PREFIX + "crewai.from_cache": True}
            attributes = (lambda output=attributes: {**output(), **cached}) if callable(attributes) else cached
        self.runs.end(_end_id(event, self._tool_key(source, event)), attributes)

    def tool_failed(self, source: Any, event: Any, extra: Attributes) -> None:
        self._fail(_end_id(event, self._tool_key(source, event)), event)

    # -- LLM calls --

    @staticmethod
    def _llm_key(source: Any, event: Any) -> Hashable:
        return ("llm", id(source), _thread())

    def llm_started(self, source: Any, event: Any, extra: Attributes) -> None:
        model, provider = _model_and_provider(source, event)
        claimable = dict(extra)
        # an LLM call inside another one's (crewai < 1.0's lite agent reports its call, then its LLM
        # the same call again): the inner, the LLM's own, takes the outer's place
        outer = claim_model_call()
        if outer is not None:
            claimable = {**outer[0], **claimable}
        role = getattr(event, "agent_role", None)
        if role:
            claimable[sc.OPIK_METADATA_PREFIX + "crewai.agent_role"] = str(role)
        name = inference_span_name(sc.GenAiOperation.CHAT, model)
        capture = self.content.enabled
        # the request is read only if no provider span claims the call (that one reads it itself)
        self.runs.defer(_start_id(event, self._llm_key(source, event)), _parent(event), name,
                        lambda: _llm_request(event, model, provider, capture, claimable), claimable)

    def llm_chunk(self, source: Any, event: Any, extra: Attributes) -> None:
        self.runs.first_chunk(_parent(event) or self._llm_key(source, event))

    def llm_completed(self, source: Any, event: Any, extra: Attributes) -> None:
        self.runs.end(_end_id(event, self._llm_key(source, event)), lambda: _llm_result(event, self.content.enabled))

    def llm_failed(self, source: Any, event: Any, extra: Attributes) -> None:
        self._fail(_end_id(event, self._llm_key(source, event)), event)

    # -- flows --

    def flow_started(self, source: Any, event: Any, extra: Attributes) -> None:
        run_id = _start_id(event, ("flow", id(source)))
        if type(source).__name__ in _INTERNAL_FLOWS:
            self.runs.hide(run_id, _parent(event))
            return
        name = str(getattr(event, "flow_name", None) or type(source).__name__)
        attributes = {**extra, sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_WORKFLOW}
        self._content(attributes, sc.INPUT_VALUE, getattr(event, "inputs", None) or {})
        self.runs.start(run_id, _parent(event), _WORKFLOW_PREFIX + name, SpanKind.INTERNAL, attributes)

    def flow_finished(self, source: Any, event: Any, extra: Attributes) -> None:
        self.runs.end(_end_id(event, ("flow", id(source))), self._output(getattr(event, "result", None)))

    def flow_failed(self, source: Any, event: Any, extra: Attributes) -> None:
        self._fail(_end_id(event, ("flow", id(source))), event)

    @staticmethod
    def _method_key(source: Any, event: Any) -> Hashable:
        return ("method", id(source), getattr(event, "method_name", None))

    def method_started(self, source: Any, event: Any, extra: Attributes) -> None:
        run_id = _start_id(event, self._method_key(source, event))
        if type(source).__name__ in _INTERNAL_FLOWS:
            self.runs.hide(run_id, _parent(event))
            return
        attributes = dict(extra)
        self._content(attributes, sc.INPUT_VALUE, getattr(event, "params", None) or {})
        self.runs.start(run_id, _parent(event), str(getattr(event, "method_name", None) or "method"), SpanKind.INTERNAL, attributes)

    def method_finished(self, source: Any, event: Any, extra: Attributes) -> None:
        self.runs.end(_end_id(event, self._method_key(source, event)), self._output(getattr(event, "result", None)))

    def method_failed(self, source: Any, event: Any, extra: Attributes) -> None:
        self._fail(_end_id(event, self._method_key(source, event)), event)


Reader = Callable[[CrewAIEvents, Any, Any, Attributes], None]
#: event type -> (whether it opens a run, its reader)
_HANDLERS: dict[str, tuple[bool, Reader]] = {
    "crew_kickoff_started": (True, CrewAIEvents.crew_started),
    "crew_kickoff_completed": (False, CrewAIEvents.crew_completed),
    "crew_kickoff_failed": (False, CrewAIEvents.crew_failed),
    "task_started": (True, CrewAIEvents.task_started),
    "task_completed": (False, CrewAIEvents.task_completed),
    "task_failed": (False, CrewAIEvents.task_failed),
    "agent_execution_started": (True, CrewAIEvents.agent_started),
    "agent_execution_completed": (False, CrewAIEvents.agent_completed),
    "agent_execution_error": (False, CrewAIEvents.agent_failed),
    "lite_agent_execution_started": (True, CrewAIEvents.lite_agent_started),
    "lite_agent_execution_completed": (False, CrewAIEvents.lite_agent_completed),
    "lite_agent_execution_error": (False, CrewAIEvents.lite_agent_failed),
    "tool_usage_started": (True, CrewAIEvents.tool_started),
    "tool_usage_finished": (False, CrewAIEvents.tool_finished),
    "tool_usage_error": (False, CrewAIEvents.tool_failed),
    "llm_call_started": (True, CrewAIEvents.llm_started),
    "llm_stream_chunk": (False, CrewAIEvents.llm_chunk),
    "llm_call_completed": (False, CrewAIEvents.llm_completed),
    "llm_call_failed": (False, CrewAIEvents.llm_failed),
    "flow_started": (True, CrewAIEvents.flow_started),
    "flow_finished": (False, CrewAIEvents.flow_finished),
    "flow_failed": (False, CrewAIEvents.flow_failed),
    "method_execution_started": (True, CrewAIEvents.method_started),
    "method_execution_finished": (False, CrewAIEvents.method_finished),
    "method_execution_failed": (False, CrewAIEvents.method_failed),
}
