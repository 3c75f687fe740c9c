"""The haystack-ai versions this instrumentor supports."""

_instruments = ("haystack-ai >= 2.13.0",)
