"""A requests-per-minute token bucket and the rate-limit headers it reports.

The "Rate limits" page on platform.claude.com describes a token bucket whose
capacity refills continuously up to the per-minute limit, rather than a window
that resets each minute. Responses carry `anthropic-ratelimit-requests-limit`,
`-remaining` and `-reset` (RFC 3339, the time the bucket is full again); a 429
adds `retry-after` in whole seconds.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class BucketState:
    """The outcome of one request against the bucket."""

    allowed: bool
    limit: int
    remaining: int
    seconds_until_full: float
    retry_after: int

    def headers(self, now: datetime) -> dict[str, str]:
        """Return the `anthropic-ratelimit-requests-*` (and on 429 `retry-after`)."""
        reset = now + timedelta(seconds=self.seconds_until_full)
        headers = {
            "anthropic-ratelimit-requests-limit": str(self.limit),
            "anthropic-ratelimit-requests-remaining": str(self.remaining),
            "anthropic-ratelimit-requests-reset": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if not self.allowed:
            headers["retry-after"] = str(self.retry_after)
        return headers


class RequestBucket:
    """Thread-safe token bucket: `per_minute` capacity, refilled at per_minute/60/s."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        if per_minute < 1:
            raise ValueError(
                f"requests per minute must be at least 1, got {per_minute}"
            )
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._level = self._capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> BucketState:
        """Take one request from the bucket if one is available."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._level = min(self._capacity, self._level + elapsed * self._rate)
            self._updated = now
            allowed = self._level >= 1.0
            if allowed:
                self._level -= 1.0
            shortfall = max(0.0, 1.0 - self._level)
            return BucketState(
                allowed=allowed,
                limit=int(self._capacity),
                remaining=int(self._level),
                seconds_until_full=(self._capacity - self._level) / self._rate,
                retry_after=max(1, math.ceil(shortfall / self._rate)),
            )


def utc_now(offset_seconds: float = 0.0) -> datetime:
    """Return the current UTC time shifted by `offset_seconds`."""
    return datetime.now(UTC) + timedelta(seconds=offset_seconds)
