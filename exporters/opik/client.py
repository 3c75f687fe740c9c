"""HTTP client for Opik's REST batch endpoints, on the standard library only.

Batches of at most 1000 items, gzip'd JSON, retries with capped exponential backoff and
jitter on 429, 5xx, connection errors and timeouts, `Retry-After` / `RateLimit-Reset`
honoured, 409 counted as delivered, a 413 split (one item: its content cut), a 400/422 split
to drop only the refused items (see `OpikRestClient`). Each part of a batch ends DELIVERED,
REJECTED (the content is refused: dropped) or UNDELIVERED (kept by the exporter's spool for later). The API key goes into one request header and
nowhere else: not into a log line, an exception message or a `repr`.
"""

from __future__ import annotations

import enum
import gzip
import heapq
import http.client
import itertools
import json
import logging
import math
import os
import random
import ssl
import textwrap
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic_core

from opik_otel._runtime import after_fork_in_child
from opik_otel.exporters.opik.payload import RawJson

__all__ = ["MAX_BATCH_ITEMS", "MAX_SPLIT_REQUESTS", "OpikRestClient", "Outcome", "encode"]

_logger = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 1000
GZIP_MIN_BYTES = 256
MAX_ATTEMPTS = 4
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0
MAX_SERVER_DELAY_S = 60.0
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_AUTH_STATUSES = frozenset({401, 403})
_REFUSED_STATUSES = frozenset({400, 422})  # invalid content: split the batch to find the refused items
MAX_SPLIT_REQUESTS = 64  # at most this many requests to isolate the refused items of one batch
_DENSE_PROBE_REQUESTS = 30  # halves … sixteenths: all refused means bad throughout
_DELAY_HEADERS = ("Retry-After", "RateLimit-Reset")
_PATHS = {"traces": "v1/private/traces/batch", "spans": "v1/private/spans/batch"}
_TOO_LARGE = object()  # a 413 answer: split the batch, or cut the item's content
_MAX_SHRINKS = 3
_MAX_DETAIL_CHARS = 300
_WIDTH = 80  # the warnings' lines fit a terminal of 80 columns (a long URL or path on a line of its own)
_order = itertools.count()  # ties between refused parts of one size: oldest first


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


class Outcome(enum.Enum):
    """What became of a batch."""

    DELIVERED = "delivered"  # stored (2xx, or 409: already stored)
    REJECTED = "rejected"  # the back end refuses this content (400, 422 …): retrying cannot help
    UNDELIVERED = "undelivered"  # not now (outage, auth, out of time): keep it and send it later


