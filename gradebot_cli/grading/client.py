"""Calling the Messages API with bounded retries and a shared rate gate.

The SDK's own retries are switched off (``max_retries=0``) so that gradebot can
count every retry, record it in the ledger, and share one pause between all
worker threads when the API returns 429:

- 429 and 529 wait for ``retry-after`` (or ``retry-after-ms``) when the API sends
  it, else back off exponentially; a 429 pauses every worker, not just one.
- 408, 409, other 5xx, timeouts and dropped connections back off exponentially with
  jitter.
- Everything else (400, 401, 403, 404, 413) fails at once.
- ``x-should-retry: false`` from the API is obeyed.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0


@dataclass
class CallResult:
    """The outcome of one logical request, after any retries."""

    response: Any | None
    headers: dict[str, str]
    error: Exception | None
    latency_ms: int
    request_id: str
    retries: int

    @property
    def ok(self) -> bool:
        return self.error is None


class RateGate:
    """Spaces request starts and pauses every worker after a 429.

    With a requests-per-minute limit (set by the user, or learned from the
    ``anthropic-ratelimit-requests-limit`` header), starts are spread evenly at
    60/limit seconds apart, so a class runs at the limit instead of bursting into
    429s and waiting out whole seconds of ``retry-after``.
    """

    def __init__(self, rpm: int | None = None, *, learn: bool = True) -> None:
        self._lock = threading.Lock()
        self._interval = 60.0 / rpm if rpm else 0.0
        self._learn = learn and rpm is None
        self._next_start = 0.0
        self._paused_until = 0.0

    def wait_turn(self, stop: threading.Event) -> bool:
        """Block until this worker may start a request; False if ``stop`` was set."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start, self._paused_until)
            self._next_start = start + self._interval
        delay = start - time.monotonic()
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def observe(self, headers: dict[str, str]) -> None:
        if not self._learn:
            return
        raw = headers.get("anthropic-ratelimit-requests-limit", "")
        if raw.isdigit() and int(raw) > 0:
            with self._lock:
                self._interval = 60.0 / int(raw)


def _header(headers: Any, name: str) -> str:
    value = headers.get(name) if headers is not None else None
    return str(value) if value is not None else ""


# Maximum wait gradebot accepts from a retry-after header. A longer or malformed
# hint falls back to exponential backoff instead of stalling the run.
MAX_RETRY_AFTER_SECONDS = 300.0


def retry_after_seconds(headers: Any) -> float | None:
    """Read ``retry-after-ms`` or ``retry-after`` (seconds) from response headers."""
    millis = _header(headers, "retry-after-ms")
    seconds_text = _header(headers, "retry-after")
    try:
        if millis:
            seconds = float(millis) / 1000
        elif seconds_text:
            seconds = float(seconds_text)
        else:
            return None
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds > MAX_RETRY_AFTER_SECONDS:
        return None
    return max(0.0, seconds)


def backoff_seconds(attempt: int, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Exponential backoff with equal jitter: half fixed, half random."""
    ceiling = min(BACKOFF_CAP_SECONDS, base * 2.0**attempt)
    jitter: float = random.uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


class Caller:
    """Sends requests through the SDK with gradebot's retry policy."""

    def __init__(
        self,
        gate: RateGate,
        *,
        max_retries: int,
        stop: threading.Event,
        on_retry: Callable[[str, float], None] | None = None,
        backoff_base: float = BACKOFF_BASE_SECONDS,
    ) -> None:
        self.backoff_base = backoff_base
        self.gate = gate
        self.max_retries = max_retries
        self.stop = stop
        self.on_retry = on_retry

    def call(self, send: Callable[[], Any]) -> CallResult:
        """Call ``send`` (which returns the SDK's raw response) until it succeeds,
        fails for good, runs out of retries, or the run is stopped."""
        import anthropic

        retries = 0
        started = time.monotonic()
        while True:
            if not self.gate.wait_turn(self.stop):
                return _result(None, {}, _Stopped(), started, "", retries)
            error: Exception
            try:
                raw = send()
            except anthropic.APIStatusError as exc:
                error = exc
                headers = {k.lower(): v for k, v in exc.response.headers.items()}
                delay = self._retry_delay(exc.status_code, headers, retries)
                if delay is not None and exc.status_code == 429:
                    self.gate.pause(delay)
                request_id = exc.request_id or ""
            except anthropic.APIConnectionError as exc:
                error = exc
                headers = {}
                delay = (
                    backoff_seconds(retries, self.backoff_base)
                    if retries < self.max_retries
                    else None
                )
                request_id = ""
            else:
                headers = {k.lower(): v for k, v in raw.headers.items()}
                self.gate.observe(headers)
                request_id = _header(headers, "request-id")
                return _result(raw, headers, None, started, request_id, retries)
            if delay is None:
                return _result(None, headers, error, started, request_id, retries)
            retries += 1
            if self.on_retry is not None:
                self.on_retry(type(error).__name__, delay)
            if self.stop.wait(delay):
                return _result(None, headers, error, started, request_id, retries)

    def _retry_delay(
        self, status: int, headers: dict[str, str], retries: int
    ) -> float | None:
        if status not in RETRYABLE_STATUS or retries >= self.max_retries:
            return None
        if headers.get("x-should-retry") == "false":
            return None
        hinted = retry_after_seconds(headers) if status in (429, 529) else None
        if hinted is not None:
            return hinted + random.uniform(0, 0.25)
        return backoff_seconds(retries, self.backoff_base)


class _Stopped(Exception):
    """The run was stopped (SIGTERM, Ctrl-C or the budget) before the request."""


def is_stopped(error: Exception | None) -> bool:
    return isinstance(error, _Stopped)


def _result(
    raw: Any,
    headers: dict[str, str],
    error: Exception | None,
    started: float,
    request_id: str,
    retries: int,
) -> CallResult:
    latency = int((time.monotonic() - started) * 1000)
    return CallResult(raw, headers, error, latency, request_id, retries)
