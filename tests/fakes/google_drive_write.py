"""Drive v3 methods that change files: files.create, files.update, files.copy
and files.delete.

Creating a file with ``mimeType`` ``application/vnd.google-apps.document`` and
uploaded HTML, Markdown, plain text or .docx converts the upload into a Google
Doc, as Drive does. Uploaded ``text/csv`` becomes a Google Sheet the same way.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from typing import Any

from tests.fakes import google_docs_convert as convert
from tests.fakes.google_docs import Document
from tests.fakes.google_drive import FILE_DEFAULT_FIELDS, json_response
from tests.fakes.google_drive_model import (
    DOC,
    DOCX,
    FOLDER,
    SHEET,
    SHORTCUT,
    Account,
    DriveFile,
    DriveStore,
)
from tests.fakes.google_drive_query import QueryError, parse_time
from tests.fakes.google_errors import (
    drive_error,
    insufficient_file_permissions,
    invalid_value,
)
from tests.fakes.google_fields import select
from tests.fakes.google_server import Clock, Request, Response

# File fields the API computes. A request body that sets one is rejected.
READ_ONLY_FIELDS = frozenset(
    [
        "kind",
        "size",
        "md5Checksum",
        "sha1Checksum",
        "sha256Checksum",
        "owners",
        "capabilities",
        "version",
        "webViewLink",
        "webContentLink",
        "iconLink",
        "exportLinks",
        "permissions",
        "permissionIds",
        "lastModifyingUser",
        "headRevisionId",
        "quotaBytesUsed",
        "driveId",
        "teamDriveId",
        "trashedTime",
        "trashingUser",
        "spaces",
        "hasThumbnail",
        "thumbnailLink",
        "thumbnailVersion",
        "isAppAuthorized",
        "ownedByMe",
        "shared",
        "sharingUser",
        "explicitlyTrashed",
        "fullFileExtension",
        "fileExtension",
        "modifiedByMe",
        "viewedByMe",
        "sharedWithMeTime",
    ]
)


def json_body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except ValueError:
        raise drive_error(400, "parseError", "Parse Error") from None
    if not isinstance(data, dict):
        raise drive_error(400, "parseError", "Parse Error")
    return data


def import_document(data: bytes, media_type: str, store: DriveStore) -> Document:
    """Convert an upload into a Google Doc, or raise Drive's 400."""
    base = media_type.split(";")[0].strip().lower()
    text = data.decode("utf-8-sig", "replace")
    if base == "text/html":
        specs = convert.specs_from_html(text)
    elif base in ("text/markdown", "text/x-markdown"):
        specs = convert.specs_from_markdown(text)
    elif base == "text/plain":
        specs = convert.specs_from_text(text)
    elif base == DOCX:
        specs = convert.specs_from_docx(data)
    else:
        raise _unsupported_conversion()
    return Document.from_specs(specs, store.rng)


def _unsupported_conversion() -> Exception:
    return drive_error(
        400,
        "conversionUnsupportedConversionPath",
        "Conversion of the uploaded content to the requested output type is not "
        "supported.",
    )


