"""The dspy versions this instrumentor supports."""

_instruments = ("dspy >= 2.6.0",)
