"""The demo's agent, written as an app would be: a traced `ask()` that loops on chat
completions, runs the tool the model asks for, and streams the final answer.

    opik_otel.configure()
    opik_otel.OpikInstrumentor().instrument()
    WeatherAgent(openai.OpenAI()).ask("What's the weather like in Paris today?")

The trace: `ask` (general) → `chat gpt-4o-mini` (llm, asks for the tool) → `get_weather`
(tool) → `chat gpt-4o-mini` (llm, streamed answer).
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import opik_otel

MODEL = "gpt-4o-mini"
SYSTEM_PROMPT = "You are a helpful assistant. Use the tools you are given to answer questions about the weather."
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city, e.g. Paris"}},
            "required": ["city"],
        },
    },
}
MAX_TURNS = 5


@opik_otel.track(type="tool")
def get_weather(city: str) -> dict[str, Any]:
    """The current weather in a city (a stand-in for a real weather API)."""
    return {"city": city, "temperature_c": 18, "conditions": "sunny"}


TOOLS = {"get_weather": get_weather}


class WeatherAgent:
    """An agent loop: ask the model, run the tools it calls, and stream its final answer to `out`.

    The first turn is a plain completion; the turns after a tool result are streamed, so the
    answer is printed as it arrives.
    """

    def __init__(self, client: Any, model: str = MODEL, out: TextIO | None = None) -> None:
        self.client = client
        self.model = model
        self.out = out
        self.trace_id: str | None = None  # the Opik id of the last `ask`'s trace

    @opik_otel.track
    def ask(self, question: str) -> str:
        self.trace_id = opik_otel.get_distributed_trace_headers().get("opik_trace_id")
        opik_otel.update_current_trace(thread_id="opik-otel-demo", tags=["demo"], metadata={"model": self.model})
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": question},
        ]
        for turn in range(MAX_TURNS):
            reply = self._complete(messages) if turn == 0 else self._complete_streamed(messages)
            if not reply.get("tool_calls"):
                return reply.get("content") or ""
            messages.append(reply)
            for call in reply["tool_calls"]:
                name, arguments = call["function"]["name"], call["function"]["arguments"]
                result = self._run_tool(name, arguments)
                self._write(f"(tool) {name}({arguments})\n")
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})
        raise RuntimeError(f"no answer after {MAX_TURNS} turns")

    def _complete(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.client.chat.completions.create(model=self.model, messages=messages, tools=[WEATHER_TOOL])
        message = response.choices[0].message
        if message.content:
            self._write(message.content + "\n")
        return message.model_dump(include={"role", "content", "tool_calls"}, exclude_none=True)

    def _complete_streamed(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The assistant's reply, its text printed as it streams in; tool calls are put together."""
        stream = self.client.chat.completions.create(
            model=self.model, messages=messages, tools=[WEATHER_TOOL],
            stream=True, stream_options={"include_usage": True},
        )
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        for chunk in stream:
            if not chunk.choices:
                continue  # the usage chunk
            delta = chunk.choices[0].delta
            if delta.content:
                content.append(delta.content)
                self._write(delta.content)
            for part in delta.tool_calls or []:
                call = calls.setdefault(part.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
                call["id"] = part.id or call["id"]
                if part.function is not None:
                    call["function"]["name"] += part.function.name or ""
                    call["function"]["arguments"] += part.function.arguments or ""
        if content:
            self._write("\n")
        reply: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
        if calls:
            reply["tool_calls"] = [calls[index] for index in sorted(calls)]
        return reply

    def _run_tool(self, name: str, arguments: str) -> Any:
        tool = TOOLS.get(name)
        if tool is None:
            return {"error": f"unknown tool {name!r}"}
        try:
            return tool(**json.loads(arguments or "{}"))
        except (TypeError, ValueError) as exc:
            return {"error": f"bad arguments for {name}: {exc}"}

    def _write(self, text: str) -> None:
        out = self.out or sys.stdout
        out.write(text)
        out.flush()
