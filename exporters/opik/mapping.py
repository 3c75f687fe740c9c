"""Pure functions from a finished OTel span to Opik's `SpanWrite` / `TraceWrite` dicts.

No I/O. A malformed attribute loses the one field it feeds (logged at debug), never the
span: every extraction from attributes goes through `_safe`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

import pydantic_core
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.semconv.attributes import exception_attributes as _exception
from opentelemetry.trace import StatusCode

from opik_otel import semconv as sc
from opik_otel._span_attributes import span_attributes
from opik_otel.exporters.opik.payload import MEDIA_THRESHOLD_BYTES, RawJson, fit, may_need_fit
from opik_otel.semconv.providers import opik_provider
from opik_otel.semconv.usage import MODEL_KEYS, PROVIDER_KEYS, TOKEN_KEYS, TOTAL_TOKENS, first_count, first_text, token_counts
from opik_otel._ids import OPIK_PARENT_TRACE_STATE_KEY, OPIK_TRACE_STATE_KEY, OpikIdMapper, opik_id_from_hex, synthetic_span_id

__all__ = [
    "CREATED_FROM",
    "OPIK_TRACE_STATE_KEY",
    "is_root",
    "opik_provider",
    "span_to_opik",
    "span_type",
]

_logger = logging.getLogger(__name__)
_T = TypeVar("_T")

CREATED_FROM = "opik-otel"
_EXCEPTION_EVENT = "exception"
_EVENTS_METADATA_KEY = "opentelemetry.events"
_JSON = json.JSONDecoder(parse_constant=str)  # NaN / Infinity stay strings: Opik rejects them

_SPAN_TYPES = frozenset({"general", "tool", "llm", "guardrail"})
_Op = sc.GenAiOperation
_LLM_OPERATIONS = frozenset({_Op.CHAT, _Op.TEXT_COMPLETION, _Op.GENERATE_CONTENT, _Op.EMBEDDINGS})
_NON_LLM_OPERATIONS = frozenset({_Op.INVOKE_AGENT, _Op.EXECUTE_TOOL, _Op.INVOKE_WORKFLOW, _Op.RETRIEVAL})

# Opik's usage key of each token count, in `TokenCounts` order.
_OPIK_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "reasoning_tokens")


class _ContentSpec(NamedTuple):
    """Where an input or output comes from, in order of preference."""

    genai_fields: tuple[tuple[str, str], ...]  # (Opik field, attribute) pairs of GenAI content
    plain_keys: tuple[str, ...]  # else the first present: tool attribute, then generic value
    wrap_key: str  # wraps a plain value that is not a JSON object
    mime_type_key: str  # says the generic value is JSON ("application/json")

    def attribute_keys(self) -> frozenset[str]:
        return frozenset(key for _, key in self.genai_fields) | frozenset(self.plain_keys) | {self.mime_type_key}


_INPUT = _ContentSpec(
    (
        ("messages", sc.GEN_AI_INPUT_MESSAGES),
        ("system_instructions", sc.GEN_AI_SYSTEM_INSTRUCTIONS),
        ("tools", sc.GEN_AI_TOOL_DEFINITIONS),
    ),
    (sc.GEN_AI_TOOL_CALL_ARGUMENTS, sc.INPUT_VALUE),
    "input",
    sc.INPUT_MIME_TYPE,
)
_OUTPUT = _ContentSpec(
    (("messages", sc.GEN_AI_OUTPUT_MESSAGES),), (sc.GEN_AI_TOOL_CALL_RESULT, sc.OUTPUT_VALUE), "output", sc.OUTPUT_MIME_TYPE
)

_CONTENT_KEYS = {spec.wrap_key: spec.attribute_keys() for spec in (_INPUT, _OUTPUT)}
# Attributes that never go to metadata; for llm spans `_LLM_KEYS` are fields, not metadata.
_NEVER_METADATA = (
    frozenset({sc.OPIK_PROJECT_NAME, sc.OPIK_TAGS, sc.OPIK_SPAN_TYPE, sc.GEN_AI_USAGE_COST})
    | _INPUT.attribute_keys()
    | _OUTPUT.attribute_keys()
    | TOKEN_KEYS
)
_LLM_KEYS = frozenset(MODEL_KEYS + PROVIDER_KEYS)
_NEVER_METADATA_LLM = _NEVER_METADATA | _LLM_KEYS


def span_to_opik(
    span: ReadableSpan, ids: OpikIdMapper, default_project: str, max_field_bytes: int | None = None, *, raw_json: bool = False
) -> tuple[dict, dict | None]:
    """The `SpanWrite` dict of a finished span and, for a root span, its `TraceWrite` dict.

    Input and output are each kept within `max_field_bytes` of JSON (large base64 media
    become placeholders, long strings are cut with a marker). Raises only for a span with
    no context or start time; attribute trouble loses a field. With `raw_json`, JSON content
    and metadata that need no cutting stay text (`RawJson`, for `client.encode` to splice)
    instead of being parsed.
    """
    if span.context is None or span.start_time is None:
        raise ValueError("span has no context or start time")
    attrs = _attributes(span_attributes(span))
    trace_id = ids.trace_id(span.context.trace_id, span.start_time, span.context.trace_state)
    kind = _safe(span_type, attrs) or "general"
    common = _compact({
        "project_name": _safe(_project_name, span, attrs) or default_project,
        "name": span.name,
        "start_time": _iso(span.start_time),
        "end_time": _iso(span.end_time) if span.end_time is not None else None,
        "input": _safe(_content, attrs, _INPUT, max_field_bytes, raw_json),
        "output": _safe(_content, attrs, _OUTPUT, max_field_bytes, raw_json),
        "metadata": _safe(_metadata, span, attrs, kind, _json_text if raw_json else _loads) or {"created_from": CREATED_FROM},
        "tags": _safe(_tags, attrs.get(sc.OPIK_TAGS)),
        "error_info": _safe(_error_info, span, attrs),
    })
    opik_span = {"id": ids.span_id(span.context.span_id, trace_id), "trace_id": trace_id, "type": kind, **common}
    if kind == "llm":
        opik_span.update(_compact(_llm_fields(attrs)))
    if not is_root(span):
        opik_span["parent_span_id"] = _parent_id(span.parent, ids, trace_id)
        return opik_span, None
    trace = {"id": trace_id, **common, "thread_id": _safe(_thread_id, attrs), **_trace_overrides(attrs, common)}
    return opik_span, _compact(trace)


def _parent_id(parent: Any, ids: OpikIdMapper, trace_id: str) -> str:
    """The Opik id of the parent span; for a parent received as Opik SDK headers, the id it sent."""
    if parent.is_remote:
        sent = opik_id_from_hex((parent.trace_state or {}).get(OPIK_PARENT_TRACE_STATE_KEY))
        if sent is not None and parent.span_id == synthetic_span_id(sent):
            return sent
    return ids.span_id(parent.span_id, trace_id)


def _trace_overrides(attrs: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
    """What `update_current_trace()` set on the root span (`opik.trace.*`): the trace's own fields."""
    overrides: dict[str, Any] = {}
    if sc.OPIK_TRACE_NAME in attrs:
        overrides["name"] = str(attrs[sc.OPIK_TRACE_NAME])
    for field_name, key in (("input", sc.OPIK_TRACE_INPUT), ("output", sc.OPIK_TRACE_OUTPUT)):
        if key in attrs:
            value = _loads(attrs[key], True)
            overrides[field_name] = value if isinstance(value, dict) else {field_name: value}
    if sc.OPIK_TRACE_TAGS in attrs:
        overrides["tags"] = list(dict.fromkeys([*(common.get("tags") or ()), *(_safe(_tags, attrs[sc.OPIK_TRACE_TAGS]) or ())]))
    prefix = sc.OPIK_TRACE_METADATA_PREFIX
    extra = {key[len(prefix):]: _loads(value) for key, value in attrs.items() if key.startswith(prefix)}
    if extra:
        overrides["metadata"] = {**(common.get("metadata") or {}), **extra}
    return overrides


