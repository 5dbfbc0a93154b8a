"""FakeAnthropic: a loopback fake of the Claude Messages API for the real SDK.

Endpoints: POST /v1/messages (JSON or server-sent events), POST
/v1/messages/count_tokens, and Message Batches (create, retrieve, list, results,
cancel, delete). The fake checks the API key, the `anthropic-version` header, the
rate limit, and then the body and model rules. A queued fault or the responder
then decides the answer.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from .batches import BatchOutcome, BatchStore, validate_batch_body
from .errors import ApiError, error_body, invalid_request, new_id
from .faults import Fault, FaultQueue, RequestMatcher
from .httpserver import FakeHTTPServer, Reply
from .models import MODELS, ModelSpec
from .ratelimit import RequestBucket, utc_now
from .responses import (
    Answer,
    Responder,
    answer_for_fault,
    build_message,
    default_responder,
    request_text,
    stream_events,
    tool_answer,
)
from .tokens import PromptCache, find_breakpoints
from .validation import PreparedRequest, prepare_request

logger = logging.getLogger(__name__)

DEFAULT_API_KEY = "sk-ant-fake-test-key"
ORGANIZATION_ID = "00000000-0000-4000-8000-00000000fa4e"
MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""The Messages API request size limit from the "Claude API errors" page."""
_TRANSPORT_FAULTS = ("error", "drop_connection", "slow")
_BATCH_PATH = re.compile(r"/v1/messages/batches/([^/]+)(/results|/cancel)?")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: Any
    """The parsed JSON body, or None when the body is empty or not JSON."""
    time: float
    """Wall-clock time of arrival, in seconds since the epoch."""


class _DropConnection(Exception):
    """Raised to close the connection without a response."""


