"""What every provider operation reads the same way, so that a provider module only says how
to read its own request, response and stream chunk.

A request: `request_attributes` gives the span name (`"{operation} {model}"`) and the
attributes every call starts with (the client's endpoint, the operation, the requested
model, and the request parameters the provider's `ParameterTable` knows); under the content
switch, `request_content` adds the input messages, system instructions and tool definitions.
A response: `response_attributes` gives what every reply says (id, model, finish reasons,
usage, and the output messages when content is captured).

A `ParameterTable` maps a request key to its attribute and reader. Build it once, at
import, from the shared entries below (`{"max_tokens": MAX_TOKENS, "topP": TOP_P}`): these
helpers run on the app's thread for every call, so they build no table per call.

A provider operation is then (openai/embeddings.py is the smallest example): `request` =
`request_attributes` (through the provider's `request_start`, which knows its endpoint
and model key) + what only this API says + `request_content` when content is captured;
`response` = the provider's readers into `response_attributes`; a `StreamState` that
gathers chunks and ends with the same builder as `response`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from opik_otel import semconv as sc
from opik_otel.instrumentors._read import as_plain, integer, number, strings, text
from opik_otel.semconv.media import split_data_url

Attributes = dict[str, Any]
#: request key → (attribute, reader: the value to record, or None to record nothing)
ParameterTable = Mapping[str, tuple[str, Callable[[Any], Any]]]


def _flag(value: Any) -> bool | None:
    return True if value is True else None


def _choice_count(value: Any) -> int | None:
    """The number of choices asked for; the conventions record it only when it is not 1."""
    count = integer(value)
    return count if count is not None and count != 1 else None


# The request parameters providers share, under whatever key each API names them.
MAX_TOKENS = (sc.GEN_AI_REQUEST_MAX_TOKENS, integer)
TEMPERATURE = (sc.GEN_AI_REQUEST_TEMPERATURE, number)
TOP_P = (sc.GEN_AI_REQUEST_TOP_P, number)
TOP_K = (sc.GEN_AI_REQUEST_TOP_K, integer)
STOP_SEQUENCES = (sc.GEN_AI_REQUEST_STOP_SEQUENCES, strings)
FREQUENCY_PENALTY = (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, number)
PRESENCE_PENALTY = (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, number)
SEED = (sc.GEN_AI_REQUEST_SEED, integer)
CHOICE_COUNT = (sc.GEN_AI_REQUEST_CHOICE_COUNT, _choice_count)
STREAM = (sc.GEN_AI_REQUEST_STREAM, _flag)
ENCODING_FORMATS = (sc.GEN_AI_REQUEST_ENCODING_FORMATS, strings)
DIMENSIONS = (sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, integer)


def read_parameters(source: Any, table: ParameterTable, attributes: Attributes) -> Attributes:
    """Add each parameter of `source` (a dict: the call's keyword arguments, or the part of a
    body holding them) that `table` knows and its reader accepts; returns `attributes`."""
    if isinstance(source, dict):
        for key, value in source.items():
            known = table.get(key)
            if known is not None:
                value = known[1](value)
                if value is not None:
                    attributes[known[0]] = value
    return attributes


def request_attributes(
    operation_name: str, model: Any, endpoint: Attributes, parameters: Any = None, table: ParameterTable | None = None
) -> tuple[str, Attributes]:
    """The span name and the attributes every call starts with: `endpoint`'s (provider, server
    address and port: a fresh dict, filled in and returned), the operation, the model as
    requested, and the `parameters` that `table` knows."""
    model = text(model) or ""
    endpoint[sc.GEN_AI_OPERATION_NAME] = operation_name
    endpoint[sc.GEN_AI_REQUEST_MODEL] = model
    if table is not None:
        read_parameters(parameters, table, endpoint)
    return f"{operation_name} {model}".rstrip(), endpoint


def request_content(attributes: Attributes, messages: Any, system: Any = None, tools: Any = None) -> Attributes:
    """The request's content, for a call whose content is captured (build the arguments only
    then): the input messages (even none), the system instructions and tool definitions
    (when there are some)."""
    attributes[sc.GEN_AI_INPUT_MESSAGES] = sc.content_json(messages)
    if system:
        attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = sc.content_json(system)
    if tools:
        attributes[sc.GEN_AI_TOOL_DEFINITIONS] = sc.content_json(tools)
    return attributes


def url_part(url: str, modality: str) -> dict[str, Any]:
    """A media URL as a part: a data URL's content as a blob, any other URL as a uri."""
    media = split_data_url(url)
    return sc.uri_part(url, modality) if media is None else sc.blob_part(media[1], modality, media[0])


def unknown_part(kind: Any, item: Any) -> dict[str, Any]:
    """A content part of a type we do not read: its type, and the item as plain data."""
    return {"type": kind or "unknown", "content": as_plain(item)}


def response_attributes(
    response_id: Any = None, model: Any = None, finish_reasons: Any = None, usage: Attributes | None = None, outputs: Any = None
) -> Attributes:
    """What a reply (whole, or a stream's at its end) says: its id and model (when strings),
    finish reasons (a list, or one reason as a string; anything else records none), the
    token counts in `usage` (the usage readers' fresh dict, filled in and returned), and
    `outputs` as the output messages (pass them only when content is captured)."""
    attributes = {} if usage is None else usage
    if isinstance(response_id, str):
        attributes[sc.GEN_AI_RESPONSE_ID] = response_id
    if isinstance(model, str):
        attributes[sc.GEN_AI_RESPONSE_MODEL] = model
    if isinstance(finish_reasons, str):
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [finish_reasons]
    elif isinstance(finish_reasons, list):
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons
    if outputs is not None:
        attributes[sc.GEN_AI_OUTPUT_MESSAGES] = sc.content_json(outputs)
    return attributes
