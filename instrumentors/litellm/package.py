"""The litellm versions this instrumentor supports (tested at both ends in CI)."""

_instruments = ("litellm >= 1.53.1",)
