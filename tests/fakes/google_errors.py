"""Error bodies in the shapes that Google's Drive, Docs and OAuth servers send.

Drive v3 sends the older "errors" list next to the newer "status" string::

    {"error": {"code": 404, "message": "File not found: abc.",
               "errors": [{"message": "File not found: abc.", "domain": "global",
                           "reason": "notFound", "location": "fileId",
                           "locationType": "parameter"}],
               "status": "NOT_FOUND"}}

Docs v1 sends only code, message and status (and sometimes "details"), and the
OAuth endpoints send ``{"error": "invalid_grant", "error_description": "..."}``.
Handlers raise :class:`ApiError`; the server turns it into the HTTP response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# google.rpc.Code names that Google's JSON errors carry for each HTTP status.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
}

INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access "
    "token, login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 "
    "access token, login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)

# Messages Drive sends with each usage-limit reason.
RATE_LIMIT_MESSAGES = {
    "userRateLimitExceeded": (
        "User rate limit exceeded. Rate of requests for user exceed configured "
        "project quota. You may consider re-evaluating expected per-user traffic "
        "to the API and adjust project quota limits accordingly."
    ),
    "rateLimitExceeded": "Rate Limit Exceeded",
    "dailyLimitExceeded": "Daily Limit Exceeded",
    "sharingRateLimitExceeded": "Sharing Rate Limit Exceeded",
}
USAGE_LIMIT_REASONS = frozenset(RATE_LIMIT_MESSAGES)


@dataclass
class ApiError(Exception):
    """An error response: HTTP status, JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        return json.dumps(self.body, indent=2).encode()


def drive_error(
    status: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    location: str | None = None,
    location_type: str | None = None,
    details: list[dict[str, Any]] | None = None,
    top_message: str | None = None,
    item_message: str | None = None,
) -> ApiError:
    """Build a Drive v3 error. ``top_message`` overrides only the outer message."""
    item: dict[str, Any] = {
        "message": item_message or message,
        "domain": domain,
        "reason": reason,
    }
    if location is not None:
        item["location"] = location
        item["locationType"] = location_type or "parameter"
    body: dict[str, Any] = {
        "code": status,
        "message": top_message or message,
        "errors": [item],
        "status": STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        body["details"] = details
    return ApiError(status, {"error": body})


def docs_error(
    status: int,
    message: str,
    *,
    status_name: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> ApiError:
    """Build a Docs v1 error (code, message, status and optional details)."""
    body: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": status_name or STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        body["details"] = details
    return ApiError(status, {"error": body})


def oauth_error(status: int, error: str, description: str) -> ApiError:
    """Build an OAuth 2.0 token-endpoint error (RFC 6749 section 5.2)."""
    return ApiError(status, {"error": error, "error_description": description})


def error_info(reason: str, service: str, **metadata: str) -> dict[str, Any]:
    """Build a ``google.rpc.ErrorInfo`` detail entry."""
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": service, **metadata},
    }


def not_found(file_id: str) -> ApiError:
    return drive_error(
        404,
        "notFound",
        f"File not found: {file_id}.",
        location="fileId",
    )


def invalid_value(location: str, message: str = "Invalid Value") -> ApiError:
    return drive_error(400, "invalid", message, location=location)


def insufficient_file_permissions() -> ApiError:
    return drive_error(
        403,
        "insufficientFilePermissions",
        "The user does not have sufficient permissions for this file.",
    )


def drive_auth_error(missing: bool) -> ApiError:
    """Build the 401 that Drive sends for a missing or rejected access token."""
    if missing:
        error = drive_error(
            401,
            "required",
            MISSING_CREDENTIALS,
            item_message="Login Required.",
            location="Authorization",
            location_type="header",
        )
    else:
        error = drive_error(
            401,
            "authError",
            INVALID_CREDENTIALS,
            item_message="Invalid Credentials",
            location="Authorization",
            location_type="header",
        )
    error.headers["WWW-Authenticate"] = _www_authenticate(missing)
    return error


def docs_auth_error(missing: bool) -> ApiError:
    """Build the 401 that the Docs API sends for a missing or rejected token."""
    reason = "CREDENTIALS_MISSING" if missing else "ACCESS_TOKEN_EXPIRED"
    message = MISSING_CREDENTIALS if missing else INVALID_CREDENTIALS
    error = docs_error(
        401, message, details=[error_info(reason, "docs.googleapis.com")]
    )
    error.headers["WWW-Authenticate"] = _www_authenticate(missing)
    return error


def scope_error(service: str, method_id: str, drive_style: bool) -> ApiError:
    """Build the 403 for a token whose scopes do not cover the method."""
    details = [
        error_info(
            "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            service,
            method=method_id,
        )
    ]
    message = "Request had insufficient authentication scopes."
    if drive_style:
        return drive_error(
            403,
            "insufficientPermissions",
            message,
            item_message="Insufficient Permission",
            details=details,
        )
    return docs_error(403, message, details=details)


def rate_limit_error(status: int, reason: str, drive_style: bool) -> ApiError:
    """Build a usage-limit error as Drive (403/429) or Docs (429) sends it."""
    if drive_style:
        message = RATE_LIMIT_MESSAGES.get(reason, "Rate Limit Exceeded")
        return drive_error(status, reason, message, domain="usageLimits")
    message = (
        "Quota exceeded for quota metric 'Write requests' and limit 'Write "
        "requests per minute per user' of service 'docs.googleapis.com' for "
        "consumer 'project_number:000000000000'."
    )
    return docs_error(
        status,
        message,
        status_name="RESOURCE_EXHAUSTED",
        details=[error_info("RATE_LIMIT_EXCEEDED", "docs.googleapis.com")],
    )


def server_error(status: int, drive_style: bool) -> ApiError:
    """Build a 5xx: Drive's ``backendError`` or the Docs internal error."""
    if drive_style:
        message = "Backend Error" if status == 500 else "Service Unavailable"
        return drive_error(status, "backendError", message)
    message = (
        "Internal error encountered."
        if status == 500
        else "The service is currently unavailable."
    )
    return docs_error(status, message)


def _www_authenticate(missing: bool) -> str:
    if missing:
        return 'Bearer realm="https://accounts.google.com/"'
    return 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
