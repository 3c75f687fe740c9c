"""Keep a span's content within the back end's limits, as valid JSON that says what was cut.

Content that needs none of this is not parsed at all: the mapping hands the exporter the
attribute's JSON text as `RawJson`, spliced into the request body as it is (`client.encode`).
`fit(value, max_bytes)` first replaces large base64 media (data URLs and `blob` parts) with a
placeholder naming the mime type and size, then cuts the longest strings until the JSON
fits, each ending in a marker with the number of characters cut; a value that still does
not fit (a huge list of small items) becomes a marker object with a preview. The Opik SDK
limits input and output the same way (`OPIK_MAX_PAYLOAD_SIZE_MB`, per field).
"""

from __future__ import annotations

import json
import re
from typing import Any

from opik_otel.semconv import to_json
from opik_otel.semconv.media import split_data_url

__all__ = ["RawJson", "fit", "json_size", "may_need_fit", "parsed"]

MEDIA_THRESHOLD_BYTES = 4096  # base64 media longer than this becomes a placeholder
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")
_PREVIEW_CHARS = 1000


class RawJson:
    """JSON text known to be valid (a JSON object or array, finite numbers only), kept as text
    so the request body can splice it in instead of parsing and re-encoding it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def is_object(self) -> bool:
        return self.text.lstrip()[:1] == "{"

    def parse(self) -> Any:
        return json.loads(self.text)

    def __repr__(self) -> str:
        return f"RawJson({self.text[:60]!r}{'…' if len(self.text) > 60 else ''})"


def parsed(value: Any) -> Any:
    """`value` with any `RawJson` in it (itself, or a value of a dict) parsed."""
    if isinstance(value, RawJson):
        return value.parse()
    if isinstance(value, dict) and any(isinstance(item, RawJson) for item in value.values()):
        return {key: item.parse() if isinstance(item, RawJson) else item for key, item in value.items()}
    return value


def may_need_fit(texts: list[str], max_bytes: int | None) -> bool:
    """Whether content made of these JSON texts could hold large media or be over `max_bytes`
    (if not, `fit` would change nothing: the texts can go to the back end as they are)."""
    chars = sum(len(text) for text in texts)
    if chars > MEDIA_THRESHOLD_BYTES and any(marker in text for text in texts for marker in _MEDIA_MARKERS):
        return True
    if max_bytes is None or chars * 4 <= max_bytes:  # UTF-8: at most 4 bytes a character
        return False
    return sum(len(text.encode("utf-8", "replace")) for text in texts) > max_bytes


# Large media is a data URL or the content of a blob part (`_replace_media`): content with
# none of these words holds none.
_MEDIA_MARKERS = ("data:", "blob", "modality")


def json_size(value: Any) -> int:
    return len(to_json(parsed(value)).encode("utf-8", "replace"))


def fit(value: Any, max_bytes: int) -> tuple[Any, bool]:
    """(value within `max_bytes` as JSON, whether anything was replaced or cut)."""
    value, replaced = _replace_media(parsed(value))
    size = json_size(value)
    if size <= max_bytes:
        return value, replaced
    value = _cut_strings(value, size - max_bytes)
    if json_size(value) <= max_bytes:
        return value, True
    preview = json.dumps(value, ensure_ascii=False, default=str)[:_PREVIEW_CHARS]
    return {"opik_truncated": True, "reason": f"over the {max_bytes}-byte limit ({size} bytes)", "preview": preview}, True


def _replace_media(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        placeholder = _media_placeholder(value, None)
        return (placeholder, True) if placeholder else (value, False)
    if isinstance(value, dict):
        changed = False
        out = {}
        is_blob = value.get("type") == "blob" or "modality" in value
        for key, item in value.items():
            if is_blob and key == "content" and isinstance(item, str):
                placeholder = _media_placeholder(item, value.get("mime_type") or value.get("modality"))
                if placeholder:
                    out[key], changed = placeholder, True
                    continue
            out[key], item_changed = _replace_media(item)
            changed = changed or item_changed
        return (out, True) if changed else (value, False)
    if isinstance(value, list):
        results = [_replace_media(item) for item in value]
        if any(changed for _, changed in results):
            return [item for item, _ in results], True
        return value, False
    return value, False


def _media_placeholder(text: str, mime_type: str | None) -> str | None:
    if len(text) <= MEDIA_THRESHOLD_BYTES:
        return None
    media = split_data_url(text)
    if media is not None and media[0]:
        return f"<{media[0]} base64, {_decoded_size(media[1])} bytes omitted>"
    if mime_type and _BASE64.match(text[:256]):
        return f"<{mime_type} base64, {_decoded_size(text)} bytes omitted>"
    return None


def _decoded_size(data: str) -> int:
    data = data.rstrip()
    return len(data) * 3 // 4 - (len(data) - len(data.rstrip("=")))


def _cut_strings(value: Any, excess: int) -> Any:
    """Cut the longest strings first until about `excess` bytes are gone."""
    strings: list[int] = []
    _collect_lengths(value, strings)
    if not strings:
        return value
    strings.sort(reverse=True)
    # the smallest length limit that removes `excess` characters (plus markers)
    limit = strings[0]
    while limit > 0:
        removed = sum(length - limit for length in strings if length > limit) - 40 * sum(1 for length in strings if length > limit)
        if removed >= excess:
            break
        limit //= 2
    return _apply_limit(value, max(limit, 64))


def _collect_lengths(value: Any, into: list[int]) -> None:
    if isinstance(value, str):
        into.append(len(value))
    elif isinstance(value, dict):
        for item in value.values():
            _collect_lengths(item, into)
    elif isinstance(value, list):
        for item in value:
            _collect_lengths(item, into)


def _apply_limit(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}…[opik-otel: cut {len(value) - limit} of {len(value)} chars]"
    if isinstance(value, dict):
        return {key: _apply_limit(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [_apply_limit(item, limit) for item in value]
    return value
