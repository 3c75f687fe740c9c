"""The content switch: whether prompts, responses, tool calls and `@track` inputs and outputs are recorded.

One decision for every instrumentor, `track_*` helper, `@track` and framework integration,
read on every call (so a later `configure()` applies to what was instrumented before it):

1. `instrument(capture_content=True/False)`: that instrumentor only (`ContentPolicy(value)`);
2. `configure(capture_content=...)`, else the variable as `configure()` read it, else on:
   once `configure()` (or zero code) ran;
3. `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, read on each call;
4. off, as the GenAI conventions ask of an instrumentor used alone.

Integrations read it through a `ContentPolicy`: `content_policy_for(kwargs.get("capture_content"))`
at `instrument()` time, then `policy.enabled` on each call. Code with no instrumentor of its own
calls `capture_content()`.
"""

from __future__ import annotations

import os

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

#: Plain booleans, as every boolean setting accepts them.
BOOLEAN_VALUES = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
#: The one value table of the content switch: the conventions' values (content on spans or
#: not; we record no events, so EVENT_ONLY means none on spans), and the plain booleans.
CAPTURE_CONTENT_VALUES = {**BOOLEAN_VALUES, "span_only": True, "span_and_event": True, "no_content": False, "event_only": False}

_configured: bool | None = None  # configure()'s decision; None until it runs


def parse_boolean(raw: str | None) -> bool | None:
    """`true`/`1`/`yes`/`on` → True, `false`/`0`/`no`/`off` → False (any case); else None."""
    return BOOLEAN_VALUES.get(raw.strip().lower()) if raw else None


def parse_capture_content(raw: str | None) -> bool | None:
    """A value of the content switch (`SPAN_ONLY`, `NO_CONTENT`, a boolean …) as on/off; None when unset or unknown."""
    return CAPTURE_CONTENT_VALUES.get(raw.strip().lower()) if raw else None


def capture_content() -> bool:
    """The process-wide decision, now: `configure()`'s, else the variable's, else off."""
    configured = _configured
    if configured is not None:
        return configured
    return parse_capture_content(os.environ.get(CAPTURE_CONTENT_ENV)) or False


def set_capture_content(enabled: bool | None) -> None:
    """Record `configure()`'s decision (None forgets it: the variable and the default decide again)."""
    global _configured
    _configured = enabled


class ContentPolicy:
    """Whether content is recorded, as `enabled`, read on every call.

    `ContentPolicy(True)` / `ContentPolicy(False)` is fixed (an explicit argument);
    `ContentPolicy()` follows `capture_content()`.
    """

    __slots__ = ("fixed",)

    def __init__(self, enabled: bool | None = None) -> None:
        self.fixed = enabled

    @property
    def enabled(self) -> bool:
        fixed = self.fixed
        return capture_content() if fixed is None else fixed


#: The policy that follows the process-wide switch.
content_policy = ContentPolicy()


def content_policy_for(explicit: bool | None) -> ContentPolicy:
    """The policy for an `instrument(capture_content=explicit)` call: fixed when given, else `content_policy`."""
    return content_policy if explicit is None else ContentPolicy(bool(explicit))
