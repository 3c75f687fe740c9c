"""UUID v7 trace ids and the OTel → Opik id mapping."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid

from opentelemetry.trace import TraceState

from opik_otel._ids import OpikIdMapper, UuidV7IdGenerator, otel_to_opik_id, stamped_trace_state

DAY_MS = 24 * 60 * 60 * 1000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _timestamp_ms(opik_id: str) -> int:
    return int(uuid.UUID(opik_id).hex[:12], 16)


# -- generator ------------------------------------------------------------------------


def test_trace_ids_are_uuid7_with_current_timestamp():
    generator = UuidV7IdGenerator()
    before = _now_ms()
    trace_ids = [generator.generate_trace_id() for _ in range(2000)]
    after = _now_ms()

    assert len(set(trace_ids)) == len(trace_ids)
    for trace_id in trace_ids:
        as_uuid = uuid.UUID(int=trace_id)
        assert as_uuid.version == 7
        assert as_uuid.variant == uuid.RFC_4122
        assert before <= trace_id >> 80 <= after
    assert generator.is_trace_id_random()


def test_span_ids_are_64_bit_non_zero_and_unique():
    generator = UuidV7IdGenerator()
    span_ids = [generator.generate_span_id() for _ in range(2000)]
    assert len(set(span_ids)) == len(span_ids)
    assert all(0 < span_id < 1 << 64 for span_id in span_ids)


# -- Opik's conversion ----------------------------------------------------------------


def test_otel_to_opik_id_matches_hand_computed_trace_id():
    raw = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    timestamp_ms = 1_700_000_000_123  # 0x018bcfe5687b
    expected = bytearray.fromhex("018bcfe5687b") + hashlib.sha256(raw).digest()[:10]
    expected[6] = 0x70 | (expected[6] & 0x0F)
    expected[8] = 0x80 | (expected[8] & 0x3F)

    opik_id = otel_to_opik_id(raw, timestamp_ms)

    assert opik_id == str(uuid.UUID(bytes=bytes(expected)))
    assert opik_id.startswith("018bcfe5-687b-7")
    assert uuid.UUID(opik_id).version == 7
    assert uuid.UUID(opik_id).variant == uuid.RFC_4122


def test_otel_to_opik_id_of_span_id_uses_eight_bytes():
    raw = bytes.fromhex("b7ad6b7169203331")
    digest_hex = hashlib.sha256(raw).hexdigest()
    opik_id = otel_to_opik_id(raw, 0x0123456789AB)

    hex_id = uuid.UUID(opik_id).hex
    assert hex_id[:12] == "0123456789ab"
    assert hex_id[12] == "7" and hex_id[13:16] == digest_hex[1:4]
    assert int(hex_id[16], 16) == 0x8 | (int(digest_hex[4], 16) & 0x3)
    assert hex_id[17:] == digest_hex[5:20]


# -- mapper ---------------------------------------------------------------------------


def test_uuid7_trace_id_is_used_verbatim():
    trace_id = UuidV7IdGenerator().generate_trace_id()
    mapper = OpikIdMapper()
    assert mapper.trace_id(trace_id, time.time_ns()) == str(uuid.UUID(int=trace_id))


HOUR_MS = 60 * 60 * 1000
FOREIGN = 0x0AF7651916CD43DD8448EB211C80319C  # random bits: not a UUID v7
OTHER = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def test_unstamped_foreign_trace_id_takes_the_hour_of_its_first_span():
    OpikIdMapper._foreign.clear()
    hour_ms = (_now_ms() // HOUR_MS - 1) * HOUR_MS
    first_ns = (hour_ms + HOUR_MS - 2_000) * 1_000_000  # 2 s before the top of the hour
    mapper = OpikIdMapper()

    first = mapper.trace_id(FOREIGN, first_ns)
    later = mapper.trace_id(FOREIGN, first_ns + 5_000_000_000)  # the next hour: remembered
    earlier = mapper.trace_id(FOREIGN, first_ns - 5_000_000_000)

    expected = otel_to_opik_id(FOREIGN.to_bytes(16, "big"), hour_ms)
    assert first == later == earlier == expected
    assert mapper.trace_id(OTHER, first_ns) == otel_to_opik_id(OTHER.to_bytes(16, "big"), hour_ms)


def test_unstamped_foreign_trace_id_is_the_same_without_memory_within_the_hour():
    hour_ms = (_now_ms() // HOUR_MS - 1) * HOUR_MS
    mapper = OpikIdMapper(max_traces=10)
    first = mapper.trace_id(FOREIGN, (hour_ms + 1_000) * 1_000_000)
    for trace_id in range(1, 1000):  # other traces: the first is forgotten
        mapper.trace_id(trace_id, (hour_ms + 2_000) * 1_000_000)
    assert FOREIGN not in OpikIdMapper._foreign and len(OpikIdMapper._foreign) == 10
    assert mapper.trace_id(FOREIGN, (hour_ms + HOUR_MS - 1) * 1_000_000) == first  # deterministic: same hour


def test_uuid7_look_alike_far_from_span_start_falls_back():
    generator = UuidV7IdGenerator()
    look_alike = generator.generate_trace_id()
    start_ns = time.time_ns() + 10 * DAY_MS * 1_000_000  # span starts 10 days after the id's timestamp

    opik_id = OpikIdMapper().trace_id(look_alike, start_ns)

    start_ms = start_ns // 1_000_000
    assert opik_id != str(uuid.UUID(int=look_alike))
    assert opik_id == otel_to_opik_id(look_alike.to_bytes(16, "big"), start_ms - start_ms % HOUR_MS)


def test_stamped_trace_state_carries_the_opik_id_of_a_foreign_root():
    start_ns = time.time_ns()
    expected = otel_to_opik_id(FOREIGN.to_bytes(16, "big"), start_ns // 1_000_000)

    state = stamped_trace_state(FOREIGN, start_ns, TraceState([("vendor", "v1")]))

    assert state.to_header() == f"opik={uuid.UUID(expected).hex},vendor=v1"
    assert OpikIdMapper().trace_id(FOREIGN, start_ns + 7 * HOUR_MS * 1_000_000, state) == expected
    assert stamped_trace_state(UuidV7IdGenerator().generate_trace_id(), start_ns, None) is None  # UUID v7: verbatim
    assert stamped_trace_state(FOREIGN, start_ns, state) is None  # already there
    full = TraceState([(f"k{index}", "v") for index in range(32)])
    assert stamped_trace_state(FOREIGN, start_ns, full) is None  # W3C: no room


def test_a_random_trace_id_that_looks_like_a_uuid7_is_stamped_like_any_foreign_one():
    look_alike = 0x1D95B0391AA77DAE837112AB9D1EC2A8  # random bits, version 7 and variant 10 by chance (1 in 64)
    start_ns = time.time_ns()
    expected = otel_to_opik_id(look_alike.to_bytes(16, "big"), start_ns // 1_000_000)

    state = stamped_trace_state(look_alike, start_ns, None)

    assert state is not None and state.to_header() == f"opik={uuid.UUID(expected).hex}"


def test_span_id_uses_timestamp_of_opik_trace_id():
    mapper = OpikIdMapper()
    trace_id = mapper.trace_id(UuidV7IdGenerator().generate_trace_id(), time.time_ns())
    span_id = 0xB7AD6B7169203331

    opik_span_id = mapper.span_id(span_id, trace_id)

    assert opik_span_id == otel_to_opik_id(span_id.to_bytes(8, "big"), _timestamp_ms(trace_id))
    assert opik_span_id == OpikIdMapper().span_id(span_id, trace_id)  # deterministic, stateless


def test_mapper_is_bounded_and_thread_safe():
    OpikIdMapper._foreign.clear()  # shared by every mapper in the process
    mapper = OpikIdMapper(max_traces=100)
    start_ns = time.time_ns()
    results: dict[int, set[str]] = {}
    lock = threading.Lock()

    def worker() -> None:
        for trace_id in range(1, 50):
            opik_id = mapper.trace_id(trace_id, start_ns)
            with lock:
                results.setdefault(trace_id, set()).add(opik_id)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(len(ids) == 1 for ids in results.values())
    for trace_id in range(1000, 1300):
        mapper.trace_id(trace_id, start_ns)
    assert len(mapper._foreign) == 100
