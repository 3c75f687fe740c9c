"""The anthropic versions this instrumentor supports."""

_instruments = ("anthropic >= 0.40.0, < 3",)
