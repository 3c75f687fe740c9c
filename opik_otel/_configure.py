"""`configure()`: build (or extend) the TracerProvider with our pipeline: batch, usage/cost, exporter."""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

from opik_otel import semconv as sc
from opik_otel._batch import OpikBatchSpanProcessor
from opik_otel._content import set_capture_content
from opik_otel._context import OpikContextSpanProcessor, set_context_propagation
from opik_otel._distributed import add_opik_propagator
from opik_otel._ids import UuidV7IdGenerator
from opik_otel._pricing import PriceBook
from opik_otel._processor import add_usage_and_cost
from opik_otel._settings import Settings, resolve_settings

logger = logging.getLogger(__name__)


class _SwitchablePipeline(SpanProcessor):
    """The one processor `configure()` adds to a provider; a later `configure()` swaps what is inside.

    It stamps `tracing_context()` on starting spans first, then hands them to the pipeline.

    A TracerProvider cannot remove processors, so this indirection is what makes
    `configure()` idempotent and re-configurable without duplicating spans.
    """

    def __init__(self, inner: SpanProcessor | None) -> None:
        self.inner = inner
        self.context = OpikContextSpanProcessor()  # `tracing_context()`, one project per trace

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        self.context.on_start(span, parent_context=parent_context)
        inner = self.inner
        if inner is not None:
            inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.context.on_end(span)
        inner = self.inner
        if inner is not None:
            inner.on_end(span)

    def shutdown(self) -> None:
        inner, self.inner = self.inner, None
        if inner is not None:
            inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        inner = self.inner
        return inner.force_flush(timeout_millis) if inner is not None else True


class _State:
    lock = threading.Lock()
    settings: Settings | None = None
    provider: TracerProvider | None = None
    pipeline: _SwitchablePipeline | None = None
    marks_opik_traces = False  # W3C trace state we inject carries `opik=<Opik trace id>`


def marks_opik_traces() -> bool:
    """Whether this process's traces reach Opik with our ids (native exporter or local store)."""
    return _State.marks_opik_traces


def build_exporter(settings: Settings) -> SpanExporter | None:
    """The span exporter the settings ask for (None for `exporter="none"`)."""
    name = settings.resolved_exporter
    if name == "opik":
        from opik_otel.exporters.opik import OpikSpanExporter

        return OpikSpanExporter(
            url=settings.opik_url,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            workspace=settings.opik_workspace,
            project_name=settings.project_name,
            check_tls=settings.check_tls_certificate,
            timeout=min(10.0, settings.export_timeout_millis / 1000),
            spool_dir=str(settings.spool_dir),
            spool_max_mb=settings.spool_max_mb,
            max_payload_size_mb=settings.max_payload_size_mb,
        )
    if name == "otlp":
        from opik_otel.exporters.otlp import collector_exporter

        return collector_exporter()
    if name == "opik-otlp":
        from opik_otel.exporters.otlp import opik_otlp_exporter

        return opik_otlp_exporter(settings)
    if name == "local":
        from opik_otel.exporters.local import LocalStoreExporter

        return LocalStoreExporter(settings.local_store_dir, settings.project_name, max_bytes=int(settings.local_store_max_mb * 1_000_000),
                                  max_field_bytes=settings.max_field_bytes)
    if name == "console":
        return ConsoleSpanExporter()
    return None


def build_processor(settings: Settings) -> SpanProcessor | None:
    """An `OpikBatchSpanProcessor` with the configured exporter; its worker adds usage and cost
    (`add_usage_and_cost`) to each span just before export, off the app's thread."""
    exporter = build_exporter(settings)
    if exporter is None:
        return None
    return OpikBatchSpanProcessor(
        exporter,
        max_queue_size=settings.max_queue_size,
        max_export_batch_size=settings.max_export_batch_size,
        schedule_delay_millis=settings.schedule_delay_millis,
        shutdown_timeout_millis=settings.shutdown_timeout_millis,
        prepare=functools.partial(add_usage_and_cost, prices=PriceBook(settings.price_overrides)),
    )


