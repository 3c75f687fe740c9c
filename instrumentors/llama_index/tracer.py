"""`OpikCallbackHandler`: trace the LlamaIndex components whose callback manager holds it,
Opik-SDK style (`Settings.callback_manager.add_handler(OpikCallbackHandler(project_name=...))`)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from llama_index.core.callbacks.base_handler import BaseCallbackHandler

from opik_otel.instrumentors._framework import handler_attributes

_SEEDS = [0]


def seeds_made() -> bool:
    """Whether an `OpikCallbackHandler` was ever made in this process (its handlers stay on the dispatcher)."""
    return _SEEDS[0] > 0


class OpikCallbackHandler(BaseCallbackHandler):
    """A LlamaIndex callback handler: the components whose callback manager holds it (and every
    span under them) are traced, through LlamaIndex's dispatcher like `LlamaIndexInstrumentor`.

    `project_name` routes the trace to that Opik project, `tags` and `metadata` go on every span,
    `thread_id` groups the trace into an Opik thread. With `LlamaIndexInstrumentor` on as well,
    both share one run map: each span is traced once. The legacy callback events themselves are
    not read (the dispatcher says the same, with the parents).
    """

    def __init__(
        self,
        project_name: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        thread_id: str | None = None,
    ) -> None:
        from opik_otel.instrumentors.llama_index.instrumentor import ensure_handlers

        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.extra_attributes = handler_attributes(project_name, tags, metadata, thread_id)
        _SEEDS[0] += 1
        ensure_handlers()

    def on_event_start(self, event_type: Any, payload: Any = None, event_id: str = "", parent_id: str = "", **kwargs: Any) -> str:
        return event_id

    def on_event_end(self, event_type: Any, payload: Any = None, event_id: str = "", **kwargs: Any) -> None:
        return None

    def start_trace(self, trace_id: str | None = None) -> None:
        return None

    def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
        return None
