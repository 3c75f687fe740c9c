"""The DSPy callback: reads DSPy's callback events and hands them to `RunSpans`.

What each call becomes (DSPy gives a call id per call and no parent id: a run's parent is the span
current where it started; DSPy's `ParallelExecutor` (`Evaluate`, `dspy.Parallel`, `batch`,
optimizers) runs its items in the context it was called in: see the instrumentor):

- a module call (`Predict`, `ChainOfThought`, `ReAct`, the app's own `dspy.Module`): an INTERNAL
  span named by the module's class, its inputs as `input.value`, the prediction's fields as
  `output.value` (content on);
- an LM call: no span of its own; the provider call under it (LiteLLM's, when DSPy calls LiteLLM
  and it is instrumented) claims it, else `chat {model}` is made from DSPy's data (the LM's history
  entry: usage, response id and model, the outputs); an answer from DSPy's cache is marked
  `opik.metadata.cache_hit` and carries no usage (not billed);
- adapter formatting and parsing: no span (their input and output are the inference span's
  messages and the module's prediction); a failure adds a `dspy.adapter.parse.error` (or `.format.error`) event to the
  module span, and the module's own failure (if it follows) marks the module span;
- a tool (`dspy.Tool`, ReAct's steps): `execute_tool {name}`;
- `dspy.Evaluate` and an optimizer's `compile`: `invoke_workflow {class}`, each example's program
  run under it (DSPy runs them in threads).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Mapping, TypeVar

from dspy.utils.callback import BaseCallback
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel.instrumentors._adapter import response_attributes
from opik_otel.instrumentors._callbacks import Attributes, LateAttributes, RunSpans
from opik_otel.instrumentors._framework import inference_span_name, request_numbers
from opik_otel.instrumentors._read import UNREAD, field, plain_data, text
from opik_otel.instrumentors.openai.chat import input_messages, output_message
from opik_otel.instrumentors.openai.common import CHAT_USAGE, usage_attributes
from opik_otel.semconv import messages as msg
from opik_otel.semconv.providers import known_provider

logger = logging.getLogger(__name__)
_V = TypeVar("_V")

CACHE_HIT = sc.OPIK_METADATA_PREFIX + "cache_hit"
_WORKFLOW_PREFIX = "invoke_workflow "
_NOT_WORKFLOW_INPUTS = frozenset({"self", "program", "student", "teacher", "metric", "callback_metadata", "kwargs"})
_REQUEST_PARAMETERS = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_completion_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P),
    ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("seed", sc.GEN_AI_REQUEST_SEED),
)
#: How far back an LM's history is searched for the entry of the call that just ended.
_HISTORY_LOOKBACK = 32


def _leaf(value: Any, depth: int) -> Any:
    """DSPy's own values: a `Prediction` / `Example` as its fields, a signature as its text."""
    to_dict = getattr(value, "toDict", None)
    if callable(to_dict):
        try:
            return plain_data(to_dict(), _leaf, depth + 1)
        except Exception:
            return UNREAD
    signature = getattr(value, "signature", None)
    if isinstance(value, type) and isinstance(signature, str):
        return signature
    return UNREAD


def _plain(value: Any) -> Any:
    return plain_data(value, _leaf, otherwise=str)


def _call_inputs(inputs: Mapping[str, Any] | None) -> Any:
    """A call's arguments as DSPy passes them (`{"args": (), "kwargs": {...}}`): the keyword
    arguments alone when there are no positional ones."""
    if not isinstance(inputs, Mapping):
        return inputs
    args, kwargs = inputs.get("args"), inputs.get("kwargs")
    if set(inputs) <= {"args", "kwargs"} and not args and isinstance(kwargs, Mapping):
        return kwargs
    return dict(inputs)


class _Bounded(OrderedDict[str, _V]):
    """What a callback keeps per open call: past `size` entries, the oldest (a call that never ended) is dropped."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: str, value: _V) -> None:
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


def _history_entry(lm: Any, messages: Any, prompt: Any) -> Mapping[str, Any] | None:
    """The LM's history entry of the call that just ended: the newest with these messages (the very
    list when DSPy kept it, else an equal one), so calls made at once from threads are not mixed."""
    history = getattr(lm, "history", None)
    if not isinstance(history, list) or not history:
        return None
    recent = history[-_HISTORY_LOOKBACK:]
    for entry in reversed(recent):
        if isinstance(entry, Mapping) and entry.get("messages") is messages and entry.get("prompt") is prompt:
            return entry
    for entry in reversed(recent):
        if isinstance(entry, Mapping) and entry.get("messages") == messages and entry.get("prompt") == prompt:
            return entry
    return None


def _is_cache_hit(lm: Any, entry: Mapping[str, Any], response: Any) -> bool:
    """DSPy marks a cached answer (`cache_hit` on the response or entry; DSPy 3 also empties its
    usage); DSPy 2.6's in-memory cache hands back the very response object of an earlier entry."""
    if getattr(response, "cache_hit", False) is True or entry.get("cache_hit") is True:
        return True
    if entry.get("usage") == {} and response is not None:
        return True
    if response is None:
        return False
    history = getattr(lm, "history", None) or ()
    return any(other is not entry and isinstance(other, Mapping) and other.get("response") is response for other in history[-_HISTORY_LOOKBACK:])


