"""The crewai versions this instrumentor supports (tested at both ends in CI)."""

_instruments = ("crewai >= 0.130.0",)
