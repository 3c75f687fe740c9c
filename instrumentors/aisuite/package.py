"""The aisuite versions this instrumentor supports (tested at both ends in CI)."""

_instruments = ("aisuite >= 0.1.10, < 1",)