def _provider(settings: Settings) -> TracerProvider | None:
    """The app's SDK TracerProvider if it set one; else a new one (UUID v7 trace ids) set globally."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    if not isinstance(current, trace.ProxyTracerProvider):
        logger.warning("opik-otel: the global TracerProvider (%s) is not the OpenTelemetry SDK's; not adding to it", type(current).__name__)
        return None
    provider = new_tracer_provider()
    trace.set_tracer_provider(provider)
    return trace.get_tracer_provider() if isinstance(trace.get_tracer_provider(), TracerProvider) else provider


def new_tracer_provider() -> TracerProvider:
    """A TracerProvider as `configure()` makes one: UUID v7 trace ids, the sampler and resource
    from the environment; not set globally, no processor yet."""
    # UUID v7 fixes the variant bits inside the low 64 bits that TraceIdRatioBased samples
    # on, so with a ratio sampler we keep random ids (the exporter then derives Opik ids).
    ratio_sampler = "traceidratio" in os.environ.get("OTEL_TRACES_SAMPLER", "").lower()
    return TracerProvider(
        resource=Resource.create(),
        id_generator=None if ratio_sampler else UuidV7IdGenerator(),
        sampler=_sampler_from_env(),
    )


def _sampler_from_env() -> Sampler:
    try:
        return sampling._get_from_env_or_default()
    except Exception:  # pragma: no cover - a private helper of the SDK
        return sampling.ParentBased(sampling.ALWAYS_ON)


def configure(
    project_name: str | None = None,
    url: str | None = None,
    api_key: str | None = None,
    workspace: str | None = None,
    exporter: str | None = None,
    capture_content: bool | None = None,
    **settings: Any,
) -> TracerProvider | None:
    """Send this process's spans, priced, to Opik (or OTLP, or the local store).

    Every argument also comes from the environment (`OPIK_*`, `OTEL_*`); explicit arguments
    win. Adds one processor to the TracerProvider the app already set, or sets a new one.
    Idempotent: calling it again with other settings replaces the pipeline, never duplicates it.
    Raises `ConfigurationError` (a `ValueError`) naming any invalid setting.
    Returns the TracerProvider in use (None when tracing is disabled by `OPIK_TRACK_DISABLE`).
    """
    resolved = resolve_settings(
        project_name=project_name, url=url, api_key=api_key, workspace=workspace,
        exporter=exporter, capture_content=capture_content, **settings,
    )
    with _State.lock:
        if _State.settings == resolved and _State.pipeline is not None:
            return _State.provider
        set_capture_content(resolved.capture_content)  # explicit argument > env > on, for everything traced
        sc.set_content_hook(resolved.redact)
        _State.marks_opik_traces = not resolved.track_disable and resolved.resolved_exporter in ("opik", "local")
        set_context_propagation(resolved.propagate_context_to_threads and not resolved.track_disable)
        if resolved.track_disable:
            if _State.pipeline is not None:
                _State.pipeline.shutdown()
            _State.settings = resolved
            return None
        provider = _State.provider or _provider(resolved)
        if provider is None:
            return None
        processor = build_processor(resolved)
        if _State.pipeline is None:
            _State.pipeline = _SwitchablePipeline(processor)
            provider.add_span_processor(_State.pipeline)
            add_opik_propagator()
        else:
            old, _State.pipeline.inner = _State.pipeline.inner, processor
            if old is not None:
                old.shutdown()
        _State.settings, _State.provider = resolved, provider
        return provider


def ensure_configured() -> None:
    """Configure from the environment unless the app has a TracerProvider or configure() ran."""
    if _State.settings is None and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        try:
            configure()
        except Exception:
            logger.warning("opik-otel: automatic configuration failed; spans are not exported", exc_info=True)


def current_settings() -> Settings | None:
    return _State.settings


def flush(timeout_millis: int = 30000) -> bool:
    """Export every finished span now; True when everything was handed over in time."""
    provider = _State.provider or trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    return bool(force_flush(timeout_millis)) if callable(force_flush) else True


def shutdown() -> None:
    """Flush and stop opik-otel's pipeline (the app's own processors are left alone), and put
    back `Thread.start` and `ThreadPoolExecutor.submit` (patched again only by `configure()`)."""
    with _State.lock:
        if _State.pipeline is not None:
            _State.pipeline.shutdown()
        _State.settings = None
        set_context_propagation(False)
