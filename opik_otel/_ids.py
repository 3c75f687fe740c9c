"""Ids: OTel trace ids that are UUID v7, and the mapping of OTel ids to Opik's UUID v7 ids.

The Opik back end only accepts UUID v7 ids. `UuidV7IdGenerator` makes every OTel trace id a
UUID v7, so the Opik trace id is the OTel trace id verbatim and every process of a
distributed trace agrees on it with no shared state. Span ids (and foreign trace ids) go
through Opik's own conversion (`otel_to_opik_id`), the one its OTLP ingestion uses.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import IdGenerator

__all__ = ["OPIK_PARENT_TRACE_STATE_KEY", "OPIK_TRACE_STATE_KEY", "OpikIdMapper", "opik_id_from_hex", "synthetic_span_id", "UuidV7IdGenerator", "is_uuid7_int", "otel_to_opik_id", "uuid7_timestamp_ms"]

_TIMESTAMP_MASK = (1 << 48) - 1
_RAND_B_BITS = 62
_MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000


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
    out = bytearray((timestamp_ms & _TIMESTAMP_MASK).to_bytes(6, "big"))
    out += hashlib.sha256(raw).digest()[:10]
    out[6] = (out[6] & 0x0F) | 0x70
    out[8] = (out[8] & 0x3F) | 0x80
    hex_id = out.hex()
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


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


def synthetic_span_id(opik_span_id: str) -> int:
    """The OTel span id standing for an Opik span id received from the Opik SDK (never 0)."""
    return int.from_bytes(hashlib.sha256(opik_span_id.encode()).digest()[:8], "big") or 1


class OpikIdMapper:
    """Maps OTel trace and span ids to Opik ids, deterministically and thread-safely.

    An Opik trace id in the span's trace state (`opik=…`) wins. Else a trace id that is a
    UUID v7 whose timestamp is within a day of the span's start is used verbatim. Any
    other trace id goes through `otel_to_opik_id` with the start of the first span of that
    trace seen in this process (remembered for `max_traces` traces, shared by every
    mapper: `OpikContextSpanProcessor` shows it each local root as it starts), so every
    span of a trace gets one trace id. Span ids use the trace id's timestamp.
    """

    _foreign: OrderedDict[int, str] = OrderedDict()
    _lock = threading.Lock()

    def __init__(self, max_traces: int = 100_000) -> None:
        self._max_traces = max_traces

    def trace_id(self, otel_trace_id: int, start_time_ns: int, trace_state: Any = None) -> str:
        """The Opik trace id of an OTel trace id, seen on a span that started then."""
        if trace_state is not None:
            stated = opik_id_from_hex(trace_state.get(OPIK_TRACE_STATE_KEY))
            if stated is not None:
                return stated
        start_ms = start_time_ns // 1_000_000
        if _is_plausible_uuid7(otel_trace_id, start_ms):
            return str(uuid.UUID(int=otel_trace_id))
        with self._lock:
            foreign = self._foreign
            opik_id = foreign.get(otel_trace_id)
            if opik_id is None:
                opik_id = otel_to_opik_id(otel_trace_id.to_bytes(16, "big"), start_ms)
                foreign[otel_trace_id] = opik_id
                if len(foreign) > self._max_traces:
                    foreign.popitem(last=False)
            else:
                foreign.move_to_end(otel_trace_id)
            return opik_id

    def span_id(self, otel_span_id: int, opik_trace_id: str) -> str:
        """The Opik span id of an OTel span id (or parent id) within an Opik trace."""
        timestamp_ms = int(opik_trace_id[:8] + opik_trace_id[9:13], 16)  # canonical UUID string
        return otel_to_opik_id(otel_span_id.to_bytes(8, "big"), timestamp_ms)
