"""`opik-otel demo`: a real openai-SDK agent against the built-in server, traced to the local
store with nothing configured, its trace shown as a tree; and no network call but loopback."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cli._run import opik_otel
from tests.e2e._helpers import clean_env

ANSWER = "It is 18 °C and sunny in Paris, a fine day for a walk along the Seine."
UNREACHABLE_PROXY = "http://127.0.0.1:9"

# Loaded by the demo's interpreter (PYTHONPATH): any socket connection or name lookup that is
# not loopback, or that goes to the unreachable proxy, is refused and written to NET_LOG.
NETWORK_GUARD = '''
import os, socket

_LOG = os.environ["NET_LOG"]
_LOOPBACK = ("127.", "::1", "localhost")


def _refuse(what):
    with open(_LOG, "a") as log:
        log.write(what + "\\n")
    raise OSError(f"network blocked by the test: {what}")


def _local(host):
    return isinstance(host, (str, bytes)) and (host.decode() if isinstance(host, bytes) else host).startswith(_LOOPBACK)


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        if not _local(address[0]) or address[1] == 9:
            _refuse(f"connect {address!r}")


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def connect(self, address):
    _check(self, address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(self, address)
    return _connect_ex(self, address)


def _guard_lookup(original):
    def lookup(host, *args, **kwargs):
        if host is not None and not _local(host):
            _refuse(f"{original.__name__} {host!r}")
        return original(host, *args, **kwargs)
    return lookup


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
for _name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
    setattr(socket, _name, _guard_lookup(getattr(socket, _name)))
'''


def _post(url: str) -> None:
    """POST {} to url, bypassing any proxy of the environment."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json"}), timeout=5)


