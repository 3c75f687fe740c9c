"""The llama-index-core versions this instrumentor supports."""

_instruments = ("llama-index-core >= 0.12.0",)
