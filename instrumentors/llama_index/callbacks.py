"""The LlamaIndex handlers: a span handler and an event handler on the root dispatcher, reading
LlamaIndex's instrumentation spans and handing them to `RunSpans` (span id = run id).

What each dispatcher span becomes (decided once per class and method):

- query engines (`query` / `aquery`), chat engines (`chat`, `stream_chat`, async), synthesizers
  (`synthesize`), node postprocessors (`postprocess_nodes`), ingestion pipelines (`run`): an
  INTERNAL span named `{Class}.{method}` with the input and the answer (content on); a run that
  returns a streamed chat answer LlamaIndex writes on its own thread or task (`stream_chat`)
  stays open until that writer's end event, which gives the answer;
- retrievers (`retrieve` / `aretrieve`): `retrieval`, with the query, `top_k` and the nodes;
- LLM `chat` / `complete` and their streamed and async variants: no span of their own; the
  provider call under them claims their attributes, else `chat {model}` / `text_completion
  {model}` is made from LlamaIndex's result (a stream's from its end event);
- embeddings (`get_query_embedding`, `get_text_embedding(_batch)`, async): deferred the same
  way, `embeddings {model}`;
- tools (`call` / `acall`): `execute_tool {name}`, the result being the `ToolOutput`'s content;
- workflows (`Workflow.run`): `invoke_workflow {Class}`, agents (`FunctionAgent`, `ReActAgent`,
  `AgentWorkflow`, and the older `AgentRunner` agents) `invoke_agent {name}` with the user's
  message and the answer; each step a child named by the step;
- LlamaIndex's inner plumbing (the `_query` / `_retrieve` / `get_response` layers, node parsers,
  text splitters, prompt programs, LLM `predict` / `stream` wrappers …): hidden, its children
  attach to the nearest visible ancestor. Spans of the app's own `@dispatcher.span` functions
  and classes are kept, named by the dispatcher.

Only the root dispatcher is used; both handlers keep nothing of their own (`open_spans` stays
empty): the state is `RunSpans`, shared with `OpikCallbackHandler`.
"""

from __future__ import annotations

import collections
import inspect
import logging
import threading
import weakref
from typing import Any, Hashable, Mapping, Sequence

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.base import BaseLLM
from llama_index.core.chat_engine.types import BaseChatEngine
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.response_synthesizers.base import BaseSynthesizer
from llama_index.core.tools.types import BaseTool
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel.instrumentors._adapter import response_attributes
from opik_otel.instrumentors._callbacks import Attributes, RunSpans
from opik_otel.instrumentors._framework import inference_span_name, request_numbers
from opik_otel.instrumentors._read import UNREAD, document_row, field, integer, maybe_json, plain_data, put
from opik_otel.semconv import messages as msg
from opik_otel.semconv.providers import known_provider

logger = logging.getLogger(__name__)

try:
    from llama_index.core.ingestion.pipeline import IngestionPipeline
except ImportError:  # pragma: no cover - every supported version has it
    IngestionPipeline = ()  # type: ignore[assignment,misc]
try:
    from llama_index.core.workflow import Workflow
except ImportError:  # pragma: no cover
    Workflow = ()  # type: ignore[assignment,misc]
try:
    from llama_index.core.agent.workflow import AgentWorkflow, BaseWorkflowAgent

    _AGENT_TYPES: tuple[type, ...] = (BaseWorkflowAgent, AgentWorkflow)
except ImportError:  # llama-index-core before workflow agents
    _AGENT_TYPES = ()
try:  # the agents before workflow agents (AgentRunner, the legacy ReActAgent …)
    from llama_index.core.base.agent.types import BaseAgent as _LegacyAgent

    _LEGACY_AGENT_TYPES: tuple[type, ...] = (_LegacyAgent,)
except ImportError:
    _LEGACY_AGENT_TYPES = ()

# Kinds of dispatcher spans.
HIDE, GENERIC, QUERY, RETRIEVE, CHAT, COMPLETE, EMBED, TOOL, WORKFLOW, AGENT, LEGACY_AGENT, STEP = range(12)

