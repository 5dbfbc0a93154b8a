"""Drive v3 and Docs v1 clients, and running their calls with retries.

Each thread gets its own clients, because httplib2 connections must not be
shared between threads. Every call goes through :meth:`GoogleSession.execute`,
which retries with exponential backoff and jitter after Drive's 403 rate-limit
reasons (``userRateLimitExceeded``, ``rateLimitExceeded``), 408, 429, 5xx and
dropped connections. googleapiclient's own retries are off (``num_retries=0``)
so that each retry is counted and logged here. A 401 makes google-auth-httplib2
refresh the access token and resend the request once.

``GRADEBOT_GOOGLE_API_ENDPOINT`` replaces ``https://www.googleapis.com`` for
both APIs: Drive calls go to ``BASE/drive/v3/``, uploads to
``BASE/upload/drive/v3/`` and Docs calls to ``BASE/v1/documents``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from gradebot_cli.errors import ConfigError, GoogleAuthError, GoogleError
from gradebot_cli.google.auth import (
    LoadedCredentials,
    TokenSaver,
    load_credentials,
    login_flags,
    refresh_failure,
)
from gradebot_cli.settings import env_int

log = logging.getLogger(__name__)

ENV_ENDPOINT = "GRADEBOT_GOOGLE_API_ENDPOINT"
ENV_MAX_RETRIES = "GRADEBOT_GOOGLE_MAX_RETRIES"
ENV_BACKOFF = "GRADEBOT_GOOGLE_BACKOFF_SECONDS"
ENV_TIMEOUT = "GRADEBOT_GOOGLE_TIMEOUT"

RATE_LIMIT_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})
SCOPE_REASONS = frozenset(
    {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
)
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before sending a failed call again.

    The n-th retry waits ``base_seconds * 2**n`` (at most ``max_seconds``) plus a
    random jitter of up to ``base_seconds``, or the server's Retry-After.
    """

    max_retries: int = 6
    base_seconds: float = 1.0
    max_seconds: float = 32.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        retries = env_int(ENV_MAX_RETRIES, cls.max_retries, minimum=0)
        raw = os.environ.get(ENV_BACKOFF, "").strip()
        try:
            base = float(raw) if raw else cls.base_seconds
        except ValueError:
            raise ConfigError(
                f"{ENV_BACKOFF}={raw!r} is not a number of seconds."
            ) from None
        if base < 0:
            raise ConfigError(f"{ENV_BACKOFF}={raw!r} must not be negative.")
        return cls(max_retries=retries, base_seconds=base)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_seconds)
        backoff: float = min(self.base_seconds * 2.0**retry, self.max_seconds)
        return backoff + random.uniform(0, self.base_seconds)


