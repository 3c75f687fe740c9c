"""Ids: OTel trace ids that are UUID v7, and the mapping of OTel ids to Opik's UUID v7 ids.

The Opik back end only accepts UUID v7 ids. `UuidV7IdGenerator` makes every OTel trace id a
UUID v7, so the Opik trace id is the OTel trace id verbatim and every process of a
distributed trace agrees on it with no shared state. Span ids (and foreign trace ids) go
through Opik's own conversion (`otel_to_opik_id`), the one its OTLP ingestion uses.

A foreign trace id (an app's own provider: random bits) needs the trace's start for that
conversion, which a span exported alone does not know. So `OpikContextSpanProcessor`
computes the Opik trace id once, as the local root starts, and puts it in the root's trace
state (`opik=<32 hex>`, see `stamped_trace_state`); every span started under it inherits
it, and the mapper reads it from the span: no memory per trace, however many traces and
however long apart their spans are exported. It stamps only while this process's traces
reach Opik with these ids (`marks_opik_traces()`), since the W3C `tracestate` carries the
entry to callees and means "the parent is in Opik" there. Spans of a trace whose root was
not stamped (no context processor, or not exporting to Opik) fall back to a deterministic
id, bounded memory: see `OpikIdMapper`.
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import TraceState

from opik_otel._runtime import after_fork_in_child

__all__ = ["OPIK_PARENT_TRACE_STATE_KEY", "OPIK_TRACE_STATE_KEY", "OpikIdMapper", "opik_id_from_hex", "stamped_trace_state", "synthetic_span_id", "UuidV7IdGenerator", "is_uuid7_int", "otel_to_opik_id", "uuid7_timestamp_ms"]

_TIMESTAMP_MASK = (1 << 48) - 1
_RAND_B_BITS = 62
_MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000
FALLBACK_WINDOW_MS = 60 * 60 * 1000  # an unstamped foreign trace id takes the start of its span's hour
_MAX_TRACE_STATE_ENTRIES = 32  # W3C: a full trace state takes no more


def uuid7_timestamp_ms(value: int) -> int:
    """The 48-bit millisecond timestamp embedded in a 128-bit UUID v7."""
    return value >> 80


def is_uuid7_int(value: int) -> bool:
    """Whether a 128-bit int has the version (7) and variant (RFC 4122) bits of a UUID v7."""
    return (value >> 76) & 0xF == 7 and (value >> 62) & 0b11 == 0b10


def _is_plausible_uuid7(value: int, start_ms: int) -> bool:
    """A UUID v7 whose timestamp is within a day of `start_ms` (not a random look-alike)."""
    return is_uuid7_int(value) and abs(uuid7_timestamp_ms(value) - start_ms) <= _MAX_CLOCK_SKEW_MS


class UuidV7IdGenerator(IdGenerator):
    """OTel id generator whose trace ids are UUID v7 (timestamp of the trace's start).

    The 56 rightmost bits of a trace id are random, as the W3C `random-trace-id` flag
    requires. Beware: the classic `TraceIdRatioBased` sampler reads the 64 rightmost bits,
    two of which are the fixed UUID variant, so ratios are not honoured with it.
    """

    def generate_span_id(self) -> int:
        span_id = random.getrandbits(64)
        while span_id == trace.INVALID_SPAN_ID:
            span_id = random.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        timestamp_ms = time.time_ns() // 1_000_000 & _TIMESTAMP_MASK
        rand = random.getrandbits(12 + _RAND_B_BITS)
        rand_a, rand_b = rand >> _RAND_B_BITS, rand & ((1 << _RAND_B_BITS) - 1)
        return timestamp_ms << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b

    def is_trace_id_random(self) -> bool:
        return True


def otel_to_opik_id(raw: bytes, timestamp_ms: int) -> str:
    """Opik's conversion of an OTel id (16 bytes for a trace, 8 for a span) to a UUID v7.

    Bytes 0-5 are the big-endian ms timestamp, bytes 6-15 the first ten bytes of
    SHA-256(raw), with the version and variant bits set.
    """
    digest = int.from_bytes(hashlib.sha256(raw).digest()[:10], "big")
    return uuid_string((timestamp_ms & _TIMESTAMP_MASK) << 80 | digest & _NOT_VERSION_OR_VARIANT | _VERSION_7_VARIANT_RFC)


@functools.lru_cache(maxsize=4096)  # a trace's spans are exported together: one formatting per trace
def uuid_string(value: int) -> str:
    """A 128-bit int as a canonical UUID string (`str(uuid.UUID(int=value))`, without the object)."""
    hex_id = f"{value:032x}"
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


_NOT_VERSION_OR_VARIANT = ~(0xF << 76 | 0b11 << 62)
_VERSION_7_VARIANT_RFC = 0x7 << 76 | 0b10 << 62


# Trace-state entry that a process exporting to Opik puts on its traces: the Opik trace id
# (32 hex digits). A process continuing the trace uses it, and knows the parent is in Opik.
OPIK_TRACE_STATE_KEY = "opik"
# Set only on a parent extracted from the Opik SDK's headers: the Opik id of that parent span.
OPIK_PARENT_TRACE_STATE_KEY = "opikparent"


def opik_id_from_hex(value: str | None) -> str | None:
    """A trace-state or header value (UUID v7, with or without dashes) as a canonical UUID string."""
    if not value:
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return str(parsed) if is_uuid7_int(parsed.int) else None


def stamped_trace_state(otel_trace_id: int, start_time_ns: int, trace_state: TraceState | None) -> TraceState | None:
    """The trace state that carries the Opik trace id of a local root with a foreign trace id
    (`opik=<32 hex>` added: Opik's conversion with the root's start), or None when it needs
    none: a UUID v7 trace id, an `opik` entry already there, or a full trace state."""
    start_ms = start_time_ns // 1_000_000
    if _is_plausible_uuid7(otel_trace_id, start_ms):
        return None
    state = trace_state if trace_state is not None else TraceState()
    if OPIK_TRACE_STATE_KEY in state or len(state) >= _MAX_TRACE_STATE_ENTRIES:
        return None
    opik_id = otel_to_opik_id(otel_trace_id.to_bytes(16, "big"), start_ms)
    return state.add(OPIK_TRACE_STATE_KEY, opik_id.replace("-", ""))


def synthetic_span_id(opik_span_id: str) -> int:
    """The OTel span id standing for an Opik span id received from the Opik SDK (never 0)."""
    return int.from_bytes(hashlib.sha256(opik_span_id.encode()).digest()[:8], "big") or 1


class OpikIdMapper:
    """Maps OTel trace and span ids to Opik ids, deterministically and thread-safely.

    An Opik trace id in the span's trace state (`opik=…`) wins: a foreign trace's root
    stamped by `OpikContextSpanProcessor`, or a parent in Opik. Else a trace id that is a
    UUID v7 whose timestamp is within a day of the span's start is used verbatim. Any other
    trace id (its root was not stamped) goes through `otel_to_opik_id` with the start of
    its span rounded down to the hour (`FALLBACK_WINDOW_MS`): every span of the trace gets
    one id with no memory, unless the trace's spans straddle the top of an hour. For those,
    the hour first seen for each of the last `max_traces` (4,096, shared by every mapper)
    traces is remembered; the limit: a trace whose spans straddle an hour and are exported
    more than that many other unstamped traces apart gets two Opik trace ids; and such
    traces sort in Opik by the hour they started in, not to the millisecond. Span ids use
    the trace id's timestamp.
    """

    _foreign: OrderedDict[int, int] = OrderedDict()  # recent unstamped foreign trace ids: their hour (ms)
    _lock = threading.Lock()

    def __init__(self, max_traces: int = 4096) -> None:
        self._max_traces = max_traces

    def trace_id(self, otel_trace_id: int, start_time_ns: int, trace_state: Any = None) -> str:
        """The Opik trace id of an OTel trace id, seen on a span that started then."""
        if trace_state:  # most are empty; a TraceState's `get` raises and catches KeyError when absent
            stated = opik_id_from_hex(trace_state.get(OPIK_TRACE_STATE_KEY))
            if stated is not None:
                return stated
        start_ms = start_time_ns // 1_000_000
        if _is_plausible_uuid7(otel_trace_id, start_ms):
            return uuid_string(otel_trace_id)
        hour_ms = start_ms - start_ms % FALLBACK_WINDOW_MS
        with self._lock:
            foreign = self._foreign
            seen_ms = foreign.get(otel_trace_id)
            if seen_ms is None:
                foreign[otel_trace_id] = seen_ms = hour_ms
                while len(foreign) > self._max_traces:
                    foreign.popitem(last=False)
            else:
                foreign.move_to_end(otel_trace_id)
        return otel_to_opik_id(otel_trace_id.to_bytes(16, "big"), seen_ms)

    def span_id(self, otel_span_id: int, opik_trace_id: str) -> str:
        """The Opik span id of an OTel span id (or parent id) within an Opik trace."""
        return _opik_span_id(otel_span_id, opik_trace_id)


@functools.lru_cache(maxsize=16384)  # each id is needed for its span and again as its children's parent
def _opik_span_id(otel_span_id: int, opik_trace_id: str) -> str:
    timestamp_ms = int(opik_trace_id[:8] + opik_trace_id[9:13], 16)  # canonical UUID string
    return otel_to_opik_id(otel_span_id.to_bytes(8, "big"), timestamp_ms)


def _after_fork_in_child() -> None:
    """A forked child gets a new lock: one held by another thread of the parent is never released there."""
    OpikIdMapper._lock = threading.Lock()


after_fork_in_child(_after_fork_in_child)