_LLM_CHAT = frozenset({"chat", "achat", "stream_chat", "astream_chat"})
_LLM_COMPLETE = frozenset({"complete", "acomplete", "stream_complete", "astream_complete"})
_EMBED = frozenset({
    "get_query_embedding", "aget_query_embedding", "get_text_embedding", "aget_text_embedding",
    "get_text_embedding_batch", "aget_text_embedding_batch",
})
#: (base class, the methods shown; the others of that class are hidden, kind of the shown ones)
_SHOWN: tuple[tuple[Any, frozenset[str], int], ...] = (
    (BaseRetriever, frozenset({"retrieve", "aretrieve"}), RETRIEVE),
    (BaseEmbedding, _EMBED, EMBED),
    (BaseTool, frozenset({"call", "acall", "__call__"}), TOOL),
    (_LEGACY_AGENT_TYPES, frozenset({"chat", "achat", "stream_chat", "astream_chat", "query", "aquery"}), LEGACY_AGENT),
    (BaseChatEngine, frozenset({"chat", "achat", "stream_chat", "astream_chat"}), QUERY),
    (BaseQueryEngine, frozenset({"query", "aquery"}), QUERY),
    (BaseSynthesizer, frozenset({"synthesize", "asynthesize"}), QUERY),
    # rerankers (cohere, sentence-transformers …) make their `_postprocess_nodes` a dispatcher span
    (BaseNodePostprocessor, frozenset({"postprocess_nodes", "apostprocess_nodes", "_postprocess_nodes", "_apostprocess_nodes"}), QUERY),
    (IngestionPipeline, frozenset({"run", "arun"}), QUERY),
)
_PLUMBING_MODULES = ("llama_index.", "workflows.")
_REQUEST_PARAMETERS = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P),
)
_ROLES = {
    "user": "user", "assistant": "assistant", "system": "system", "developer": "system",
    "tool": "tool", "function": "tool", "chatbot": "assistant", "model": "assistant",
}
_MAX_EXTRAS = 10_000
#: The methods of a `StreamingAgentChatResponse` that read the model's stream and write the answer.
_ANSWER_WRITERS = frozenset({"write_response_to_history", "awrite_response_to_history"})
#: A span input listing more documents or nodes than this records their number only.
_MAX_LISTED = 20


def _name_of(span_id: str) -> str:
    """`Class.method` (or a function's qualified name) of a dispatcher span id `{name}-{uuid4}`."""
    return span_id[:-37] if len(span_id) > 37 and span_id[-37] == "-" else span_id


_KINDS: dict[tuple[type, str], int] = {}


def _kind(instance: Any, method: str) -> int:
    cls = type(instance)
    known = _KINDS.get((cls, method))
    if known is not None:
        return known
    kind = _classify(instance, method)
    if len(_KINDS) < 4096:
        _KINDS[(cls, method)] = kind
    return kind


def _classify(instance: Any, method: str) -> int:
    if isinstance(instance, BaseLLM):
        return CHAT if method in _LLM_CHAT else COMPLETE if method in _LLM_COMPLETE else HIDE
    for base, methods, kind in _SHOWN:
        if base and isinstance(instance, base):
            return kind if method in methods else HIDE
    if Workflow and isinstance(instance, Workflow):
        if method == "run":
            return AGENT if _AGENT_TYPES and isinstance(instance, _AGENT_TYPES) else WORKFLOW
        return HIDE if method.startswith("_") else STEP  # older workflows: a step is a method of the instance
    if type(instance).__module__.startswith(_PLUMBING_MODULES):
        return HIDE
    return GENERIC


def _arguments(bound_args: Any) -> Mapping[str, Any]:
    arguments = getattr(bound_args, "arguments", None)
    return arguments if isinstance(arguments, Mapping) else {}


