"""Drive v3 read methods: files.list, files.get (metadata and ``alt=media``),
files.export, about.get, drives.list and drives.get.

Visibility follows the real API: items in shared drives appear in
``files.list`` only with ``supportsAllDrives=true`` and
``includeItemsFromAllDrives=true``, and ``files.get`` finds them only with
``supportsAllDrives=true``. ``files.list`` returns trashed files unless the
query has ``trashed = false``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tests.fakes import google_docs_convert as convert
from tests.fakes.google_drive_model import (
    DOC,
    DOCX,
    EXPORT_FORMATS,
    FOLDER,
    IMPORT_FORMATS,
    ROLE_RANK,
    SHEET,
    WRITE_ROLES,
    Account,
    DriveFile,
    DriveStore,
    SharedDrive,
    rfc3339,
)
from tests.fakes.google_drive_query import (
    DRIVE_TERMS,
    FILE_TERMS,
    QueryError,
    compile_query,
)
from tests.fakes.google_errors import drive_error, invalid_value
from tests.fakes.google_fields import select
from tests.fakes.google_server import Clock, Request, Response

FILE_DEFAULT_FIELDS = "kind,id,name,mimeType"
LIST_DEFAULT_FIELDS = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)"
DRIVE_LIST_DEFAULT_FIELDS = "kind,nextPageToken,drives(kind,id,name)"
# Drive documents files.export as "limited to 10 MB".
EXPORT_SIZE_LIMIT = 10 * 1024 * 1024
CORPORA = ("user", "domain", "drive", "allDrives")
T = TypeVar("T")


def json_response(body: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(body, indent=2, ensure_ascii=False).encode())


@dataclass
class DriveSettings:
    """Behaviour a test may change while the fake runs."""

    export_size_limit: int = EXPORT_SIZE_LIMIT


class FileRecord:
    """The values of a file's search terms, from one account's point of view."""

    def __init__(self, store: DriveStore, file: DriveFile, account: Account) -> None:
        self.store, self.file, self.account = store, file, account

    def value(self, term: str) -> Any:
        file = self.file
        simple: dict[str, Callable[[], Any]] = {
            "name": lambda: file.name,
            "mimeType": lambda: file.mime_type,
            "fullText": self._full_text,
            "modifiedTime": lambda: file.modified,
            "createdTime": lambda: file.created,
            "viewedByMeTime": lambda: file.viewed,
            "trashed": lambda: file.trashed,
            "starred": lambda: file.starred,
            "sharedWithMe": lambda: self.store.shared_with(self.account, file),
            "parents": self._parents,
            "owners": lambda: self._people(frozenset({"owner"})),
            "writers": lambda: self._people(WRITE_ROLES),
            "readers": lambda: self._people(frozenset(ROLE_RANK)),
            "properties": lambda: file.properties,
            "appProperties": lambda: file.app_properties,
            "visibility": self._visibility,
            "shortcutDetails.targetId": lambda: file.shortcut_target,
        }
        return simple[term]()

    def _full_text(self) -> str:
        parts = [self.file.name, self.file.description or ""]
        if self.file.document is not None:
            parts.append(self.file.document.text())
        elif self.file.content is not None and self.file.mime_type.startswith("text/"):
            parts.append(self.file.content.decode("utf-8", "replace"))
        return "\n".join(parts)

    def _parents(self) -> set[str]:
        parents = set(self.file.parents)
        if self.account.root_id in parents:
            parents.add("root")
        return parents

    def _people(self, roles: frozenset[str]) -> set[str]:
        """Return the e-mails with one of ``roles``, plus ``me`` for the caller."""
        emails = self.store.emails_with_role(self.file, roles)
        if self.account.email in emails:
            emails.add("me")
        return emails

    def _visibility(self) -> str:
        for permission in self.file.permissions:
            if permission.type == "anyone":
                return (
                    "anyoneCanFind"
                    if permission.allow_file_discovery
                    else "anyoneWithLink"
                )
            if permission.type == "domain":
                return (
                    "domainCanFind"
                    if permission.allow_file_discovery
                    else "domainWithLink"
                )
        return "limited"


class DriveReader:
    """Handlers for the Drive methods that do not change state."""

    def __init__(
        self, store: DriveStore, clock: Clock, settings: DriveSettings
    ) -> None:
        self.store, self.clock, self.settings = store, clock, settings

    def list_files(self, request: Request, account: Account) -> Response:
        predicate = _compile(request.param("q"), FILE_TERMS)
        size = _page_size(request, 100, 1000)
        corpora, drive_id, include_shared = self._corpora(request, account)
        files = [
            file
            for file in self.store.files.values()
            if not file.is_root
            and self._in_corpus(file, account, corpora, drive_id, include_shared)
            and (request.param("spaces") or "drive") != "appDataFolder"
        ]
        files = [f for f in files if predicate(FileRecord(self.store, f, account))]
        files = _order(files, request.param("orderBy"))
        key = _page_key(request, account, ("q", "orderBy", "corpora", "driveId"))
        page, next_token = paginate(files, size, request.param("pageToken"), key)
        body: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False}
        if next_token:
            body["nextPageToken"] = next_token
        body["files"] = [self.store.file_json(file, account) for file in page]
        fields = request.param("fields")
        return json_response(
            select(body, fields, LIST_DEFAULT_FIELDS, "drive.v3", "FileList")
        )

    def _corpora(
        self, request: Request, account: Account
    ) -> tuple[str, str | None, bool]:
        corpora = request.param("corpora") or "user"
        drive_id = request.param("driveId") or request.param("teamDriveId")
        include = request.flag("includeItemsFromAllDrives") or request.flag(
            "includeTeamDriveItems"
        )
        if corpora not in CORPORA:
            raise invalid_value("corpora")
        if (corpora == "drive") != bool(drive_id):
            raise drive_error(
                400,
                "teamDriveIdRequiresTeamDriveCorpora",
                "The driveId parameter must be specified if and only if corpora is "
                "set to drive.",
            )
        if corpora in ("drive", "allDrives") and not include:
            # NOTE: the reason string of this error is a guess. The message is
            # the one Drive returns.
            raise drive_error(
                403,
                "invalidParameter",
                "The includeItemsFromAllDrives parameter must be set to true when "
                "driveId is specified or corpora contains drive or allDrives.",
            )
        if drive_id:
            self.find_drive(drive_id, account)
        supports = request.flag("supportsAllDrives") or request.flag(
            "supportsTeamDrives"
        )
        return corpora, drive_id, include and supports

    def _in_corpus(
        self,
        file: DriveFile,
        account: Account,
        corpora: str,
        drive_id: str | None,
        include_shared: bool,
    ) -> bool:
        if self.store.role_for(account, file) is None:
            return False
        if corpora == "drive":
            return file.drive_id == drive_id
        return file.drive_id is None or include_shared

    def get_file(self, request: Request, account: Account, file_id: str) -> Response:
        file = self.store.find(file_id, account, _all_drives(request))
        if request.param("alt") == "media":
            return self._download(request, file)
        body = self.store.file_json(file, account)
        fields = request.param("fields")
        return json_response(
            select(body, fields, FILE_DEFAULT_FIELDS, "drive.v3", "File")
        )

    def _download(self, request: Request, file: DriveFile) -> Response:
        if file.is_google_type or file.content is None:
            raise drive_error(
                403,
                "fileNotDownloadable",
                "Only files with binary content can be downloaded. Use Export with "
                "Docs Editors files.",
                location="alt",
            )
        data = file.content
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", request.header("range") or "")
        if match is None or not data:
            return Response(200, data, file.mime_type)
        first = int(match.group(1))
        last = min(int(match.group(2) or len(data) - 1), len(data) - 1)
        if first >= len(data):
            return Response(
                416, b"", file.mime_type, {"Content-Range": f"bytes */{len(data)}"}
            )
        headers = {"Content-Range": f"bytes {first}-{last}/{len(data)}"}
        return Response(206, data[first : last + 1], file.mime_type, headers)

    def export(self, request: Request, account: Account, file_id: str) -> Response:
        # files.export takes no supportsAllDrives flag and still finds files in
        # shared drives the caller can read.
        file = self.store.find(file_id, account, True)
        target = request.param("mimeType") or ""
        if file.mime_type not in EXPORT_FORMATS:
            raise drive_error(
                403, "fileNotExportable", "Export only supports Docs Editors files."
            )
        if target not in EXPORT_FORMATS[file.mime_type]:
            raise drive_error(
                400,
                "badRequest",
                "The requested conversion is not supported.",
                location="convertTo",
            )
        data = export_bytes(file, target)
        if len(data) > self.settings.export_size_limit:
            raise drive_error(
                403, "exportSizeLimitExceeded", "This file is too large to be exported."
            )
        content_type = target + (
            "; charset=utf-8" if target.startswith("text/") else ""
        )
        return Response(200, data, content_type)

    def about(self, request: Request, account: Account) -> Response:
        fields = request.param("fields")
        if not fields:
            raise drive_error(
                400,
                "required",
                "The 'fields' parameter is required for this method.",
                location="fields",
            )
        owned = [f for f in self.store.files.values() if f.owner == account.email]
        usage = sum(len(f.content or b"") for f in owned)
        trash = sum(len(f.content or b"") for f in owned if f.trashed)
        body = {
            "kind": "drive#about",
            "user": account.user_json(account),
            "storageQuota": {
                "limit": str(15 * 1024**3),
                "usage": str(usage),
                "usageInDrive": str(usage),
                "usageInDriveTrash": str(trash),
            },
            "importFormats": IMPORT_FORMATS,
            "exportFormats": EXPORT_FORMATS,
            "maxImportSizes": {DOC: "10485760", SHEET: "104857600"},
            "maxUploadSize": str(5 * 1024**4),
            "appInstalled": False,
            "canCreateDrives": True,
        }
        return json_response(select(body, fields, "", "drive.v3", "About"))

    def list_drives(self, request: Request, account: Account) -> Response:
        predicate = _compile(request.param("q"), DRIVE_TERMS)
        size = _page_size(request, 10, 100)
        drives = [
            drive
            for drive in self.store.drives.values()
            if account.email in drive.members and predicate(_DriveRecord(drive))
        ]
        key = _page_key(request, account, ("q",))
        page, next_token = paginate(drives, size, request.param("pageToken"), key)
        body: dict[str, Any] = {"kind": "drive#driveList"}
        if next_token:
            body["nextPageToken"] = next_token
        body["drives"] = [self.store.drive_json(drive) for drive in page]
        fields = request.param("fields")
        return json_response(
            select(body, fields, DRIVE_LIST_DEFAULT_FIELDS, "drive.v3", "DriveList")
        )

    def get_drive(self, request: Request, account: Account, drive_id: str) -> Response:
        drive = self.find_drive(drive_id, account)
        body = self.store.drive_json(drive)
        fields = request.param("fields")
        return json_response(select(body, fields, "kind,id,name", "drive.v3", "Drive"))

    def find_drive(self, drive_id: str, account: Account) -> SharedDrive:
        drive = self.store.drives.get(drive_id)
        if drive is None or account.email not in drive.members:
            raise drive_error(
                404,
                "notFound",
                f"Shared drive not found: {drive_id}",
                location="driveId",
            )
        return drive


class _DriveRecord:
    """The values of a shared drive's search terms."""

    def __init__(self, drive: SharedDrive) -> None:
        self.drive = drive

    def value(self, term: str) -> Any:
        return {
            "name": self.drive.name,
            "createdTime": self.drive.created,
            "hidden": self.drive.hidden,
            "memberCount": float(len(self.drive.members)),
            "organizerCount": float(
                sum(role == "organizer" for role in self.drive.members.values())
            ),
        }[term]