def _lm_result_attributes(lm: Any, entry: Mapping[str, Any] | None, outputs: Any, capture_content: bool) -> Attributes:
    """An unclaimed LM call's response attributes, from its history entry (or, without one, DSPy's outputs)."""
    response = entry.get("response") if entry else None
    response_id = text(field(response, "id"))
    if entry is not None and _is_cache_hit(lm, entry, response):
        cached: Attributes = {CACHE_HIT: True}
        if capture_content:
            cached.update(_output_messages(response, outputs))
        return cached
    reasons = _finish_reasons(response)
    usage = usage_attributes(entry.get("usage") if entry else None, *CHAT_USAGE)
    attributes = response_attributes(response_id, text(entry.get("response_model")) if entry else None, reasons or None, usage)
    if capture_content:
        attributes.update(_output_messages(response, outputs))
    return attributes


def _finish_reasons(response: Any) -> list[str]:
    choices = field(response, "choices")
    if isinstance(choices, list):
        return [str(field(choice, "finish_reason") or "stop") for choice in choices]
    reason = text(field(response, "finish_reason"))  # DSPy 3's native response
    return [reason] if reason else []


def _output_messages(response: Any, outputs: Any) -> Attributes:
    choices = field(response, "choices")
    if isinstance(choices, list) and choices:
        messages = [output_message(field(choice, "message"), field(choice, "finish_reason")) for choice in choices]
    else:
        reason = text(field(response, "finish_reason")) or "stop"
        messages = [msg.output_message([msg.text_part(_output_text(output))], reason) for output in outputs or ()]
    return {sc.GEN_AI_OUTPUT_MESSAGES: msg.content_json(messages)} if messages else {}


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    value = field(output, "text")
    return value if isinstance(value, str) else msg.to_json(_plain(output))


class OpikDSPyCallback(BaseCallback):
    """Turns DSPy calls into OpenTelemetry spans (the events of `dspy.utils.callback.BaseCallback`).

    Its handlers run in the calling thread or task, before and after the call: the context each
    attaches is detached at the call's end, so spans made inside a call nest under it."""

    def __init__(self, runs: RunSpans, content: ContentPolicy, extra_attributes: Attributes | None = None) -> None:
        super().__init__()
        self._runs = runs
        self._content = content
        self._extra = extra_attributes or {}
        # call id -> (LM, messages, prompt) until the call ends (bounded like the run map)
        self._lm_calls: _Bounded[tuple[Any, Any, Any]] = _Bounded(runs.max_runs)

    # -- shared --

    def _start(self, call_id: str, name: str, attributes: Attributes, inputs: Any) -> None:
        if self._content.enabled:
            attributes[sc.INPUT_VALUE] = msg.content_json(_plain(_call_inputs(inputs)))
        self._runs.start(call_id, None, name, SpanKind.INTERNAL, attributes)

    def _end(self, call_id: str, outputs: Any, exception: BaseException | None) -> None:
        if exception is not None:
            self._runs.fail(call_id, exception)
        else:
            self._runs.end(call_id, self._output_value(outputs))

    def _output_value(self, value: Any) -> LateAttributes:
        return (lambda: {sc.OUTPUT_VALUE: msg.content_json(_plain(value))}) if self._content.enabled and value is not None else None

    def _start_workflow(self, call_id: str, instance: Any, inputs: Any) -> None:
        try:
            name = type(instance).__name__
            attributes = dict(self._extra)
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.INVOKE_WORKFLOW
            self._start(call_id, _WORKFLOW_PREFIX + name, attributes, _workflow_inputs(inputs))
        except Exception:
            logger.debug("opik-otel: could not read a DSPy workflow start", exc_info=True)

    def _end_workflow(self, call_id: str, outputs: Any, exception: BaseException | None) -> None:
        self._end(call_id, _workflow_outputs(outputs), exception)

    # -- modules --

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        try:
            self._start(call_id, type(instance).__name__, dict(self._extra), inputs)
        except Exception:
            logger.debug("opik-otel: could not read a DSPy module start", exc_info=True)

    def on_module_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        self._end(call_id, outputs, exception)

    # -- LMs --

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        try:
            model = str(getattr(instance, "model", "") or "")
            operation = sc.GenAiOperation.TEXT_COMPLETION if getattr(instance, "model_type", None) == "text" else sc.GenAiOperation.CHAT
            claimable = dict(self._extra)
            messages, prompt = inputs.get("messages"), inputs.get("prompt")
            capture = self._content.enabled
            self._lm_calls[call_id] = (instance, messages, prompt)
            # the request is read only if no provider span claims the call (that one reads it itself)
            self._runs.defer(call_id, None, inference_span_name(operation, model),
                             lambda: _lm_request(operation, model, instance, inputs, capture, claimable), claimable)
        except Exception:
            logger.debug("opik-otel: could not read a DSPy LM start", exc_info=True)

    def on_lm_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        call = self._lm_calls.pop(call_id, None)
        if exception is not None:
            self._runs.fail(call_id, exception)
            return
        content = self._content.enabled

        def result() -> Attributes:
            entry = _history_entry(*call) if call is not None else None
            return _lm_result_attributes(call[0] if call is not None else None, entry, outputs, content)

        self._runs.end(call_id, result)

    # -- adapters: no span --

    def on_adapter_format_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        return None

    def on_adapter_format_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        if exception is not None:
            _adapter_error("format", exception)

    def on_adapter_parse_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        return None

    def on_adapter_parse_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        if exception is not None:
            _adapter_error("parse", exception)

    # -- tools --

    def on_tool_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        try:
            name = str(getattr(instance, "name", None) or type(instance).__name__)
            attributes = dict(self._extra)
            attributes[sc.GEN_AI_OPERATION_NAME] = sc.GenAiOperation.EXECUTE_TOOL
            attributes[sc.GEN_AI_TOOL_NAME] = name
            self._start(call_id, f"execute_tool {name}", attributes, inputs)
        except Exception:
            logger.debug("opik-otel: could not read a DSPy tool start", exc_info=True)

    def on_tool_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        self._end(call_id, outputs, exception)

    # -- evaluation and optimizers --

    def on_evaluate_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        self._start_workflow(call_id, instance, inputs)

    def on_evaluate_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        self._end_workflow(call_id, outputs, exception)

    def on_compile_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        self._start_workflow(call_id, instance, inputs)

    def on_compile_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        self._end_workflow(call_id, outputs, exception)