def _first(arguments: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in arguments:
            return arguments[name]
    return None


def _query_text(value: Any) -> Any:
    """A query (a string, or a `QueryBundle`'s `query_str`) or a chat message, as plain data."""
    if value is None or isinstance(value, str):
        return value
    query = getattr(value, "query_str", None)
    if isinstance(query, str):
        return query
    content = getattr(value, "content", None)
    return content if isinstance(content, str) else _plain(value)


def _plain(value: Any, depth: int = 0) -> Any:
    """A span's input or output as plain JSON data (responses as their text, nodes as rows)."""
    return plain_data(value, _leaf, depth, max_depth=6, otherwise=repr)


def _leaf(value: Any, depth: int) -> Any:
    node = getattr(value, "node", None)
    if node is not None and hasattr(value, "score"):  # NodeWithScore
        return _node_row(value)
    response = getattr(value, "response", None)
    if isinstance(response, str):  # Response, AgentChatResponse
        return response
    message = getattr(value, "message", None)  # ChatResponse
    if message is not None and hasattr(message, "content"):
        return getattr(message, "content", None)
    text = getattr(value, "text", None)  # CompletionResponse, a node
    if isinstance(text, str):
        return text
    return UNREAD


def _node_row(node_with_score: Any) -> dict[str, Any]:
    node = getattr(node_with_score, "node", None)
    try:
        content = node.get_content()  # type: ignore[union-attr]
    except Exception:
        content = str(getattr(node, "text", ""))
    node_id = getattr(node, "node_id", None) or getattr(node, "id_", None)
    return document_row(node_id, getattr(node_with_score, "score", None), content)


def _provider(instance: Any) -> str:
    """The provider of an LLM or embedding class (`llama_index.llms.openai` → openai)."""
    parts = type(instance).__module__.split(".")
    if len(parts) > 2 and parts[0] == "llama_index" and parts[1] in ("llms", "embeddings"):
        provider = known_provider(parts[2])
        return provider.name if provider is not None else parts[2]
    return "llama_index"


def _model(instance: Any) -> str:
    for name in ("model", "model_name"):
        value = getattr(instance, name, None)
        if isinstance(value, str) and value:
            return value
    try:
        value = instance.metadata.model_name
        return value if isinstance(value, str) else ""
    except Exception:
        return ""


def _parts(message: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    blocks = getattr(message, "blocks", None)
    if blocks:
        for block in blocks:
            text = getattr(block, "text", None)
            if isinstance(text, str) and text:
                parts.append(msg.text_part(text))
    else:
        content = getattr(message, "content", None)
        if isinstance(content, str) and content:
            parts.append(msg.text_part(content))
    additional = getattr(message, "additional_kwargs", None) or {}
    for call in additional.get("tool_calls") or ():
        function = field(call, "function")
        parts.append(msg.tool_call_part(str(field(function, "name") or ""), maybe_json(field(function, "arguments")), field(call, "id")))
    return parts


def _role(message: Any) -> str:
    role = getattr(message, "role", "user")
    role = getattr(role, "value", role)
    return _ROLES.get(str(role), str(role))


def _model_request(kind: int, operation: str, model: str | None, instance: Any, arguments: Mapping[str, Any],
                   capture_content: bool, claimable: Attributes) -> Attributes:
    """An unclaimed model call's request attributes: operation, provider, model, parameters, and
    its messages, prompt or texts when content is captured."""
    attributes: Attributes = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: _provider(instance)}
    if model:
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
    if kind != EMBED:
        request_numbers(lambda key: getattr(instance, key, None), _REQUEST_PARAMETERS, attributes)
    if capture_content:
        if kind == CHAT:
            _input_messages(attributes, arguments.get("messages") or ())
        elif kind == COMPLETE:
            prompt = arguments.get("prompt")
            attributes[sc.GEN_AI_INPUT_MESSAGES] = msg.content_json([msg.message("user", [msg.text_part(str(prompt or ""))])])
        elif kind == EMBED:
            attributes[sc.INPUT_VALUE] = msg.content_json({"input": _first(arguments, "texts", "text", "query")})
    attributes.update(claimable)
    return attributes


def _input_messages(attributes: Attributes, messages: Sequence[Any]) -> None:
    system: list[dict[str, Any]] = []
    rest = []
    for message in messages or ():
        role = _role(message)
        if role == "system":
            system.extend(_parts(message))
        elif role == "tool":
            tool_id = (getattr(message, "additional_kwargs", None) or {}).get("tool_call_id")
            rest.append(msg.message("tool", [msg.tool_call_response_part(getattr(message, "content", None), tool_id)]))
        else:
            rest.append(msg.message(role, _parts(message)))
    if system:
        attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = msg.content_json(system)
    attributes[sc.GEN_AI_INPUT_MESSAGES] = msg.content_json(rest)


def _usage(raw: Any, additional: Mapping[str, Any]) -> Attributes:
    """Token counts from the provider's raw reply (`usage`), else from LlamaIndex's `additional_kwargs`."""
    usage = field(raw, "usage")
    source = (lambda key: field(usage, key)) if usage is not None else additional.get
    attributes: Attributes = {}
    put(attributes, sc.GEN_AI_USAGE_INPUT_TOKENS, integer(source("prompt_tokens")))
    put(attributes, sc.GEN_AI_USAGE_OUTPUT_TOKENS, integer(source("completion_tokens")))
    return attributes


def _llm_result_attributes(result: Any, capture_content: bool) -> Attributes:
    """An unclaimed model run's response attributes, from a `ChatResponse` / `CompletionResponse`."""
    raw = getattr(result, "raw", None)
    choices = field(raw, "choices") or ()
    reason = field(choices[0], "finish_reason") if choices else None
    reason = str(reason) if reason else "stop"
    outputs = None
    if capture_content:
        message = getattr(result, "message", None)
        parts = _parts(message) if message is not None else [msg.text_part(str(getattr(result, "text", "") or ""))]
        outputs = [msg.output_message(parts, reason)]
    additional = getattr(result, "additional_kwargs", None) or {}
    return response_attributes(field(raw, "id"), field(raw, "model"), reason, _usage(raw, additional), outputs)


def _embedding_result_attributes(result: Any) -> Attributes:
    """An unclaimed embeddings run's attributes: the vector size."""
    attributes: Attributes = {}
    vector = result[0] if isinstance(result, list) and result and isinstance(result[0], list) else result
    if isinstance(vector, list) and vector:
        attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(vector)
    return attributes


def seed_of(instance: Any) -> Any:
    """The `OpikCallbackHandler` in a component's callback manager, or None."""
    manager = getattr(instance, "callback_manager", None)
    handlers = getattr(manager, "handlers", None)
    if not handlers:
        return None
    from opik_otel.instrumentors.llama_index.tracer import OpikCallbackHandler

    for handler in handlers:
        if isinstance(handler, OpikCallbackHandler):
            return handler
    return None


class LlamaIndexRuns:
    """Turns dispatcher spans into OpenTelemetry spans. Holds the run map and the content switch;
    `trace_all` (the instrumentor on) traces every span, else only the trees of components whose
    callback manager holds an `OpikCallbackHandler`."""

    def __init__(self, runs: RunSpans, content: ContentPolicy, trace_all: bool) -> None:
        self.runs = runs
        self.content = content
        self.trace_all = trace_all
        self._kinds: dict[str, int] = {}  # open model / workflow runs' kinds
        self._extras: collections.OrderedDict[Hashable, Attributes] = collections.OrderedDict()
        # streamed chat answers (`StreamingAgentChatResponse`, keyed by id): the writer span reading
        # each one, the runs that returned one still being written (ended by its writer), and the
        # answers written before the run that returned them ended
        self._writers: collections.OrderedDict[str, tuple[Any, list[str]]] = collections.OrderedDict()  # answer, its deltas so far
        self._waiting: collections.OrderedDict[int, tuple[weakref.ref[Any], list[str]]] = collections.OrderedDict()
        self._written: collections.OrderedDict[int, tuple[weakref.ref[Any], str, BaseException | None]] = collections.OrderedDict()
        self._lock = threading.RLock()  # re-entrant: `_abandoned` may run from a garbage collection inside a locked block

    def __len__(self) -> int:
        return len(self._kinds) + len(self._extras) + len(self._writers) + len(self._waiting) + len(self._written)

    # -- span handler --

    def enter(self, id_: str, bound_args: Any, instance: Any, parent_id: str | None) -> None:
        try:
            runs = self.runs
            parent_known = parent_id is not None and parent_id in runs
            extra = self._extras.get(parent_id) if parent_known else None
            seed = seed_of(instance) if instance is not None else None
            if seed is not None:
                extra = seed.extra_attributes
            elif not parent_known and not self.trace_all:
                return
            name = _name_of(id_)
            method = name.rsplit(".", 1)[-1]
            if instance is None:
                parent_kind = self._kinds.get(parent_id) if parent_id else None
                kind = TOOL if parent_kind is not None and method == "call_tool" else GENERIC
                if parent_kind in (WORKFLOW, AGENT):
                    name = method
            else:
                kind = _kind(instance, method)
                if kind == STEP:
                    name = method
                else:  # older dispatchers name the defining class
                    name = f"{getattr(instance, 'opik_class_name', None) or type(instance).__name__}.{method.lstrip('_')}"
                parent_kind = self._kinds.get(parent_id) if parent_id is not None else None
                if kind == parent_kind and kind in (TOOL, CHAT, COMPLETE, EMBED):
                    # the tool called by an agent's call_tool step, already its execute_tool span; an
                    # LLM method calling another (`complete` through `chat`): one model call
                    kind = HIDE
                elif kind in (CHAT, COMPLETE) and parent_kind in (CHAT, COMPLETE):
                    kind = HIDE
            if kind == HIDE:
                runs.hide(id_, parent_id)
                if method in _ANSWER_WRITERS and instance is not None:
                    self._bounded_put(self._writers, id_, (instance, []))
                if extra:
                    self._remember(id_, extra)
                return
            if extra:
                self._remember(id_, extra)
            attributes: Attributes = dict(extra or {})
            arguments = _arguments(bound_args)
            if kind in (CHAT, COMPLETE, EMBED):
                self._defer(id_, parent_id, kind, instance, arguments, attributes)
                return
            name = self._describe(kind, name, instance, arguments, attributes)
            if kind in (WORKFLOW, AGENT, TOOL):
                with self._lock:
                    self._kinds[id_] = kind
            runs.start(id_, parent_id, name, SpanKind.INTERNAL, attributes)
        except Exception:
            logger.debug("opik-otel: could not read a LlamaIndex span start", exc_info=True)

    def _bounded_put(self, store: collections.OrderedDict[Any, Any], key: Any, value: Any) -> None:
        with self._lock:
            store[key] = value
            while len(store) > _MAX_EXTRAS:
                store.popitem(last=False)

    def _remember(self, id_: str, extra: Attributes) -> None:
        with self._lock:
            self._extras[id_] = extra
            while len(self._extras) > _MAX_EXTRAS:
                self._extras.popitem(last=False)

    def _describe(self, kind: int, name: str, instance: Any, arguments: Mapping[str, Any], attributes: Attributes) -> str:
        """The span name of a visible run; fills its start attributes."""
        content = self.content.enabled
        if kind == RETRIEVE:
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.RETRIEVAL
            top_k = getattr(instance, "similarity_top_k", None) or getattr(instance, "_similarity_top_k", None)
            if isinstance(top_k, int):
                attributes[sc.GEN_AI_REQUEST_TOP_K] = top_k
            if content:
                attributes[sc.INPUT_VALUE] = msg.content_json(_query_text(_first(arguments, "str_or_query_bundle", "query_bundle", "query")))
            return "retrieval"
        if kind == TOOL:
            event = arguments.get("ev") if instance is None else None
            if event is not None:  # a workflow agent's call_tool step
                tool_name = str(getattr(event, "tool_name", "") or "tool")
                call_id = getattr(event, "tool_id", None)
                tool_input = getattr(event, "tool_kwargs", None)
            else:
                metadata = getattr(instance, "metadata", None)
                tool_name = str(getattr(metadata, "name", None) or type(instance).__name__)
                call_id = None
                tool_input = dict(arguments.get("kwargs") or {}) or [_plain(a) for a in arguments.get("args") or ()]
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.EXECUTE_TOOL
            attributes[sc.GEN_AI_TOOL_NAME] = tool_name
            if call_id:
                attributes[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
            if content:
                attributes[sc.INPUT_VALUE] = msg.content_json(_plain(tool_input))
            return f"execute_tool {tool_name}"
        if kind in (AGENT, LEGACY_AGENT):
            agent_name = getattr(instance, "name", None)
            agent_name = agent_name if isinstance(agent_name, str) and agent_name else type(instance).__name__
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.INVOKE_AGENT
            attributes[sc.GEN_AI_AGENT_NAME] = agent_name
            if content:
                user_msg = getattr(arguments.get("start_event"), "user_msg", None) if kind == AGENT else None
                if user_msg is not None:  # a workflow agent's start event: the user's message
                    attributes[sc.INPUT_VALUE] = msg.content_json(_plain(_query_text(user_msg)))
                else:
                    self._input(attributes, arguments)
            return f"invoke_agent {agent_name}"
        if kind == WORKFLOW:
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.INVOKE_WORKFLOW
            if content:
                self._input(attributes, arguments)
            return f"invoke_workflow {type(instance).__name__}"
        if content:
            self._input(attributes, arguments)
        return name

    @staticmethod
    def _input(attributes: Attributes, arguments: Mapping[str, Any]) -> None:
        nodes = arguments.get("nodes")
        if isinstance(nodes, list) and len(nodes) <= _MAX_LISTED:  # a reranker: the nodes, and the query
            value: Any = {"nodes": nodes}
            query = _first(arguments, "query_bundle", "query_str")
            if query is not None:
                value["query"] = _query_text(query)
            attributes[sc.INPUT_VALUE] = msg.content_json(_plain(value))
            return
        value = _first(arguments, "str_or_query_bundle", "query_bundle", "query", "message", "user_msg", "nodes", "documents", "ev", "start_event")
        if value is None:
            rest = {k: v for k, v in arguments.items() if k not in ("self", "kwargs", "args")}
            value = rest or dict(arguments.get("kwargs") or {})
        elif isinstance(value, list):
            if len(value) > _MAX_LISTED:  # an ingestion's documents: how many, not each
                value = {"count": len(value)}
        else:
            value = _query_text(value)
        if value not in (None, {}, []):
            attributes[sc.INPUT_VALUE] = msg.content_json(_plain(value))

    def _defer(self, id_: str, parent_id: str | None, kind: int, instance: Any, arguments: Mapping[str, Any], claimable: Attributes) -> None:
        model = _model(instance)
        claimable[sc.OPIK_METADATA_PREFIX + "llama_index.class"] = type(instance).__name__
        if kind == EMBED:
            operation = sc.GenAiOperation.EMBEDDINGS
            texts = _first(arguments, "texts", "text", "query")
            claimable[sc.OPIK_METADATA_PREFIX + "llama_index.input_count"] = len(texts) if isinstance(texts, list) else 1
        else:
            operation = sc.GenAiOperation.CHAT if kind == CHAT else sc.GenAiOperation.TEXT_COMPLETION
        capture = self.content.enabled
        with self._lock:
            self._kinds[id_] = kind
            while len(self._kinds) > self.runs.max_runs:  # streams never consumed: forget the oldest
                self._kinds.pop(next(iter(self._kinds)))
        # the request is read only if no provider span claims the call (that one reads it itself)
        self.runs.defer(id_, parent_id, inference_span_name(operation, model),
                        lambda: _model_request(kind, operation, model, instance, arguments, capture, claimable), claimable)

    def exit(self, id_: str, result: Any) -> None:
        try:
            if id_ in self._writers:  # a streamed chat answer's writer that sent no end event
                self._writer_ended(id_, None)
            kind = self._kinds.get(id_)
            self._extras.pop(id_, None)
            if kind in (CHAT, COMPLETE) and (inspect.isgenerator(result) or inspect.isasyncgen(result)):
                self.runs.release(id_, result)  # a stream: ended by its end event, once consumed
                return
            with self._lock:
                self._kinds.pop(id_, None)
            content = self.content.enabled
            if _is_answer_stream(result) and self._end_when_written(id_, result):
                return
            if kind in (CHAT, COMPLETE):
                self.runs.end(id_, lambda: _llm_result_attributes(result, content))
            elif kind == EMBED:
                self.runs.end(id_, lambda: _embedding_result_attributes(result))
            elif content:
                self.runs.end(id_, lambda: _output_attributes(_answer(result) if kind == AGENT else _tool_result(result) if kind == TOOL else result))
            else:
                self.runs.end(id_)
        except Exception:
            logger.debug("opik-otel: could not read a LlamaIndex span end", exc_info=True)

    def _end_when_written(self, id_: str, answer: Any) -> bool:
        """A run returned a streamed chat answer: it stays open until LlamaIndex has written the
        answer (its writer's end event ends it, with the answer), or ends here with the answer
        already written. False for a run without a span (plumbing): nothing to do."""
        run = self.runs._runs.get(id_)
        if run is None or run.span is None:
            return False
        key = id(answer)
        evicted: list[str] = []
        with self._lock:
            written = self._written.pop(key, None)
            if written is not None and written[0]() is answer:
                waits = False
            else:
                waits = True
                waiting = self._waiting.get(key)
                if waiting is not None and waiting[0]() is answer:
                    waiting[1].append(id_)
                else:  # ended without output if the app drops the answer before it is written
                    self._waiting[key] = (weakref.ref(answer, lambda _, key=key: self._abandoned(key)), [id_])
                if len(self._waiting) > _MAX_EXTRAS:
                    evicted = self._waiting.popitem(last=False)[1][1]
        for old in evicted:
            self.runs.end(old)
        if waits:
            self.runs.release(id_)
        else:
            self._end_answered(id_, written[1], written[2])  # type: ignore[index]
        return True

    def _answer_written(self, answer: Any, text: str, error: BaseException | None) -> None:
        """A streamed chat answer's writer ended: end the runs that returned it (or remember it)."""
        key = id(answer)
        with self._lock:
            waiting = self._waiting.pop(key, None)
            if waiting is None or waiting[0]() is not answer:
                self._written[key] = (weakref.ref(answer), text, error)
                while len(self._written) > _MAX_EXTRAS:
                    self._written.popitem(last=False)
                return
        for run_id in waiting[1]:
            self._end_answered(run_id, text, error)

    def _end_answered(self, run_id: str, text: str, error: BaseException | None) -> None:
        if error is not None:
            self.runs.fail(run_id, error)
        elif text and self.content.enabled:
            self.runs.end(run_id, {sc.OUTPUT_VALUE: msg.content_json(text)})
        else:
            self.runs.end(run_id)

    def _abandoned(self, key: int) -> None:
        """A streamed chat answer was dropped before it was written: end the runs waiting for it."""
        with self._lock:
            waiting = self._waiting.pop(key, None)
        for run_id in waiting[1] if waiting is not None else ():
            self.runs.end(run_id)

    def drop(self, id_: str, err: BaseException | None) -> None:
        if id_ in self._writers:  # a streamed chat answer's writer failing before its first event
            self._writer_ended(id_, err)
        self._extras.pop(id_, None)
        with self._lock:
            self._kinds.pop(id_, None)
        if err is None:
            self.runs.end(id_)
        else:
            self.runs.fail(id_, err)

    # -- event handler --

    def event(self, event: Any) -> None:
        """A streamed model run's chunks, end and failure (its dispatcher span has exited)."""
        span_id = getattr(event, "span_id", None)
        if span_id is None:
            return
        if span_id in self._writers:
            self._writer_event(span_id, event)
            return
        if span_id not in self._kinds:
            return
        try:
            kind_name = type(event).__name__
            if kind_name in ("LLMChatInProgressEvent", "LLMCompletionInProgressEvent"):
                self.runs.first_chunk(span_id)
            elif kind_name in ("LLMChatEndEvent", "LLMCompletionEndEvent"):
                with self._lock:
                    kind = self._kinds.get(span_id)
                if kind not in (CHAT, COMPLETE) or span_id not in self.runs or not self._is_streaming(span_id):
                    return
                with self._lock:
                    self._kinds.pop(span_id, None)
                response = getattr(event, "response", None)
                content = self.content.enabled
                self.runs.end(span_id, lambda: _llm_result_attributes(response, content))
            elif kind_name == "ExceptionEvent" and self._is_streaming(span_id):
                with self._lock:
                    self._kinds.pop(span_id, None)
                error = getattr(event, "exception", None)
                if isinstance(error, GeneratorExit):  # the app stopped reading: not a failure
                    self.runs.end(span_id)
                else:
                    self.runs.fail(span_id, error if isinstance(error, BaseException) else RuntimeError("stream failed"))
        except Exception:
            logger.debug("opik-otel: could not read a LlamaIndex event", exc_info=True)

    def _writer_event(self, span_id: str, event: Any) -> None:
        """A streamed chat answer's writer read a delta, or finished (its end or error event)."""
        kind_name = type(event).__name__
        try:
            if kind_name == "StreamChatDeltaReceivedEvent":
                delta = getattr(event, "delta", None)
                writer = self._writers.get(span_id)
                if writer is not None and isinstance(delta, str) and self.content.enabled:
                    writer[1].append(delta)
                return
            if kind_name == "StreamChatEndEvent":
                self._writer_ended(span_id, None)
            elif kind_name == "StreamChatErrorEvent":  # sent before LlamaIndex sets the answer's `exception`
                error = getattr(event, "exception", None)
                self._writer_ended(span_id, error if isinstance(error, BaseException) else RuntimeError("stream failed"))
        except Exception:
            logger.debug("opik-otel: could not read a LlamaIndex answer stream's end", exc_info=True)

    def _writer_ended(self, span_id: str, error: BaseException | None) -> None:
        with self._lock:
            writer = self._writers.pop(span_id, None)
        if writer is not None:
            self._answer_written(writer[0], "".join(writer[1]).strip(), error)

    def _is_streaming(self, span_id: str) -> bool:
        """A released model run (its call returned a stream): its context is no longer attached."""
        run = self.runs._runs.get(span_id)
        return run is not None and run.pending is not None and run.token is None


def _answer(result: Any) -> Any:
    """A workflow agent's answer: the text of the `AgentOutput` its `StopEvent` holds, else the result."""
    content = getattr(getattr(getattr(result, "result", None), "response", None), "content", None)
    return content if isinstance(content, str) else result


def _tool_result(result: Any) -> Any:
    """A tool's result: the content of its `ToolOutput` (a workflow agent's `ToolCallResult` holds one), else the result."""
    content = getattr(getattr(result, "tool_output", result), "content", None)
    return content if isinstance(content, str) else result


def _is_answer_stream(result: Any) -> bool:
    """A streamed chat answer that LlamaIndex writes on its own thread or task (`stream_chat`)."""
    return type(result).__name__ == "StreamingAgentChatResponse" and getattr(result, "is_writing_to_memory", False) is True


def _output_attributes(result: Any) -> Attributes:
    if result is None or inspect.isgenerator(result) or inspect.isasyncgen(result):
        return {}
    if type(result).__name__ in ("StreamingResponse", "AsyncStreamingResponse", "StreamingAgentChatResponse"):
        return {}  # the answer is still to come: not read (reading would consume the user's stream)
    value = _plain(result)
    return {sc.OUTPUT_VALUE: msg.content_json(value)} if value not in (None, "") else {}


class OpikSpanHandler(BaseSpanHandler):  # type: ignore[type-arg]
    """The dispatcher span handler: hands every span to `LlamaIndexRuns` (and keeps no span itself)."""

    def __init__(self, runs: LlamaIndexRuns) -> None:
        super().__init__()
        object.__setattr__(self, "_opik_runs", runs)

    @classmethod
    def class_name(cls) -> str:
        return "OpikSpanHandler"

    def new_span(self, id_: str, bound_args: Any, instance: Any = None, parent_span_id: str | None = None, tags: Any = None, **kwargs: Any) -> None:
        self._opik_runs.enter(id_, bound_args, instance, parent_span_id)
        return None

    def prepare_to_exit_span(self, id_: str, bound_args: Any, instance: Any = None, result: Any = None, **kwargs: Any) -> None:
        self._opik_runs.exit(id_, result)
        return None

    def prepare_to_drop_span(self, id_: str, bound_args: Any, instance: Any = None, err: BaseException | None = None, **kwargs: Any) -> None:
        self._opik_runs.drop(id_, err)
        return None


class OpikEventHandler(BaseEventHandler):
    """The dispatcher event handler: streamed model runs' first chunk, end and failure."""

    def __init__(self, runs: LlamaIndexRuns) -> None:
        super().__init__()
        object.__setattr__(self, "_opik_runs", runs)

    @classmethod
    def class_name(cls) -> str:
        return "OpikEventHandler"

    def handle(self, event: Any, **kwargs: Any) -> None:
        self._opik_runs.event(event)
