"""The langchain-core versions this instrumentor supports."""

_instruments = ("langchain-core >= 0.3.23",)
