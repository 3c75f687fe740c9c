"""The tracking tests' global TracerProvider fixtures, for the content tests."""

from tests.tracking.conftest import exporter, provider

__all__ = ["exporter", "provider"]
