"""The threaded HTTP/1.1 server under FakeAnthropic.

Connections are kept alive, and each response goes out in one write with
TCP_NODELAY set, so a client never waits on delayed ACKs between a response's
headers and body. The server tracks open connections so that stopping it closes
idle keep-alive connections too.
"""

from __future__ import annotations

import contextlib
import http
import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class Reply:
    """One HTTP response, or a dropped connection when `drop` is set."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    close: bool = False


Application = Callable[[str, str, dict[str, str], bytes], Reply]
"""Handles (method, request target, lower-case headers, body bytes) and returns
the Reply."""
TooLargeReply = Callable[[str, str, dict[str, str]], Reply]
"""Records a request whose body is over the size limit and returns the 413."""


def _reason(status: int) -> str:
    if status == 529:
        return "Overloaded"
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing per request; the fake records requests itself."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        if length > self.server.max_request_bytes:
            self._discard_body(length)
            reply = self.server.too_large_reply(method, self.path, headers)
        else:
            body = self.rfile.read(length) if length else b""
            reply = self.server.application(method, self.path, headers, body)
        self._write(reply)

    def _discard_body(self, length: int) -> None:
        """Read and drop the body so that the client can read the response."""
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    def _write(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        lines = [
            f"HTTP/1.1 {reply.status} {_reason(reply.status)}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
        ]
        lines.extend(f"{name}: {value}" for name, value in reply.headers.items())
        if reply.close:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + reply.body)
        except OSError:
            self.close_connection = True


class FakeHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that runs `application` and can close every
    connection on stop."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        application: Application,
        too_large_reply: TooLargeReply,
        max_request_bytes: int,
    ) -> None:
        super().__init__(address, _Handler)
        self.application = application
        self.too_large_reply = too_large_reply
        self.max_request_bytes = max_request_bytes
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}

    def track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections[connection] = threading.current_thread()

    def untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.pop(connection, None)

    def close_connections(self, join_timeout: float) -> None:
        """Shut down every open connection and wait for its handler thread."""
        with self._lock:
            open_connections = list(self._connections.items())
        for connection, _ in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for _, thread in open_connections:
            if thread is not threading.current_thread():
                thread.join(join_timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away; log anything else."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return
        logger.exception(
            "fake Anthropic server failed on a request from %s", client_address
        )
