"""`OpenAIInstrumentor` and `track_openai`: which openai methods are traced, and how."""

from __future__ import annotations

from typing import Any, TypeVar

from opik_otel.instrumentors._base import GenAiInstrumentor, Patch, track_client
from opik_otel.instrumentors.openai.chat import ChatCompletions
from opik_otel.instrumentors.openai.embeddings import Embeddings
from opik_otel.instrumentors.openai.package import _instruments
from opik_otel.instrumentors.openai.responses import Responses

_SCOPE = "opik_otel.instrumentors.openai"
_CHAT = "openai.resources.chat.completions"
_BETA_CHAT = "openai.resources.beta.chat.completions"
_RESPONSES = "openai.resources.responses"
_EMBEDDINGS = "openai.resources.embeddings"


def _patches() -> list[Patch]:
    chat, responses, embeddings = ChatCompletions(), Responses(), Embeddings()
    patches = []
    for prefix, is_async in (("", False), ("Async", True)):
        patches += [
            Patch(_CHAT, f"{prefix}Completions.create", "chat.completions.create", chat, is_async),
            Patch(_CHAT, f"{prefix}Completions.parse", "chat.completions.parse", chat, is_async),
            # openai < 1.92 keeps structured outputs under `beta`.
            Patch(_BETA_CHAT, f"{prefix}Completions.parse", "beta.chat.completions.parse", chat, is_async),
            Patch(_RESPONSES, f"{prefix}Responses.create", "responses.create", responses, is_async),
            Patch(_RESPONSES, f"{prefix}Responses.parse", "responses.parse", responses, is_async),
            Patch(_EMBEDDINGS, f"{prefix}Embeddings.create", "embeddings.create", embeddings, is_async),
        ]
    return patches


class OpenAIInstrumentor(GenAiInstrumentor):
    """Traces the openai SDK: chat completions, structured outputs, the Responses API and embeddings.

    `OpenAIInstrumentor().instrument(tracer_provider=None, capture_content=None)`;
    `capture_content` overrides `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
    """

    instruments = _instruments
    scope_name = _SCOPE

    def patches(self) -> list[Patch]:
        return _patches()


Client = TypeVar("Client")


def track_openai(client: Client, project_name: str | None = None) -> Client:
    """Trace every call of this one `OpenAI`/`AsyncOpenAI` (or Azure) client; returns it.

    Spans carry `project_name` to the Opik exporter. Other clients are not affected.
    """
    return track_client(client, _patches(), _SCOPE, project_name)


__all__: list[Any] = ["OpenAIInstrumentor", "track_openai"]
