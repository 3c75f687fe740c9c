"""The ADK plugin: reads ADK's agent, model and tool callbacks and hands them to `RunSpans`.

One `OpikAdkPlugin` per instrumentor, put first in every runner's plugin manager (the runner
wrapper of instrumentor.py does it), so that no other plugin's early answer hides a step from
it. Every callback returns None: ADK then runs the other plugins and the agent's own callbacks
as if ours were not there.

| ADK callback | span |
|---|---|
| before / after_agent_callback | `invoke_agent {name}` (workflow agents: `invoke_workflow {name}`) |
| before / after_model_callback, on_model_error_callback | deferred: the google-genai span claims it, else `generate_content {model}` from ADK's request and response |
| before / after_tool_callback, on_tool_error_callback | `execute_tool {name}` |

The first agent of a run (the runner's root agent) carries the session id as
`gen_ai.conversation.id` (the Opik thread), the user id as `opik.metadata.user_id`, the user's
message as its input and the final response as its output. Agents fail through the runner
wrapper (ADK has no agent error callback). Parents come from the context (our spans are current
while they run), except an agent started in a context that lost this run's spans (ADK 2.x runs
a transfer's target agent so): it goes under the latest open agent of the run.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any, Hashable

from google.adk.plugins.base_plugin import BasePlugin
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel._model_call import PENDING_MODEL_CALL_KEY, PendingModelCall
from opik_otel.instrumentors._callbacks import Attributes, RunSpans
from opik_otel.instrumentors._framework import inference_span_name
from opik_otel.instrumentors._read import UNREAD, plain_data
from opik_otel.instrumentors.genai import models
from opik_otel.semconv.providers import known_provider

logger = logging.getLogger(__name__)

PLUGIN_NAME = "opik_otel"
GEN_AI_AGENT_DESCRIPTION = "gen_ai.agent.description"
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
_WORKFLOW_AGENTS = frozenset({"SequentialAgent", "ParallelAgent", "LoopAgent"})


class Invocation:
    """One `Runner.run_async` call: its open runs (in start order) for the runner wrapper to
    close, whether it runs inside another one (an `AgentTool`), its last final texts by agent."""

    __slots__ = ("open", "nested", "root_started", "final_text", "pending", "requests", "agents", "span_ids")

    def __init__(self, nested: bool) -> None:
        self.open: dict[Hashable, None] = {}
        self.nested = nested
        self.root_started = False
        self.final_text: dict[str, str] = {}
        self.pending: dict[Hashable, PendingModelCall] = {}
        self.requests: dict[Hashable, Any] = {}  # model runs' requests, read only if no provider span claims them
        self.agents: dict[Hashable, None] = {}  # open agent runs, in start order
        self.span_ids: dict[Hashable, int] = {}  # the span id of each open agent or tool run

    def parent_agent(self) -> Hashable | None:
        """The agent an agent starting now belongs under when its context lost it (ADK 2.x runs
        a transfer's target agent in a context of its own): the latest open agent of this run,
        unless the current span is one of this run's already."""
        if not self.agents:
            return None
        current = trace.get_current_span().get_span_context()
        if current.is_valid and current.span_id in self.span_ids.values():
            return None
        return next(reversed(self.agents))


#: The `Invocation` of the runner call in progress (set by the runner wrapper).
CURRENT: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("opik_otel_adk_invocation", default=None)


def _leaf(value: Any, depth: int) -> Any:
    parts = getattr(value, "parts", None)
    if parts is not None and hasattr(value, "role"):  # a google.genai Content: its text
        return _text(value)
    return UNREAD


def _plain(value: Any) -> str:
    return sc.content_json(plain_data(value, _leaf, otherwise=repr))


def _text(content: Any) -> str | None:
    parts = getattr(content, "parts", None) or ()
    texts = [part.text for part in parts if isinstance(getattr(part, "text", None), str) and not getattr(part, "thought", False)]
    return "".join(texts) if texts else None


def _branch(context: Any) -> str:
    invocation = getattr(context, "_invocation_context", None)
    return str(getattr(invocation, "branch", None) or "")


def _agent_key(context: Any, agent_name: Any) -> tuple[str, str, str, str]:
    return ("agent", str(context.invocation_id), _branch(context), str(agent_name))


def _model_key(context: Any) -> tuple[str, str, str, str]:
    return ("model", str(context.invocation_id), _branch(context), str(context.agent_name))


def _tool_key(tool: Any, context: Any) -> tuple[str, str, str]:
    call_id = getattr(context, "function_call_id", None) or id(context)
    return ("tool", str(context.invocation_id), f"{call_id}:{getattr(tool, 'name', '')}")


def _model_name(request: Any) -> str:
    model = getattr(request, "model", None)
    return model if isinstance(model, str) else ""


def _provider(model: str) -> str:
    if "/" in model:  # ADK's LiteLlm "provider/model"
        provider = known_provider(model.split("/", 1)[0])
        if provider is not None:
            return provider.name
    return sc.GenAiProvider.GCP_GEMINI


class OpikAdkPlugin(BasePlugin):
    """Turns ADK's plugin callbacks into opik-otel spans (see the module docstring)."""

    def __init__(self, runs: RunSpans, content: ContentPolicy, extra_attributes: Attributes | None = None) -> None:
        super().__init__(name=PLUGIN_NAME)
        self.runs = runs
        self.content = content
        self.extra = extra_attributes or {}
        self.active = True

    # -- bookkeeping --------------------------------------------------------------------------

    @staticmethod
    def _opened(invocation: Invocation | None, key: Hashable, span: trace.Span | None) -> None:
        """Record an open run in `invocation` (the current one), with its span (None: a model run)."""
        if invocation is not None:
            invocation.open[key] = None
            if span is not None:
                invocation.span_ids[key] = span.get_span_context().span_id
                if key[0] == "agent":
                    invocation.agents[key] = None

    def _closed(self, key: Hashable) -> None:
        invocation = CURRENT.get()
        if invocation is not None:
            invocation.open.pop(key, None)
            invocation.pending.pop(key, None)
            invocation.requests.pop(key, None)
            invocation.span_ids.pop(key, None)
            invocation.agents.pop(key, None)

    def close_invocation(self, invocation: Invocation, error: BaseException | None) -> None:
        """The runner call ended: fail (on `error`) or end its runs still open, innermost first; a
        model run never called (an agent callback answered instead) makes no span."""
        for key in reversed(list(invocation.open)):
            pending = invocation.pending.get(key)
            if pending is not None and not pending.claimed:
                pending.claim()  # never called (an app callback answered or failed first): no inference span
            if error is not None:
                self.runs.fail(key, error)
            else:
                self.runs.end(key)
        invocation.open.clear()
        invocation.pending.clear()
        invocation.requests.clear()
        invocation.span_ids.clear()
        invocation.agents.clear()

    # -- agents -------------------------------------------------------------------------------

    async def on_event_callback(self, *, invocation_context: Any, event: Any) -> None:
        if self.active and self.content.enabled:
            try:
                invocation = CURRENT.get()
                if invocation is not None and event.content is not None and event.is_final_response():
                    text = _text(event.content)
                    if text is not None:
                        invocation.final_text[str(event.author)] = text
            except Exception:
                logger.debug("opik-otel: could not read an ADK event", exc_info=True)
        return None

    async def before_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
        if not self.active:
            return None
        try:
            name = str(agent.name)
            workflow = type(agent).__name__ in _WORKFLOW_AGENTS
            operation = sc.GenAiOperation.INVOKE_WORKFLOW if workflow else sc.GenAiOperation.INVOKE_AGENT
            attributes: Attributes = dict(self.extra)
            attributes[sc.GEN_AI_OPERATION_NAME] = operation
            attributes[sc.GEN_AI_AGENT_NAME] = name
            description = getattr(agent, "description", None)
            if isinstance(description, str) and description:
                attributes[GEN_AI_AGENT_DESCRIPTION] = description
            attributes[sc.OPIK_METADATA_PREFIX + "adk.agent_type"] = type(agent).__name__
            invocation = CURRENT.get()
            parent = None
            if invocation is not None:
                parent = invocation.parent_agent()
                if not invocation.root_started:
                    invocation.root_started = True
                    self._root_attributes(callback_context, invocation, attributes)
            key = _agent_key(callback_context, name)
            self._opened(invocation, key, self.runs.start(key, parent, f"{operation} {name}", SpanKind.INTERNAL, attributes))
        except Exception:
            logger.debug("opik-otel: could not read an ADK agent start", exc_info=True)
        return None

    def _root_attributes(self, context: Any, invocation: Invocation, attributes: Attributes) -> None:
        session = getattr(getattr(context, "_invocation_context", None), "session", None)
        if not invocation.nested:  # an AgentTool's inner session is not the app's thread
            if session is not None and getattr(session, "id", None):
                attributes[sc.GEN_AI_CONVERSATION_ID] = str(session.id)
            user_id = getattr(context, "user_id", None) or getattr(session, "user_id", None)
            if user_id:
                attributes[sc.OPIK_METADATA_PREFIX + "user_id"] = str(user_id)
        if self.content.enabled:
            user_content = getattr(context, "user_content", None)
            if user_content is not None:
                attributes[sc.INPUT_VALUE] = _plain(user_content)

    async def after_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
        if not self.active:
            return None
        try:
            key = _agent_key(callback_context, agent.name)
            invocation = CURRENT.get()
            output = invocation.final_text.get(str(agent.name)) if invocation is not None and self.content.enabled else None
            self.runs.end(key, {sc.OUTPUT_VALUE: sc.content_json(output)} if output is not None else None)
            self._closed(key)
        except Exception:
            logger.debug("opik-otel: could not read an ADK agent end", exc_info=True)
        return None

    # -- models -------------------------------------------------------------------------------

    async def before_model_callback(self, *, callback_context: Any, llm_request: Any) -> None:
        if not self.active:
            return None
        try:
            model = _model_name(llm_request)
            claimable: Attributes = dict(self.extra)
            claimable[sc.GEN_AI_AGENT_NAME] = str(callback_context.agent_name)
            key = _model_key(callback_context)
            # the request is read only if no provider span claims the call (that one reads it itself)
            self.runs.defer(key, None, inference_span_name(sc.GenAiOperation.GENERATE_CONTENT, model),
                            lambda: _request_attributes(model, llm_request, claimable), claimable)
            invocation = CURRENT.get()
            self._opened(invocation, key, None)
            pending = otel_context.get_value(PENDING_MODEL_CALL_KEY)
            if invocation is not None and isinstance(pending, PendingModelCall):
                invocation.pending[key] = pending
                if self.content.enabled:
                    invocation.requests[key] = llm_request
        except Exception:
            logger.debug("opik-otel: could not read an ADK model request", exc_info=True)
        return None

    async def after_model_callback(self, *, callback_context: Any, llm_response: Any) -> None:
        if not self.active:
            return None
        try:
            if getattr(llm_response, "partial", False):
                self.runs.first_chunk(_model_key(callback_context))
                return None
            key = _model_key(callback_context)
            capture = self.content.enabled
            invocation = CURRENT.get()
            request = invocation.requests.get(key) if invocation is not None else None
            self.runs.end(key, lambda: {**_request_content(request), **_response_attributes(llm_response, capture)})
            self._closed(key)
        except Exception:
            logger.debug("opik-otel: could not read an ADK model response", exc_info=True)
        return None

    async def on_model_error_callback(self, *, callback_context: Any, llm_request: Any, error: Exception) -> None:
        if self.active:
            try:
                key = _model_key(callback_context)
                self.runs.fail(key, error)
                self._closed(key)
            except Exception:
                logger.debug("opik-otel: could not read an ADK model error", exc_info=True)
        return None

    # -- tools --------------------------------------------------------------------------------

    async def before_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any) -> None:
        if not self.active:
            return None
        try:
            name = str(tool.name)
            attributes: Attributes = dict(self.extra)
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.EXECUTE_TOOL
            attributes[sc.GEN_AI_TOOL_NAME] = name
            call_id = getattr(tool_context, "function_call_id", None)
            if call_id:
                attributes[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
            description = getattr(tool, "description", None)
            if isinstance(description, str) and description:
                attributes[GEN_AI_TOOL_DESCRIPTION] = description
            if self.content.enabled:
                attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = _plain(tool_args)
            key = _tool_key(tool, tool_context)
            self._opened(CURRENT.get(), key, self.runs.start(key, None, f"execute_tool {name}", SpanKind.INTERNAL, attributes))
        except Exception:
            logger.debug("opik-otel: could not read an ADK tool start", exc_info=True)
        return None

    async def after_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any, result: Any) -> None:
        if not self.active:
            return None
        try:
            key = _tool_key(tool, tool_context)
            self.runs.end(key, (lambda: {sc.GEN_AI_TOOL_CALL_RESULT: _plain(result)}) if self.content.enabled else None)
            self._closed(key)
        except Exception:
            logger.debug("opik-otel: could not read an ADK tool end", exc_info=True)
        return None

    async def on_tool_error_callback(self, *, tool: Any, tool_args: Any, tool_context: Any, error: Exception) -> None:
        if self.active:
            try:
                key = _tool_key(tool, tool_context)
                self.runs.fail(key, error)
                self._closed(key)
            except Exception:
                logger.debug("opik-otel: could not read an ADK tool error", exc_info=True)
        return None


