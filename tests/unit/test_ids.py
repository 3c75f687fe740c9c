"""UUID v7 trace ids and the OTel → Opik id mapping."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid

from opik_otel._ids import OpikIdMapper, UuidV7IdGenerator, otel_to_opik_id

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


def test_foreign_trace_id_maps_with_first_seen_timestamp():
    foreign = 0x0AF7651916CD43DD8448EB211C80319C  # random bits: not a UUID v7
    other = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    first_ns = time.time_ns()
    mapper = OpikIdMapper()

    first = mapper.trace_id(foreign, first_ns)
    later = mapper.trace_id(foreign, first_ns + 5_000_000_000)
    earlier = mapper.trace_id(foreign, first_ns - 5_000_000_000)

    expected = otel_to_opik_id(foreign.to_bytes(16, "big"), first_ns // 1_000_000)
    assert first == later == earlier == expected
    assert mapper.trace_id(other, first_ns) != first


def test_uuid7_look_alike_far_from_span_start_falls_back():
    generator = UuidV7IdGenerator()
    look_alike = generator.generate_trace_id()
    start_ns = time.time_ns() + 10 * DAY_MS * 1_000_000  # span starts 10 days after the id's timestamp

    opik_id = OpikIdMapper().trace_id(look_alike, start_ns)

    assert opik_id != str(uuid.UUID(int=look_alike))
    assert opik_id == otel_to_opik_id(look_alike.to_bytes(16, "big"), start_ns // 1_000_000)


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
