"""Zero-code set-up: `opentelemetry-instrument python app.py` loads these through entry points."""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro

logger = logging.getLogger(__name__)

# Other packages' instrumentors for libraries we instrument: loading both would give
# two inference spans per call, so ours wins while it is enabled.
_SUPERSEDED = {"openai": "opik_openai", "openai_v2": "opik_openai", "anthropic": "opik_anthropic"}


class OpikDistro(BaseDistro):
    """Loads our instrumentors and skips other packages' duplicates of them."""

    def _configure(self, **kwargs: Any) -> None:
        pass

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        ours = _SUPERSEDED.get(entry_point.name)
        if ours is not None:
            from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
            import os

            disabled = {n.strip() for n in os.environ.get(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, "").split(",")}
            if ours not in disabled:
                logger.debug("opik-otel: skipping %s in favour of %s", entry_point.name, ours)
                return
        super().load_instrumentor(entry_point, **kwargs)


class OpikConfigurator:
    """Runs `opik_otel.configure()` from the environment before instrumentors load.

    `opentelemetry-instrument` only calls `configure(**kwargs)` on it. It does not derive from
    the SDK's `_BaseConfigurator`: importing that module loads the metrics and logs SDKs
    (≈ 70 ms of start-up) for a configurator that sets up traces only."""

    def configure(self, **kwargs: Any) -> None:
        from opik_otel import configure

        try:
            configure()
        except ValueError as exc:
            logger.error("opik-otel: not configured: %s", exc)