class ApiFailure(GoogleError):
    """A Drive or Docs call that failed for good: not retryable, or out of retries.

    ``status`` is the HTTP status (0 for a network failure) and ``reason`` the
    first reason Google gave (``notFound``, ``exportSizeLimitExceeded``,
    ``FAILED_PRECONDITION``...).
    """

    def __init__(self, message: str, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def api_endpoint() -> str | None:
    value = os.environ.get(ENV_ENDPOINT, "").strip().rstrip("/")
    return value.removesuffix("/drive/v3") or None


def _timeout() -> float:
    raw = os.environ.get(ENV_TIMEOUT, "").strip()
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise ConfigError(
            f"{ENV_TIMEOUT}={raw!r} is not a number of seconds."
        ) from None


class GoogleSession:
    """Credentials plus per-thread Drive and Docs clients, closed together."""

    def __init__(
        self,
        loaded: LoadedCredentials,
        *,
        scopes: Sequence[str] = (),
        policy: RetryPolicy | None = None,
        endpoint: str | None = None,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.loaded = loaded
        self.scopes = tuple(scopes)
        self.policy = policy or RetryPolicy.from_env()
        self.endpoint = endpoint if endpoint is not None else api_endpoint()
        self.timeout = timeout or _timeout()
        self._sleep = sleep
        self._saver = TokenSaver(loaded)
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()
        self._retries = 0

    @classmethod
    def open(cls, scopes: Sequence[str], **options: Any) -> GoogleSession:
        """Load credentials that allow ``scopes`` and start a session."""
        return cls(load_credentials(scopes), scopes=scopes, **options)

    @property
    def credentials(self) -> Any:
        return self.loaded.credentials

    @property
    def retries(self) -> int:
        """Calls sent again so far in this session."""
        with self._lock:
            return self._retries

    # -- clients ---------------------------------------------------------------

    def drive(self) -> Any:
        """Return this thread's Drive v3 client."""
        return self._client("drive", "v3")

    def docs(self) -> Any:
        """Return this thread's Docs v1 client."""
        return self._client("docs", "v1")

    def _client(self, api: str, version: str) -> Any:
        clients: dict[str, Any] | None = getattr(self._local, "clients", None)
        if clients is None:
            clients = self._local.clients = {}
        if api not in clients:
            clients[api] = self._build(api, version)
        return clients[api]

    def _build(self, api: str, version: str) -> Any:
        import google_auth_httplib2
        import httplib2
        from googleapiclient.discovery import build

        http = google_auth_httplib2.AuthorizedHttp(
            self.credentials,
            http=httplib2.Http(timeout=self.timeout),
            max_refresh_attempts=1,
        )
        options = None
        if self.endpoint:
            suffix = "/drive/v3/" if api == "drive" else "/"
            options = {"api_endpoint": self.endpoint + suffix}
        resource = build(
            api,
            version,
            http=http,
            client_options=options,
            cache_discovery=False,
            static_discovery=True,
        )
        with self._lock:
            self._opened.append(resource)
        return resource

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for resource in opened:
            resource.close()
        self._local = threading.local()

    def __enter__(self) -> GoogleSession:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- calls -------------------------------------------------------------------

    def execute(self, request: Any, *, action: str, idempotent: bool = True) -> Any:
        """Run one API request, retrying what is worth retrying.

        ``what`` names the call and its file for messages ("export of 'Essay'
        (ID ...)"). A call that is not ``idempotent`` (creating a file) is
        retried only after errors that mean the server did not act on it: 429
        and the 403 rate limits. Raises ApiFailure or GoogleAuthError.
        """
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError
        from httplib2 import HttpLib2Error, ServerNotFoundError

        retry = 0
        while True:
            try:
                result = request.execute(num_retries=0)
            except HttpError as error:
                failure = http_failure(error, action, self.scopes)
                wait = self._wait(failure, error, retry, idempotent)
            except RefreshError as error:
                if not getattr(error, "retryable", False):
                    raise refresh_failure(self.loaded, error) from None
                failure = ApiFailure(f"{action} failed: token refresh: {error}", 0, "")
                wait = self._wait_network(retry, idempotent)
            except ServerNotFoundError as error:
                raise GoogleError(
                    f"{action} failed: cannot resolve the Google API host ({error}); "
                    f"check the network and {ENV_ENDPOINT}."
                ) from None
            except (OSError, HttpLib2Error, TransportError) as error:
                failure = ApiFailure(
                    f"{action} failed: network error ({type(error).__name__}: {error}); "
                    "check the connection and run the command again.",
                    0,
                    "network",
                )
                wait = self._wait_network(retry, idempotent)
            else:
                self._saver.save_if_refreshed()
                return result
            if wait is None:
                raise failure
            retry += 1
            self._count_retry(action, failure, retry, wait)
            self._sleep(wait)

    def _wait(
        self, failure: ApiFailure, error: Any, retry: int, idempotent: bool
    ) -> float | None:
        if retry >= self.policy.max_retries:
            return None
        status = failure.status
        rate_limited = status == 429 or (
            status == 403 and failure.reason in RATE_LIMIT_REASONS
        )
        server_side = status == 408 or status >= 500
        if not (rate_limited or (server_side and idempotent)):
            return None
        return self.policy.delay(retry, _retry_after(error))

    def _wait_network(self, retry: int, idempotent: bool) -> float | None:
        if not idempotent or retry >= self.policy.max_retries:
            return None
        return self.policy.delay(retry)

    def _count_retry(
        self, action: str, failure: ApiFailure, retry: int, wait: float
    ) -> None:
        with self._lock:
            self._retries += 1
        label = (
            f"HTTP {failure.status} {failure.reason}"
            if failure.status
            else "network error"
        )
        log.warning(
            "%s: %s; retry %d of %d in %.1fs",
            action,
            label.strip(),
            retry,
            self.policy.max_retries,
            wait,
        )


def _retry_after(error: Any) -> float | None:
    value = getattr(error, "resp", {}).get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def error_body(error: Any) -> dict[str, Any]:
    """Return the ``error`` object of a Google JSON error response, or {}."""
    content = getattr(error, "content", b"")
    try:
        data = json.loads(
            content.decode("utf-8") if isinstance(content, bytes) else content
        )
    except (ValueError, UnicodeDecodeError):
        return {}
    body = data.get("error") if isinstance(data, dict) else None
    return body if isinstance(body, dict) else {}


def error_reason(error: Any) -> str:
    """Return the first reason in a Drive or Docs error (or its status name)."""
    body = error_body(error)
    for item in body.get("errors") or []:
        if isinstance(item, dict) and item.get("reason"):
            return str(item["reason"])
    for item in body.get("details") or []:
        if isinstance(item, dict) and item.get("reason"):
            return str(item["reason"])
    return str(body.get("status") or "")


def http_failure(error: Any, action: str, scopes: Sequence[str] = ()) -> ApiFailure:
    """Describe an HttpError: what failed, Google's words, and what to do."""
    status = int(error.resp.status)
    reason = error_reason(error)
    body = error_body(error)
    message = str(body.get("message") or getattr(error, "reason", "") or "").strip()
    label = f"HTTP {status}" + (f" {reason}" if reason else "")
    text = f"{action} failed: {label}: {message.rstrip('.')}."
    hint = _hint(status, reason, scopes)
    if hint:
        text += " " + hint
    if status == 401:
        return _AuthFailure(text, status, reason)
    return ApiFailure(text, status, reason)


class _AuthFailure(ApiFailure, GoogleAuthError):
    """A 401 that remained after the token was refreshed."""


def _hint(status: int, reason: str, scopes: Sequence[str]) -> str:
    if status == 401:
        return "Run `gradebot auth login` to sign in again."
    if reason in SCOPE_REASONS:
        return (
            "The sign-in lacks a scope this needs; run "
            f"`gradebot auth login {login_flags(scopes)}`."
        )
    if status == 404:
        return "Check the ID, and that the signed-in account can open the file."
    if status == 403 and reason in ("insufficientFilePermissions", "forbidden"):
        return "Ask the owner to share it with the signed-in account."
    if status == 429 or reason in RATE_LIMIT_REASONS:
        return (
            "Google's rate limit held after every retry; run the command again later."
        )
    if status >= 500:
        return "Google had a server error; run the command again."
    return ""