def _request_attributes(model: str, request: Any, claimable: Attributes) -> Attributes:
    """An unclaimed model call's request attributes (model, provider, parameters), content aside."""
    attributes = models.generate_request(None, {"model": model, "config": getattr(request, "config", None)}, False)[1]
    attributes[sc.GEN_AI_PROVIDER_NAME] = _provider(model)
    attributes.update(claimable)
    return attributes


def _request_content(request: Any) -> Attributes:
    """An unclaimed model call's request content (messages, system instruction, tool definitions)."""
    if request is None:
        return {}
    contents = {"model": _model_name(request), "contents": getattr(request, "contents", None), "config": getattr(request, "config", None)}
    attributes = models.generate_request(None, contents, True)[1]
    attributes.pop(sc.GEN_AI_PROVIDER_NAME, None)  # the deferred span's own (ADK's LiteLlm models are not Gemini)
    return attributes


def _response_attributes(response: Any, capture_content: bool) -> Attributes:
    """An unclaimed model call's response attributes, from ADK's `LlmResponse`."""
    content = getattr(response, "content", None)
    converted = models.parts(getattr(content, "parts", None)) if capture_content and content is not None else None
    reason = models.enum_text(getattr(response, "finish_reason", None))
    return models.reply_attributes(
        getattr(response, "response_id", None),
        getattr(response, "model_version", None),
        getattr(response, "usage_metadata", None),
        [(converted, reason)],
        capture_content,
    )