def export_bytes(file: DriveFile, target: str) -> bytes:
    """Render a Google Docs or Sheets file in ``target`` format."""
    document = file.document
    if file.mime_type == DOC and document is not None:
        renderers: dict[str, Callable[[], bytes]] = {
            "text/plain": lambda: convert.to_plain_text(document),
            "text/markdown": lambda: convert.to_markdown(document),
            "text/html": lambda: convert.to_html(document, file.name),
            DOCX: lambda: convert.to_docx(document),
            "application/pdf": lambda: convert.to_pdf(document),
        }
        if target in renderers:
            return renderers[target]()
    if file.mime_type == SHEET and target in ("text/csv", "text/tab-separated-values"):
        buffer = io.StringIO()
        delimiter = "," if target == "text/csv" else "\t"
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
        writer.writerows(file.rows or [])
        return buffer.getvalue().encode("utf-8")
    # NOTE: Drive exports more formats than the fake renders above.
    raise drive_error(
        501,
        "notImplemented",
        f"The fake Drive API cannot export {file.mime_type} as {target}.",
    )


def _all_drives(request: Request) -> bool:
    return request.flag("supportsAllDrives") or request.flag("supportsTeamDrives")


def _compile(query: str | None, terms: dict[str, Any]) -> Callable[[Any], bool]:
    if not query:
        return lambda record: True
    try:
        return compile_query(query, terms)
    except QueryError:
        raise invalid_value("q") from None


