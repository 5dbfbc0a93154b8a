"""HTTP plumbing for the fake Google server: one loopback port, HTTP and TLS.

google-api-python-client 2.x sends media uploads to ``https://`` on the
``api_endpoint`` host and port even when the endpoint is ``http://``. The
server therefore peeks at the first byte of every connection. A ``0x16`` (a TLS
handshake record) gets a TLS session, and anything else is served as HTTP.

The request log and the fault queue live here too, because both act on raw
requests before any API logic runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TLS_HANDSHAKE = b"\x16"
REDACTED = "<redacted>"


@dataclass
class Request:
    """One parsed HTTP request as the API handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    scheme: str
    host: str

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return (self.param(name) or "false").lower() == "true"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"


@dataclass
class Response:
    """An HTTP response, or with ``drop`` a connection closed without one."""

    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass
class RecordedRequest:
    """A request as the fake received it, with bearer tokens redacted.

    ``status`` is the response status, or 0 for a dropped connection.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    scheme: str
    status: int = 0

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Fault:
    """A queued failure for requests whose method and path match."""

    method: re.Pattern[str]
    path: re.Pattern[str]
    remaining: int
    make: Callable[[Request], Response]

    def matches(self, request: Request) -> bool:
        return bool(
            self.method.fullmatch(request.method) and self.path.search(request.path)
        )


@dataclass
class Storm:
    """A period in which every Nth, or a random fraction, of requests fail."""

    path: re.Pattern[str]
    every: int | None
    fraction: float | None
    remaining: int | None
    until: float | None
    make: Callable[[Request], Response]
    rng: random.Random
    seen: int = 0

    def strikes(self, request: Request) -> bool:
        if not self.path.search(request.path):
            return False
        if self.until is not None and time.monotonic() >= self.until:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        self.seen += 1
        if self.remaining is not None:
            self.remaining -= 1
        if self.every is not None:
            return self.seen % self.every == 0
        return self.rng.random() < (self.fraction or 0.0)


class FaultQueue:
    """Faults and storms, checked in the order they were added."""

    def __init__(self, seed: int) -> None:
        self._faults: list[Fault] = []
        self._storms: list[Storm] = []
        self._lock = threading.Lock()
        self._seed = seed

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def add_storm(self, storm: Storm) -> None:
        with self._lock:
            self._storms.append(storm)

    def new_rng(self) -> random.Random:
        return random.Random(self._seed)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._storms.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def check(self, request: Request) -> Response | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(request):
                    fault.remaining -= 1
                    return fault.make(request)
            for storm in self._storms:
                if storm.strikes(request):
                    return storm.make(request)
        return None


class RequestLog:
    """Every request the fake received, in arrival order."""

    def __init__(self) -> None:
        self._entries: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def add(self, request: Request) -> RecordedRequest:
        headers = dict(request.headers)
        if "authorization" in headers:
            scheme = headers["authorization"].split(" ", 1)[0]
            headers["authorization"] = f"{scheme} {REDACTED}"
        entry = RecordedRequest(
            request.method,
            request.path,
            request.query,
            headers,
            request.body,
            request.scheme,
        )
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


Dispatch = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # Idle keep-alive connections end after this many seconds.
    timeout = 30

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _handle(self) -> None:
        request = self._parse()
        response = self.server.dispatch(request)
        if response.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _parse(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in self.headers.items()}
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        host = headers.get("host") or f"127.0.0.1:{self.server.server_port}"
        return Request(
            self.command,
            urllib.parse.unquote(split.path),
            query,
            headers,
            body,
            scheme,
            host,
        )

    def log_message(self, format: str, *args: Any) -> None:
        # The request log replaces the stderr access log.
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, dispatch: Dispatch, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.dispatch = dispatch
        self.tls_context = context
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        connection = self._maybe_wrap(request)
        if connection is None:
            return
        with self.sockets_lock:
            self.open_sockets.add(connection)
        try:
            _Handler(connection, client_address, self)
        except OSError:
            pass
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(connection)
            if connection is not request:
                connection.close()

    def _maybe_wrap(self, sock: socket.socket) -> socket.socket | None:
        sock.settimeout(_Handler.timeout)
        # Headers and body go out in separate writes. Without TCP_NODELAY the
        # second write waits for the client's delayed ACK (about 40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
            if first != TLS_HANDSHAKE:
                return sock if first else None
            return self.tls_context.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError):
            return None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-request are expected in fault tests.
        return

    def close_open_sockets(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class LoopbackServer:
    """Run ``dispatch`` for every request on 127.0.0.1 in a background thread."""

    def __init__(self, dispatch: Dispatch, context: ssl.SSLContext) -> None:
        self._server = _Server(dispatch, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-google",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_open_sockets()
        self._server.server_close()
        self._thread.join(timeout=5)


class Clock:
    """The fake's notion of time: the real UTC clock plus an adjustable offset.

    Access-token expiry and file timestamps read this clock, so a test can move
    time forward (``advance``) instead of sleeping.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), tz=dt.UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds
