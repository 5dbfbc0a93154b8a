"""Error bodies and ids in the shapes the Claude API uses.

Source: the "Claude API errors" page on platform.claude.com, which maps each HTTP
status to an `error.type` and shows the body
`{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}`.
"""

from __future__ import annotations

import os
from typing import Any

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class ApiError(Exception):
    """An HTTP error response: status, `error.type` and message."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.headers = headers or {}

    def error_object(self) -> dict[str, str]:
        """Return the inner `error` object, as batch results embed it."""
        return {"type": self.error_type, "message": self.message}


def invalid_request(message: str) -> ApiError:
    """Build a 400 invalid_request_error."""
    return ApiError(400, message)


def error_body(error_type: str, message: str, request_id: str | None) -> dict[str, Any]:
    """Return the JSON body of an error response."""
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    }


def new_id(prefix: str) -> str:
    """Return a random id such as `req_011C...`, shaped like the real API's ids."""
    digits = int.from_bytes(os.urandom(16), "big")
    chars = []
    for _ in range(22):
        digits, remainder = divmod(digits, 62)
        chars.append(_BASE62[remainder])
    return f"{prefix}_011C{''.join(chars)}"
