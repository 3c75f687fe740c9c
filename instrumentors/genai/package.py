"""The google-genai versions this instrumentor supports (tested at both ends in CI)."""

_instruments = ("google-genai >= 1.10.0, < 4",)
