"""The one reader of data URLs (`data:image/png;base64,…`), for instrumentors and payload limits alike."""

from __future__ import annotations

import re

# RFC 2397: `data:[<mediatype>][;<parameter>]*;base64,<data>`; a URL that is not base64 is not media we read.
_BASE64_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^;,]+)*;base64,", re.ASCII)


def split_data_url(url: str) -> tuple[str | None, str] | None:
    """(media type, base64 data) of a base64 data URL, its parameters left out (media type None
    when it names none); None for any other string."""
    match = _BASE64_DATA_URL.match(url)
    if match is None:
        return None
    return match.group("mime"), url[match.end():]
