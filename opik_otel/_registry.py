"""`OpikInstrumentor`: every supported library that is installed, instrumented in one call."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from typing import Any, Collection, NamedTuple

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

logger = logging.getLogger(__name__)


class Integration(NamedTuple):
    """A supported library: the module whose presence enables it and its instrumentor."""

    entry_point: str  # name in the `opentelemetry_instrumentor` group (pyproject.toml)
    library: str  # top-level module of the instrumented library
    module: str  # our instrumentor's module
    instrumentor: str  # class name


INTEGRATIONS: tuple[Integration, ...] = (
    Integration("opik_openai", "openai", "opik_otel.instrumentors.openai", "OpenAIInstrumentor"),
    Integration("opik_anthropic", "anthropic", "opik_otel.instrumentors.anthropic", "AnthropicInstrumentor"),
    Integration("opik_bedrock", "botocore", "opik_otel.instrumentors.bedrock", "BedrockInstrumentor"),
    Integration("opik_langchain", "langchain_core", "opik_otel.instrumentors.langchain", "LangChainInstrumentor"),
    Integration("opik_llama_index", "llama_index.core", "opik_otel.instrumentors.llama_index", "LlamaIndexInstrumentor"),
    Integration("opik_haystack", "haystack", "opik_otel.instrumentors.haystack", "HaystackInstrumentor"),
    Integration("opik_genai", "google.genai", "opik_otel.instrumentors.genai", "GenAIInstrumentor"),
    Integration("opik_genai", "google.generativeai", "opik_otel.instrumentors.genai", "GenAIInstrumentor"),  # the older SDK
    Integration("opik_litellm", "litellm", "opik_otel.instrumentors.litellm", "LiteLLMInstrumentor"),
    Integration("opik_aisuite", "aisuite", "opik_otel.instrumentors.aisuite", "AISuiteInstrumentor"),
    Integration("opik_dspy", "dspy", "opik_otel.instrumentors.dspy", "DSPyInstrumentor"),
    Integration("opik_crewai", "crewai", "opik_otel.instrumentors.crewai", "CrewAIInstrumentor"),
    Integration("opik_adk", "google.adk", "opik_otel.instrumentors.adk", "ADKInstrumentor"),
)


def installed_integrations() -> list[Integration]:
    """The integrations whose library is importable here (without importing it)."""
    return [i for i in INTEGRATIONS if _importable(i.library)]


def _importable(module: str) -> bool:
    """Whether `module` can be imported; for a dotted name this imports its parent package only."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package
        return False


def is_disabled(entry_point: str) -> bool:
    """Whether `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` disables this entry point, as
    `opentelemetry-instrument` reads it (comma-separated names, `*` for every one)."""
    disabled = {name.strip() for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    return entry_point in disabled or "*" in disabled


class OpikInstrumentor(BaseInstrumentor):
    """Instruments every supported library that is installed; silently skips the rest, and those
    `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` names (`opik_openai`, `opik_anthropic`, `opik_bedrock`, `opik_langchain`,
    `opik_llama_index`, `opik_haystack`, `opik_genai`, `opik_litellm`, `opik_aisuite`, `opik_dspy`,
    `opik_crewai`, `opik_adk`).

    `OpikInstrumentor().instrument(tracer_provider=None, **kwargs)` passes kwargs on to each
    library's instrumentor; `uninstrument()` restores the originals.
    """

    _instrumentors: list[BaseInstrumentor] = []  # BaseInstrumentor is a singleton: no per-call __init__ state

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        self._instrumentors = []
        for integration in installed_integrations():
            if is_disabled(integration.entry_point):
                logger.debug("opik-otel: %s disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", integration.entry_point)
                continue
            try:
                cls = getattr(importlib.import_module(integration.module), integration.instrumentor)
                instrumentor = cls()
                if instrumentor.is_instrumented_by_opentelemetry:
                    continue
                instrumentor.instrument(**kwargs)
            except Exception:
                logger.debug("opik-otel: could not instrument %s", integration.library, exc_info=True)
                continue
            if instrumentor.is_instrumented_by_opentelemetry:
                self._instrumentors.append(instrumentor)

    def _uninstrument(self, **kwargs: Any) -> None:
        for instrumentor in self._instrumentors:
            instrumentor.uninstrument(**kwargs)
        self._instrumentors = []

    @property
    def instrumented_libraries(self) -> list[str]:
        return [type(i).__name__ for i in self._instrumentors]
