"""`GenAIInstrumentor` and `track_genai`: which google-genai methods are traced, and how.

- Each model round trip (`Models._generate_content` / `_generate_content_stream`, and their
  `AsyncModels` twins) is one inference span, `generate_content {model}`: the public
  `generate_content`, `generate_content_stream` and chats' `send_message` /
  `send_message_stream` all send their requests through them, so a chat turn is one span,
  and automatic function calling or continuation gives one span per billed request.
- `embed_content` is one `embeddings {model}` span. `count_tokens` is not traced (free).
- With automatic function calling, the whole SDK call is an `invoke_agent {model}` span
  with the round trips and an `execute_tool {name}` span per function run under it (afc.py).
- The older google-generativeai SDK: each request of its `GenerativeServiceClient` (plain,
  streamed, chat turns, embed_content), whatever the transport (legacy.py).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from typing import Any, Callable, Collection, TypeVar

import wrapt
from opentelemetry import trace

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel.instrumentors._base import GenAiInstrumentor, Patch, track_client
from opik_otel.instrumentors._engine import Operation
from opik_otel.instrumentors.genai import afc, legacy
from opik_otel.instrumentors.genai.models import EmbedContent, GenerateContent, GenerateContentStream
from opik_otel.instrumentors.genai.package import _instruments, _instruments_legacy

logger = logging.getLogger(__name__)

_SCOPE = "opik_otel.instrumentors.genai"
_MODELS = "google.genai.models"
_CHATS = "google.genai.chats"
_FUNCTIONS = "google.genai._extra_utils"
_NOT_ON_A_CLIENT = "_opik_otel_not_on_a_client.method"  # a patch `track_genai` applies another way


@dataclass(frozen=True)
class WrapperPatch(Patch):
    """A patch whose wrapper is not the engine's: `make(tracer, content, extra)` builds it."""

    make: Callable[..., Any] = None  # type: ignore[assignment]

    def wrapper(self, tracer: trace.Tracer, content: ContentPolicy, extra: dict[str, Any] | None = None) -> Any:
        return self.make(tracer, content, extra)


def _fixed(wrapper: Callable[..., Any]) -> Callable[..., Any]:
    return lambda tracer, content, extra=None: wrapper


_NO_OPERATION = Operation()


def _afc_patches() -> list[Patch]:
    patches: list[Patch] = []
    for prefix, path, is_async in (("", "models", False), ("Async", "aio.models", True)):
        for method in ("generate_content", "generate_content_stream"):
            make = afc.afc_wrapper(afc.models_config, afc.models_request, is_async)
            patches.append(WrapperPatch(_MODELS, f"{prefix}Models.{method}", f"{path}.{method}", _NO_OPERATION, is_async, make))
        for method in ("send_message", "send_message_stream"):
            # sync `send_message_stream` is a generator function; the async one a coroutine
            make = afc.afc_wrapper(afc.chat_config, afc.chat_request, is_async)
            patches.append(WrapperPatch(_CHATS, f"{prefix}Chat.{method}", _NOT_ON_A_CLIENT, _NO_OPERATION, is_async, make))
    return patches


def _function_patches() -> list[Patch]:
    return [
        WrapperPatch(_FUNCTIONS, "invoke_function_from_dict_args", _NOT_ON_A_CLIENT, _NO_OPERATION, False, _fixed(afc.tool_wrapper)),
        WrapperPatch(_FUNCTIONS, "invoke_function_from_dict_args_async", _NOT_ON_A_CLIENT, _NO_OPERATION, True, _fixed(afc.async_tool_wrapper)),
    ]


def _patches() -> list[Patch]:
    generate, stream, embed = GenerateContent(), GenerateContentStream(), EmbedContent()
    patches: list[Patch] = []
    for prefix, path, is_async in (("", "models", False), ("Async", "aio.models", True)):
        patches += [
            Patch(_MODELS, f"{prefix}Models._generate_content", f"{path}._generate_content", generate, is_async),
            # sync: a generator function (returns the stream); async: a coroutine returning one
            Patch(_MODELS, f"{prefix}Models._generate_content_stream", f"{path}._generate_content_stream", stream, is_async),
            Patch(_MODELS, f"{prefix}Models.embed_content", f"{path}.embed_content", embed, is_async),
        ]
    return patches + _afc_patches() + _function_patches()


def _legacy_patches() -> list[Patch]:
    """google-generativeai: its generated `GenerativeServiceClient` (legacy.py), sync and async."""
    operations = (
        ("generate_content", legacy.LegacyGenerateContent()),
        ("stream_generate_content", legacy.LegacyGenerateContentStream()),  # async: an awaitable of the stream
        ("embed_content", legacy.LegacyEmbedContent()),
    )
    patches: list[Patch] = []
    for module, owner, is_async in ((legacy.CLIENT, "GenerativeServiceClient", False), (legacy.ASYNC_CLIENT, "GenerativeServiceAsyncClient", True)):
        for method, operation in operations:
            make = _request_as_keyword(operation, is_async)
            patches.append(WrapperPatch(module, f"{owner}.{method}", _NOT_ON_A_CLIENT, operation, is_async, make))
    return patches