def _page_size(request: Request, default: int, maximum: int) -> int:
    raw = request.param("pageSize")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise invalid_value("pageSize") from None
    if size < 1:
        raise invalid_value(
            "pageSize",
            f"Invalid value '{raw}'. Values must be within the range: [1, {maximum}]",
        )
    return min(size, maximum)


def _page_key(request: Request, account: Account, names: Sequence[str]) -> str:
    parts = [account.email] + [request.param(name) or "" for name in names]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def paginate(
    items: list[T], size: int, token: str | None, key: str
) -> tuple[list[T], str | None]:
    """Return one page and the token for the next, which only its query accepts."""
    offset = 0
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            offset = int(state["o"])
            if state["k"] != key or offset < 0:
                raise ValueError(token)
        except (ValueError, KeyError, TypeError):
            raise invalid_value("pageToken") from None
    page = items[offset : offset + size]
    if offset + size >= len(items):
        return page, None
    state = {"o": offset + size, "k": key}
    return page, base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _order(files: list[DriveFile], order_by: str | None) -> list[DriveFile]:
    if not order_by:
        return files
    keys: dict[str, Callable[[DriveFile], Any]] = {
        "name": lambda f: f.name,
        "name_natural": lambda f: [
            int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", f.name)
        ],
        "modifiedTime": lambda f: f.modified,
        "recency": lambda f: f.modified,
        "modifiedByMeTime": lambda f: f.modified,
        "createdTime": lambda f: f.created,
        "viewedByMeTime": lambda f: rfc3339(f.viewed) if f.viewed else "",
        "sharedWithMeTime": lambda f: f.created,
        "folder": lambda f: f.mime_type != FOLDER,
        "quotaBytesUsed": lambda f: len(f.content or b""),
        "starred": lambda f: f.starred,
    }
    result = list(files)
    for part in reversed([p.strip() for p in order_by.split(",") if p.strip()]):
        name, _, direction = part.partition(" ")
        if name not in keys or direction.strip() not in ("", "desc"):
            raise invalid_value("orderBy")
        result.sort(key=keys[name], reverse=direction.strip() == "desc")
    return result