class OpikRestClient:
    """Posts traces and spans to an Opik back end. Never raises; says what became of each batch.

    A batch answered 400 or 422 (an invalid item: the back end stores none of the batch) is
    cut in halves and each half sent again, the largest refused part first, down to the single
    refused items: only those are dropped (and counted in `refused_items`). One bad item among
    1,000 costs two requests per halving level (about 20). The search is bounded per batch:
    at most `MAX_SPLIT_REQUESTS` requests (enough to isolate about three bad items among
    1,000 exactly; past it, the refused parts left, the smallest ones, are dropped whole), and
    none beyond the first four levels (30 requests) when every one of those was refused:
    each sixteenth then holds a bad item, the batch is bad throughout (a mapping bug, a
    stricter back end), and going on would cost up to 2 requests per item for nothing. Past the
    deadline a refused part is not split but kept (UNDELIVERED) for a later try. 401/403
    are never split (the credentials, not the content); other 4xx drop the batch whole.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None,
        workspace: str | None,
        check_tls: bool = True,
        timeout: float = 10.0,
        max_attempts: int = MAX_ATTEMPTS,
        shrink: Callable[[dict, int], bool] | None = None,
        spool_folder: str | os.PathLike[str] | None = None,
    ) -> None:
        self._url = url if url.endswith("/") else url + "/"
        self._spool_folder = spool_folder  # where the caller keeps undelivered batches: the warnings say so
        self._headers = _headers(api_key, workspace)
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._shrink = shrink  # shrink(item, factor): cut an item's content for a 413; False if it cannot
        self._opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=_ssl_context(check_tls))
        )
        self._closed = threading.Event()
        _clients.add(self)  # its event is renewed in a forked child
        self._warned: set[object] = set()
        self.refused_items = 0  # items the back end refused for good (400, 422, 413 after cutting …): dropped
        self.deadline: float | None = None  # time.monotonic() after which no retry is started

    @property
    def url(self) -> str:
        return self._url

    def send_traces(self, traces: Sequence[dict]) -> bool:
        """POST `{"traces": [...]}` in batches; True when every batch was delivered."""
        return all(outcome is Outcome.DELIVERED for _, _, outcome in self.send("traces", traces))

    def send_spans(self, spans: Sequence[dict]) -> bool:
        """POST `{"spans": [...]}` in batches; True when every batch was delivered."""
        return all(outcome is Outcome.DELIVERED for _, _, outcome in self.send("spans", spans))

    def send(self, kind: str, items: Sequence[dict]) -> list[tuple[list[dict], bytes, Outcome]]:
        """POST items of one kind ("traces" or "spans") in batches: (part, body, outcome) for each
        part sent. A 413 splits the batch (one item: its content is cut), a 400/422 splits it down
        to the refused items (see the class docstring), and the parts are sent."""
        results: list[tuple[list[dict], bytes, Outcome]] = []
        try:
            for batch in _batches(items):
                self._send_batch(kind, batch, results)
        except Exception as error:  # noqa: BLE001 - exporting must never raise into the SDK
            # Only the type: a message (an invalid header value, say) could quote the API key.
            self._warn_once(type(error), "Opik export to %s failed: %s", self._url, type(error).__name__)
        return results

    def send_body(self, kind: str, body: bytes) -> Outcome:
        """POST a body as encoded by `encode` (a spooled batch), split as in `send` on a 413 or
        400/422: UNDELIVERED if any part is, else REJECTED if any item was refused, else DELIVERED."""
        outcome, response = self._post(_PATHS[kind], body)
        if outcome is not _TOO_LARGE and not _refused(outcome, response):
            return outcome
        try:
            items = json.loads(gzip.decompress(body) if _is_gzip(body) else body)[kind]
        except (ValueError, KeyError, OSError, TypeError):
            return Outcome.REJECTED
        if not isinstance(items, list) or not items:
            return Outcome.REJECTED
        results: list[tuple[list[dict], bytes, Outcome]] = []
        try:
            self._send_batch(kind, items, results, answer=(body, outcome, response))
        except Exception as error:  # noqa: BLE001 - replaying must never raise
            self._warn_once(type(error), "Opik export to %s failed: %s", self._url, type(error).__name__)
            return Outcome.UNDELIVERED
        outcomes = {part_outcome for _, _, part_outcome in results}
        for worst in (Outcome.UNDELIVERED, Outcome.REJECTED):
            if worst in outcomes:
                return worst
        return Outcome.DELIVERED

    def close(self) -> None:
        """Stop waiting between retries; later sends make a single attempt."""
        self._closed.set()

    def _send_batch(self, kind: str, batch: list[dict], results: list, answer: tuple | None = None) -> None:
        """Send one batch (`answer`: the (body, outcome, response) it already got) and its parts."""
        refused: list[tuple[int, int, list[dict], bytes, _Response | None]] = []  # a heap: largest first
        self._send_part(kind, batch, results, refused, answer=answer)
        if refused:
            self._split_refused(kind, refused, results)

    def _send_part(self, kind: str, part: list[dict], results: list, refused: list, shrunk: int = 0,
                   answer: tuple | None = None) -> None:
        """Send a part; a 413 splits it (one item: its content is cut) and sends the halves; a
        part of several items answered 400/422 goes onto the `refused` heap."""
        if answer is None:
            body = encode(kind, part)
            outcome, response = self._post(_PATHS[kind], body)
        else:
            body, outcome, response = answer
        if outcome is _TOO_LARGE:
            if len(part) > 1:  # split in halves and send each
                middle = len(part) // 2
                self._send_part(kind, part[:middle], results, refused, shrunk)
                self._send_part(kind, part[middle:], results, refused, shrunk)
            elif shrunk < _MAX_SHRINKS and self._shrink is not None and self._shrink(part[0], 4 ** (shrunk + 1)):
                self._send_part(kind, part, results, refused, shrunk + 1)
            else:
                self._warn_once(413, "Opik refused a %s item as too large even after cutting its content; dropped", kind)
                self._refuse(kind, part, body, results)
        elif _refused(outcome, response) and len(part) > 1:
            heapq.heappush(refused, (-len(part), next(_order), part, body, response))
        elif outcome is Outcome.REJECTED:
            self._refuse(kind, part, body, results, response)
        else:
            results.append((part, body, outcome))

    def _split_refused(self, kind: str, refused: list, results: list) -> None:
        """Halve the parts answered 400/422, largest first, within the budget of the class docstring."""
        requests = 0
        delivered_before = _delivered(results)
        bad_throughout = False
        while refused:
            _, _, part, body, response = heapq.heappop(refused)
            if not bad_throughout and requests >= _DENSE_PROBE_REQUESTS:
                bad_throughout = _delivered(results) == delivered_before
            if bad_throughout or requests + 2 > MAX_SPLIT_REQUESTS:
                self._refuse(kind, part, body, results, response)
            elif self._out_of_time(0):
                results.append((part, body, Outcome.UNDELIVERED))  # kept: split on a later try
            else:
                middle = len(part) // 2
                for half in (part[:middle], part[middle:]):
                    requests += 1
                    self._send_part(kind, half, results, refused)

    def _refuse(self, kind: str, part: list[dict], body: bytes, results: list, response: _Response | None = None) -> None:
        """Drop a part the back end refuses for good and count it; say so for a 400/422 (other
        refusals were said by `_post`)."""
        self.refused_items += len(part)
        results.append((part, body, Outcome.REJECTED))
        if response is not None and response.status in _REFUSED_STATUSES:
            self._warn_once(("refused", response.status), "Opik refused %d %s item(s) at %s (%s); dropped",
                            len(part), kind, self._url + _PATHS[kind], response.detail)

    def _post(self, path: str, body: bytes) -> tuple[Any, _Response | None]:
        """One batch, with retries within the attempt budget and the deadline."""
        url = self._url + path
        response: _Response | None = None
        for attempt in range(1, self._max_attempts + 1):
            response = self._request(url, body)
            if response.delivered:
                return Outcome.DELIVERED, response
            if response.status == 413:
                return _TOO_LARGE, response
            if response.status in _AUTH_STATUSES:
                self._warn_rejected(url, response)
                return Outcome.UNDELIVERED, response  # kept: it goes through once the key is fixed
            if not response.retryable:
                if response.status not in _REFUSED_STATUSES:  # those are split: said once the bad items are found
                    self._warn_rejected(url, response)
                return Outcome.REJECTED, response
            delay = _retry_delay(response.headers, attempt)
            if attempt == self._max_attempts or self._out_of_time(delay) or self._closed.wait(delay):
                break
        self._warn_once("retries", "%s", "\n".join([
            f"opik-otel: Opik export failed after {attempt} attempt(s), at", f"  {url}",
            *textwrap.wrap(f"({response.detail if response else 'no answer'})", _WIDTH),
            *self._kept_lines("The batch is", "and sent when Opik answers again; `opik-otel upload` sends it too."),
        ]))
        return Outcome.UNDELIVERED, response

    def _out_of_time(self, delay: float) -> bool:
        return self.deadline is not None and time.monotonic() + delay >= self.deadline

    def _request(self, url: str, body: bytes) -> _Response:
        headers = {**self._headers, "Content-Encoding": "gzip"} if _is_gzip(body) else self._headers
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        timeout = self._timeout
        if self.deadline is not None:
            timeout = max(0.05, min(timeout, self.deadline - time.monotonic()))
        try:
            with self._opener.open(request, timeout=timeout) as response:
                response.read()
                return _Response(response.status, response.headers)
        except urllib.error.HTTPError as error:
            detail = f"HTTP {error.code} {_body_snippet(error)}".strip()
            return _Response(error.code, error.headers or {}, detail)
        except (OSError, http.client.HTTPException) as error:  # connection errors, timeouts
            return _Response(None, detail=_describe(error))

    def _warn_rejected(self, url: str, response: _Response) -> None:
        if response.status in _AUTH_STATUSES:
            self._warn_once(response.status, "%s", "\n".join([
                "opik-otel: Opik rejected the credentials, at", f"  {url}",
                *textwrap.wrap(f"({response.detail})", _WIDTH),
                "Check the API key (OPIK_API_KEY or api_key=) and the workspace",
                "(OPIK_WORKSPACE or workspace=).",
                *self._kept_lines("Meanwhile the batches are", "and sent once the key is fixed; `opik-otel upload` sends them too."),
            ]))
        else:
            self._warn_once(
                response.status, "Opik rejected a batch at %s (%s); batch dropped", url, response.detail
            )

    def _kept_lines(self, what: str, then: str) -> list[str]:
        """Where undelivered batches wait, the folder on a line of its own (none without a spool)."""
        if self._spool_folder is None:
            return []
        return [f"{what} kept in the spool folder", f"  {self._spool_folder}", then]

    def _warn_once(self, key: object, message: str, *args: object) -> None:
        """A warning the first time `key` comes up, debug afterwards (no log flood)."""
        level = logging.DEBUG if key in self._warned else logging.WARNING
        self._warned.add(key)
        _logger.log(level, message, *args)


_clients: weakref.WeakSet[OpikRestClient] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child gets new events (their lock may have been held by another thread of the parent)."""
    for client in list(_clients):
        closed, client._closed = client._closed.is_set(), threading.Event()
        if closed:
            client._closed.set()