def _workflow_inputs(inputs: Any) -> Any:
    """An evaluation's or a compile's arguments, less the programs and the metric (the spans under it)."""
    if not isinstance(inputs, Mapping):
        return inputs
    return {key: value for key, value in inputs.items() if key not in _NOT_WORKFLOW_INPUTS and value is not None}


def _workflow_outputs(outputs: Any) -> Any:
    """An evaluation's result (its score); a compiled program as its class name."""
    score = getattr(outputs, "score", None)
    if isinstance(score, (int, float)):
        return {"score": score}
    if isinstance(outputs, (int, float)):
        return {"score": outputs}
    if outputs is not None and hasattr(outputs, "named_predictors"):
        return {"program": type(outputs).__name__}
    return outputs


def _lm_request(operation: str, model: str, instance: Any, inputs: dict[str, Any], capture_content: bool, claimable: Attributes) -> Attributes:
    """An unclaimed LM call's request attributes: operation, provider (from `provider/model`),
    model, parameters, and its messages or prompt when content is captured."""
    attributes: Attributes = {sc.GEN_AI_OPERATION_NAME: operation}
    prefix = model.split("/", 1)[0] if "/" in model else ""
    provider = known_provider(prefix) or known_provider(getattr(getattr(instance, "provider", None), "name", None))
    attributes[sc.GEN_AI_PROVIDER_NAME] = provider.name if provider else (prefix or "dspy")
    if model:
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
    parameters = {**(getattr(instance, "kwargs", None) or {}), **(inputs.get("kwargs") or {})}
    request_numbers(parameters.get, _REQUEST_PARAMETERS, attributes)
    if capture_content:
        _input_content(attributes, inputs.get("messages"), inputs.get("prompt"))
    attributes.update(claimable)
    return attributes


def _input_content(attributes: Attributes, messages: Any, prompt: Any) -> None:
    if messages is None and isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    converted = input_messages(messages)
    system = [part for message in converted if message["role"] == "system" for part in message["parts"]]
    rest = [message for message in converted if message["role"] != "system"]
    if system:
        attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = msg.content_json(system)
    attributes[sc.GEN_AI_INPUT_MESSAGES] = msg.content_json(rest)


def _adapter_error(step: str, exception: BaseException) -> None:
    """An adapter's failed format or parse, as an event on the module span (DSPy may retry with
    another adapter; if it gives up, the module's failure marks its span)."""
    try:
        trace.get_current_span().add_event(
            f"dspy.adapter.{step}.error", {sc.ERROR_TYPE: type(exception).__qualname__}
        )
    except Exception:  # pragma: no cover - defensive
        logger.debug("opik-otel: could not record a DSPy adapter error", exc_info=True)
