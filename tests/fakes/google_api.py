"""A loopback fake of Google's OAuth, Drive v3 and Docs v1 servers.

Tests point the real client libraries at it::

    with FakeGoogle() as google:
        creds = google.user_credentials()
        drive = build("drive", "v3", credentials=creds,
                      client_options={"api_endpoint": google.endpoint})
        docs = build("docs", "v1", credentials=creds,
                     client_options={"api_endpoint": google.endpoint})

One port serves every API. With ``api_endpoint`` set, google-api-python-client
2.x sends Drive calls to ``/files``... (the endpoint replaces
``https://www.googleapis.com/drive/v3/``), Docs calls to ``/v1/documents/...``
and media uploads to ``https://<host:port>/upload/drive/v3/files``: uploads
always use TLS. The port therefore speaks both plain HTTP and TLS, and Drive
is also served under ``/drive/v3/`` for clients configured with
:attr:`FakeGoogle.drive_endpoint`. Call :func:`tests.fakes.tls.trust_in_httplib2`
(or pass ``ca_certs=google.ca_file`` to ``httplib2.Http``) so the upload's TLS
certificate is trusted.

The fake records every request (:attr:`FakeGoogle.requests`), can fail matching
requests on purpose (:meth:`FakeGoogle.fail`, :meth:`FakeGoogle.drop_connection`,
:meth:`FakeGoogle.rate_limit_storm`) and checks access tokens and their scopes
against the scopes each method lists in its discovery document.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from tests.fakes import tls
from tests.fakes.google_docs_api import DocsApi
from tests.fakes.google_drive import DriveReader, DriveSettings, json_response
from tests.fakes.google_drive_model import Account
from tests.fakes.google_drive_permissions import DrivePermissions
from tests.fakes.google_drive_upload import DriveUploads
from tests.fakes.google_drive_write import DriveWriter
from tests.fakes.google_errors import (
    USAGE_LIMIT_REASONS,
    ApiError,
    docs_auth_error,
    docs_error,
    drive_auth_error,
    drive_error,
    oauth_error,
    rate_limit_error,
    scope_error,
    server_error,
)
from tests.fakes.google_fake_state import FakeState
from tests.fakes.google_fields import discovery
from tests.fakes.google_oauth import AccessToken, subject_id
from tests.fakes.google_server import (
    Fault,
    LoopbackServer,
    RecordedRequest,
    Request,
    Response,
    Storm,
)

# Paths of the Drive and Docs APIs (not OAuth), used as the default target of
# rate-limit storms.
API_PATHS = r"^/(?:drive/v3|upload/drive/v3|v1/documents|files|about|drives)(?:/|$|:)"
OAUTH_PATHS = frozenset({"/token", "/revoke", "/tokeninfo", "/o/oauth2/auth"})
USERINFO_PATHS = frozenset({"/oauth2/v3/userinfo", "/v1/userinfo"})
# Scopes that let files.get read metadata but not download content.
METADATA_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/drive.metadata",
        "https://www.googleapis.com/auth/drive.metadata.readonly",
    }
)
logger = logging.getLogger(__name__)

Handler = Callable[..., Response]


@functools.cache
def method_scopes() -> dict[str, frozenset[str]]:
    """Map discovery method ids (``drive.files.list``) to their OAuth scopes."""
    result: dict[str, frozenset[str]] = {}

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                result[method["id"]] = frozenset(method.get("scopes", ()))
            walk(resource.get("resources", {}))

    for api in ("drive.v3", "docs.v1"):
        walk(discovery(api)["resources"])
    return result


class FakeGoogle(FakeState):
    """Fake Google server on 127.0.0.1 with port 0, run in a background thread."""

    def __init__(
        self,
        *,
        scheme: str = "http",
        teacher_email: str = "teacher@school.example",
        teacher_name: str = "Ada Teacher",
        access_token_lifetime: int = 3599,
        export_size_limit: int | None = None,
        seed: int = 20240901,
    ) -> None:
        super().__init__(teacher_email, teacher_name, access_token_lifetime, seed)
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be 'http' or 'https', not {scheme!r}")
        self.scheme = scheme
        self.settings = DriveSettings()
        if export_size_limit is not None:
            self.settings.export_size_limit = export_size_limit
        self._lock = threading.RLock()
        reader = DriveReader(self.store, self.clock, self.settings)
        writer = DriveWriter(self.store, self.clock)
        self._routes = _routes(
            reader,
            writer,
            DrivePermissions(self.store, self.clock),
            DriveUploads(writer, self.store),
            DocsApi(self.store, self.clock),
        )
        self._server = LoopbackServer(self._dispatch, tls.server_context())
        self._started = False

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> FakeGoogle:
        if not self._started:
            self._server.start()
            self._started = True
            self.oauth.token_uris.update(
                {
                    f"{scheme}://127.0.0.1:{self.port}/token"
                    for scheme in ("http", "https")
                }
            )
        return self

    def stop(self) -> None:
        if self._started:
            self._server.stop()
            self._started = False

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def endpoint(self) -> str:
        """The ``api_endpoint`` for both the Drive v3 and the Docs v1 client."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def drive_endpoint(self) -> str:
        """An ``api_endpoint`` for Drive that keeps the real ``/drive/v3/`` path."""
        return f"{self.endpoint}/drive/v3/"

    @property
    def token_uri(self) -> str:
        return f"{self.endpoint}/token"

    @property
    def revoke_uri(self) -> str:
        return f"{self.endpoint}/revoke"

    @property
    def auth_uri(self) -> str:
        return f"{self.endpoint}/o/oauth2/auth"

    @property
    def tokeninfo_uri(self) -> str:
        return f"{self.endpoint}/tokeninfo"

    @property
    def userinfo_uri(self) -> str:
        return f"{self.endpoint}/oauth2/v3/userinfo"

    @property
    def ca_file(self) -> str:
        """Path of the PEM file with the CA that signed the fake's certificate."""
        return tls.ca_file()

    @property
    def export_size_limit(self) -> int:
        return self.settings.export_size_limit

    @export_size_limit.setter
    def export_size_limit(self, size: int) -> None:
        self.settings.export_size_limit = size

    # -- faults ----------------------------------------------------------------

    def fail(
        self,
        method: str = ".*",
        path: str = ".*",
        *,
        status: int = 403,
        reason: str = "userRateLimitExceeded",
        message: str | None = None,
        count: int = 1,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Make the next ``count`` requests matching ``method`` and ``path``
        (regular expressions, searched within the path) fail with ``status``.

        The body has the real shape for the API the path belongs to: Drive's
        ``usageLimits`` errors for rate-limit reasons, ``backendError`` for 5xx,
        the Docs API's ``RESOURCE_EXHAUSTED`` for Docs paths, or an OAuth error
        for the token endpoint. ``body`` replaces it entirely. Paths are matched
        as received: ``/files`` from clients built with :attr:`endpoint`,
        ``/drive/v3/files`` from clients built with :attr:`drive_endpoint`.
        """
        make = functools.partial(_fault_response, status, reason, message, body)
        self.faults.add(Fault(re.compile(method), re.compile(path), count, make))

    def drop_connection(
        self, method: str = ".*", path: str = ".*", count: int = 1
    ) -> None:
        """Close the connection without a response for the next ``count`` matching
        requests. httplib2 resends a request once after a dropped connection,
        so ``count=2`` is needed for a client to see the failure."""

        def make(request: Request) -> Response:
            return Response(0, drop=True)

        self.faults.add(Fault(re.compile(method), re.compile(path), count, make))

    def rate_limit_storm(
        self,
        *,
        every: int | None = None,
        fraction: float | None = None,
        requests: int | None = None,
        seconds: float | None = None,
        status: int = 403,
        reason: str = "rateLimitExceeded",
        path: str = API_PATHS,
    ) -> None:
        """Fail every Nth (``every``) or a seeded-random ``fraction`` of API
        requests, for the next ``requests`` requests or ``seconds`` seconds
        (forever if neither is given)."""
        if (every is None) == (fraction is None):
            raise ValueError("give exactly one of every= or fraction=")
        make = functools.partial(_fault_response, status, reason, None, None)
        until = time.monotonic() + seconds if seconds is not None else None
        storm = Storm(
            re.compile(path),
            every,
            fraction,
            requests,
            until,
            make,
            self.faults.new_rng(),
        )
        self.faults.add_storm(storm)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- request log -------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, with bearer tokens redacted."""
        return self.log.entries()

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests whose method matches and whose path contains ``path``
        (a regular expression)."""
        pattern = re.compile(path)
        return [
            entry
            for entry in self.log.entries()
            if re.fullmatch(method, entry.method) and pattern.search(entry.path)
        ]

    def clear_requests(self) -> None:
        self.log.clear()

    # -- dispatch ----------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        entry = self.log.add(request)
        response = self.faults.check(request)
        if response is None:
            try:
                with self._lock:
                    response = self._route(request)
            except ApiError as error:
                response = error_response(error)
            except Exception as error:
                # A bug in the fake: respond 500 so the test fails at this request.
                logger.exception(
                    "fake Google failed on %s %s", request.method, request.path
                )
                body = {"code": 500, "message": f"fake Google error: {error!r}"}
                response = error_response(ApiError(500, {"error": body}))
        entry.status = response.status
        return response

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/token" and request.method == "POST":
            return self.oauth.token_endpoint(request)
        if path == "/revoke":
            return self.oauth.revoke_endpoint(request)
        if path == "/tokeninfo":
            return self.oauth.tokeninfo_endpoint(request)
        if path == "/o/oauth2/auth":
            return self.oauth.authorize_endpoint(request)
        if path in USERINFO_PATHS:
            return self._userinfo(request)
        if path.startswith("/drive/v3/"):
            path = path[len("/drive/v3") :]
        for method, pattern, method_id, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and request.method == method:
                account = self._authorize(request, method_id)
                return handler(request, account, **match.groupdict())
        page = (
            b"<html><body>The requested URL was not found on this server.</body></html>"
        )
        return Response(404, page, "text/html; charset=UTF-8")

    def _authorize(self, request: Request, method_id: str) -> Account:
        drive_style = method_id.startswith("drive.")
        header = request.header("authorization")
        token = self.oauth.authenticate(header)
        if token is None:
            if drive_style:
                raise drive_auth_error(missing=not header)
            raise docs_auth_error(missing=not header)
        allowed = method_scopes()[method_id]
        if method_id == "drive.files.get" and request.param("alt") == "media":
            allowed = allowed - METADATA_SCOPES
        if not allowed & set(token.scopes):
            service = "drive.googleapis.com" if drive_style else "docs.googleapis.com"
            raise scope_error(service, method_id, drive_style)
        return self._account_for(token)

    def _account_for(self, token: AccessToken) -> Account:
        account = self.store.accounts.get(token.email)
        if account is None:
            account = self.store.add_account(token.email, None, self.clock.now())
        return account

    def _userinfo(self, request: Request) -> Response:
        token = self.oauth.authenticate(request.header("authorization"))
        if token is None:
            raise oauth_error(401, "invalid_request", "Invalid Credentials")
        account = self._account_for(token)
        return json_response(
            {
                "sub": subject_id(account.email),
                "name": account.display_name,
                "email": account.email,
                "email_verified": True,
            }
        )


def _routes(
    reader: DriveReader,
    writer: DriveWriter,
    permissions: DrivePermissions,
    uploads: DriveUploads,
    docs: DocsApi,
) -> list[tuple[str, re.Pattern[str], str, Handler]]:
    file = r"/files/(?P<file_id>[^/]+)"
    table: list[tuple[str, str, str, Handler]] = [
        ("GET", r"/files", "drive.files.list", reader.list_files),
        ("POST", r"/files", "drive.files.create", writer.create),
        ("GET", file, "drive.files.get", reader.get_file),
        ("PATCH", file, "drive.files.update", writer.update),
        ("DELETE", file, "drive.files.delete", writer.delete),
        ("GET", file + "/export", "drive.files.export", reader.export),
        ("POST", file + "/copy", "drive.files.copy", writer.copy),
        (
            "GET",
            file + "/permissions",
            "drive.permissions.list",
            permissions.list_permissions,
        ),
        (
            "POST",
            file + "/permissions",
            "drive.permissions.create",
            permissions.create_permission,
        ),
        (
            "DELETE",
            file + r"/permissions/(?P<permission_id>[^/]+)",
            "drive.permissions.delete",
            permissions.delete_permission,
        ),
        ("GET", r"/about", "drive.about.get", reader.about),
        ("GET", r"/drives", "drive.drives.list", reader.list_drives),
        ("GET", r"/drives/(?P<drive_id>[^/]+)", "drive.drives.get", reader.get_drive),
        ("POST", r"/upload/drive/v3/files", "drive.files.create", _upload(uploads)),
        ("PUT", r"/upload/drive/v3/files", "drive.files.create", _upload(uploads)),
        ("PATCH", r"/upload/drive/v3" + file, "drive.files.update", _upload(uploads)),
        ("PUT", r"/upload/drive/v3" + file, "drive.files.update", _upload(uploads)),
        ("POST", r"/v1/documents", "docs.documents.create", docs.create),
        (
            "GET",
            r"/v1/documents/(?P<document_id>[^/:]+)",
            "docs.documents.get",
            docs.get,
        ),
        (
            "POST",
            r"/v1/documents/(?P<document_id>[^/:]+):batchUpdate",
            "docs.documents.batchUpdate",
            docs.batch_update,
        ),
    ]
    return [(m, re.compile(p), method_id, h) for m, p, method_id, h in table]


def _upload(uploads: DriveUploads) -> Handler:
    def handle(
        request: Request, account: Account, file_id: str | None = None
    ) -> Response:
        return uploads.handle(request, account, file_id)

    return handle


def _fault_response(
    status: int,
    reason: str,
    message: str | None,
    body: dict[str, Any] | None,
    request: Request,
) -> Response:
    if body is not None:
        return error_response(ApiError(status, body))
    return error_response(_fault_error(request, status, reason, message))


def _fault_error(
    request: Request, status: int, reason: str, message: str | None
) -> ApiError:
    if request.path in OAUTH_PATHS:
        return oauth_error(status, reason, message or "Internal failure.")
    drive_style = not request.path.startswith("/v1/documents")
    if reason in USAGE_LIMIT_REASONS or status == 429:
        return rate_limit_error(status, reason, drive_style)
    if status >= 500 and message is None:
        return server_error(status, drive_style)
    if drive_style:
        return drive_error(status, reason, message or reason)
    return docs_error(status, message or reason)


def error_response(error: ApiError) -> Response:
    return Response(error.status, error.payload(), headers=error.headers)
