"""The version of opik-otel (single source: pyproject reads it from here)."""

__version__ = "0.1.0"