def _demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The installed `opik-otel demo`, as a user runs it."""
    return opik_otel("demo", *args, env=env, timeout=60)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict[str, str], Path]:
    """`opik-otel demo --width 80` once, offline, with a network guard: (result, env, network log)."""
    tmp = tmp_path_factory.mktemp("demo")
    guard = tmp / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NETWORK_GUARD)
    net_log = tmp / "network.log"
    env = clean_env(
        tmp,
        PYTHONPATH=str(guard),
        NET_LOG=str(net_log),
        HTTPS_PROXY=UNREACHABLE_PROXY, HTTP_PROXY=UNREACHABLE_PROXY, ALL_PROXY=UNREACHABLE_PROXY,
        https_proxy=UNREACHABLE_PROXY, http_proxy=UNREACHABLE_PROXY, all_proxy=UNREACHABLE_PROXY,
        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
    )
    return _demo(env, "--width", "80"), env, net_log


def test_demo_streams_the_answer_and_shows_the_trace_tree(demo):
    result, _, _ = demo
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert ANSWER in out
    assert "get_weather" in out
    assert "ask" in out
    assert out.count("chat gpt-4o-mini") >= 2
    assert "token" in out.lower()
    assert "$" in out
    assert "opik-otel view" in out and "opik-otel upload" in out
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert not too_wide, too_wide


def test_demo_stores_one_trace_of_four_spans_locally(demo):
    from opik_otel.exporters.local import load_traces

    result, env, _ = demo
    assert result.returncode == 0, result.stdout + result.stderr
    store = Path(env["XDG_DATA_HOME"]) / "opik-otel"
    assert list(store.glob("traces-*.jsonl"))
    assert str(store) in result.stderr  # the local store announces once where traces went
    traces = load_traces(store)
    assert len(traces) == 1
    (trace_id, entry), = traces.items()
    assert trace_id[-8:] in result.stdout  # the tree's header shows the trace's short id
    trace = entry["trace"]
    assert trace["name"] == "ask"
    assert trace["input"] == {"question": "What's the weather like in Paris today?"}
    assert "demo" in trace.get("tags", [])
    assert trace.get("thread_id") == "opik-otel-demo"

    spans = entry["spans"]
    assert len(spans) == 4
    (root,) = [span for span in spans if not span.get("parent_span_id")]
    assert (root["name"], root["type"]) == ("ask", "general")
    children = sorted((span for span in spans if span is not root), key=lambda span: span["start_time"])
    assert all(span["parent_span_id"] == root["id"] for span in children)
    assert [(span["name"], span["type"]) for span in children] == [
        ("chat gpt-4o-mini", "llm"), ("get_weather", "tool"), ("chat gpt-4o-mini", "llm"),
    ]
    first, tool, second = children
    assert tool["input"] == {"city": "Paris"}
    assert tool["output"] == {"city": "Paris", "temperature_c": 18, "conditions": "sunny"}
    for llm in (first, second):
        assert llm["model"] == "gpt-4o-mini" and llm["provider"] == "openai"
        usage = llm["usage"]
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert llm["total_estimated_cost"] > 0
    assert "get_weather" in json.dumps(first["output"])
    assert ANSWER in json.dumps(second["output"], ensure_ascii=False)


def test_demo_makes_no_network_call_but_loopback(demo):
    result, _, net_log = demo
    assert result.returncode == 0, result.stdout + result.stderr
    attempts = net_log.read_text() if net_log.exists() else ""
    assert attempts == "", f"the demo tried to reach the network:\n{attempts}"


def test_real_without_an_api_key_is_one_line_and_exit_2(tmp_path):
    result = _demo(clean_env(tmp_path), "--real")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "OPENAI_API_KEY" in result.stderr


def test_without_openai_installed_says_how_to_install_it(tmp_path):
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['openai'] = None  # import openai -> ImportError\n")
    result = _demo(clean_env(tmp_path, PYTHONPATH=str(hide)))
    assert result.returncode == 1
    assert result.stderr.strip() == 'opik-otel demo needs the openai package: pip install "opik-otel[openai]"'
    assert not (tmp_path / "xdg" / "opik-otel").exists()


def test_the_built_in_server_speaks_the_openai_wire_format():
    import openai

    from opik_otel.cli.demo.agent import WEATHER_TOOL
    from opik_otel.cli.demo.server import DemoOpenAIServer

    with DemoOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="demo", max_retries=0,
                               http_client=openai.DefaultHttpxClient(trust_env=False))
        messages = [{"role": "user", "content": "Weather in Paris?"}]
        first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
        assert first.id == "chatcmpl-demo-1" and first.model == "gpt-4o-mini"
        assert first.choices[0].finish_reason == "tool_calls"
        (call,) = first.choices[0].message.tool_calls
        assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
        assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0

        result = {"city": "Paris", "temperature_c": 18, "conditions": "sunny"}
        messages += [first.choices[0].message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}]
        plain = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
        assert plain.choices[0].message.content == ANSWER and plain.choices[0].finish_reason == "stop"

        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True,
                                                     stream_options={"include_usage": True}))
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        assert text == ANSWER
        assert len([chunk for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]) > 5  # word by word
        assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
        no_usage = list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))
        assert all(chunk.usage is None for chunk in no_usage)

        streamed_call = list(client.chat.completions.create(model="gpt-4o-mini", messages=messages[:1], tools=[WEATHER_TOOL], stream=True))
        arguments = "".join(chunk.choices[0].delta.tool_calls[0].function.arguments or ""
                            for chunk in streamed_call if chunk.choices and chunk.choices[0].delta.tool_calls)
        assert json.loads(arguments) == {"city": "Paris"}
        client.close()

        with pytest.raises(urllib.error.HTTPError) as missing:
            _post(f"{server.base_url}/embeddings")
        assert missing.value.code == 404
        assert json.loads(missing.value.read())["error"]["type"] == "invalid_request_error"


def test_the_demo_server_stops_cleanly():
    from opik_otel.cli.demo.server import DemoOpenAIServer

    server = DemoOpenAIServer().start()
    url = server.url
    server.stop()
    server.stop()  # harmless
    with pytest.raises(OSError):
        _post(f"{url}/v1/chat/completions")


def test_with_opik_configured_the_trace_goes_there_and_the_demo_says_so(tmp_path):
    from tests.fakes.opik_backend import FakeOpikBackend

    with FakeOpikBackend() as backend:
        env = clean_env(tmp_path, OPIK_URL_OVERRIDE=backend.url, OPIK_PROJECT_NAME="demo-project")
        result = _demo(env)
        url = backend.url
        traces, spans, errors = dict(backend.traces), dict(backend.spans), list(backend.errors)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ANSWER in result.stdout
    assert f"the trace was sent to Opik at {url}" in result.stdout and "demo-project" in result.stdout
    assert errors == []
    (trace_id,) = traces
    assert trace_id in result.stdout
    assert len(spans) == 4 and all(span["trace_id"] == trace_id for span in spans.values())
    assert not list((tmp_path / "xdg" / "opik-otel").glob("traces-*.jsonl"))  # nothing in the local store