def _request_as_keyword(operation: Operation, is_async: bool) -> Callable[..., Any]:
    def make(tracer: trace.Tracer, content: ContentPolicy, extra: dict[str, Any] | None = None) -> Any:
        return legacy.request_as_keyword(Patch("", "", "", operation, is_async).wrapper(tracer, content, extra))

    return make


class GenAIInstrumentor(GenAiInstrumentor):
    """Traces google-genai (`from google import genai`), Gemini API and Vertex AI clients, sync
    and `client.aio`: generate_content (plain and streamed), chats, embed_content, and
    automatic function calling; and the older google-generativeai SDK (`GenerativeModel`).

    `GenAIInstrumentor().instrument(tracer_provider=None, capture_content=None)`.
    """

    instruments = _instruments
    scope_name = _SCOPE

    def instrumentation_dependencies(self) -> Collection[str]:
        """google-genai's versions; with only google-generativeai installed, that one's."""
        if _importable("google.genai") or not _importable("google.generativeai"):
            return self.instruments
        return _instruments_legacy

    def patches(self) -> list[Patch]:
        return _patches() + _legacy_patches()


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _tracked_client_patches() -> list[Patch]:
    """What `track_genai` applies once for the process, class-wide, since chats and function runs
    are not reachable from a client: they act only for a tracked client (a chat whose models
    object `track_genai` marked) or inside one of our AFC spans."""
    chats = [
        WrapperPatch(_CHATS, f"{prefix}Chat.{method}", _NOT_ON_A_CLIENT, _NO_OPERATION, is_async, _fixed(afc.tracked_chat_wrapper(is_async)))
        for prefix, is_async in (("", False), ("Async", True))
        for method in ("send_message", "send_message_stream")
    ]
    return chats + _function_patches()


def _apply_once(patches: list[Patch], run: tuple[Any, ...] = (None, None)) -> None:
    """Apply these patches class-wide when their module is imported, unless something (the
    instrumentor) already wraps that method; `run`: their wrappers' (tracer, content, extra)."""
    for patch in patches:

        def apply(module: Any, patch: Patch = patch) -> None:
            owner_name, _, method = patch.method.rpartition(".")
            owner = getattr(module, owner_name) if owner_name else module
            current = owner.__dict__.get(method) if isinstance(owner, type) else getattr(owner, method, None)
            if current is not None and not isinstance(current, wrapt.FunctionWrapper):
                wrapt.wrap_function_wrapper(module, patch.method, patch.wrapper(*run))

        wrapt.register_post_import_hook(apply, patch.module)


Client = TypeVar("Client")


def track_genai(client: Client = None, project_name: str | None = None) -> Client:  # type: ignore[assignment]
    """Trace every call of this one google-genai `Client` (its `aio` side and chats included); returns it.

    Without a client, traces the older `google-generativeai` module (`genai.configure(...)`,
    `GenerativeModel`, chats, `embed_content`), every call from now on; returns None.
    """
    if client is None:
        _track_generativeai(project_name)
        return client
    if getattr(client, "_opik_otel_tracked", False):
        return client
    from opik_otel import __version__
    from opik_otel._content import content_policy

    tracked = track_client(client, _patches(), _SCOPE, project_name)
    try:
        run = (trace.get_tracer(_SCOPE, __version__), content_policy, {sc.OPIK_PROJECT_NAME: project_name} if project_name else None)
        for models in (client.models, client.aio.models):  # type: ignore[attr-defined]
            models._opik_otel_afc = run  # read by the chat wrappers: this client's chats are tracked
        _apply_once(_tracked_client_patches())
    except Exception:  # pragma: no cover - never break the app
        logger.debug("opik-otel: could not track this client's chats", exc_info=True)
    return tracked


def _track_generativeai(project_name: str | None) -> None:
    """`track_genai()`: the google-generativeai patches, class-wide, once (when it is imported)."""
    from opik_otel import __version__
    from opik_otel._configure import ensure_configured
    from opik_otel._content import content_policy

    try:
        ensure_configured()
        extra = {sc.OPIK_PROJECT_NAME: project_name} if project_name else None
        _apply_once(_legacy_patches(), (trace.get_tracer(_SCOPE, __version__), content_policy, extra))
    except Exception:  # pragma: no cover - never break the app
        logger.debug("opik-otel: could not track google-generativeai", exc_info=True)
