"""HTTP client for Opik's REST batch endpoints, on the standard library only.

Batches of at most 1000 items, gzip'd JSON, retries with backoff on transient failures,
`Retry-After` / `RateLimit-Reset` honoured. The API key goes into one request header and
nowhere else: not into a log line, an exception message or a `repr`.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import math
import random
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OpikRestClient", "MAX_BATCH_ITEMS"]

_logger = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 1000
GZIP_MIN_BYTES = 256
MAX_ATTEMPTS = 3
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0
MAX_SERVER_DELAY_S = 60.0
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_AUTH_STATUSES = frozenset({401, 403})
_DELAY_HEADERS = ("Retry-After", "RateLimit-Reset")
_TRACES_PATH = "v1/private/traces/batch"
_SPANS_PATH = "v1/private/spans/batch"
_MAX_DETAIL_CHARS = 300


@dataclass(frozen=True)
class _Response:
    """What one attempt got: a status (None when no response came) and a short detail."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    detail: str = ""

    @property
    def delivered(self) -> bool:
        status = self.status
        return status is not None and (200 <= status < 300 or status == 409)  # 409: already stored

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in _RETRY_STATUSES


class OpikRestClient:
    """Posts traces and spans to an Opik back end; `send_*` return True when delivered, never raise."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        workspace: str | None,
        check_tls: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self._url = url if url.endswith("/") else url + "/"
        self._headers = _headers(api_key, workspace)
        self._timeout = timeout
        self._opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=_ssl_context(check_tls))
        )
        self._closed = threading.Event()
        self._warned: set[object] = set()

    @property
    def url(self) -> str:
        return self._url

    def send_traces(self, traces: Sequence[dict]) -> bool:
        """POST `{"traces": [...]}` in batches; True when every batch was delivered."""
        return self._send(_TRACES_PATH, "traces", traces)

    def send_spans(self, spans: Sequence[dict]) -> bool:
        """POST `{"spans": [...]}` in batches; True when every batch was delivered."""
        return self._send(_SPANS_PATH, "spans", spans)

    def close(self) -> None:
        """Stop waiting between retries; later sends make a single attempt."""
        self._closed.set()

    def _send(self, path: str, key: str, items: Sequence[dict]) -> bool:
        try:
            return all([self._post(path, {key: batch}) for batch in _batches(items)])
        except Exception as error:  # noqa: BLE001 - exporting must never raise into the SDK
            # Only the type: a message (an invalid header value, say) could quote the API key.
            self._warn_once(type(error), "Opik export to %s failed: %s", self._url, type(error).__name__)
            return False

    def _post(self, path: str, payload: dict[str, Any]) -> bool:
        """One batch, with retries; True when delivered."""
        body, gzipped = _encode(payload)
        url = self._url + path
        for attempt in range(1, MAX_ATTEMPTS + 1):
            response = self._request(url, body, gzipped)
            if response.delivered:
                return True
            if not response.retryable:
                self._warn_rejected(url, response)
                return False
            if attempt == MAX_ATTEMPTS or self._closed.wait(_retry_delay(response.headers, attempt)):
                break
        self._warn_once(
            "retries", "Opik export to %s failed after %d attempts (%s); batch dropped",
            url, attempt, response.detail,
        )
        return False

    def _request(self, url: str, body: bytes, gzipped: bool) -> _Response:
        headers = {**self._headers, "Content-Encoding": "gzip"} if gzipped else self._headers
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                response.read()
                return _Response(response.status, response.headers)
        except urllib.error.HTTPError as error:
            detail = f"HTTP {error.code} {_body_snippet(error)}".strip()
            return _Response(error.code, error.headers or {}, detail)
        except (OSError, http.client.HTTPException) as error:  # connection errors, timeouts
            return _Response(None, detail=_describe(error))

    def _warn_rejected(self, url: str, response: _Response) -> None:
        if response.status in _AUTH_STATUSES:
            self._warn_once(
                response.status,
                "Opik rejected the credentials (%s) at %s: check the API key (OPIK_API_KEY or api_key=) "
                "and the workspace (OPIK_WORKSPACE or workspace=)",
                response.detail, url,
            )
        else:
            self._warn_once(
                response.status, "Opik rejected a batch at %s (%s); batch dropped", url, response.detail
            )

    def _warn_once(self, key: object, message: str, *args: object) -> None:
        """A warning the first time `key` comes up, debug afterwards (no log flood)."""
        level = logging.DEBUG if key in self._warned else logging.WARNING
        self._warned.add(key)
        _logger.log(level, message, *args)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would carry the API key elsewhere (urllib raises HTTPError)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _headers(api_key: str | None, workspace: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "opik-otel"}
    if api_key:
        headers["Authorization"] = api_key
    if workspace:
        headers["Comet-Workspace"] = workspace
    return headers


def _ssl_context(check_tls: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not check_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _batches(items: Sequence[dict]) -> Iterator[list[dict]]:
    for start in range(0, len(items), MAX_BATCH_ITEMS):
        yield list(items[start : start + MAX_BATCH_ITEMS])


def _encode(payload: dict[str, Any]) -> tuple[bytes, bool]:
    """Compact UTF-8 JSON, gzip'd when at least `GZIP_MIN_BYTES` long; (body, gzipped)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)
    body = text.encode("utf-8", "replace")  # a lone surrogate must not fail the batch
    if len(body) < GZIP_MIN_BYTES:
        return body, False
    return gzip.compress(body, compresslevel=1, mtime=0), True


def _retry_delay(headers: Mapping[str, str], attempt: int) -> float:
    """The server's delay when it gave one, else exponential backoff with jitter."""
    for name in _DELAY_HEADERS:
        try:
            seconds = float(headers.get(name))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return min(seconds, MAX_SERVER_DELAY_S)
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _body_snippet(error: urllib.error.HTTPError) -> str:
    try:
        return error.read(_MAX_DETAIL_CHARS).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - only a detail for the log
        return ""
    finally:
        error.close()


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
