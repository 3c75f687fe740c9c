"""`opik-otel view`: the local store's traces as trees (or JSON).

The store is written by the real pipeline (`configure(exporter="local")`, `@track`, manual
GenAI spans priced by the processor) in a subprocess of its own: `configure()` sets the
global TracerProvider. `opik-otel view` runs as the installed command, in a subprocess; the
variations on odd stores, widths and ids run the same command line in-process (`cli.main`),
to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from opik_otel.exporters.local import load_traces
from tests.e2e._helpers import ROOT, clean_env

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Two traces, the second 5 ms later: `agent` (chat, tool, chat) and `failing_agent`, whose
# tool raises (caught by the agent: one error span in the trace).
RECORD = """
import sys, time
from opentelemetry import trace
import opik_otel

opik_otel.configure(exporter="local", local_store_dir=sys.argv[1])
tracer = trace.get_tracer("test.view")

def chat(input_tokens, output_tokens, stream=False):
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.provider.name", "openai")
        span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        if stream:
            span.set_attribute("gen_ai.request.stream", True)
            span.set_attribute("gen_ai.response.time_to_first_chunk", 0.012)
        time.sleep(0.02)

@opik_otel.track(type="tool")
def get_weather(city):
    time.sleep(0.01)
    return {"city": city, "sky": "sunny"}

@opik_otel.track(name="agent")
def agent(question):
    chat(120, 25)
    get_weather("Paris")
    chat(180, 40, stream=True)
    return "It is sunny in Paris."

@opik_otel.track(type="tool")
def search_docs(query):
    time.sleep(0.005)
    raise ValueError("index unavailable")

@opik_otel.track(name="failing_agent")
def failing_agent(question):
    opik_otel.update_current_trace(thread_id="conv-7")
    try:
        return search_docs(question)
    except ValueError:
        return "sorry"

agent("What is the weather in Paris?")
time.sleep(0.005)
failing_agent("How do I reset it?")
opik_otel.shutdown()
"""


# The `opik-otel` console script installed beside this interpreter, as a user runs it.
OPIK_OTEL = shutil.which("opik-otel", path=str(Path(sys.executable).parent))


def opik_otel(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """The installed `opik-otel ARGS`, run from an empty folder (not the repository)."""
    assert OPIK_OTEL, f"the opik-otel command is not installed beside {sys.executable}"
    return subprocess.run([OPIK_OTEL, *args], env=env, cwd=env["HOME"], capture_output=True, text=True, timeout=timeout)


def view(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`opik-otel view ARGS` in a subprocess."""
    key = (args, tuple(sorted(env.items())))
    if key not in _RUNS:
        _RUNS[key] = opik_otel("view", *args, env=env)
    return _RUNS[key]


_RUNS: dict[tuple, subprocess.CompletedProcess] = {}  # the same command line runs once


