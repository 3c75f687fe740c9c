"""The LangChain callback handler: reads LangChain's run events and hands them to `RunSpans`.

What each run becomes:

- chains and runnables: an INTERNAL span named by the run name; runs tagged `langsmith:hidden`
  get none (their children attach to the nearest visible ancestor);
- a LangGraph graph: `invoke_workflow {graph}`, its nodes (metadata `langgraph_node`) as children;
- agents (`AgentExecutor`, langchain's `create_agent`, LangGraph's prebuilt agents): `invoke_agent {name}`;
- chat models and LLMs: no span of their own; the provider call under them claims their
  attributes, else `chat {model}` / `text_completion {model}` is made from LangChain's data;
- tools: `execute_tool {name}`; retrievers: `retrieval`.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel.instrumentors._callbacks import Attributes, LateAttributes, RunSpans
from opik_otel.instrumentors._framework import inference_span_name, request_numbers, scalar
from opik_otel.instrumentors._read import UNREAD, document_row, plain_data
from opik_otel.semconv import messages as msg
from opik_otel.semconv.providers import known_provider

logger = logging.getLogger(__name__)

HIDDEN_TAG = "langsmith:hidden"
#: Tags LangChain and LangGraph add themselves (a step's position): not the user's, not recorded.
_PLUMBING_TAG_PREFIXES = ("seq:step:", "graph:step:", "map:key:", "langsmith:")
_AGENT_RUN_NAMES = frozenset({"AgentExecutor"})
#: `ls_integration` of the graph langchain's `create_agent` (langchain >= 1.0) builds.
_AGENT_INTEGRATION = "langchain_create_agent"
#: The model node of LangGraph's prebuilt agents (`create_react_agent`): its graph is an agent.
_AGENT_NODES = frozenset({"agent"})
_AGENT_PREFIX = "invoke_agent "
_WORKFLOW_PREFIX = "invoke_workflow "
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool", "chat": "user"}
_REQUEST_PARAMETERS = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_completion_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P),
    ("top_k", sc.GEN_AI_REQUEST_TOP_K),
    ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("seed", sc.GEN_AI_REQUEST_SEED),
)
#: Invocation parameters the span already says (model, request parameters, streaming): not repeated as metadata.
_PARAMETERS_NOT_METADATA = frozenset({"model", "model_name", "stream", *(key for key, _ in _REQUEST_PARAMETERS)})
#: Invocation parameters that are content (tool descriptions, schemas): metadata only with content on.
_CONTENT_PARAMETERS = frozenset({"tools", "functions", "response_format"})


def _plain(value: Any, depth: int = 0) -> Any:
    """A run's input or output as plain JSON data: prompt values as their messages, pydantic
    objects (messages, documents) dumped by pydantic-core; their `str()` (what the JSON encoder
    would fall back on) goes through langchain-core's slow pydantic repr."""
    return plain_data(value, _leaf, depth)


def _leaf(value: Any, depth: int) -> Any:
    to_messages = getattr(value, "to_messages", None)  # a PromptValue
    if callable(to_messages):
        try:
            return [_plain(message, depth + 1) for message in to_messages()]
        except Exception:
            return value
    return UNREAD