after_fork_in_child(_after_fork_in_child)


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


def _refused(outcome: Any, response: _Response | None) -> bool:
    """Whether the back end refused the content of a batch (400/422): some item in it is invalid."""
    return outcome is Outcome.REJECTED and response is not None and response.status in _REFUSED_STATUSES


def _delivered(results: list) -> int:
    return sum(1 for _, _, outcome in results if outcome is Outcome.DELIVERED)


def _batches(items: Sequence[dict]) -> Iterator[list[dict]]:
    for start in range(0, len(items), MAX_BATCH_ITEMS):
        yield list(items[start : start + MAX_BATCH_ITEMS])


def _is_gzip(body: bytes) -> bool:
    return body[:2] == b"\x1f\x8b"  # gzip's magic bytes: never the start of a JSON body


def encode(kind: str, items: Sequence[dict]) -> bytes:
    """The request body of a batch: `{kind: items}` as compact UTF-8 JSON, gzip'd when at least
    `GZIP_MIN_BYTES` long (a gzip body starts with its magic bytes, so it needs no flag).
    `RawJson` values (content the mapping left as text) are spliced in as they are."""
    payload = {kind: list(items)}
    texts: list[str] = []
    marker = f"\x00opik-raw-{os.urandom(8).hex()}-"  # in the JSON as "\u0000opik-raw-…-<n>"

    def fallback(value: Any) -> str:
        if type(value) is RawJson:
            texts.append(value.text)
            return f"{marker}{len(texts) - 1}"
        return str(value)

    try:  # pydantic-core's serialiser (Rust): ≈ 5× the standard library's on these bodies
        body = pydantic_core.to_json(payload, fallback=fallback, inf_nan_mode="null")
    except Exception:  # noqa: BLE001 - a lone surrogate, …: the standard library's path replaces it
        texts.clear()
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=fallback).encode("utf-8", "replace")
    if texts:
        body = _splice(body, marker, texts)
    if len(body) < GZIP_MIN_BYTES:
        return body
    return gzip.compress(body, compresslevel=1, mtime=0)


def _splice(body: bytes, marker: str, texts: list[str]) -> bytes:
    """`body` with each `"<marker><n>"` string replaced by JSON text n, in one pass."""
    pieces = body.split(b'"' + json.dumps(marker)[1:-1].encode())  # C's substring search, not a regex
    out = [pieces[0]]
    for piece in pieces[1:]:
        end = piece.index(b'"')  # the placeholder's closing quote, after the digits of n
        out.append(texts[int(piece[:end])].encode("utf-8", "replace"))
        out.append(piece[end + 1 :])
    return b"".join(out)


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
