"""`opik-otel view`: the local store's traces as trees in the terminal, or as JSON.

Each trace is a header line (name, short id, local start time, duration, tokens, cost,
errors, thread) and one line per span in tree order: connectors and name, type tag, a bar
on the trace's time axis, duration, tokens (`in 12 · out 34 tok`), cost, then the model
when the name does not show it and `stream` for a streamed call, or the error (in red with
colors). The latest traces come last, next to the prompt. Column widths adapt to the width
given and are shared by the traces shown; no line is ever longer than the width. Colors
when asked, or when stdout is a terminal and neither NO_COLOR nor TERM=dumb is set. Stored
text is cleaned of terminal controls before it is printed.

The store is read newest first (its files from the newest, each from its end backwards),
only as far as the traces shown need: records are written when their span ends, so once a
record ended well before the earliest of them started, nothing older belongs to them. A
trace shows its latest `FOLD_SPANS` spans (the ones read first) and how many more it has;
those are counted from their lines without being parsed. `--all` shows every span.

Short ids are the LAST 8 characters of the trace id (longer if needed to be unique): the
Opik ids are UUID v7, whose first characters are a timestamp shared by traces recorded
close together. `--trace` takes the full id, or any unique prefix or suffix of it, or any
unique part of it (the start of a short id).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping, NamedTuple, Sequence

from opik_otel import semconv as sc
from opik_otel.exporters.local import parse_line, store_files

__all__ = ["FOLD_SPANS", "format_cost", "format_duration", "match_trace", "render", "run", "short_ids"]

MIN_WIDTH, MAX_WIDTH = 60, 120
SHORT_ID_LENGTH = 8
FOLD_SPANS = 100  # spans shown per trace without --all: its latest ones
_STOP_MARGIN_S = 300.0  # records are written in batches after their span ends: how much earlier to keep reading
_BLOCK_BYTES = 1 << 20
_SPAN_LINE = b'{"kind": "span", '  # how the local store writes a span's line
_CANDIDATES_SHOWN = 10
_MAX_PREFIX = 3 * 100  # tree connectors kept for a row: 100 levels

_RED, _GREEN, _BOLD, _DIM, _CYAN, _YELLOW, _BLUE, _MAGENTA = "31", "32", "1", "2", "36", "33", "34", "35"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Terminal controls in stored text (newlines, ESC, bidi overrides) must not reach the terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d+))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$", re.IGNORECASE)
_TAGS = {"general": "", "llm": "llm", "tool": "tool", "guardrail": "guard"}
_BAR_STYLES = {"llm": _CYAN, "tool": _YELLOW, "guardrail": _MAGENTA}


class _Glyphs(NamedTuple):
    branch: str
    last: str
    pipe: str
    space: str
    bar: str
    open_bar: str
    ellipsis: str
    arrow: str
    cross: str
    dot: str


_UNICODE = _Glyphs("├─ ", "└─ ", "│  ", "   ", "━", "┄", "…", "→", "✗", "·")
_ASCII = _Glyphs("|- ", "`- ", "|  ", "   ", "=", "-", "~", "->", "x", "-")


# -- public ---------------------------------------------------------------------------


def run(
    directory: Path | str,
    trace_id: str | None = None,
    last: int = 3,
    as_json: bool = False,
    width: int | None = None,
    color: bool | None = None,
    all_spans: bool = False,
    spool_dir: Path | str | None = None,
) -> int:
    """Print the `last` latest traces of the local store (or the one `trace_id` names) as trees,
    each folded to its latest `FOLD_SPANS` spans unless `all_spans`; or as JSON with `as_json`
    (every span). An empty store with items in `spool_dir` says how to send them. Returns the
    exit code: 1 when `trace_id` matches no trace or several."""
    directory = Path(directory)
    query = _Query(trace_id) if trace_id is not None else None
    if query is not None and not query.wanted:
        print("opik-otel view: give a trace id (or its first or last characters)", file=sys.stderr)
        return 1
    reading = _read_newest_first(directory, max(last, 1), query, cap=None if all_spans or as_json else FOLD_SPANS, slim=not as_json)
    if query is not None:
        try:
            selected = [reading.traces[query.chosen(len(reading.seen))]]
        except LookupError as error:
            candidates = _candidate_lines(error, reading, _terminal_width())
            print(f"opik-otel view: {error}" + (":" if candidates else ""), file=sys.stderr)
            for line in candidates:
                print(line, file=sys.stderr)
            return 1
    else:
        selected = sorted(reading.traces.values(), key=lambda found: _trace_start(found.entry()))
    entries = [found.entry() for found in selected]

    if as_json:
        json.dump([{"trace": entry["trace"], "spans": entry["spans"]} for entry in entries], sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        if not entries:
            print(f"opik-otel view: no traces in {directory}", file=sys.stderr)
        return 0

    width = _terminal_width() if width is None else max(int(width), 1)
    use_color = _use_color(sys.stdout) if color is None else bool(color)
    glyphs = _glyphs_for(sys.stdout)
    if not entries:
        _write(_empty_store(directory, _spooled(spool_dir), spool_dir, width))
        return 0
    traces = [_Trace.of(entry) for entry in entries]
    lines = _render(traces, width, use_color, short_ids(reading.seen), glyphs)
    lines += _footer(traces, reading, query is None, width, use_color, glyphs)
    _write(lines)
    return 0


def render(
    entries: Sequence[Mapping[str, Any]],
    width: int = 80,
    color: bool = False,
    ids: Mapping[str, str] | None = None,
    ascii_only: bool = False,
) -> list[str]:
    """The lines showing `entries` (each `{"trace": dict | None, "spans": [dicts]}`, as `load_traces`
    gives them, and optionally `"hidden_spans": int`, the trace's spans left out) as trees, a blank
    line between traces; one column layout for all, no line longer than `width` cells. `ids` maps a
    trace id to the short id shown (default: `short_ids` of `entries`); `color` adds ANSI styles;
    `ascii_only` draws with ASCII instead of box-drawing characters."""
    glyphs = _ASCII if ascii_only else _UNICODE
    return _render([_Trace.of(entry) for entry in entries], width, color, ids, glyphs)


def _render(traces: Sequence["_Trace"], width: int, color: bool, ids: Mapping[str, str] | None, glyphs: "_Glyphs") -> list[str]:
    ids = ids if ids is not None else short_ids({trace.id: None for trace in traces})
    rows = [trace.rows(glyphs) for trace in traces]
    layout = _Layout.fit([row for trace_rows in rows for row in trace_rows], width, glyphs)
    lines: list[str] = []
    for trace, trace_rows in zip(traces, rows):
        if lines:
            lines.append("")
        short = ids.get(trace.id, trace.id[-SHORT_ID_LENGTH:])
        lines += _header(trace, short, width, color, glyphs)
        if not trace_rows:
            lines.append(_join([("(no spans stored)", _DIM)], color, width))
        lines += [_row_line(row, trace, layout, color, glyphs, width) for row in trace_rows]
        if trace.hidden:
            lines += _fold_lines(trace.hidden, short, width, color, glyphs)
    return lines


def _fold_lines(hidden: int, short: str, width: int, color: bool, glyphs: "_Glyphs") -> list[str]:
    """`… N earlier spans not shown: opik-otel view --trace ID --all`; the command on a line of its own
    when the line would be too long (it is never cut while it fits the width)."""
    said = f"{glyphs.ellipsis} {hidden:,} earlier span{'s' if hidden > 1 else ''} not shown:"
    command = f"opik-otel view --trace {short} --all"
    if _cells(said) + 1 + _cells(command) <= width:
        return [_join([(f"{said} {command}", _DIM)], color, width)]
    return [_join([(said, _DIM)], color, width), _join([(f"  {command}", _DIM)], color, width)]


def short_ids(trace_ids: Iterable[str]) -> dict[str, str]:
    """Each id's last `SHORT_ID_LENGTH` characters (hyphens left out), more when that is not unique."""
    plain = {trace_id: _plain_id(trace_id) for trace_id in trace_ids}
    result: dict[str, str] = {}
    length = SHORT_ID_LENGTH
    while len(result) < len(plain):
        counts = Counter(text[-length:] for text in plain.values())
        for trace_id, text in plain.items():
            if trace_id not in result and (counts[text[-length:]] == 1 or length >= len(text)):
                result[trace_id] = text[-length:] or trace_id
        length += 4
    return result


def match_trace(trace_ids: Iterable[str], query: str) -> str:
    """The one trace id equal to `query`, else the one starting or ending with it, else the one
    containing it (hyphens and case ignored). Raises `LookupError` with a one-line message when
    none or several match."""
    ids = list(trace_ids)
    wanted = _Query(query)
    if not wanted.wanted:
        raise LookupError("give a trace id (or its first or last characters)")
    for trace_id in ids:
        wanted.add(trace_id)
    return wanted.chosen(len(ids))


def format_cost(usd: float) -> str:
    """`$1.23` from one dollar, `$0.1234` from a cent, else `$0.000123`; `<$0.000001` below that."""
    if usd <= 0:
        return "$0"
    if usd >= 1:
        return f"${usd:,.2f}"
    if usd >= 0.01:
        return f"${usd:.4f}"
    if usd >= 0.0000005:
        return f"${usd:.6f}"
    return "<$0.000001"


def format_duration(seconds: float | None) -> str:
    """`0.4ms`, `250ms`, `1.25s`, `12.5s`, `2m05s`, `1h02m`; `?` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(seconds, 0.0)
    if seconds < 0.00095:
        return f"{seconds * 1000:.1f}ms" if seconds else "0ms"
    if seconds < 0.9995:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 9.995:
        return f"{seconds:.2f}s"
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


# -- reading the store ----------------------------------------------------------------


class _Query:
    """A `--trace` query, and the stored trace ids it matches by rank: equal to it (0), starting or
    ending with it (1), containing it (2); hyphens and case ignored."""

    def __init__(self, query: str) -> None:
        self.text = _clean(query)[:40]
        self.wanted = _plain_id(query.strip().strip("…."))
        self.candidates: tuple[list[str], list[str], list[str]] = ([], [], [])

    def add(self, trace_id: str) -> int | None:
        """Note one stored trace id (each once); its rank, None when it does not match."""
        plain = _plain_id(trace_id)
        if plain == self.wanted:
            rank = 0
        elif plain.startswith(self.wanted) or plain.endswith(self.wanted):
            rank = 1
        elif self.wanted in plain:
            rank = 2
        else:
            return None
        self.candidates[rank].append(trace_id)
        return rank

    def chosen(self, stored: int) -> str:
        """The trace id meant: the exact match, else the one match of the best rank. Raises
        `LookupError` (`_Ambiguous` when several match)."""
        exact, ends, inside = self.candidates
        if exact:
            return exact[0]
        for found in (ends, inside):
            if len(found) == 1:
                return found[0]
            if found:
                raise _Ambiguous(f"{self.text!r} matches {len(found)} traces; give more characters", found)
        raise LookupError(f"no stored trace has an id containing {self.text!r} ({stored} trace{'' if stored == 1 else 's'} stored)")


class _Ambiguous(LookupError):
    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


@dataclass(eq=False)
class _Found:
    """One trace's records, as read (newest first), and how many of its spans were counted, not kept."""

    trace: dict | None = None
    spans: dict[Any, dict] = field(default_factory=dict)
    hidden: int = 0

    def entry(self) -> dict[str, Any]:
        return {"trace": self.trace, "spans": list(reversed(self.spans.values())), "hidden_spans": self.hidden}


class _Reading(NamedTuple):
    traces: dict[str, _Found]  # the traces wanted
    seen: dict[str, None]  # every trace id read, newest first
    complete: bool  # the whole store was read
    about: dict[str, list]  # a `--trace` candidate's [trace record name, root span name, earliest start]


_SPAN_FIELDS = ("id", "trace_id", "parent_span_id", "name", "type", "start_time", "end_time", "error_info", "model",
                "usage", "total_estimated_cost")
_TRACE_FIELDS = ("id", "name", "start_time", "end_time", "error_info", "thread_id")
_STREAM_KEYS = (sc.GEN_AI_REQUEST_STREAM, sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)


def _read_newest_first(directory: Path, last: int, query: _Query | None, cap: int | None, slim: bool) -> _Reading:
    """The `last` traces stored last (or those `query` may mean), reading the store from its newest
    line until a record of another trace ended `_STOP_MARGIN_S` before any of them started. A
    trace keeps its first `cap` spans read (its latest); its other span lines are only counted.
    `slim` keeps only the fields shown."""
    found: dict[str, _Found] = {}
    seen: dict[str, None] = {}
    about: dict[str, list] = {}
    folded: dict[str, bytes] = {}  # a trace with `cap` spans: how its span lines name it
    earliest = math.inf
    for raw in _lines_newest_first(directory):
        if folded and raw.startswith(_SPAN_LINE):
            owner = next((trace_id for trace_id, needle in folded.items() if needle in raw), None)
            if owner is not None:
                found[owner].hidden += 1
                continue
        parsed = parse_line(raw.decode("utf-8", "replace"))
        if parsed is None:
            continue
        kind, record = parsed
        trace_id = record.get("id") if kind == "trace" else record.get("trace_id")
        if not isinstance(trace_id, str) or not trace_id:
            continue
        if trace_id not in seen:
            seen[trace_id] = None
            if query is None:
                wanted = len(found) < last
            else:
                rank = query.add(trace_id)
                if rank is not None:
                    about[trace_id] = ["", "", None]
                candidates = query.candidates[rank] if rank is not None else []
                wanted = rank == 0 or len(candidates) == 1
                if rank and len(candidates) == 2:  # several of that rank: neither is shown
                    found.pop(candidates[0], None)
                    folded.pop(candidates[0], None)
            if wanted:
                found[trace_id] = _Found()
        start = _timestamp(record.get("start_time"))
        if trace_id in about:
            _note(about[trace_id], kind, record, start)
        entry = found.get(trace_id)
        if entry is None:
            done = len(found) >= last if query is None else bool(query.candidates[0])
            end = _timestamp(record.get("end_time"))
            end = start if end is None else end
            if done and end is not None and end < earliest - _STOP_MARGIN_S:
                return _Reading(found, seen, False, about)
            continue
        if start is not None:
            earliest = min(earliest, start)
        if kind == "trace":
            if entry.trace is None:  # the latest version
                entry.trace = _slim(kind, record) if slim else record
            continue
        span_id = record.get("id")
        key = span_id if isinstance(span_id, str) and span_id else object()
        if key in entry.spans:
            continue  # an older version of a span read already
        if cap is not None and len(entry.spans) >= cap:
            entry.hidden += 1
            folded[trace_id] = b'"trace_id": ' + json.dumps(trace_id).encode()
            continue
        entry.spans[key] = _slim(kind, record) if slim else record
    return _Reading(found, seen, True, about)


def _note(about: list, kind: str, record: Mapping[str, Any], start: float | None) -> None:
    """What a candidate's line shows: its trace record's name, else its root span's; its earliest start."""
    name = _clean(record.get("name"))
    if kind == "trace" and name and not about[0]:
        about[0] = name
    elif kind == "span" and name and not record.get("parent_span_id") and not about[1]:
        about[1] = name
    if start is not None and (about[2] is None or start < about[2]):
        about[2] = start


def _candidate_lines(error: LookupError, reading: _Reading, width: int) -> list[str]:
    """The traces an ambiguous `--trace` matches, oldest first: id, name and start; at most `_CANDIDATES_SHOWN`."""
    if not isinstance(error, _Ambiguous):
        return []

    def start(trace_id: str) -> float:
        known = reading.about.get(trace_id, [None] * 3)[2]
        return known if known is not None else -math.inf

    lines = []
    for trace_id in sorted(error.candidates, key=start)[:_CANDIDATES_SHOWN]:
        name, root, begun = reading.about.get(trace_id, ["", "", None])
        when = _local_time(begun) if begun is not None else ""
        room = width - 2 - _cells(trace_id) - 2 - (2 + _cells(when) if when else 0)
        shown = _truncate(name or root or "(unnamed trace)", room) if room > 3 else ""
        lines.append(_cut("  " + "  ".join(part for part in (trace_id, shown, when) if part), width))
    if len(error.candidates) > _CANDIDATES_SHOWN:
        lines.append(f"  … and {len(error.candidates) - _CANDIDATES_SHOWN} more")
    return lines


def _slim(kind: str, record: Mapping[str, Any]) -> dict:
    """The fields of a record the tree shows (a stored record may carry megabytes of input and output)."""
    slim = {key: record[key] for key in (_TRACE_FIELDS if kind == "trace" else _SPAN_FIELDS) if key in record}
    metadata = record.get("metadata")
    if kind == "span" and isinstance(metadata, Mapping):
        marks = {key: metadata[key] for key in _STREAM_KEYS if key in metadata}
        if marks:
            slim["metadata"] = marks
    return slim


def _lines_newest_first(directory: Path) -> Iterator[bytes]:
    """The store's lines, newest first: its files from the newest, each read from its end."""
    for path in reversed(store_files(directory)):
        try:
            with open(path, "rb") as handle:
                yield from _lines_backwards(handle)
        except OSError:  # removed meanwhile by the store's bound
            continue


def _lines_backwards(handle: BinaryIO) -> Iterator[bytes]:
    """A file's non-empty lines, last first, read in blocks from its end."""
    position = handle.seek(0, os.SEEK_END)
    pending: list[bytes] = []  # the pieces of the line being read, last piece first
    while position > 0:
        size = min(_BLOCK_BYTES, position)
        position -= size
        handle.seek(position)
        block = handle.read(size)
        cut = block.rfind(b"\n")
        if cut < 0:
            pending.append(block)
            continue
        pending.append(block[cut + 1:])
        line = b"".join(reversed(pending))
        if line.strip():
            yield line
        parts = block[:cut].split(b"\n")
        for part in reversed(parts[1:]):
            if part.strip():
                yield part
        pending = [parts[0]]
    line = b"".join(reversed(pending))
    if line.strip():
        yield line


# -- model ----------------------------------------------------------------------------


@dataclass(eq=False)
class _Span:
    key: str
    parent: str | None
    name: str
    kind: str
    start: float | None
    end: float | None
    error: str | None
    model: str
    tokens_in: int | None
    tokens_out: int | None
    tokens_total: int | None
    cost: float | None
    streamed: bool = False
    children: list["_Span"] = field(default_factory=list)

    @classmethod
    def of(cls, record: Mapping[str, Any], index: int) -> "_Span":
        raw_id = record.get("id")
        usage = record.get("usage") if isinstance(record.get("usage"), Mapping) else {}
        tokens_in, tokens_out = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
        total = _count(usage.get("total_tokens"))
        if total is None and (tokens_in is not None or tokens_out is not None):
            total = (tokens_in or 0) + (tokens_out or 0)
        parent = record.get("parent_span_id")
        metadata = record.get("metadata") if isinstance(record.get("metadata"), Mapping) else {}
        return cls(
            key=raw_id if isinstance(raw_id, str) and raw_id else f"#{index}",
            parent=parent if isinstance(parent, str) and parent else None,
            name=_clean(record.get("name")) or "(unnamed)",
            kind=record.get("type") if isinstance(record.get("type"), str) else "general",
            start=_timestamp(record.get("start_time")),
            end=_timestamp(record.get("end_time")),
            error=_error_text(record.get("error_info")),
            model=_clean(record.get("model")) if record.get("model") else "",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            tokens_total=total,
            cost=_number(record.get("total_estimated_cost")),
            streamed=metadata.get(sc.GEN_AI_REQUEST_STREAM) is True or sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in metadata,
        )

    @property
    def tag(self) -> str:
        return _TAGS.get(self.kind, _clean(self.kind)[:5])


class _Row(NamedTuple):
    span: _Span
    prefix: str  # tree connectors
    info: str  # the model (unless the name shows it) and `stream` for a streamed call


@dataclass(eq=False)
class _Trace:
    id: str
    record: Mapping[str, Any]
    spans: list[_Span]
    roots: list[_Span]
    hidden: int = 0  # spans of the trace not read

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> "_Trace":
        record = entry.get("trace") if isinstance(entry.get("trace"), Mapping) else {}
        raw_spans = [span for span in entry.get("spans") or () if isinstance(span, Mapping)]
        spans = [_Span.of(span, index) for index, span in enumerate(raw_spans)]
        trace_id = record.get("id") or next((s.get("trace_id") for s in raw_spans if isinstance(s.get("trace_id"), str)), "")
        by_key = {span.key: span for span in spans}
        roots = []
        for span in spans:
            parent = by_key.get(span.parent) if span.parent and span.parent != span.key else None
            (parent.children if parent is not None else roots).append(span)
        reached: set[int] = set()
        root_ids = {id(span) for span in roots}
        for span in [*roots, *spans]:  # roots first; then spans in a parent cycle become roots
            if id(span) in reached:
                continue
            if id(span) not in root_ids:
                roots.append(span)
            stack = [span]
            while stack:
                current = stack.pop()
                if id(current) not in reached:
                    reached.add(id(current))
                    stack.extend(current.children)
        for span in spans:
            span.children.sort(key=_start_order)
        roots.sort(key=_start_order)
        hidden = entry.get("hidden_spans")
        return cls(str(trace_id), record, spans, roots, hidden if isinstance(hidden, int) and hidden > 0 else 0)

    @property
    def name(self) -> str:
        return _clean(self.record.get("name")) or (self.roots[0].name if self.roots else "(unnamed trace)")

    @cached_property
    def start(self) -> float | None:
        times = [t for t in [_timestamp(self.record.get("start_time"))] + [s.start for s in self.spans] if t is not None]
        return min(times) if times else None

    @cached_property
    def end(self) -> float | None:
        ends = [_timestamp(self.record.get("end_time"))] + [s.end for s in self.spans] + [s.start for s in self.spans]
        times = [t for t in ends if t is not None]
        return max(times) if times else None

    @property
    def duration(self) -> float | None:
        start, end = _timestamp(self.record.get("start_time")), _timestamp(self.record.get("end_time"))
        if start is None or end is None:
            start, end = self.start, self.end
        return None if start is None or end is None else end - start

    @property
    def tokens(self) -> int | None:
        counts = [span.tokens_total for span in self.spans if span.tokens_total is not None]
        return sum(counts) if counts else None

    @property
    def cost(self) -> float | None:
        costs = [span.cost for span in self.spans if span.cost is not None]
        return sum(costs) if costs else None

    @property
    def errors(self) -> int:
        count = sum(1 for span in self.spans if span.error is not None)
        return count or (1 if _error_text(self.record.get("error_info")) is not None else 0)

    def rows(self, glyphs: _Glyphs) -> list[_Row]:
        """One row per span, depth first, children by start time; each span once."""
        rows: list[_Row] = []
        seen: set[int] = set()
        stack = [(root, "", "") for root in reversed(self.roots)]
        while stack:
            span, prefix, connector = stack.pop()
            if id(span) in seen:
                continue
            seen.add(id(span))
            rows.append(_row(span, prefix + connector))
            inner = prefix + {"": "", glyphs.last: glyphs.space}.get(connector, glyphs.pipe)
            if len(inner) > _MAX_PREFIX:  # a very deep tree: only the last levels can be shown anyway
                inner = inner[-_MAX_PREFIX:]
            children = [child for child in span.children if id(child) not in seen]
            for index in reversed(range(len(children))):
                stack.append((children[index], inner, glyphs.last if index == len(children) - 1 else glyphs.branch))
        return rows


def _row(span: _Span, prefix: str) -> _Row:
    model = span.model if span.model and span.model.lower() not in span.name.lower() else ""  # the model once
    return _Row(span, prefix, " ".join(text for text in (model, "stream" if span.streamed else "") if text))


def _tokens_text(span: _Span, glyphs: _Glyphs, compact: bool = False) -> str:
    if span.tokens_in is not None and span.tokens_out is not None and compact:
        return f"{span.tokens_in}{glyphs.arrow}{span.tokens_out} tok"
    if span.tokens_in is not None and span.tokens_out is not None:
        return f"in {span.tokens_in} {glyphs.dot} out {span.tokens_out} tok"
    if span.tokens_total is not None:
        return f"{span.tokens_total} tok"
    return ""


# -- layout ---------------------------------------------------------------------------


@dataclass
class _Layout:
    """Column widths; 0: the column is left out. Order: name, tag, bar, duration, tokens, cost, info."""

    name: int
    tag: int
    bar: int
    duration: int
    tokens: int
    cost: int
    info: int
    compact_tokens: bool = False  # `12→34 tok` instead of `in 12 · out 34 tok`

    @classmethod
    def fit(cls, rows: Sequence[_Row], width: int, glyphs: _Glyphs = _UNICODE, compact_tokens: bool = False) -> "_Layout":
        """Numbers take what they need; name, bar and info (models, and room for the errors) share the
        rest, each grown in turn up to a target; the bar takes what is left. Token counts are written
        compactly when the full labels leave too little room."""
        tag = max((len(row.span.tag) for row in rows), default=0)
        duration = max([4] + [len(_duration_text(row.span)) for row in rows])
        tokens = max((_cells(_tokens_text(row.span, glyphs, compact_tokens)) for row in rows), default=0)
        cost = max((len(format_cost(row.span.cost)) for row in rows if row.span.cost is not None), default=0)
        name_want = max((_cells(row.prefix) + _cells(row.span.name) for row in rows), default=1)
        plain = [row for row in rows if row.span.error is None]  # an error line shows its info with the error
        info = max((_cells(row.info) for row in plain), default=0)
        fixed = (tag, duration, tokens, cost)
        # an error line's text spans the tokens, cost and model columns
        error_want = max((_cells(_error_line(row, glyphs)) for row in rows if row.span.error is not None), default=0)
        error_info = error_want - sum(w + 1 for w in (tokens, cost) if w)

        gaps = 1 + sum(1 for w in fixed if w) + (1 if info or error_info > 0 else 0)
        rest = width - sum(fixed) - gaps
        size = {"name": min(name_want, 12), "bar": 6, "info": min(info, 8)}
        if rest < sum(size.values()) and not compact_tokens and tokens:
            return cls.fit(rows, width, glyphs, compact_tokens=True)
        if rest < sum(size.values()):  # very narrow: name and bar only, lines are clipped
            bar = max(1, min(6, rest // 3))
            return cls(max(1, rest - bar), tag, bar, duration, tokens, cost, 0, compact_tokens)
        left = rest - sum(size.values())
        for column, target in (("name", min(name_want, 24)), ("bar", 16), ("info", min(info, 24)),
                               ("info", min(max(info, error_info), 40)), ("name", min(name_want, 40)),
                               ("info", min(info, 40))):
            grow = max(0, min(left, target - size[column]))
            size[column] += grow
            left -= grow
        return cls(size["name"], tag, size["bar"] + left, duration, tokens, cost, size["info"], compact_tokens)


def _duration_text(span: _Span) -> str:
    return format_duration(None if span.start is None or span.end is None else span.end - span.start)


def _bar(span: _Span, start: float | None, end: float | None, cells: int) -> tuple[int, int, bool]:
    """(first cell, cells, open-ended) of a span's bar on the axis `start`..`end` of `cells` cells."""
    if span.start is None or start is None or end is None:
        return 0, 0, False
    total = end - start
    if total <= 0:
        return 0, 1, span.end is None
    first = min(cells - 1, max(0, round((span.start - start) / total * cells)))
    if span.end is None:
        return first, cells - first, True
    last = min(cells, max(first + 1, round((span.end - start) / total * cells)))
    return first, last - first, False


def _row_line(row: _Row, trace: _Trace, layout: _Layout, color: bool, glyphs: _Glyphs, width: int) -> str:
    span = row.span
    failed = span.error is not None
    segments: list[tuple[str, str | None]] = []
    prefix, name = _fit_prefix(row.prefix, span.name, layout.name, glyphs)
    segments.append((prefix, _DIM))
    segments.append((name, _RED if failed else (_BOLD if not row.prefix else None)))
    segments.append((" " * (layout.name - _cells(prefix) - _cells(name)), None))
    if layout.tag:
        segments.append((" " + span.tag.ljust(layout.tag), _RED if failed else _DIM))
    first, length, open_ended = _bar(span, trace.start, trace.end, layout.bar)
    char = glyphs.open_bar if open_ended else glyphs.bar
    segments += [(" " + " " * first, None), (char * length, _RED if failed else _BAR_STYLES.get(span.kind, _BLUE)),
                 (" " * (layout.bar - first - length), None)]
    segments.append((" " + _duration_text(span).rjust(layout.duration), None))
    tokens, cost = _tokens_text(span, glyphs, layout.compact_tokens), format_cost(span.cost) if span.cost is not None else ""
    if layout.tokens and (tokens or cost or not failed):
        segments.append((" " + tokens.rjust(layout.tokens), None))
    if layout.cost and (tokens or cost or not failed):
        segments.append((" " + cost.rjust(layout.cost), _GREEN))
    if failed:  # the error takes the rest of the line
        room = max(0, width - sum(_cells(text) for text, _ in segments) - 1)
        segments.append((" " + _truncate(_error_line(row, glyphs), room, glyphs), _RED))
    elif layout.info and row.info:
        segments.append((" " + _truncate(row.info, layout.info, glyphs), _DIM))
    return _join(segments, color, width)


def _error_line(row: _Row, glyphs: _Glyphs) -> str:
    info = f"{row.info} " if row.info else ""
    return f"{info}{glyphs.cross} {row.span.error}"


def _fit_prefix(prefix: str, name: str, width: int, glyphs: _Glyphs) -> tuple[str, str]:
    """Connectors and name within `width` cells: a deep prefix is cut from the left first."""
    if _cells(prefix) + _cells(name) <= width:
        return prefix, name
    keep_name = min(_cells(name), max(width - _cells(prefix), min(12, width)))
    room = max(0, width - keep_name)
    if _cells(prefix) > room:
        prefix = (glyphs.ellipsis + prefix[len(prefix) - room + 1:]) if room > 1 else prefix[len(prefix) - room:]
    return prefix, _truncate(name, width - _cells(prefix), glyphs)


# -- header and footer ----------------------------------------------------------------


def _header(trace: _Trace, short: str, width: int, color: bool, glyphs: _Glyphs) -> list[str]:
    parts: list[tuple[str, str | None]] = [(trace.name, _BOLD), (short, _DIM)]
    if trace.start is not None:
        parts.append((_local_time(trace.start), None))
    if trace.duration is not None:
        parts.append((format_duration(trace.duration), None))
    partial = "+" if trace.hidden else ""  # totals of the spans shown: the trace has more
    if trace.tokens is not None:
        parts.append((f"{trace.tokens}{partial} tokens", None))
    if trace.cost is not None:
        parts.append((format_cost(trace.cost) + partial, _GREEN))
    if trace.errors:
        parts.append((f"{trace.errors} error{'s' if trace.errors > 1 else ''}", _RED))
    thread = _clean(trace.record.get("thread_id"))
    if thread:
        parts.append((f"thread {thread}", None))
    return _flow(parts, width, color, glyphs)


def _footer(traces: Sequence["_Trace"], reading: "_Reading", latest: bool, width: int, color: bool,
            glyphs: _Glyphs) -> list[str]:
    """Totals of the traces shown (when more than one), how to see more, how to upload. The number of
    stored traces is known when the whole store was read."""
    parts: list[tuple[str, str | None]] = []
    stored = len(reading.seen)
    if latest and reading.complete:
        parts.append((f"{len(traces)} of {stored} stored trace{'s' if stored > 1 else ''}", None))
    elif latest:
        parts.append((f"{len(traces)} latest stored trace{'s' if len(traces) > 1 else ''}", None))
    if len(traces) > 1:
        partial = "+" if any(trace.hidden for trace in traces) else ""
        tokens = [t.tokens for t in traces if t.tokens is not None]
        costs = [t.cost for t in traces if t.cost is not None]
        if tokens:
            parts.append((f"{sum(tokens)}{partial} tokens", None))
        if costs:
            parts.append((format_cost(sum(costs)) + partial, _GREEN))
    if latest and reading.complete and len(traces) < stored:
        parts.append((f"--last {stored} shows all", _DIM))
    elif latest and not reading.complete:
        parts.append((f"--last {2 * len(traces)} shows more", _DIM))
    lines = [""] + (_flow(parts, width, color, glyphs) if parts else [])
    return lines + _flow([("Send them to Opik: opik-otel upload", _DIM)], width, color, glyphs)


def _empty_store(directory: Path, spooled: Mapping[str, int], spool_dir: Path | str | None, width: int) -> list[str]:
    """What an empty store shows: how to record traces; or, when the spool holds items, how to send them."""
    if not spooled:
        return _wrap(_clean(
            f"No traces stored in {directory} yet. Run `opik-otel demo` to record one, or call "
            "opik_otel.configure() in your app: with no Opik server configured, its traces are stored here."
        ), width)
    what = " and ".join(f"{count} {kind if count > 1 else kind[:-1]}" for kind, count in sorted(spooled.items(), reverse=True))
    return (_wrap(_clean(f"No traces stored in {directory}, but the spool holds {what} that an Opik server did not "
                         "take in time:"), width)
            + _wrap(_clean(str(spool_dir)), width)
            + _wrap("Send them with `opik-otel upload` (to the Opik server configured).", width))


def _spooled(spool_dir: Path | str | None) -> Counter[str]:
    """Items waiting in the spool, by kind ("traces", "spans"), over all its destinations' folders."""
    counts: Counter[str] = Counter()
    if spool_dir is None:
        return counts
    from opik_otel.exporters.opik.spool import Spool

    try:
        folders = sorted(path for path in Path(spool_dir).iterdir() if path.is_dir())
    except OSError:
        return counts
    for folder in folders:
        for batch in Spool(folder, max_bytes=0).batches():
            counts[batch.kind] += batch.items
    return counts


def _flow(parts: Sequence[tuple[str, str | None]], width: int, color: bool, glyphs: _Glyphs) -> list[str]:
    """Parts joined with ` · `, wrapped onto indented lines within `width`."""
    separator, indent = f" {glyphs.dot} ", "  "
    lines: list[list[tuple[str, str | None]]] = []
    used = 0
    for text, style in parts:
        text = _clean(text)
        if lines and used + len(separator) + _cells(text) <= width:
            lines[-1] += [(separator, _DIM), (text, style)]
            used += len(separator) + _cells(text)
            continue
        lead = indent if lines else ""
        text = _truncate(text, max(1, width - len(lead)), glyphs)
        lines.append([(lead, None), (text, style)])
        used = len(lead) + _cells(text)
    return [_join(line, color, width) for line in lines]


def _wrap(text: str, width: int) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        while _cells(word) > width:  # a long path: cut it
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if current and _cells(current) + 1 + _cells(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return lines + ([current] if current else [])


# -- text -----------------------------------------------------------------------------


def _join(segments: Sequence[tuple[str, str | None]], color: bool, width: int) -> str:
    """The segments as one line, clipped to `width` cells, trailing spaces removed; styled with ANSI when `color`."""
    out: list[str] = []
    room = width
    for text, style in segments:
        if room <= 0:
            break
        if _cells(text) > room:
            text = _cut(text, room)
        room -= _cells(text)
        out.append(_ANSI_STYLE.format(style, text) if color and style and text.strip() else text)
    while out and not _ANSI.sub("", out[-1]).strip():
        out.pop()
    if out and not _ANSI.search(out[-1]):
        out[-1] = out[-1].rstrip()
    return "".join(out)


_ANSI_STYLE = "\x1b[{}m{}\x1b[0m"


def _char_cells(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _cells(text: str) -> int:
    return len(text) if text.isascii() else sum(_char_cells(char) for char in text)


def _cut(text: str, cells: int) -> str:
    """The longest start of `text` within `cells` cells."""
    if text.isascii():
        return text[:cells]
    used, end = 0, 0
    for end, char in enumerate(text):
        used += _char_cells(char)
        if used > cells:
            return text[:end]
    return text


def _truncate(text: str, cells: int, glyphs: _Glyphs = _UNICODE) -> str:
    """`text`, or its start and an ellipsis, within `cells` cells."""
    if _cells(text) <= cells:
        return text
    if cells <= len(glyphs.ellipsis):
        return _cut(text, cells)
    return _cut(text, cells - len(glyphs.ellipsis)) + glyphs.ellipsis


def _clean(value: Any) -> str:
    """Stored text made safe for one terminal line: controls (escapes, newlines) become spaces."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(" ", text).strip()


def _write(lines: Sequence[str]) -> None:
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


# -- values ---------------------------------------------------------------------------


def _timestamp(value: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (no zone: UTC); None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _ISO.match(value.strip())
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    if clock.count(":") == 1:
        clock += ":00"
    zone = "+00:00" if zone is None or zone.upper() == "Z" else zone
    if len(zone) == 3:
        zone += ":00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{zone}")
    except ValueError:
        return None
    return moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


def _local_time(seconds: float) -> str:
    """Local time with its zone; without the date when it is today."""
    try:
        moment = datetime.fromtimestamp(seconds, timezone.utc).astimezone()
    except (OverflowError, OSError, ValueError):
        return "?"
    today = moment.date() == datetime.now(moment.tzinfo).date()
    return moment.strftime("%H:%M:%S %Z" if today else "%Y-%m-%d %H:%M:%S %Z").strip()


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value >= 0 and value.is_integer():
        return int(value)
    return None


def _number(value: Any) -> float | None:
    """A finite, non-negative number (or numeric string); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def _error_text(error: Any) -> str | None:
    """`Type: message` of an `error_info`; None when there is none."""
    if not error:
        return None
    if not isinstance(error, Mapping):
        return _clean(error) or "Error"
    kind = _clean(error.get("exception_type")) or "Error"
    message = _clean(error.get("message"))
    return f"{kind}: {message}" if message else kind


def _start_order(span: _Span) -> tuple[bool, float]:
    return (span.start is None, span.start or 0.0)


def _trace_start(entry: Mapping[str, Any]) -> float:
    """When a trace started (its record's start, else its first span's), for sorting; unknown first."""
    record = entry.get("trace") if isinstance(entry.get("trace"), Mapping) else {}
    start = _timestamp(record.get("start_time"))
    if start is None:
        starts = [_timestamp(span.get("start_time")) for span in entry.get("spans") or () if isinstance(span, Mapping)]
        start = min((t for t in starts if t is not None), default=None)
    return start if start is not None else float("-inf")


def _plain_id(trace_id: str) -> str:
    return trace_id.replace("-", "").lower()


# -- terminal -------------------------------------------------------------------------


def _terminal_width() -> int:
    return min(MAX_WIDTH, max(MIN_WIDTH, shutil.get_terminal_size((80, 24)).columns))


def _use_color(stream: Any) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _glyphs_for(stream: Any) -> _Glyphs:
    """Box-drawing characters when the output encoding has them, else ASCII."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "".join(_UNICODE).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return _ASCII
    return _UNICODE
