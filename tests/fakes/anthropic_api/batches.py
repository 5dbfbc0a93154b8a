"""In-memory Message Batches: create, end, cancel, list, results.

Shapes follow `anthropic.types.messages.MessageBatch` and
`MessageBatchIndividualResponse` in anthropic 2.17.0. Limits come from the
"Batch processing" page on platform.claude.com: up to 100,000 requests per batch,
24 hours until a batch expires, `custom_id` unique within the batch. As in the
real API, each request's params are validated only when the batch is processed,
so an invalid request ends as an `errored` result rather than failing the create
call.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .errors import ApiError, invalid_request, new_id

BatchOutcome = Literal["succeeded", "errored", "expired", "canceled"]
OUTCOMES: tuple[BatchOutcome, ...] = ("succeeded", "errored", "expired", "canceled")
MAX_BATCH_REQUESTS = 100_000
EXPIRY_SECONDS = 24 * 3600
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

ProcessRequest = Callable[[str, Any], dict[str, Any]]
"""Processes one batch request (custom_id, params) and returns the Message JSON.
Raises ApiError when the params are invalid."""


def _rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Batch:
    """One Message Batch and, once ended, its results."""

    batch_id: str
    created_at: float
    requests: list[tuple[str, Any]]
    processing_status: str = "in_progress"
    cancel_initiated_at: float | None = None
    ended_at: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, base_url: str) -> dict[str, Any]:
        """Return the MessageBatch JSON object."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for result in self.results:
            counts[result["result"]["type"]] += 1
        ended_at = self.ended_at
        processing = len(self.requests) if ended_at is None else 0
        return {
            "id": self.batch_id,
            "type": "message_batch",
            "processing_status": self.processing_status,
            "request_counts": {"processing": processing, **counts},
            "created_at": _rfc3339(self.created_at),
            "expires_at": _rfc3339(self.created_at + EXPIRY_SECONDS),
            "ended_at": _rfc3339(ended_at) if ended_at is not None else None,
            "cancel_initiated_at": (
                _rfc3339(self.cancel_initiated_at) if self.cancel_initiated_at else None
            ),
            "archived_at": None,
            "results_url": (
                f"{base_url}/v1/messages/batches/{self.batch_id}/results"
                if ended_at is not None
                else None
            ),
        }


def validate_batch_body(body: Any) -> list[tuple[str, Any]]:
    """Check the create body; return its (custom_id, params) pairs."""
    if not isinstance(body, dict) or "requests" not in body:
        raise invalid_request("requests: Field required")
    requests = body["requests"]
    if not isinstance(requests, list) or not requests:
        raise invalid_request("requests: List should have at least 1 item")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise invalid_request(
            f"requests: List should have at most {MAX_BATCH_REQUESTS} items"
        )
    pairs: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(requests):
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
            raise invalid_request(
                f"requests.{index}.custom_id: String should match pattern "
                "'^[a-zA-Z0-9_-]{1,64}$'"
            )
        if custom_id in seen:
            raise invalid_request(
                f"requests.{index}.custom_id: Duplicate custom_id {custom_id!r}; "
                "each custom_id must be unique within the batch"
            )
        if not isinstance(item.get("params"), dict):
            raise invalid_request(f"requests.{index}.params: Field required")
        seen.add(custom_id)
        pairs.append((custom_id, item["params"]))
    return pairs


class BatchStore:
    """Thread-safe store of batches. `process` handles each request when its batch
    ends."""

    def __init__(
        self,
        process: ProcessRequest,
        clock: Callable[[], float],
        outcomes: Mapping[str, BatchOutcome] | None = None,
    ) -> None:
        self._process = process
        self._clock = clock
        self._lock = threading.Lock()
        self._ending = threading.Lock()
        self._batches: dict[str, Batch] = {}
        self.outcomes: dict[str, BatchOutcome] = dict(outcomes or {})

    def create(self, requests: list[tuple[str, Any]]) -> Batch:
        """Store a new in-progress batch."""
        batch = Batch(new_id("msgbatch"), self._clock(), requests)
        with self._lock:
            self._batches[batch.batch_id] = batch
        return batch

    def get(self, batch_id: str) -> Batch:
        """Return a batch, or raise a 404 ApiError."""
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"No Message Batch found with id {batch_id!r}")
        return batch

    def newest_first(self) -> list[Batch]:
        """Return every batch, newest first."""
        with self._lock:
            return list(reversed(self._batches.values()))

    def delete(self, batch_id: str) -> None:
        """Delete an ended batch; a batch still processing must be canceled first."""
        batch = self.get(batch_id)
        if batch.ended_at is None:
            raise invalid_request(
                f"Message Batch {batch_id} is still processing. Cancel it and wait "
                "for processing to end before deleting it."
            )
        with self._lock:
            self._batches.pop(batch_id, None)

    def cancel(self, batch_id: str) -> Batch:
        """Mark a batch as canceling; its unprocessed requests end as canceled."""
        batch = self.get(batch_id)
        with self._lock:
            if batch.ended_at is None and batch.cancel_initiated_at is None:
                batch.cancel_initiated_at = self._clock()
                batch.processing_status = "canceling"
        return batch

    def end_due(self, delay: float | None) -> None:
        """End every batch older than `delay` seconds (none when `delay` is None)."""
        if delay is None:
            return
        now = self._clock()
        for batch in self.newest_first():
            if batch.ended_at is None and now - batch.created_at >= delay:
                self.end(batch)

    def end_all(self) -> None:
        """End every batch that is still processing."""
        for batch in self.newest_first():
            if batch.ended_at is None:
                self.end(batch)

    def end(self, batch: Batch) -> None:
        """Process every request of `batch`, then publish the results and end it."""
        with self._ending:
            if batch.ended_at is not None:
                return
            with self._lock:
                canceled = batch.cancel_initiated_at is not None
                outcomes = dict(self.outcomes)
            results = [
                self._result(custom_id, params, outcomes.get(custom_id), canceled)
                for custom_id, params in batch.requests
            ]
            with self._lock:
                batch.results = results
                batch.processing_status = "ended"
                batch.ended_at = self._clock()

    def to_json(self, batch: Batch, base_url: str) -> dict[str, Any]:
        """Return the MessageBatch JSON of `batch`, read under the store's lock."""
        with self._lock:
            return batch.to_json(base_url)

    def _result(
        self,
        custom_id: str,
        params: Any,
        outcome: BatchOutcome | None,
        canceled: bool,
    ) -> dict[str, Any]:
        kind = outcome or ("canceled" if canceled else "succeeded")
        result: dict[str, Any] = {"type": kind}
        if kind == "errored":
            result["error"] = _error_response(ApiError(500, "Internal server error"))
        elif kind == "succeeded":
            try:
                result["message"] = self._process(custom_id, params)
            except ApiError as error:
                result = {"type": "errored", "error": _error_response(error)}
        return {"custom_id": custom_id, "result": result}


def _error_response(error: ApiError) -> dict[str, Any]:
    return {"type": "error", "error": error.error_object(), "request_id": new_id("req")}
