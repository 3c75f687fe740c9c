"""Every attribute name opik-otel writes, and builders for the GenAI message JSON.

Names that `opentelemetry-semantic-conventions` ships are re-exported from it; a name is
written out here only when the installed version (we support old ones) lacks it, or when
the conventions do not define it at all (the Opik extras at the bottom).
"""

from opik_otel.semconv.attributes import *  # noqa: F401,F403
from opik_otel.semconv.attributes import __all__ as _attribute_names
from opik_otel.semconv.messages import (
    blob_part,
    content_json,
    message,
    output_message,
    reasoning_part,
    set_content_hook,
    text_part,
    tool_call_part,
    tool_call_response_part,
    tool_definition,
    to_json,
    uri_part,
)

__all__ = [
    *_attribute_names,
    "blob_part",
    "content_json",
    "message",
    "output_message",
    "reasoning_part",
    "set_content_hook",
    "text_part",
    "tool_call_part",
    "tool_call_response_part",
    "tool_definition",
    "to_json",
    "uri_part",
]
