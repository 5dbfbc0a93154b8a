"""Scripted faults: error statuses, dropped connections, slow responses and
truncated, malformed, refused or fixed answer text.

A test queues faults on the fake; each POST /v1/messages that passes validation
takes the first queued fault whose matcher accepts the request. A responder may
also return a Fault instead of answer text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ERROR_TYPES

FaultKind = Literal[
    "error",
    "drop_connection",
    "slow",
    "max_tokens",
    "malformed_json",
    "refusal",
    "text",
]
RefusalCategory = Literal[
    "cyber", "bio", "frontier_llm", "reasoning_extraction", "general_harms"
]
RequestMatcher = str | Callable[[dict[str, Any]], bool] | None
"""A substring of the request's text, a predicate on the request JSON, or None."""


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour; build it with the class methods."""

    kind: FaultKind
    status: int = 0
    error_type: str = ""
    message: str = ""
    retry_after: int | None = None
    seconds: float = 0.0
    text: str | None = None
    category: RefusalCategory | None = None
    explanation: str | None = None

    @classmethod
    def status_error(
        cls, status: int, message: str | None = None, *, retry_after: int | None = None
    ) -> Fault:
        """Respond with HTTP `status`; `error.type` is the API's type for it."""
        error_type = ERROR_TYPES.get(status, "api_error")
        return cls(
            kind="error",
            status=status,
            error_type=error_type,
            message=message or f"Scripted {error_type}.",
            retry_after=retry_after,
        )

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> Fault:
        """Respond 429 rate_limit_error with a `retry-after` header in seconds."""
        return cls.status_error(
            429,
            "Number of requests has exceeded your per-minute rate limit.",
            retry_after=retry_after,
        )

    @classmethod
    def overloaded(cls) -> Fault:
        """Respond 529 overloaded_error."""
        return cls.status_error(529, "Overloaded")

    @classmethod
    def server_error(cls) -> Fault:
        """Respond 500 api_error."""
        return cls.status_error(500, "Internal server error")

    @classmethod
    def dropped_connection(cls) -> Fault:
        """Close the connection without sending any response."""
        return cls(kind="drop_connection")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait `seconds`, then respond normally."""
        return cls(kind="slow", seconds=seconds)

    @classmethod
    def truncated(cls, text: str | None = None) -> Fault:
        """Stop with stop_reason "max_tokens", cutting the answer in the middle.

        Without `text`, the normal answer is cut to half its length.
        """
        return cls(kind="max_tokens", text=text)

    @classmethod
    def malformed_json(cls, text: str | None = None) -> Fault:
        """Send answer text that is not valid JSON.

        Without `text`, the normal answer loses its last character.
        """
        return cls(kind="malformed_json", text=text)

    @classmethod
    def refusal(
        cls,
        category: RefusalCategory | None = "general_harms",
        explanation: str | None = None,
        text: str | None = None,
    ) -> Fault:
        """Stop with stop_reason "refusal" and `stop_details`.

        `text` is the partial answer sent before the refusal (none by default).
        """
        return cls(
            kind="refusal", category=category, explanation=explanation, text=text
        )

    @classmethod
    def answer(cls, text: str) -> Fault:
        """Send exactly `text` as the answer."""
        return cls(kind="text", text=text)


@dataclass
class _QueuedFault:
    fault: Fault
    match: RequestMatcher
    remaining: int


class FaultQueue:
    """Thread-safe queue of faults, taken in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: list[_QueuedFault] = []

    def push(self, fault: Fault, match: RequestMatcher = None, times: int = 1) -> None:
        """Queue `fault` for the next `times` requests that `match` accepts."""
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        with self._lock:
            self._queued.append(_QueuedFault(fault, match, times))

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._queued.clear()

    def pending(self) -> int:
        """Return how many fault uses are still queued."""
        with self._lock:
            return sum(entry.remaining for entry in self._queued)

    def take(
        self, body: dict[str, Any], request_text: Callable[[], str]
    ) -> Fault | None:
        """Remove and return the first fault whose matcher accepts the request."""
        with self._lock:
            if not self._queued:
                return None
            text: str | None = None
            for index, entry in enumerate(self._queued):
                if isinstance(entry.match, str):
                    text = request_text() if text is None else text
                    if entry.match not in text:
                        continue
                elif entry.match is not None and not entry.match(body):
                    continue
                entry.remaining -= 1
                if entry.remaining == 0:
                    del self._queued[index]
                return entry.fault
            return None