class DriveWriter:
    """Handlers for the Drive methods that create, change or delete things."""

    def __init__(self, store: DriveStore, clock: Clock) -> None:
        self.store, self.clock = store, clock

    def file_response(
        self, request: Request, account: Account, file: DriveFile
    ) -> Response:
        body = self.store.file_json(file, account)
        fields = request.param("fields")
        return json_response(
            select(body, fields, FILE_DEFAULT_FIELDS, "drive.v3", "File")
        )

    # -- files.create -----------------------------------------------------------

    def create(self, request: Request, account: Account) -> Response:
        file = self.create_file(request, account, json_body(request), None, None)
        return self.file_response(request, account, file)

    def create_file(
        self,
        request: Request,
        account: Account,
        metadata: dict[str, Any],
        media: bytes | None,
        media_type: str | None,
    ) -> DriveFile:
        _reject_read_only(metadata)
        parents, drive_id = self._new_parents(request, account, metadata.get("parents"))
        mime = str(metadata.get("mimeType") or media_type or "application/octet-stream")
        now = self.clock.now()
        file = DriveFile(
            self.store.new_file_id(mime.startswith("application/vnd.google-apps.")),
            str(metadata.get("name") or "Untitled"),
            mime,
            parents,
            None if drive_id else account.email,
            now,
            now,
            drive_id=drive_id,
            last_modifier=account.email,
        )
        self._fill_content(file, metadata, media, media_type or "")
        _apply_metadata(file, metadata)
        self.store.files[file.id] = file
        return file

    def _new_parents(
        self, request: Request, account: Account, requested: Any
    ) -> tuple[list[str], str | None]:
        if not requested:
            return [account.root_id], None
        if not isinstance(requested, list) or len(requested) != 1:
            raise drive_error(
                403,
                "cannotAddParent",
                "Increasing the number of parents is not allowed.",
            )
        parent = self.store.find(str(requested[0]), account, _all_drives(request))
        if not self.store.can_write(account, parent):
            raise insufficient_file_permissions()
        return [parent.id], parent.drive_id

    def _fill_content(
        self,
        file: DriveFile,
        metadata: dict[str, Any],
        media: bytes | None,
        media_type: str,
    ) -> None:
        if file.mime_type == DOC:
            file.document = (
                import_document(media, media_type, self.store)
                if media is not None
                else Document(self.store.rng)
            )
        elif file.mime_type == SHEET:
            if media is not None and not media_type.startswith("text/csv"):
                raise _unsupported_conversion()
            text = (media or b"").decode("utf-8-sig", "replace")
            file.rows = [list(row) for row in csv.reader(io.StringIO(text))]
        elif file.mime_type == SHORTCUT:
            details = metadata.get("shortcutDetails") or {}
            target = self.store.files.get(str(details.get("targetId")))
            if target is None:
                raise drive_error(
                    400,
                    "shortcutTargetInvalid",
                    "The shortcut target is invalid.",
                    location="shortcutDetails.targetId",
                )
            file.shortcut_target = target.id
        elif file.mime_type != FOLDER:
            file.content = media or b""
            file.head_revision_id = self.store.new_revision_id()
            file.original_filename = str(metadata.get("originalFilename") or file.name)

    # -- files.update --------------------------------------------------------

    def update(self, request: Request, account: Account, file_id: str) -> Response:
        file = self.update_file(
            request, account, file_id, json_body(request), None, None
        )
        return self.file_response(request, account, file)

    def update_file(
        self,
        request: Request,
        account: Account,
        file_id: str,
        metadata: dict[str, Any],
        media: bytes | None,
        media_type: str | None,
    ) -> DriveFile:
        file = self.store.find(file_id, account, _all_drives(request))
        if not self.store.can_write(account, file):
            raise insufficient_file_permissions()
        if "parents" in metadata:
            raise drive_error(
                403,
                "fieldNotWritable",
                "The parents field is not directly writable in update requests. Use "
                "the addParents and removeParents parameters instead.",
            )
        _reject_read_only(metadata)
        self._move(request, account, file)
        if media is not None:
            self._replace_content(file, media, media_type or "")
        _apply_metadata(file, metadata)
        if "trashed" in metadata:
            self._trash_children(file)
        file.version += 1
        file.last_modifier = account.email
        if "modifiedTime" not in metadata:
            file.modified = self.clock.now()
        return file

    def _move(self, request: Request, account: Account, file: DriveFile) -> None:
        added = [p for p in (request.param("addParents") or "").split(",") if p]
        removed = [p for p in (request.param("removeParents") or "").split(",") if p]
        for parent_id in added:
            parent = self.store.find(parent_id, account, _all_drives(request))
            if parent.id not in file.parents:
                file.parents.append(parent.id)
        for parent_id in removed:
            real = account.root_id if parent_id == "root" else parent_id
            if real in file.parents:
                file.parents.remove(real)
        if len(file.parents) > 1:
            raise drive_error(
                403,
                "cannotAddParent",
                "Increasing the number of parents is not allowed.",
            )

    def _replace_content(self, file: DriveFile, media: bytes, media_type: str) -> None:
        if file.mime_type == DOC:
            fresh = import_document(media, media_type, self.store)
            assert file.document is not None
            file.document.cells = fresh.cells
            file.document.lists = fresh.lists
            file.document.named_ranges = {}
            file.document.new_revision()
        elif file.mime_type == SHEET:
            text = media.decode("utf-8-sig", "replace")
            file.rows = [list(row) for row in csv.reader(io.StringIO(text))]
        else:
            file.content = media
            file.head_revision_id = self.store.new_revision_id()

    def _trash_children(self, folder: DriveFile) -> None:
        for child in self.descendants(folder):
            child.trashed = folder.trashed
            child.explicitly_trashed = False

    def descendants(self, folder: DriveFile) -> list[DriveFile]:
        found: list[DriveFile] = []
        pending = [folder.id]
        while pending:
            parent_id = pending.pop()
            for file in self.store.files.values():
                if parent_id in file.parents and file not in found:
                    found.append(file)
                    pending.append(file.id)
        return found

    # -- files.copy and files.delete ----------------------------------------

    def copy(self, request: Request, account: Account, file_id: str) -> Response:
        """Copy a file into the requested folder, else the source's own folder
        if the caller may write there, else the caller's My Drive."""
        source = self.store.find(file_id, account, _all_drives(request))
        if source.mime_type == FOLDER:
            # NOTE: the reason string for copying a folder is not documented.
            raise drive_error(
                403, "cannotCopyFile", "This file cannot be copied by the user."
            )
        metadata = json_body(request)
        _reject_read_only(metadata)
        requested = metadata.get("parents") or [
            p for p in source.parents if self._writable(account, p)
        ]
        parents, drive_id = self._new_parents(request, account, requested)

        duplicate = copy.deepcopy(source)
        duplicate.id = self.store.new_file_id(source.is_google_type)
        duplicate.name = f"Copy of {source.name}"
        duplicate.parents, duplicate.drive_id = parents, drive_id
        duplicate.owner = None if drive_id else account.email
        duplicate.created = duplicate.modified = self.clock.now()
        duplicate.version, duplicate.permissions = 1, []
        duplicate.trashed = duplicate.explicitly_trashed = False
        duplicate.last_modifier = account.email
        if duplicate.document is not None:
            duplicate.document.rng = self.store.rng
            duplicate.document.new_revision()
        if duplicate.content is not None:
            duplicate.head_revision_id = self.store.new_revision_id()
        _apply_metadata(duplicate, metadata)

        self.store.files[duplicate.id] = duplicate
        return self.file_response(request, account, duplicate)

    def _writable(self, account: Account, parent_id: str) -> bool:
        parent = self.store.files.get(parent_id)
        return parent is not None and self.store.can_write(account, parent)

    def delete(self, request: Request, account: Account, file_id: str) -> Response:
        file = self.store.find(file_id, account, _all_drives(request))
        if self.store.role_for(account, file) not in ("owner", "organizer"):
            raise insufficient_file_permissions()
        for child in self.descendants(file):
            self.store.files.pop(child.id, None)
        self.store.files.pop(file.id, None)
        return Response(204, b"", "text/html")


def _all_drives(request: Request) -> bool:
    return request.flag("supportsAllDrives") or request.flag("supportsTeamDrives")


def _reject_read_only(metadata: dict[str, Any]) -> None:
    if READ_ONLY_FIELDS & set(metadata):
        raise drive_error(
            403,
            "fieldNotWritable",
            "The resource body includes fields which are not directly writable.",
        )


def _apply_metadata(file: DriveFile, metadata: dict[str, Any]) -> None:
    """Apply the writable metadata fields the fake models."""
    if "name" in metadata and metadata["name"]:
        file.name = str(metadata["name"])
    if "description" in metadata:
        file.description = metadata["description"]
    if "starred" in metadata:
        file.starred = bool(metadata["starred"])
    if "trashed" in metadata:
        file.trashed = file.explicitly_trashed = bool(metadata["trashed"])
    for key, target in (
        ("appProperties", file.app_properties),
        ("properties", file.properties),
    ):
        for name, value in (metadata.get(key) or {}).items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = str(value)
    if metadata.get("modifiedTime"):
        try:
            file.modified = parse_time(str(metadata["modifiedTime"]))
        except QueryError:
            raise invalid_value("modifiedTime") from None
