"""The google-genai versions this instrumentor supports (tested at both ends in CI)."""

_instruments = ("google-genai >= 1.10.0, < 4",)
_instruments_legacy = ("google-generativeai >= 0.8.0, < 1",)  # the older SDK, alone
_instruments_of = {"google.generativeai": _instruments_legacy}  # per library, where not `_instruments` (the doctor reads it)
