"""Zero-code set-up: `opentelemetry-instrument python app.py` loads these through entry points."""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro

logger = logging.getLogger(__name__)

# Other packages' instrumentors for libraries we instrument: loading both would give
# two inference spans per call, so ours wins while it is enabled.
_SUPERSEDED = {
    "openai": "opik_openai", "openai_v2": "opik_openai", "anthropic": "opik_anthropic",
    "langchain": "opik_langchain",  # OpenInference's and OpenLLMetry's LangChain instrumentors
    "llama_index": "opik_llama_index", "llama-index": "opik_llama_index",  # OpenInference's, OpenLLMetry's
    "haystack-ai": "opik_haystack",  # OpenLLMetry's Haystack instrumentor
    "google-genai": "opik_genai", "google_genai": "opik_genai",  # the official one, OpenInference's
    "litellm": "opik_litellm",  # OpenInference's and opentelemetry-instrumentation-litellm
    "dspy": "opik_dspy",  # OpenInference's and the official opentelemetry-instrumentation-genai-dspy
    "crewai": "opik_crewai",  # OpenInference's and OpenLLMetry's
    "google_adk": "opik_adk",  # OpenInference's
}


class _ZeroCode:
    configured = False  # configure_from_environment() ran in this process
    distro_loaded = False  # opentelemetry-instrument chose our distro


def configure_from_environment() -> None:
    """`opik_otel.configure()` from the environment, once per process; an invalid setting is one
    line on stderr naming it, and the app runs on untraced (never a traceback, never an exit)."""
    if _ZeroCode.configured:
        return
    _ZeroCode.configured = True
    from opik_otel import configure

    try:
        configure()
    except ValueError as exc:  # ConfigurationError: its message names the variable to fix
        logger.error("opik-otel: tracing is off: %s", exc)
    except Exception as exc:  # pragma: no cover - e.g. an exporter's package missing
        logger.error("opik-otel: tracing is off: configuration failed: %s: %s", type(exc).__name__, exc)


class OpikDistro(BaseDistro):
    """Configures opik-otel, loads our instrumentors and skips other packages' duplicates of them.

    `opentelemetry-instrument` runs the chosen distro before the first configurator it finds, so
    configuring here makes ours win even when another package's configurator (opentelemetry-distro's)
    is the one picked: its provider then cannot replace ours."""

    def _configure(self, **kwargs: Any) -> None:
        _ZeroCode.distro_loaded = True
        configure_from_environment()

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        ours = _SUPERSEDED.get(entry_point.name)
        if ours is not None:
            from opik_otel._registry import is_disabled

            if not is_disabled(ours):
                logger.debug("opik-otel: skipping %s in favour of %s", entry_point.name, ours)
                return
        super().load_instrumentor(entry_point, **kwargs)


class OpikConfigurator:
    """Runs `opik_otel.configure()` from the environment before instrumentors load (unless our
    distro did already).

    `opentelemetry-instrument` only calls `configure(**kwargs)` on it. It does not derive from
    the SDK's `_BaseConfigurator`: importing that module loads the metrics and logs SDKs
    (≈ 70 ms of start-up) for a configurator that sets up traces only."""

    def configure(self, **kwargs: Any) -> None:
        if not _ZeroCode.distro_loaded:
            logger.warning(
                "opik-otel: another OpenTelemetry distro was loaded, so its defaults apply (opentelemetry-distro's "
                "sets OTEL_TRACES_EXPORTER=otlp); set OTEL_PYTHON_DISTRO=opik_otel to use opik-otel's"
            )
        configure_from_environment()