def is_root(span: ReadableSpan) -> bool:
    """No parent, or a remote parent from a process that does not export to Opik."""
    parent = span.parent
    if parent is None or not parent.is_valid:
        return True
    return parent.is_remote and OPIK_TRACE_STATE_KEY not in (parent.trace_state or {})


def span_type(attrs: Mapping[str, Any]) -> str:
    """Opik span type: explicit `opik.span.type`, else from the GenAI operation."""
    explicit = attrs.get(sc.OPIK_SPAN_TYPE)
    if explicit in _SPAN_TYPES:
        return explicit
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    if operation in _LLM_OPERATIONS:
        return "llm"
    if operation == _Op.EXECUTE_TOOL:
        return "tool"
    if operation not in _NON_LLM_OPERATIONS and any(key in attrs for key in _LLM_KEYS):
        return "llm"
    return "general"


# -- fields ---------------------------------------------------------------------------


def _llm_fields(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """model, provider, usage and total_estimated_cost of an llm span."""
    return {
        "model": _safe(first_text, attrs, MODEL_KEYS),
        "provider": _safe(_provider, attrs),
        "usage": _safe(_usage, attrs),
        "total_estimated_cost": _safe(_cost, attrs.get(sc.GEN_AI_USAGE_COST)),
    }


def _project_name(span: ReadableSpan, attrs: Mapping[str, Any]) -> str | None:
    resource_attrs = span_attributes(span.resource) if span.resource is not None else {}
    project = attrs.get(sc.OPIK_PROJECT_NAME) or resource_attrs.get(sc.OPIK_PROJECT_NAME)
    return str(project) if project else None


def _provider(attrs: Mapping[str, Any]) -> str | None:
    provider = first_text(attrs, PROVIDER_KEYS)
    return opik_provider(provider, attrs.get(sc.SERVER_ADDRESS)) if provider else None


def _usage(attrs: Mapping[str, Any]) -> dict[str, int] | None:
    usage = {key: count for key, count in zip(_OPIK_USAGE_KEYS, token_counts(attrs)) if count is not None}
    total = first_count(attrs, TOTAL_TOKENS)
    if total is None and ("prompt_tokens" in usage or "completion_tokens" in usage):
        total = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    if total is not None:
        usage["total_tokens"] = total
    return usage or None


def _cost(value: Any) -> float | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _content(
    attrs: Mapping[str, Any], spec: _ContentSpec, max_bytes: int | None = None, raw_json: bool = False
) -> dict[str, Any] | RawJson | None:
    """GenAI content as `{field: parsed JSON}`, else the first plain attribute as an object;
    within `max_bytes` of JSON when given. With `raw_json`, content that cannot need cutting
    keeps its JSON text (`RawJson`)."""
    keys = _CONTENT_KEYS[spec.wrap_key]
    if keys.isdisjoint(attrs):  # content off, or a span with no content: one pass in C
        return None
    texts = [v for k in keys if isinstance(v := attrs.get(k), str)]
    if raw_json and not may_need_fit(texts, max_bytes):
        return _read_content(attrs, spec, _json_text)
    value = _read_content(attrs, spec, _loads)
    if value is None or max_bytes is None:
        return value
    if sum(len(text) for text in texts) <= min(max_bytes, MEDIA_THRESHOLD_BYTES):  # no large media, not over the limit
        return value
    fitted, _ = fit(value, max_bytes)
    return fitted


def _read_content(attrs: Mapping[str, Any], spec: _ContentSpec, load: Callable[[Any, bool], Any]) -> dict[str, Any] | RawJson | None:
    genai = {field: load(attrs[key], False) for field, key in spec.genai_fields if key in attrs}
    if genai:
        return genai
    for key in spec.plain_keys:
        if key in attrs:
            value = load(attrs[key], attrs.get(spec.mime_type_key) == sc.JSON_MIME_TYPE and key == spec.plain_keys[-1])
            if isinstance(value, dict) or (isinstance(value, RawJson) and value.is_object()):
                return value
            return {spec.wrap_key: value}
    return None


def _metadata(span: ReadableSpan, attrs: Mapping[str, Any], kind: str, load: Callable[[Any], Any]) -> dict[str, Any]:
    """Unmapped attributes under their key, `opik.metadata.<key>` under `<key>`, and extras."""
    prefix = sc.OPIK_METADATA_PREFIX
    mapped_keys = _NEVER_METADATA_LLM if kind == "llm" else _NEVER_METADATA
    metadata: dict[str, Any] = {}
    for key, value in attrs.items():
        if key.startswith(prefix):
            metadata[key[len(prefix):]] = load(value)
        elif key not in mapped_keys and not key.startswith(sc.OPIK_TRACE_PREFIX):
            metadata[key] = value
    events = [
        {"name": event.name, "attributes": _attributes(event.attributes)}
        for event in span.events
        if event.name != _EXCEPTION_EVENT
    ]
    if events:
        metadata[_EVENTS_METADATA_KEY] = events
    if span.instrumentation_scope is not None:
        metadata["otel_scope"] = span.instrumentation_scope.name
    metadata["created_from"] = CREATED_FROM
    return metadata


def _tags(value: Any) -> list[str] | None:
    """`opik.tags` as a string array, a JSON array string or a comma-separated string."""
    if value is None:
        return None
    if isinstance(value, str):
        parsed = _loads(value)
        value = parsed if isinstance(parsed, list) else str(parsed).split(",")
    tags = (str(tag).strip() for tag in value if tag is not None)
    return list(dict.fromkeys(tag for tag in tags if tag)) or None


def _error_info(span: ReadableSpan, attrs: Mapping[str, Any]) -> dict[str, str] | None:
    """From the first `exception` event, else from an ERROR status."""
    for event in span.events:
        if event.name == _EXCEPTION_EVENT:
            event_attrs = event.attributes or {}
            return _error(
                event_attrs.get(_exception.EXCEPTION_TYPE),
                event_attrs.get(_exception.EXCEPTION_MESSAGE),
                event_attrs.get(_exception.EXCEPTION_STACKTRACE),
            )
    if span.status.status_code is StatusCode.ERROR:
        return _error(attrs.get(sc.ERROR_TYPE), span.status.description, None)
    return None


def _error(exception_type: Any, message: Any, traceback: Any) -> dict[str, str]:
    error = {"exception_type": str(exception_type or "Error"), "traceback": str(traceback or "")}
    if message is not None:
        error["message"] = str(message)
    return error


def _thread_id(attrs: Mapping[str, Any]) -> str | None:
    conversation_id = attrs.get(sc.GEN_AI_CONVERSATION_ID)
    return str(conversation_id) if conversation_id not in (None, "") else None


# -- helpers --------------------------------------------------------------------------


def _safe(extract: Callable[..., _T], *args: Any) -> _T | None:
    """`extract(*args)`, or None (logged at debug) when it raises."""
    try:
        return extract(*args)
    except Exception:  # noqa: BLE001 - a malformed attribute must only lose its field
        _logger.debug("opik mapping: %s failed", getattr(extract, "__name__", extract), exc_info=True)
        return None


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    scalars = _JSON_SCALARS
    return {
        key: value if type(value) in scalars else _plain(value)
        for key, value in (attributes or {}).items()
    }


_JSON_SCALARS = (str, int, bool)


def _plain(value: Any) -> Any:
    """JSON-ready attribute value: sequences as lists, non-finite floats as strings."""
    if type(value) in _JSON_SCALARS:  # nearly every attribute: skip the checks below
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _loads(value: Any, is_json: bool = False) -> Any:
    """A string that looks like JSON (object, array or string), or is declared JSON, parsed; else as is."""
    if isinstance(value, str) and (is_json or value.lstrip()[:1] in ("{", "[", '"')):
        try:
            return _JSON.decode(value)
        except ValueError:
            return value
    return value


# Below this many characters, parsing a JSON text and encoding it again costs less than checking
# it and splicing it in (benchmarks/span_cost.py; a chat span's short messages).
_SPLICE_MIN_CHARS = 256


def _json_text(value: Any, is_json: bool = False) -> Any:
    """A JSON object or array string of `_SPLICE_MIN_CHARS` or more as `RawJson` once checked to be
    valid with finite numbers (Opik rejects NaN and Infinity); anything else as `_loads` reads it."""
    if isinstance(value, str) and len(value) >= _SPLICE_MIN_CHARS and value.lstrip()[:1] in ("{", "["):
        try:
            pydantic_core.from_json(value, allow_inf_nan=False)  # validates: faster than the text's other uses
        except ValueError:
            return _loads(value, is_json)
        return RawJson(value)
    return _loads(value, is_json)


def _iso(time_ns: int) -> str:
    """ISO-8601 UTC with microseconds and `Z`."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return f"{_iso_seconds(seconds)}.{nanos // 1000:06d}Z"


@lru_cache(maxsize=1024)
def _iso_seconds(seconds: int) -> str:
    """The date-and-time part; spans of one batch share their seconds, so it is cached."""
    return f"{datetime.fromtimestamp(seconds, timezone.utc):%Y-%m-%dT%H:%M:%S}"


def _compact(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}