class OpikCallbackHandler(BaseCallbackHandler):
    """Turns LangChain runs into OpenTelemetry spans. Runs inline: its context changes reach the step."""

    run_inline = True
    raise_error = False

    def __init__(self, runs: RunSpans, content: ContentPolicy, extra_attributes: Attributes | None = None) -> None:
        super().__init__()
        self._runs = runs
        self._content = content
        self._extra = extra_attributes or {}
        self._thread_id: str | None = self._extra.get(sc.GEN_AI_CONVERSATION_ID)

    # -- shared readers --

    def _common(self, tags: Sequence[str] | None, metadata: Mapping[str, Any] | None) -> Attributes:
        attributes: Attributes = dict(self._extra)
        if self._thread_id is None and metadata:
            thread_id = metadata.get("thread_id")
            if thread_id is None:
                configurable = metadata.get("configurable")
                if isinstance(configurable, Mapping):
                    thread_id = configurable.get("thread_id")
            if thread_id is not None:
                attributes[sc.GEN_AI_CONVERSATION_ID] = str(thread_id)
        return attributes

    def _content_value(self, attributes: Attributes, key: str, value: Any) -> None:
        if self._content.enabled:
            attributes[key] = msg.content_json(_plain(value))

    def _output_value(self, value: Any) -> LateAttributes:
        """A run's `output.value`, encoded only if a span receives it; None with content off."""
        return (lambda: {sc.OUTPUT_VALUE: msg.content_json(_plain(value))}) if self._content.enabled else None

    # -- chains, graphs, agents --

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            if tags and HIDDEN_TAG in tags:
                self._runs.hide(run_id, parent_run_id)
                return
            name = kwargs.get("name") or _serialized_name(serialized) or "chain"
            attributes = self._common(tags, metadata)
            metadata = metadata or {}
            if name in _AGENT_RUN_NAMES:
                attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.INVOKE_AGENT
                attributes[sc.GEN_AI_AGENT_NAME] = name
                name = _AGENT_PREFIX + name
            elif metadata.get("ls_integration") == _AGENT_INTEGRATION and "langgraph_node" not in metadata:
                attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.INVOKE_AGENT
                attributes[sc.GEN_AI_AGENT_NAME] = name
                name = _AGENT_PREFIX + name
            elif metadata.get("ls_integration") == "langgraph" and "langgraph_node" not in metadata:
                attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.INVOKE_WORKFLOW
                name = _WORKFLOW_PREFIX + name
            elif parent_run_id is not None and name == metadata.get("langgraph_node"):
                self._mark_graph(parent_run_id, agent=name in _AGENT_NODES)
            self._content_value(attributes, sc.INPUT_VALUE, inputs)
            self._runs.start(run_id, parent_run_id, name, SpanKind.INTERNAL, attributes)
        except Exception:
            logger.debug("opik-otel: could not read a LangChain chain start", exc_info=True)

    def _mark_graph(self, run_id: UUID, agent: bool) -> None:
        """A LangGraph node started under `run_id`: that run is a graph (or subgraph), a workflow span,
        or an agent's when the node is a prebuilt agent's (LangGraph before `ls_integration` metadata
        says it is a graph only this way)."""
        name = self._runs.span_name(run_id)
        if not name or name.startswith(_AGENT_PREFIX) or (not agent and name.startswith(_WORKFLOW_PREFIX)):
            return
        graph = name[len(_WORKFLOW_PREFIX):] if name.startswith(_WORKFLOW_PREFIX) else name
        if agent:
            attributes = {sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_AGENT, sc.GEN_AI_AGENT_NAME: graph}
            self._runs.rename(run_id, _AGENT_PREFIX + graph, attributes)
        else:
            self._runs.rename(run_id, _WORKFLOW_PREFIX + graph, {sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_WORKFLOW})

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.end(run_id, self._output_value(outputs))

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if _is_control_flow(error):  # a LangGraph interrupt or `Command` to a parent graph: not a failure
            self._runs.end(run_id)
        else:
            self._runs.fail(run_id, error)

    # -- models --

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(serialized, sc.GenAiOperation.CHAT, messages[0] if messages else [], run_id, parent_run_id, tags, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(serialized, sc.GenAiOperation.TEXT_COMPLETION, prompts[:1], run_id, parent_run_id, tags, metadata, kwargs)

    def _model_start(
        self,
        serialized: dict[str, Any] | None,
        operation: str,
        messages: Sequence[Any],
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        try:
            metadata = metadata or {}
            params = kwargs.get("invocation_params") or {}
            claimable = self._common(tags, metadata)
            run_name = kwargs.get("name") or _serialized_name(serialized)
            if run_name:
                claimable[sc.OPIK_METADATA_PREFIX + "langchain.run_name"] = str(run_name)
            user_tags = [str(tag) for tag in tags or () if not str(tag).startswith(_PLUMBING_TAG_PREFIXES)]
            if user_tags:
                claimable[sc.OPIK_TAGS] = user_tags
            capture = self._content.enabled
            for key, value in params.items():
                if value is None or key.startswith("_") or key in _PARAMETERS_NOT_METADATA:
                    continue
                if capture or key not in _CONTENT_PARAMETERS:
                    claimable[sc.OPIK_METADATA_PREFIX + str(key)] = scalar(value)
            model = params.get("model") or params.get("model_name") or metadata.get("ls_model_name") or ""
            name = inference_span_name(operation, model)
            # the request is read only if no provider span claims the call (that one reads it itself)
            self._runs.defer(run_id, parent_run_id, name,
                             lambda: _model_request(operation, str(model), params, metadata, messages if capture else None, claimable), claimable)
        except Exception:
            logger.debug("opik-otel: could not read a LangChain model start", exc_info=True)

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.first_chunk(run_id)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.end(run_id, lambda: _llm_result_attributes(response, self._content.enabled))

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.fail(run_id, error)

    # -- tools --

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            name = kwargs.get("name") or _serialized_name(serialized) or "tool"
            attributes = self._common(tags, metadata)
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.EXECUTE_TOOL
            attributes[sc.GEN_AI_TOOL_NAME] = name
            call_id = kwargs.get("tool_call_id")
            if call_id:
                attributes[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
            self._content_value(attributes, sc.INPUT_VALUE, inputs if inputs is not None else input_str)
            self._runs.start(run_id, parent_run_id, f"execute_tool {name}", SpanKind.INTERNAL, attributes)
        except Exception:
            logger.debug("opik-otel: could not read a LangChain tool start", exc_info=True)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.end(run_id, self._output_value(_tool_output(output)))

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.fail(run_id, error)

    # -- retrievers --

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            attributes = self._common(tags, metadata)
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.RETRIEVAL
            self._content_value(attributes, sc.INPUT_VALUE, query)
            self._runs.start(run_id, parent_run_id, "retrieval", SpanKind.INTERNAL, attributes)
        except Exception:
            logger.debug("opik-otel: could not read a LangChain retriever start", exc_info=True)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.end(run_id, lambda: _documents_attributes(documents, self._content.enabled))

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.fail(run_id, error)


def _is_control_flow(error: BaseException) -> bool:
    """LangGraph's interrupts and parent-graph `Command`s travel as exceptions (`GraphBubbleUp`)."""
    return any(cls.__name__ == "GraphBubbleUp" for cls in type(error).__mro__)


def _serialized_name(serialized: Mapping[str, Any] | None) -> str | None:
    if not serialized:
        return None
    name = serialized.get("name")
    if name:
        return str(name)
    ids = serialized.get("id")
    return str(ids[-1]) if isinstance(ids, list) and ids else None


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [msg.text_part(content)] if content else []
    parts = []
    for block in content or ():
        if isinstance(block, str):
            parts.append(msg.text_part(block))
        elif isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(msg.text_part(str(block.get("text", ""))))
        elif isinstance(block, Mapping):
            parts.append(dict(block))
    return parts


def _message(message: Any) -> dict[str, Any]:
    if isinstance(message, str):
        return msg.message("user", [msg.text_part(message)])
    role = _ROLES.get(getattr(message, "type", ""), getattr(message, "type", "user"))
    if role == "tool":
        return msg.message("tool", [msg.tool_call_response_part(getattr(message, "content", None), getattr(message, "tool_call_id", None))])
    parts = _parts(getattr(message, "content", None))
    for call in getattr(message, "tool_calls", None) or ():
        parts.append(msg.tool_call_part(call.get("name", ""), call.get("args"), call.get("id")))
    return msg.message(role, parts)


def _model_request(operation: str, model: str, params: Mapping[str, Any], metadata: Mapping[str, Any],
                   messages: Sequence[Any] | None, claimable: Attributes) -> Attributes:
    """An unclaimed model run's request attributes: operation, provider, model, parameters, and the
    input `messages` when content is captured."""
    attributes: Attributes = {sc.GEN_AI_OPERATION_NAME: operation}
    provider = known_provider(metadata.get("ls_provider"))
    attributes[sc.GEN_AI_PROVIDER_NAME] = provider.name if provider else str(metadata.get("ls_provider") or "langchain")
    if model:
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
    request_numbers(params.get, _REQUEST_PARAMETERS, attributes)
    if messages is not None:
        _input_messages(attributes, messages)
    attributes.update(claimable)
    return attributes


def _input_messages(attributes: Attributes, messages: Sequence[Any]) -> None:
    converted = [_message(m) for m in messages]
    system = [part for m in converted if m["role"] == "system" for part in m["parts"]]
    rest = [m for m in converted if m["role"] != "system"]
    if system:
        attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = msg.content_json(system)
    attributes[sc.GEN_AI_INPUT_MESSAGES] = msg.content_json(rest)


def _llm_result_attributes(response: Any, capture_content: bool) -> Attributes:
    """The inference span's response attributes from LangChain's `LLMResult`."""
    attributes: Attributes = {}
    generations = [g for batch in (getattr(response, "generations", None) or ()) for g in batch]
    finish_reasons, outputs = [], []
    usage = None
    response_metadata: Mapping[str, Any] = {}
    for generation in generations:
        info = getattr(generation, "generation_info", None) or {}
        message = getattr(generation, "message", None)
        if message is not None:
            response_metadata = getattr(message, "response_metadata", None) or response_metadata
            usage = usage or getattr(message, "usage_metadata", None)
        reason = info.get("finish_reason") or response_metadata.get("finish_reason") or "stop"
        finish_reasons.append(str(reason))
        if capture_content:
            if message is not None:
                parts = _message(message)["parts"]
            else:
                parts = [msg.text_part(str(getattr(generation, "text", "")))]
            outputs.append(msg.output_message(parts, str(reason)))
    if finish_reasons:
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons
    if capture_content and outputs:
        attributes[sc.GEN_AI_OUTPUT_MESSAGES] = msg.content_json(outputs)
    llm_output = getattr(response, "llm_output", None) or {}
    response_id = response_metadata.get("id") or llm_output.get("id")
    if response_id:
        attributes[sc.GEN_AI_RESPONSE_ID] = str(response_id)
    model = response_metadata.get("model_name") or llm_output.get("model_name")
    if model:
        attributes[sc.GEN_AI_RESPONSE_MODEL] = str(model)
    if usage:
        attributes.update(_usage_attributes(usage))
    return attributes


def _usage_attributes(usage: Mapping[str, Any]) -> Attributes:
    """`usage_metadata` (input tokens include cache reads, as the conventions count them)."""
    attributes: Attributes = {}
    for key, attribute in (("input_tokens", sc.GEN_AI_USAGE_INPUT_TOKENS), ("output_tokens", sc.GEN_AI_USAGE_OUTPUT_TOKENS)):
        value = usage.get(key)
        if isinstance(value, int):
            attributes[attribute] = value
    details = usage.get("input_token_details") or {}
    for key, attribute in (("cache_read", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS), ("cache_creation", sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)):
        value = details.get(key)
        if isinstance(value, int) and value:
            attributes[attribute] = value
    reasoning = (usage.get("output_token_details") or {}).get("reasoning")
    if isinstance(reasoning, int) and reasoning:
        attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    return attributes


def _tool_output(output: Any) -> Any:
    content = getattr(output, "content", None)  # a ToolMessage
    return output if content is None else content


def _documents_attributes(documents: Sequence[Any], capture_content: bool) -> Attributes:
    if not capture_content:
        return {}
    rows = []
    for document in documents or ():
        metadata = getattr(document, "metadata", None) or {}
        score = metadata.get("score") if isinstance(metadata, Mapping) else None
        rows.append(document_row(getattr(document, "id", None), score, getattr(document, "page_content", "")))
    return {sc.OUTPUT_VALUE: msg.content_json(rows)}
