"""The openai versions this instrumentor supports (tested at both ends in CI)."""

_instruments = ("openai >= 1.40.0, < 4",)
