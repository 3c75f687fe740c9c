"""Fast read access to a finished span's attributes."""

from __future__ import annotations

from typing import Any, Mapping


def span_attributes(span: Any) -> Mapping[str, Any]:
    """The plain dict behind a span's attributes (read it, never write it).

    The public `span.attributes` is a `MappingProxyType` over the SDK's `BoundedAttributes`,
    whose iteration goes through `collections.abc` views and a lock per key (≈1 µs an
    attribute). The exporter and the processor read every attribute of every span, so
    they read the dict underneath when the SDK has one; any other span or mapping is
    read through its public interface.
    """
    attributes = getattr(span, "_attributes", None)
    if attributes is None:
        attributes = span.attributes
    inner = getattr(attributes, "_dict", None)
    if isinstance(inner, dict):
        return inner
    return attributes if attributes is not None else {}
