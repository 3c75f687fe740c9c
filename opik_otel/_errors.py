"""Error recording, one way for every span we make: `@track`, the instrumentors, the integrations."""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from opik_otel import semconv as sc

logger = logging.getLogger(__name__)


def error_attributes(exc: BaseException) -> dict[str, Any]:
    """The attributes naming an error: `error.type`, the exception's class."""
    return {sc.ERROR_TYPE: type(exc).__qualname__}


def record_error(span: trace.Span, exc: BaseException) -> None:
    """Mark a span failed: status ERROR, `error.type`, an exception event. Never raises."""
    try:
        span.set_attributes(error_attributes(exc))
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, str(exc) or type(exc).__qualname__))
    except Exception:  # pragma: no cover - never raise into user code
        logger.debug("opik-otel: could not record an error on a span", exc_info=True)
