"""Content limits: valid JSON within the limit, a marker of what was cut, media placeholders."""

from __future__ import annotations

import base64
import json

from opik_otel.exporters.opik.payload import fit, json_size

IMAGE = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + bytes(30_000)).decode()


def test_small_content_is_untouched():
    value = {"messages": [{"role": "user", "content": "hi"}]}
    assert fit(value, 1000) == (value, False)


def test_long_strings_are_cut_with_a_marker_and_the_json_stays_valid():
    value = {"messages": [{"role": "user", "content": "x" * 50_000}, {"role": "assistant", "content": "short"}]}
    fitted, cut = fit(value, 10_000)
    assert cut and json_size(fitted) <= 10_000
    text = fitted["messages"][0]["content"]
    assert text.startswith("xxx") and text.endswith("chars]") and "cut" in text and "of 50000 chars" in text
    assert fitted["messages"][1]["content"] == "short"
    json.loads(json.dumps(fitted))


def test_base64_media_becomes_a_placeholder_with_mime_type_and_size():
    fitted, cut = fit({"parts": [{"type": "uri", "uri": IMAGE}, {"type": "blob", "modality": "audio", "mime_type": "audio/wav",
                                                                "content": base64.b64encode(bytes(9000)).decode()}]}, 10**9)
    assert cut
    assert fitted["parts"][0]["uri"] == "<image/png base64, 30004 bytes omitted>"
    assert fitted["parts"][1]["content"] == "<audio/wav base64, 9000 bytes omitted>"


def test_too_many_small_items_become_one_marker():
    fitted, cut = fit(list(range(100_000)), 2_000)
    assert cut and fitted["opik_truncated"] is True and json_size(fitted) < 2_000 + 100