class FakeAnthropic:
    """A threaded fake of the Claude API on 127.0.0.1; use it as a context manager.

    `responder` returns the answer text (or a Fault) for a request JSON body. The
    default returns a minimal instance of the request's output schema.
    `batch_delay` is the age in seconds at which a batch ends when next read
    (None: only `end_batches()` ends batches). `batch_outcomes` maps custom_id to
    the outcome of that request. `min_cacheable_tokens` overrides every model's
    minimum cacheable prefix.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        latency: float = 0.0,
        requests_per_minute: int | None = None,
        responder: Responder | None = None,
        min_cacheable_tokens: int | None = None,
        batch_delay: float | None = 0.0,
        batch_outcomes: Mapping[str, BatchOutcome] | None = None,
        thinking_tokens: int = 24,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        models: Mapping[str, ModelSpec] = MODELS,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.latency = latency
        self.responder: Responder = responder or default_responder
        self.min_cacheable_tokens = min_cacheable_tokens
        self.batch_delay = batch_delay
        self.thinking_tokens = thinking_tokens
        self.max_request_bytes = max_request_bytes
        self.models = models
        self.faults = FaultQueue()
        self._clock_offset = 0.0
        self.cache = PromptCache(self._monotonic)
        self.bucket = (
            RequestBucket(requests_per_minute, self._monotonic)
            if requests_per_minute
            else None
        )
        self.batches = BatchStore(
            self._process_batch_request, self._wall, batch_outcomes
        )
        self._record_lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._counts: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> FakeAnthropic:
        """Bind the port and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeAnthropic is already running")
        self._stopping.clear()
        server = FakeHTTPServer(
            (self.host, self.port),
            self._handle,
            self._too_large,
            self.max_request_bytes,
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-anthropic",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and release the port."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections(join_timeout=5.0)
        server.server_close()
        thread.join(5.0)
        self._server = self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The URL to pass as the SDK's base_url, e.g. http://127.0.0.1:40123."""
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # Test controls

    def queue_fault(
        self, fault: Fault, match: RequestMatcher = None, times: int = 1
    ) -> None:
        """Queue `fault` for the next `times` message requests that `match` accepts.

        `match` is a substring of the request's system and message text, a
        predicate on the request JSON, or None for any request.
        """
        self.faults.push(fault, match, times)

    def set_batch_outcome(self, custom_id: str, outcome: BatchOutcome) -> None:
        """Make the batch request with `custom_id` end with `outcome`."""
        self.batches.outcomes[custom_id] = outcome

    def end_batches(self) -> None:
        """End every batch that is still processing."""
        self.batches.end_all()

    def advance_time(self, seconds: float) -> None:
        """Move the fake's clock forward: cache TTLs, rate limits, batch delays."""
        self._clock_offset += seconds

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, in arrival order."""
        with self._record_lock:
            return list(self._records)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Return the recorded requests whose path is `path`."""
        return [record for record in self.requests if record.path == path]

    def count(self, path: str) -> int:
        """Return how many requests arrived for `path`."""
        with self._record_lock:
            return self._counts[path]

    def clear_requests(self) -> None:
        """Forget the recorded requests and counters."""
        with self._record_lock:
            self._records.clear()
            self._counts.clear()

    # Request handling

    def _monotonic(self) -> float:
        return time.monotonic() + self._clock_offset

    def _wall(self) -> float:
        return time.time() + self._clock_offset

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _too_large(self, method: str, target: str, headers: dict[str, str]) -> Reply:
        path, _, query = target.partition("?")
        self._record(RecordedRequest(method, path, query, headers, None, time.time()))
        error = ApiError(413, "Request exceeds the maximum allowed number of bytes.")
        reply = self._error_reply(error, new_id("req"))
        reply.close = True
        return reply

    def _handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> Reply:
        request_id = new_id("req")
        path, _, query = target.partition("?")
        body, parse_error = _parse_json(raw)
        self._record(RecordedRequest(method, path, query, headers, body, time.time()))
        try:
            self._authenticate(headers)
            if parse_error is not None:
                raise invalid_request(
                    f"The request body is not valid JSON: {parse_error}"
                )
            reply = self._route(method, path, query, body)
        except ApiError as error:
            logger.debug("%s %s returned %s: %s", method, path, error.status, error)
            return self._error_reply(error, request_id)
        except _DropConnection:
            return Reply(drop=True)
        except Exception as error:
            logger.exception("fake Anthropic failed on %s %s", method, path)
            failure = ApiError(
                500, f"Fake server failure: {type(error).__name__}: {error}"
            )
            return self._error_reply(failure, request_id)
        reply.headers["request-id"] = request_id
        reply.headers["anthropic-organization-id"] = ORGANIZATION_ID
        return reply

    def _record(self, record: RecordedRequest) -> None:
        with self._record_lock:
            self._records.append(record)
            self._counts[record.path] += 1

    def _authenticate(self, headers: dict[str, str]) -> None:
        key = headers.get("x-api-key")
        authorization = headers.get("authorization", "")
        if not key and authorization.lower().startswith("bearer "):
            key = authorization[len("bearer ") :].strip()
        if not key:
            raise ApiError(
                401, "x-api-key header or Authorization bearer token is required"
            )
        if key != self.api_key:
            raise ApiError(401, "invalid x-api-key")
        if "anthropic-version" not in headers:
            raise invalid_request("anthropic-version: header is required")

    def _error_reply(self, error: ApiError, request_id: str) -> Reply:
        body = error_body(error.error_type, error.message, request_id)
        headers = {
            **error.headers,
            "request-id": request_id,
            "anthropic-organization-id": ORGANIZATION_ID,
        }
        return Reply(error.status, json.dumps(body).encode(), headers=headers)

    def _route(self, method: str, path: str, query: str, body: Any) -> Reply:
        if method == "POST" and path == "/v1/messages":
            return self._create_message(body)
        if method == "POST" and path == "/v1/messages/count_tokens":
            prepared = prepare_request(body, self.models, counting=True)
            return _json_reply({"input_tokens": prepared.input_tokens})
        if path == "/v1/messages/batches" and method in ("POST", "GET"):
            if method == "POST":
                batch = self.batches.create(validate_batch_body(body))
                return _json_reply(self.batches.to_json(batch, self.base_url))
            return self._list_batches(query)
        matched = _BATCH_PATH.fullmatch(path)
        if matched is not None:
            return self._batch_action(method, matched.group(1), matched.group(2))
        raise ApiError(404, "Not Found")

    # Messages

    def _create_message(self, body: Any) -> Reply:
        headers: dict[str, str] = {}
        if self.bucket is not None:
            state = self.bucket.take()
            headers = state.headers(utc_now(self._clock_offset))
            if not state.allowed:
                raise ApiError(
                    429,
                    f"This request would exceed your organization's rate limit of "
                    f"{state.limit} requests per minute. Retry after the time in the "
                    "retry-after header.",
                    headers=headers,
                )
        prepared = prepare_request(body, self.models)
        fault = self.faults.take(prepared.body, lambda: request_text(prepared.body))
        self._sleep(self.latency)
        answer = self._answer(prepared, fault)
        message = self._message_json(prepared, answer, "standard")
        if prepared.stream:
            return Reply(200, stream_events(message), "text/event-stream", headers)
        return _json_reply(message, headers)

    def _act_out(self, fault: Fault) -> None:
        """Perform a fault that acts on the HTTP exchange: error, drop or delay."""
        if fault.kind == "error":
            headers = {}
            if fault.retry_after is not None:
                headers["retry-after"] = str(fault.retry_after)
            raise ApiError(
                fault.status,
                fault.message,
                error_type=fault.error_type,
                headers=headers,
            )
        if fault.kind == "drop_connection":
            raise _DropConnection()
        if fault.kind == "slow":
            self._sleep(fault.seconds)

    def _answer(self, prepared: PreparedRequest, fault: Fault | None) -> Answer:
        if fault is not None and fault.kind in _TRANSPORT_FAULTS:
            self._act_out(fault)
            fault = None
        if fault is not None and fault.kind == "text":
            return answer_for_fault(fault, "")
        produced = self.responder(prepared.body)
        if isinstance(produced, Fault):
            self._act_out(produced)
            if fault is None and produced.kind not in _TRANSPORT_FAULTS:
                fault = produced
            produced = default_responder(prepared.body)
        if fault is not None:
            return answer_for_fault(fault, produced)
        if prepared.forced_tool is not None:
            return tool_answer(prepared, produced)
        return Answer(produced)

    def _message_json(
        self, prepared: PreparedRequest, answer: Answer, service_tier: str
    ) -> dict[str, Any]:
        breakpoints = find_breakpoints(prepared.spec.model_id, prepared.segments)
        min_tokens = self.min_cacheable_tokens or prepared.spec.min_cacheable_tokens
        usage = self.cache.apply(breakpoints, prepared.input_tokens, min_tokens)
        return build_message(
            prepared,
            answer,
            usage,
            message_id=new_id("msg"),
            service_tier=service_tier,
            thinking_tokens=self.thinking_tokens,
        )

    # Message Batches

    def _process_batch_request(self, custom_id: str, params: Any) -> dict[str, Any]:
        prepared = prepare_request(params, self.models, in_batch=True)
        try:
            answer = self._answer(prepared, None)
        except _DropConnection as error:
            raise ApiError(500, "Internal server error") from error
        return self._message_json(prepared, answer, "batch")

    def _list_batches(self, query: str) -> Reply:
        self.batches.end_due(self.batch_delay)
        params = {name: values[-1] for name, values in parse_qs(query).items()}
        try:
            limit = int(params.get("limit", "20"))
        except ValueError as error:
            raise invalid_request("limit: Input should be a valid integer") from error
        if not 1 <= limit <= 1000:
            raise invalid_request("limit: Input should be between 1 and 1000")
        ids = [batch.batch_id for batch in self.batches.newest_first()]
        start, end = 0, len(ids)
        if "after_id" in params and params["after_id"] in ids:
            start = ids.index(params["after_id"]) + 1
        if "before_id" in params and params["before_id"] in ids:
            end = ids.index(params["before_id"])
            start = max(start, end - limit)
        page = ids[start : min(end, start + limit)]
        data = [self.batches.to_json(self.batches.get(i), self.base_url) for i in page]
        return _json_reply(
            {
                "data": data,
                "has_more": start + limit < end,
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            }
        )

    def _batch_action(self, method: str, batch_id: str, action: str | None) -> Reply:
        self.batches.end_due(self.batch_delay)
        if method == "GET" and action is None:
            batch = self.batches.get(batch_id)
            return _json_reply(self.batches.to_json(batch, self.base_url))
        if method == "GET" and action == "/results":
            batch = self.batches.get(batch_id)
            if batch.ended_at is None:
                raise invalid_request(
                    f"Message Batch {batch_id} has not ended; results are available "
                    "once processing_status is 'ended'."
                )
            lines = "".join(json.dumps(result) + "\n" for result in batch.results)
            return Reply(200, lines.encode(), "application/binary")
        if method == "POST" and action == "/cancel":
            batch = self.batches.cancel(batch_id)
            return _json_reply(self.batches.to_json(batch, self.base_url))
        if method == "DELETE" and action is None:
            self.batches.delete(batch_id)
            return _json_reply({"id": batch_id, "type": "message_batch_deleted"})
        raise ApiError(404, "Not Found")


def _parse_json(raw: bytes) -> tuple[Any, str | None]:
    if not raw:
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as error:
        return None, str(error)


def _json_reply(payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(200, json.dumps(payload).encode(), headers=dict(headers or {}))
