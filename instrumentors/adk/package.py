"""The google-adk versions this instrumentor supports (tested at both ends in CI)."""

_instruments = ("google-adk >= 1.9.0",)