def view_here(capsys, *args: str) -> tuple[int, str, str]:
    """`opik-otel view ARGS` in this process: (exit code, stdout, stderr)."""
    from opik_otel.cli import main

    code = main(["view", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    return clean_env(tmp_path_factory.mktemp("view-env"), COLUMNS="80")


@pytest.fixture(scope="module")
def store(tmp_path_factory, env) -> Path:
    directory = tmp_path_factory.mktemp("store")
    process = subprocess.run([sys.executable, "-c", textwrap.dedent(RECORD), str(directory)], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stdout + process.stderr
    return directory


@pytest.fixture(scope="module")
def stored(store) -> dict[str, dict]:
    """The two traces as stored, `agent` first."""
    traces = load_traces(store)
    by_name = {entry["trace"]["name"]: entry for entry in traces.values()}
    assert set(by_name) == {"agent", "failing_agent"}
    return {"agent": by_name["agent"], "failing_agent": by_name["failing_agent"]}


def short_id(trace_id: str) -> str:
    return trace_id.replace("-", "")[-8:]


def llm_costs(entry: dict) -> list[float]:
    return [span["total_estimated_cost"] for span in sorted(entry["spans"], key=lambda s: s["start_time"]) if span["type"] == "llm"]


def cells(line: str) -> int:
    return len(ANSI.sub("", line))


# -- the tree -------------------------------------------------------------------------


def test_tree_of_the_agent_trace(store, stored, env):
    result = view("--store", str(store), "--width", "80", "--no-color", "--trace", stored["agent"]["trace"]["id"], env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    costs = llm_costs(stored["agent"])
    assert len(costs) == 2 and all(0 < cost < 0.01 for cost in costs)
    first, second = (f"${cost:.6f}" for cost in costs)  # below a cent: 6 decimals
    total = f"${sum(costs):.6f}"

    header = lines[0]
    assert header.startswith("agent · " + short_id(stored["agent"]["trace"]["id"]) + " · ")
    assert " · 365 tokens · " + total in header and "error" not in header
    bar_and_duration = r" +━+ +[\d.]+m?s"
    assert re.match("^agent" + bar_and_duration + "$", lines[1]), lines[1]
    # tokens labelled; the model is in the name, so not repeated; the streamed call marked
    assert re.match("^├─ chat gpt-4o-mini +llm" + bar_and_duration + re.escape(f" in 120 · out 25 tok {first}") + "$", lines[2]), lines[2]
    assert re.match("^├─ get_weather +tool" + bar_and_duration + "$", lines[3]), lines[3]
    assert re.match("^└─ chat gpt-4o-mini +llm" + bar_and_duration + re.escape(f" in 180 · out 40 tok {second} stream") + "$", lines[4]), lines[4]
    assert sum(line.count("gpt-4o-mini") for line in lines[2:5]) == 2
    assert lines[5] == ""
    assert "opik-otel upload" in lines[-1]

    # one time axis: the root's bar spans it; the children's bars follow each other within it
    bars = [re.search("━+", line).span() for line in lines[1:5]]
    root, chat1, tool, chat2 = bars
    assert root[0] <= chat1[0] <= tool[0] <= chat2[0] and chat2[1] <= root[1]
    assert chat1[0] - root[0] <= 2  # the first call starts as the agent does
    assert all(len(line) <= 80 for line in lines)
    assert len({re.search(r"(llm|tool) ", line).start() for line in lines[2:5]}) == 1  # one tag column


def test_error_trace_is_marked(store, stored, env):
    failing = stored["failing_agent"]
    result = view("--store", str(store), "--width", "80", "--no-color", "--trace", failing["trace"]["id"], env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("failing_agent · " + short_id(failing["trace"]["id"]))
    assert lines[0].endswith(" · 1 error · thread conv-7")
    assert re.match(r"^failing_agent +━+ +[\d.]+m?s$", lines[1]), lines[1]
    assert re.match(r"^└─ search_docs +tool +━+ +[\d.]+m?s ✗ ValueError: index unavailable$", lines[2]), lines[2]


def test_color_marks_the_error_in_red(store, stored, env):
    result = view("--store", str(store), "--width", "80", "--color", env=env)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "search_docs" in line)
    assert "\x1b[31msearch_docs\x1b[0m" in line
    assert "\x1b[31m ✗ ValueError: index unavailable\x1b[0m" in line
    assert "\x1b[31m1 error\x1b[0m" in result.stdout
    agent_line = next(line for line in result.stdout.splitlines() if "get_weather" in line)
    assert "\x1b[31m" not in agent_line
    assert all(cells(line) <= 80 for line in result.stdout.splitlines())


@pytest.mark.parametrize("flag", ["--no-color", None])
def test_no_color_means_no_ansi_codes(store, env, flag):
    result = view("--store", str(store), *([flag] if flag else []), env=env)  # not a terminal: no colors either
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "search_docs" in result.stdout


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
@pytest.mark.parametrize(("no_color", "colored"), [(None, True), ("1", False)])
def test_colors_on_a_terminal_unless_no_color(store, env, no_color, colored):
    import pty

    run_env = {key: value for key, value in env.items() if key != "NO_COLOR"}
    run_env.update(TERM="xterm-256color", **({"NO_COLOR": no_color} if no_color else {}))
    main, child = pty.openpty()
    try:
        process = subprocess.Popen([OPIK_OTEL, "view", "--store", str(store), "--width", "80"],
                                   env=run_env, cwd=ROOT, stdout=child, stderr=subprocess.DEVNULL)
        os.close(child)
        output = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=60) == 0
    finally:
        os.close(main)
    assert b"search_docs" in output
    assert (b"\x1b[31m" in output) is colored


@pytest.mark.parametrize("width", [80, 60])
def test_lines_fit_the_width(store, env, width):
    for colors in ("--color", "--no-color"):
        result = view("--store", str(store), "--width", str(width), colors, env=env)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert "agent" in result.stdout and "search_docs" in result.stdout
        assert max(cells(line) for line in lines) <= width, "\n" + result.stdout


@pytest.mark.parametrize(("columns", "widest"), [("200", 120), ("30", 60)])
def test_default_width_is_the_terminals_between_60_and_120(store, capsys, monkeypatch, columns, widest):
    monkeypatch.setenv("COLUMNS", columns)
    code, out, _ = view_here(capsys, "--store", str(store), "--no-color")
    assert code == 0
    lines = out.splitlines()
    assert widest - 20 < max(cells(line) for line in lines) <= widest
    root_bar = next(re.match(r"agent +(━+)", line).group(1) for line in lines if re.match(r"agent +━", line))
    assert len(root_bar) > (40 if widest == 120 else 5)
    chat = next(line for line in lines if line.startswith("└─ chat gpt-4o"))
    assert chat.endswith(" stream") and " tok " in chat  # the stream still marked, the tokens still labelled


def test_footer_totals_and_upload_hint(store, stored, env):
    result = view("--store", str(store), "--no-color", env=env)
    lines = result.stdout.splitlines()
    total = f"${sum(llm_costs(stored['agent'])):.6f}"
    assert lines[-2] == f"2 of 2 stored traces · 365 tokens · {total}"
    assert lines[-1] == "Send them to Opik: opik-otel upload"


# -- selecting ------------------------------------------------------------------------


def test_last_1_shows_only_the_latest_trace(store, env):
    result = view("--store", str(store), "--no-color", "--last", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert "failing_agent" in result.stdout and "get_weather" not in result.stdout
    assert "1 of 2 stored traces · --last 2 shows all" in result.stdout


def test_traces_are_shown_oldest_first(store, env):
    result = view("--store", str(store), "--no-color", env=env)
    assert result.stdout.index("get_weather") < result.stdout.index("search_docs")


def test_trace_by_prefix_suffix_or_short_id(store, stored, capsys):
    agent_id, failing_id = stored["agent"]["trace"]["id"], stored["failing_agent"]["trace"]["id"]
    common = len(os.path.commonprefix([agent_id, failing_id]))
    for query in (agent_id[:common + 1], agent_id.upper(), agent_id[-12:], short_id(agent_id), agent_id.replace("-", "")):
        code, out, err = view_here(capsys, "--store", str(store), "--no-color", "--trace", query)
        assert code == 0, (query, err)
        assert "get_weather" in out and "search_docs" not in out, query


def test_trace_given_in_a_subprocess(store, stored, env):
    result = view("--store", str(store), "--no-color", "--trace", short_id(stored["failing_agent"]["trace"]["id"]), env=env)
    assert result.returncode == 0, result.stderr
    assert "search_docs" in result.stdout and "get_weather" not in result.stdout
    assert "stored traces" not in result.stdout  # no "N of M" line for one chosen trace
    assert result.stdout.splitlines()[-1] == "Send them to Opik: opik-otel upload"


def test_ambiguous_prefix_exits_1_and_lists_the_candidates(store, stored, env):
    agent_id, failing_id = stored["agent"]["trace"]["id"], stored["failing_agent"]["trace"]["id"]
    prefix = os.path.commonprefix([agent_id, failing_id])
    assert len(prefix) >= 2  # UUID v7: the same timestamp prefix
    result = view("--store", str(store), "--trace", prefix, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"opik-otel view: {prefix!r} matches 2 traces; give more characters:"
    assert len(lines) == 3
    assert re.match(rf"^  {agent_id}  agent  \S", lines[1]), lines  # oldest first: id, name, start
    assert re.match(rf"^  {failing_id}  failing_agent  \S", lines[2]), lines
    assert all(len(line) <= 80 for line in lines[1:])


def test_unknown_trace_exits_1_with_a_message(store, env):
    result = view("--store", str(store), "--trace", "nope-not-there", env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "opik-otel view: no stored trace has an id containing 'nope-not-there' (2 traces stored)"
    ]


def test_json_is_the_stored_records(store, stored, env):
    result = view("--store", str(store), "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [stored["agent"], stored["failing_agent"]]

    one = view("--store", str(store), "--json", "--trace", short_id(stored["failing_agent"]["trace"]["id"]), env=env)
    assert one.returncode == 0
    assert json.loads(one.stdout) == [stored["failing_agent"]]


def test_last_0_is_a_usage_error(store, env):
    result = view("--store", str(store), "--last", "0", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "must be at least 1" in result.stderr


# -- empty and odd stores -------------------------------------------------------------


def test_empty_store_is_a_friendly_message(tmp_path):
    env = clean_env(tmp_path)
    result = view("--store", str(tmp_path / "missing"), "--width", "60", env=env)
    assert result.returncode == 0, result.stderr
    assert "No traces stored" in result.stdout and "opik-otel demo" in result.stdout
    assert "configure()" in result.stdout
    assert all(len(line) <= 60 for line in result.stdout.splitlines())
    as_json = view("--store", str(tmp_path / "missing"), "--json", env=env)
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []


def test_store_with_only_an_empty_file(tmp_path, capsys):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "traces-2024-01-01.jsonl").write_text("")
    code, out, _ = view_here(capsys, "--store", str(tmp_path / "store"))
    assert code == 0 and "No traces stored" in out and "opik-otel demo" in out


def test_default_store_is_the_configured_one(tmp_path, store):
    env = clean_env(tmp_path, OPIK_OTEL_LOCAL_STORE_DIR=str(store))
    result = view("--no-color", env=env)
    assert result.returncode == 0, result.stderr
    assert "get_weather" in result.stdout


def _write_store(directory: Path, records: list[tuple[str, dict]], name: str = "traces-2024-01-01.jsonl") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"kind": kind, "record": record}) for kind, record in records] + ["not json", "{}"]
    (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_odd_records_never_crash(tmp_path, capsys):
    t = "2024-01-01T00:00:0{}Z".format
    _write_store(tmp_path / "store", [
        ("trace", {"id": "trace-1", "name": "odd\x1b[2J name\nwith newline", "start_time": t(0), "end_time": t(4)}),
        ("span", {"id": "a", "trace_id": "trace-1", "name": "root", "type": "general", "start_time": t(0), "end_time": t(4)}),
        ("span", {"id": "b", "trace_id": "trace-1", "parent_span_id": "a", "name": "no end", "type": "llm", "start_time": t(1),
                  "model": "gpt-4o", "usage": "many", "total_estimated_cost": "a lot"}),
        ("span", {"id": "c", "trace_id": "trace-1", "parent_span_id": "b", "name": "名前 " * 20, "type": "mystery",
                  "start_time": 17, "end_time": None, "usage": {"prompt_tokens": -1, "completion_tokens": True}}),
        ("span", {"id": "d", "trace_id": "trace-1", "parent_span_id": "e", "name": "loop one", "start_time": t(2), "end_time": t(1)}),
        ("span", {"id": "e", "trace_id": "trace-1", "parent_span_id": "d", "name": "loop two", "error_info": "not a dict",
                  "total_estimated_cost": float("nan")}),
        ("span", {"trace_id": "trace-2", "name": None, "type": None, "error_info": {"message": "no type"}}),
    ])
    for width in ("80", "60", "20"):
        code, out, err = view_here(capsys, "--store", str(tmp_path / "store"), "--width", width, "--color")
        assert code == 0 and err == ""
        assert max(cells(line) for line in out.splitlines()) <= int(width)
        assert "\x1b[2J" not in out  # terminal controls in stored text never reach the terminal
    code, out, _ = view_here(capsys, "--store", str(tmp_path / "store"), "--width", "80", "--no-color")
    lines = out.splitlines()
    assert any(line.startswith("odd [2J name with newline · trace1 · ") for line in lines)
    no_end = next(line for line in lines if "no end" in line)
    assert "┄" in no_end and re.search(r" \? gpt-4o$", no_end)  # open-ended bar, unknown duration
    assert any(line.startswith("loop one ") for line in lines)  # a parent cycle: shown from a root
    assert any(line.startswith("└─ loop two ") and line.endswith("? ✗ not a dict") for line in lines)
    assert any(line.startswith("(unnamed) ") and line.endswith("✗ Error: no type") for line in lines)


def test_spans_whose_parent_is_not_stored_are_roots(tmp_path, capsys):
    t = "2024-01-01T00:00:0{}Z".format
    _write_store(tmp_path / "store", [
        ("span", {"id": "child", "trace_id": "0190aaaa-0000-7000-8000-00000000abcd", "parent_span_id": "in-another-process",
                  "name": "handle_request", "type": "general", "start_time": t(1), "end_time": t(3)}),
        ("span", {"id": "grandchild", "trace_id": "0190aaaa-0000-7000-8000-00000000abcd", "parent_span_id": "child",
                  "name": "chat gpt-4o-mini", "type": "llm", "model": "gpt-4o-mini", "start_time": t(1), "end_time": t(2),
                  "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}, "total_estimated_cost": 0.00027}),
    ])
    code, out, _ = view_here(capsys, "--store", str(tmp_path / "store"), "--width", "100", "--no-color")
    assert code == 0
    lines = out.splitlines()
    assert re.match(r"^handle_request · 0000abcd · 2024-01-01 \d\d:\d\d:01 [^·]*· 2\.00s · 1200 tokens · \$0\.000270$", lines[0]), lines[0]
    assert re.match(r"^handle_request +━{10,} +2\.00s$", lines[1]), lines[1]
    assert re.match(r"^└─ chat gpt-4o-mini +llm +━+ +1\.00s in 1000 · out 200 tok \$0\.000270$", lines[2]), lines[2]


# -- settings, ids, spool, damaged bytes ----------------------------------------------


def test_an_invalid_setting_is_one_line_and_exit_2(tmp_path):
    env = clean_env(tmp_path, OTEL_BSP_SCHEDULE_DELAY="abc")  # not a setting view uses: still one line, no traceback
    result = opik_otel("view", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "opik-otel view: invalid setting: env OTEL_BSP_SCHEDULE_DELAY (schedule_delay_millis): "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def _uuid(head: str, tail: str) -> str:
    """A UUID v7-like id: `head` (the shared time part) and `tail` (its last 12 hex digits)."""
    return f"0190{head}-0000-7000-8000-{tail}"


def _trace_records(trace_id: str, name: str, second: int, children: int = 0, day: str = "2024-01-01") -> list[tuple[str, dict]]:
    """As a process stores a trace starting at `day` 00:00:`second`: its `children` spans, then its
    root span, then the trace record."""
    start, end = f"{day}T00:00:{second:02d}Z", f"{day}T00:00:{second:02d}.900000Z"
    records = [("span", {"id": f"{trace_id}/{index}", "trace_id": trace_id, "parent_span_id": f"{trace_id}/0",
                         "name": f"{name} {index}", "type": "general", "start_time": start, "end_time": end})
               for index in range(1, children + 1)]
    records.append(("span", {"id": f"{trace_id}/0", "trace_id": trace_id, "name": name, "type": "general",
                             "start_time": start, "end_time": end}))
    return records + [("trace", {"id": trace_id, "name": name, "start_time": start, "end_time": end})]


SIBLINGS = {"first": _uuid("aaaa", "00000000a1b2"), "second": _uuid("aaaa", "00000000c3d4"), "third": _uuid("bbbb", "0000000012ef")}


@pytest.fixture
def siblings(tmp_path) -> Path:
    """Three one-span traces; `first` and `second` share their first 28 hex digits."""
    store = tmp_path / "store"
    _write_store(store, [record for second, (name, trace_id) in enumerate(SIBLINGS.items())
                         for record in _trace_records(trace_id, name, second)])
    return store


def test_the_short_id_shown_selects_its_trace(siblings, tmp_path, capsys):
    env = clean_env(tmp_path)
    listing = opik_otel("view", "--store", str(siblings), "--no-color", env=env)
    assert listing.returncode == 0, listing.stderr
    shown = dict(re.findall(r"^(first|second|third) · (\w+) · ", listing.stdout, re.MULTILINE))
    assert shown == {"first": "0000a1b2", "second": "0000c3d4", "third": "000012ef"}
    for name, query in (("first", shown["first"]), ("second", shown["second"][:6])):  # the short id, or its start
        result = opik_otel("view", "--store", str(siblings), "--no-color", "--trace", query, env=env)
        assert result.returncode == 0, (query, result.stderr)
        assert re.findall(r"^(first|second|third) · ", result.stdout, re.MULTILINE) == [name], query
    for name, short in shown.items():  # the same command line in-process: every form of each id
        for query in (short, short[-5:], short[:6], SIBLINGS[name][:-2], SIBLINGS[name].upper()):
            code, out, err = view_here(capsys, "--store", str(siblings), "--no-color", "--trace", query)
            assert code == 0, (query, err)
            assert re.findall(r"^(first|second|third) · ", out, re.MULTILINE) == [name], query


def test_an_ambiguous_prefix_lists_the_candidates(siblings, tmp_path):
    result = opik_otel("view", "--store", str(siblings), "--trace", "0190aaaa", env=clean_env(tmp_path, TZ="UTC"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "opik-otel view: '0190aaaa' matches 2 traces; give more characters:",
        f"  {SIBLINGS['first']}  first  2024-01-01 00:00:00 UTC",
        f"  {SIBLINGS['second']}  second  2024-01-01 00:00:01 UTC",
    ]


def test_an_empty_store_with_a_spool_says_how_to_send_it(tmp_path):
    from opik_otel.exporters.opik.spool import Spool, destination_folder

    env = clean_env(tmp_path, COLUMNS="80")
    spool_dir = tmp_path / "xdg" / "opik-otel" / "spool"  # the default: beside the store
    spool = Spool(destination_folder(spool_dir, "http://localhost:5173/api", None), max_bytes=1_000_000)
    assert spool.put("traces", 3, b"{}") and spool.put("spans", 12, b"{}") and spool.put("spans", 5, b"{}")
    result = opik_otel("view", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    store = tmp_path / "xdg" / "opik-otel"
    said, _, rest = "\n".join(lines).partition(":\n")
    folder, _, hint = rest.rpartition("\n")
    assert " ".join(said.splitlines()) == (
        f"No traces stored in {store}, but the spool holds 3 traces and 17 spans that an Opik server did not take in time"
    )
    assert folder.replace("\n", "") == str(spool_dir)  # on lines of its own (cut at 80 columns when longer)
    assert hint == "Send them with `opik-otel upload` (to the Opik server configured)."


def test_a_non_utf8_byte_in_the_store_is_not_a_traceback(tmp_path, capsys):
    store = tmp_path / "store"
    _write_store(store, _trace_records(SIBLINGS["third"], "third", 2))
    with open(store / "traces-2024-01-01.jsonl", "ab") as handle:
        handle.write(b'{"kind": "span", "record": {"id": "s", "trace_id": "t-1", "name": "caf\xe9", '
                     b'"start_time": "2024-01-01T00:00:05Z", "end_time": "2024-01-01T00:00:06Z"}}\n\xff\xfe\x00 torn\n')
    result = opik_otel("view", "--store", str(store), "--no-color", env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert re.findall(r"^(\S+) · ", result.stdout, re.MULTILINE) == ["third", "caf\ufffd"]  # decoded with replacement
    from opik_otel.exporters.local import load_traces

    assert [entry["spans"][0]["name"] for entry in load_traces(store).values()] == ["third", "caf\ufffd"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """`opik-otel demo` at 80 columns, into a store whose first line has a non-UTF-8 byte."""
    tmp = tmp_path_factory.mktemp("demo")
    env = clean_env(tmp, COLUMNS="80")
    store = tmp / "xdg" / "opik-otel"
    store.mkdir(parents=True)
    (store / f"traces-{datetime.now(timezone.utc):%Y-%m-%d}.jsonl").write_bytes(b'\xff{"kind": "span"\n')
    return opik_otel("demo", env=env), env


def test_the_demo_survives_a_damaged_store_and_marks_its_stream(demo):
    result, _ = demo
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    (first,) = [line for line in lines if line.startswith("├─ chat gpt-4o-mini ")]
    (second,) = [line for line in lines if line.startswith("└─ chat gpt-4o-mini ")]
    assert re.search(r" in \d+ · out \d+ tok \$0\.\d{6}$", first), first  # not streamed: no marker, no model twice
    assert re.search(r" in \d+ · out \d+ tok \$0\.\d{6} stream$", second), second
    assert all(len(line) <= 80 for line in lines), result.stdout


def test_every_line_fits_80_columns(demo, tmp_path):
    _, env = demo
    result = opik_otel("view", env=env)  # COLUMNS=80, no --width
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("ask · ") for line in lines) and any(" stream" in line for line in lines)
    assert max(cells(line) for line in lines) <= 80, "\n" + result.stdout
    colored = opik_otel("view", "--color", env=env)
    assert max(cells(line) for line in colored.stdout.splitlines()) <= 80, "\n" + colored.stdout


# -- large stores: read newest first, fold huge traces ---------------------------------


def _write_huge_store(store: Path, spans: int) -> str:
    """An older day with one small trace, then a day with one trace of `spans` steps (and its root),
    then three small traces. Returns the huge trace's id."""
    store.mkdir()
    _write_store(store, _trace_records(_uuid("0000", "0000000001d0"), "older", 0, day="2023-12-31"), name="traces-2023-12-31.jsonl")
    huge = _uuid("bbbb", "00000000b16b")
    step = ('{"kind": "span", "record": {"id": "step-%d", "trace_id": "' + huge + '", "parent_span_id": "root", '
            '"name": "step %d", "type": "llm", "start_time": "2024-01-01T00:%02d:%02d.%06dZ", '
            '"end_time": "2024-01-01T00:%02d:%02d.%06dZ", "model": "gpt-4o-mini", "usage": {"prompt_tokens": 10, '
            '"completion_tokens": 5, "total_tokens": 15}, "input": {"text": "' + "x" * 200 + '"}}}\n')
    with open(store / "traces-2024-01-01.jsonl", "w") as handle:
        for index in range(spans):
            micros = index * 1000  # one step a millisecond
            seconds, micro = divmod(micros, 1_000_000)
            handle.write(step % (index, index, seconds // 60, seconds % 60, micro, seconds // 60, seconds % 60, micro + 500))
        end = f"2024-01-01T00:{spans // 60_000:02d}:{spans // 1000 % 60:02d}Z"
        for kind, record in [("span", {"id": "root", "trace_id": huge, "name": "huge", "type": "general",
                                       "start_time": "2024-01-01T00:00:00Z", "end_time": end}),
                             ("trace", {"id": huge, "name": "huge", "start_time": "2024-01-01T00:00:00Z", "end_time": end})]:
            handle.write(json.dumps({"kind": kind, "record": record}) + "\n")
    for index in range(3):
        day = f"2024-01-0{2 + index}"
        _write_store(store, _trace_records(_uuid("cccc", f"00000000000{index}"), f"small{index}", 0, day=day), name=f"traces-{day}.jsonl")
    return huge


def test_last_reads_the_newest_traces_and_folds_a_huge_one(tmp_path):
    huge = _write_huge_store(tmp_path / "store", 100_000)
    result = opik_otel("view", "--store", str(tmp_path / "store"), "--last", "4", "--no-color", env=clean_env(tmp_path, COLUMNS="80"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.findall(r"^(\w+) · ", result.stdout, re.MULTILINE) == ["huge", "small0", "small1", "small2"]
    assert re.match(r"^huge · 0000b16b · .* · 1m40s · 1485\+ tokens$", lines[0]), lines[0]  # the totals of what is shown
    steps = [line for line in lines if re.match(r"^[├└]─ step \d+ ", line)]
    assert len(steps) == 99  # with the root, the latest 100 spans of the trace, in start order
    assert steps[0].startswith("├─ step 99901 ") and steps[-1].startswith("└─ step 99999 ")
    assert lines[lines.index(steps[-1]) + 1] == "… 99,901 earlier spans not shown: opik-otel view --trace 0000b16b --all"
    assert lines[-2] == "4 latest stored traces · 1485+ tokens · --last 8 shows more"  # the older day was never read
    assert max(len(line) for line in lines) <= 80
    assert huge.endswith("b16b")


def test_a_trace_is_folded_unless_all_is_asked(tmp_path):
    store = tmp_path / "store"
    trace_id = _uuid("dddd", "000000000150")
    _write_store(store, _trace_records(trace_id, "wide", 0, children=150))
    env = clean_env(tmp_path)
    folded = opik_otel("view", "--store", str(store), "--trace", "150", "--no-color", "--width", "80", env=env)
    assert folded.returncode == 0, folded.stderr
    lines = folded.stdout.splitlines()
    assert len([line for line in lines if re.match(r"^[├└]─ wide \d+ ", line)]) == 99  # with the root: 100 spans
    assert "… 51 earlier spans not shown: opik-otel view --trace 00000150 --all" in lines
    everything = opik_otel("view", "--store", str(store), "--trace", "150", "--all", "--no-color", "--width", "80", env=env)
    assert everything.returncode == 0, everything.stderr
    children = [line for line in everything.stdout.splitlines() if re.match(r"^[├└]─ wide \d+ ", line)]
    assert [int(line.split()[2]) for line in children] == list(range(1, 151))
    assert "not shown" not in everything.stdout


def test_reading_backwards_in_small_blocks_gives_every_record(store, stored, capsys, monkeypatch):
    import opik_otel.cli.view as view_module

    monkeypatch.setattr(view_module, "_BLOCK_BYTES", 7)  # lines cut across many blocks, records longer than a block
    code, out, _ = view_here(capsys, "--store", str(store), "--json")
    assert code == 0
    assert json.loads(out) == [stored["agent"], stored["failing_agent"]]
