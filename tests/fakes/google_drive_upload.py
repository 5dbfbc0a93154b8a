"""Drive media uploads: ``uploadType=media``, ``multipart`` and ``resumable``.

A resumable upload starts with a POST (or PATCH, for files.update) that
carries the metadata. The fake responds 200 with a ``Location`` session URI that
keeps the original query and adds ``upload_id``. The client then PUTs the bytes
with ``Content-Range: bytes first-last/total``; each incomplete chunk gets
308 with ``Range: bytes=0-N`` and the last one gets the file resource.
"""

from __future__ import annotations

import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.google_drive_model import Account, DriveStore
from tests.fakes.google_drive_write import DriveWriter, json_body
from tests.fakes.google_errors import drive_error, invalid_value
from tests.fakes.google_server import Request, Response

Part = tuple[dict[str, str], bytes]


@dataclass
class UploadSession:
    account_email: str
    file_id: str | None
    metadata: dict[str, Any]
    media_type: str
    total: int | None
    received: bytearray = field(default_factory=bytearray)


def parse_multipart(request: Request) -> list[Part]:
    """Split a ``multipart/related`` body into (headers, payload) parts."""
    content_type = request.header("content-type") or ""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/") or match is None:
        raise drive_error(
            400, "badContent", "Unsupported content with type: " + content_type
        )
    delimiter = b"--" + match.group(1).encode()
    parts: list[Part] = []
    for segment in request.body.split(delimiter)[1:]:
        if segment.startswith(b"--"):
            break
        segment = _strip_line_break(segment, leading=True)
        head, payload = _split_head(segment)
        headers = {}
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if value:
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, _strip_line_break(payload, leading=False)))
    return parts


def _strip_line_break(data: bytes, leading: bool) -> bytes:
    for ending in (b"\r\n", b"\n"):
        if leading and data.startswith(ending):
            return data[len(ending) :]
        if not leading and data.endswith(ending):
            return data[: -len(ending)]
    return data


def _split_head(segment: bytes) -> tuple[bytes, bytes]:
    positions = [
        (segment.find(separator), separator)
        for separator in (b"\r\n\r\n", b"\n\n")
        if segment.find(separator) >= 0
    ]
    if not positions:
        return segment, b""
    index, separator = min(positions)
    return segment[:index], segment[index + len(separator) :]


class DriveUploads:
    """Handle requests to ``/upload/drive/v3/files[/{fileId}]``."""

    def __init__(self, writer: DriveWriter, store: DriveStore) -> None:
        self.writer, self.store = writer, store
        self.sessions: dict[str, UploadSession] = {}

    def handle(
        self, request: Request, account: Account, file_id: str | None
    ) -> Response:
        upload_id = request.param("upload_id")
        if upload_id:
            return self._chunk(request, upload_id)
        kind = request.param("uploadType")
        if kind == "media":
            media_type = request.header("content-type") or "application/octet-stream"
            return self._finish(request, account, file_id, {}, request.body, media_type)
        if kind == "multipart":
            parts = parse_multipart(request)
            if len(parts) != 2:
                raise drive_error(
                    400, "badContent", "Multipart upload needs two parts."
                )
            (_, meta_bytes), (media_headers, media) = parts
            metadata = json_body(_with_body(request, meta_bytes))
            media_type = media_headers.get("content-type", "application/octet-stream")
            return self._finish(request, account, file_id, metadata, media, media_type)
        if kind == "resumable":
            return self._start(request, account, file_id)
        raise invalid_value("uploadType")

    def _finish(
        self,
        request: Request,
        account: Account,
        file_id: str | None,
        metadata: dict[str, Any],
        media: bytes,
        media_type: str,
    ) -> Response:
        if file_id is None:
            file = self.writer.create_file(
                request, account, metadata, media, media_type
            )
        else:
            file = self.writer.update_file(
                request, account, file_id, metadata, media, media_type
            )
        return self.writer.file_response(request, account, file)

    def _start(
        self, request: Request, account: Account, file_id: str | None
    ) -> Response:
        if file_id is not None:
            self.store.find(file_id, account, request.flag("supportsAllDrives"))
        length = request.header("x-upload-content-length")
        session = UploadSession(
            account.email,
            file_id,
            json_body(request),
            request.header("x-upload-content-type") or "application/octet-stream",
            int(length) if length else None,
        )
        upload_id = "AD" + secrets.token_urlsafe(40)
        self.sessions[upload_id] = session
        query = [(k, v) for k, values in request.query.items() for v in values]
        query.append(("upload_id", upload_id))
        location = f"{request.base_url}{request.path}?{urllib.parse.urlencode(query)}"
        return Response(
            200,
            b"",
            "text/plain",
            {"Location": location, "X-GUploader-UploadID": upload_id},
        )

    def _chunk(self, request: Request, upload_id: str) -> Response:
        session = self.sessions.get(upload_id)
        if session is None:
            raise drive_error(404, "notFound", "Upload session not found.")
        first, total = _content_range(
            request.header("content-range"), len(request.body)
        )
        if total is not None:
            session.total = total
        if first is not None and first == len(session.received):
            session.received.extend(request.body)
        if session.total is not None and len(session.received) >= session.total:
            del self.sessions[upload_id]
            account = self.store.accounts[session.account_email]
            return self._finish(
                request,
                account,
                session.file_id,
                session.metadata,
                bytes(session.received),
                session.media_type,
            )
        headers = {}
        if session.received:
            headers["Range"] = f"bytes=0-{len(session.received) - 1}"
        return Response(308, b"", "text/plain", headers)


def _content_range(header: str | None, length: int) -> tuple[int | None, int | None]:
    """Parse ``bytes first-last/total`` or ``bytes */total``."""
    if not header:
        return 0, length
    match = re.fullmatch(r"bytes (\*|(\d+)-(\d+))/(\*|\d+)", header.strip())
    if match is None:
        raise drive_error(400, "badContent", f"Invalid Content-Range: {header}")
    first = int(match.group(2)) if match.group(2) is not None else None
    total = None if match.group(4) == "*" else int(match.group(4))
    return first, total


def _with_body(request: Request, body: bytes) -> Request:
    return Request(
        request.method,
        request.path,
        request.query,
        request.headers,
        body,
        request.scheme,
        request.host,
    )
