"""Submissions from a Google Drive folder: one file per student.

Listing rules:

- Every file in the folder is one submission, keyed by its Drive file ID. With
  ``recursive = true`` the files of subfolders (and of folders reached through
  shortcuts) are read too, each still one submission. Without it, subfolders
  are skipped and listed in :attr:`DriveSource.skipped`.
- Shortcuts are followed: the submission is the target file, keyed by the
  target's ID, and listed once even if the folder also holds the target.
- Trashed files, and feedback Docs that gradebot created, are skipped. Files in
  shared drives are read (``supportsAllDrives``).
- The student is the file's owner (name and e-mail). A file owned by the
  signed-in account is named after its title instead, because a teacher-owned
  copy says nothing about who wrote it. Files in shared drives have no owner:
  their last modifier is used, unless that is the signed-in account.

Loading rules: Google Docs are exported as Markdown (plain text when the
Markdown export fails). Two kinds of Doc are read through the Docs API
instead: a Doc over Drive's 10 MB export limit, and, for an assignment that
appends feedback to students' Docs, a Doc that carries that feedback, so the
appended section is left out of what is graded. Uploaded files (.docx, .pdf,
.txt, images...) are downloaded and read by
:func:`gradebot_cli.sources.extract.extract` exactly as local files are.
Other Google types (Sheets, Slides, Forms, Drawings...) get UNSUPPORTED.

``SourceItem.fingerprint`` comes from Drive metadata (``md5Checksum`` for
uploaded files, ``version`` and ``modifiedTime`` for Google types), so grading
skips unchanged work without downloading it. Downloads are also kept in
:class:`DriveCache`.
"""

from __future__ import annotations

import hashlib
import logging
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from gradebot_cli.assignment import Assignment
from gradebot_cli.domain import LoadedSubmission, SourceItem, Status
from gradebot_cli.errors import GoogleAuthError, GoogleError
from gradebot_cli.google import scopes
from gradebot_cli.google.cache import DriveCache
from gradebot_cli.google.client import ApiFailure, GoogleSession
from gradebot_cli.google.doc_text import document_markdown, named_spans, range_names
from gradebot_cli.google.drive_meta import (
    DOC,
    FILE_FIELDS,
    FOLDER,
    GOOGLE_APPS,
    SHORTCUT,
    describe,
    fingerprint,
    student_of,
    type_name,
)
from gradebot_cli.google.ids import parse_drive_id
from gradebot_cli.google.markers import SUBMISSION_PROPERTY, feedback_range_prefix
from gradebot_cli.sources.extract import DEFAULT_LIMITS, Limits, check_size, extract

log = logging.getLogger(__name__)

EXPORT_LIMIT_REASON = "exportSizeLimitExceeded"
NOT_DOWNLOADABLE_REASONS = frozenset(
    {"cannotDownloadFile", "cannotDownloadAbusiveFile"}
)
MAX_PAGE_SIZE = 1000


class DriveSource:
    """Submissions in a Drive folder; see the module docstring for the rules."""

    kind: str = "drive"

    def __init__(
        self,
        session: GoogleSession,
        folder_id: str,
        *,
        recursive: bool = False,
        assignment_id: str = "",
        exclude_folders: tuple[str, ...] = (),
        check_appended_feedback: bool = False,
        cache: DriveCache | None = None,
        limits: Limits | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.session = session
        self.folder_id = folder_id
        self.recursive = recursive
        self.assignment_id = assignment_id
        self.exclude_folders = frozenset(exclude_folders)
        self.check_appended_feedback = check_appended_feedback
        self.cache = cache if cache is not None else DriveCache.default()
        self.limits = limits or DEFAULT_LIMITS
        self.page_size = min(page_size, MAX_PAGE_SIZE)
        self.skipped: list[str] = []

    @classmethod
    def for_assignment(cls, assignment: Assignment) -> DriveSource:
        """Open the Drive source of an assignment with ``[source] type = "drive"``.

        The session closes when the source is garbage-collected, or on
        :meth:`close`.
        """
        folder_id = parse_drive_id(assignment.source.drive_folder, "Drive folder")
        excluded: tuple[str, ...] = ()
        if assignment.publish.drive_folder:
            excluded = (parse_drive_id(assignment.publish.drive_folder),)
        session = GoogleSession.open(scopes.for_features(["read"]))
        source = cls(
            session,
            folder_id,
            recursive=assignment.source.recursive,
            assignment_id=assignment.id,
            exclude_folders=excluded,
            check_appended_feedback=assignment.publish.mode == "append",
        )
        weakref.finalize(source, session.close)
        return source

    def close(self) -> None:
        self.session.close()

    # -- listing -----------------------------------------------------------------

    def list_items(self) -> Iterator[SourceItem]:
        """Yield every submission, sorted by student then key.

        Raises GoogleError when the folder itself cannot be read.
        """
        root = self._folder(self.folder_id)
        self.skipped = []
        items: dict[str, SourceItem] = {}
        visited = {root["id"]}
        queue = [root]
        while queue:
            folder = queue.pop(0)
            for entry in self._children(folder):
                found = self._consider(entry, items, visited)
                if found is not None:
                    queue.append(found)
        ordered = sorted(
            items.values(), key=lambda i: (i.student.casefold(), i.student, i.key)
        )
        yield from ordered

    def _folder(self, folder_id: str) -> dict[str, Any]:
        action = f"Reading the Drive folder {folder_id}"
        try:
            meta = self._get(folder_id, action)
            if meta["mimeType"] == SHORTCUT:
                target = (meta.get("shortcutDetails") or {}).get("targetId", "")
                meta = self._get(target, action)
        except ApiFailure as failure:
            if failure.status == 404:
                raise GoogleError(
                    f"Drive folder {folder_id} was not found, or the signed-in account "
                    "cannot open it. Check [source] folder in assignment.toml, and "
                    "share the folder with that account (`gradebot auth status` "
                    "shows which it is)."
                ) from None
            raise
        if meta["mimeType"] != FOLDER:
            raise GoogleError(
                f"Drive item {folder_id} ('{meta.get('name', '')}') is not a folder "
                f"but a {type_name(meta['mimeType'])}. Give the folder that holds "
                "the submissions."
            )
        if meta.get("trashed"):
            raise GoogleError(
                f"Drive folder {folder_id} ('{meta['name']}') is in the trash; "
                "restore it or choose another folder."
            )
        return meta

    def _get(self, file_id: str, action: str) -> dict[str, Any]:
        request = (
            self.session.drive()
            .files()
            .get(fileId=file_id, fields=FILE_FIELDS, supportsAllDrives=True)
        )
        result: dict[str, Any] = self.session.execute(request, action=action)
        return result

    def _children(self, folder: dict[str, Any]) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "q": f"'{folder['id']}' in parents and trashed = false",
            "fields": f"nextPageToken,files({FILE_FIELDS})",
            "pageSize": self.page_size,
            "supportsAllDrives": True,
            "includeItemsFromAllDrives": True,
        }
        if folder.get("driveId"):
            params.update(corpora="drive", driveId=folder["driveId"])
        action = f"Listing the Drive folder '{folder['name']}' ({folder['id']})"
        token = None
        while True:
            request = self.session.drive().files().list(pageToken=token, **params)
            page = self.session.execute(request, action=action)
            yield from page.get("files", [])
            token = page.get("nextPageToken")
            if not token:
                return

    def _consider(
        self,
        entry: dict[str, Any],
        items: dict[str, SourceItem],
        visited: set[str],
    ) -> dict[str, Any] | None:
        """Add ``entry`` to ``items``; return it when it is a folder to descend into."""
        if entry.get("trashed") or entry["id"] in self.exclude_folders:
            return None
        if SUBMISSION_PROPERTY in (entry.get("appProperties") or {}):
            return None
        shortcut = None
        if entry["mimeType"] == SHORTCUT:
            target = self._shortcut_target(entry, items)
            if target is None:
                return None
            shortcut, entry = entry, target
        if entry["mimeType"] == FOLDER:
            return self._subfolder(entry, visited)
        if entry["id"] not in items:
            items[entry["id"]] = self._item(entry, shortcut)
        return None

    def _shortcut_target(
        self, shortcut: dict[str, Any], items: dict[str, SourceItem]
    ) -> dict[str, Any] | None:
        target_id = (shortcut.get("shortcutDetails") or {}).get("targetId", "")
        action = f"Following the shortcut '{shortcut['name']}' ({shortcut['id']})"
        try:
            target = self._get(target_id, action)
        except ApiFailure as failure:
            if failure.status not in (403, 404):
                raise
            problem = (
                f"The shortcut '{shortcut['name']}' (Drive file ID {shortcut['id']}) "
                f"points to a file that is missing or not shared with the signed-in "
                f"account (target ID {target_id}); ask the student to share it."
            )
            items[shortcut["id"]] = self._item(shortcut, None, problem=problem)
            return None
        if target.get("trashed") or target["id"] in self.exclude_folders:
            self.skipped.append(
                f"shortcut '{shortcut['name']}': its target is in the trash"
            )
            return None
        return target

    def _subfolder(
        self, folder: dict[str, Any], visited: set[str]
    ) -> dict[str, Any] | None:
        if not self.recursive:
            self.skipped.append(
                f"subfolder '{folder['name']}' (set recursive = true in [source] to read it)"
            )
            return None
        if folder["id"] in visited:
            return None
        visited.add(folder["id"])
        return folder

    def _item(
        self,
        meta: dict[str, Any],
        shortcut: dict[str, Any] | None,
        *,
        problem: str = "",
    ) -> SourceItem:
        student, email, origin = student_of(meta)
        metadata = {
            "student_from": origin,
            "modified_time": meta.get("modifiedTime", ""),
        }
        if shortcut is not None:
            metadata["shortcut_id"] = shortcut["id"]
        if problem:
            metadata["problem"] = problem
        size = meta.get("size")
        return SourceItem(
            key=meta["id"],
            student=student,
            file_name=meta["name"],
            fingerprint=fingerprint(meta),
            student_email=email,
            media_type=meta["mimeType"],
            size=int(size) if size is not None else None,
            metadata=metadata,
        )

    # -- loading -----------------------------------------------------------------

    def load(self, item: SourceItem) -> LoadedSubmission:
        """Read one submission. Drive failures give API_ERROR (retried by the next
        run) and file problems a file status; only GoogleAuthError is raised."""
        problem = item.metadata.get("problem")
        if problem:
            return _failed(item, Status.UNREADABLE, problem)
        mime = item.media_type
        try:
            if mime == DOC:
                return self._load_doc(item)
            if mime.startswith(GOOGLE_APPS):
                return _failed(item, Status.UNSUPPORTED, _unsupported_reason(item))
            return self._load_file(item)
        except ApiFailure as failure:
            if isinstance(failure, GoogleAuthError):
                raise
            if failure.reason in NOT_DOWNLOADABLE_REASONS:
                reason = (
                    f"{failure} The owner has turned off downloading for viewers; "
                    "ask them to allow it, or to share the file with edit access."
                )
                return _failed(item, Status.UNREADABLE, reason)
            return _failed(item, Status.API_ERROR, str(failure))

    def _load_file(self, item: SourceItem) -> LoadedSubmission:
        if item.size is not None:
            problem = check_size(
                item.file_name, item.size, item.media_type, limits=self.limits
            )
            if problem is not None:
                status = problem.status or Status.UNREADABLE
                return _failed(item, status, _with_id(problem.reason, item))

        def download() -> tuple[bytes, str]:
            request = (
                self.session.drive()
                .files()
                .get_media(fileId=item.key, supportsAllDrives=True)
            )
            data: bytes = self.session.execute(
                request, action=f"Download of {describe(item)}"
            )
            return data, "bin"

        data, _ = self._cached(item, "download", download)
        return self._extracted(item, data, item.media_type)

    def _load_doc(self, item: SourceItem) -> LoadedSubmission:
        if self.check_appended_feedback and self._has_feedback_section(item):
            data, _ = self._cached(item, "docs-api", lambda: self._docs_api_text(item))
            return self._extracted(item, data, "text/markdown")
        try:
            data, extension = self._cached(item, "export", lambda: self._export(item))
        except ApiFailure as failure:
            if failure.reason != EXPORT_LIMIT_REASON:
                raise
            return self._too_large_doc(item)
        media_type = "text/markdown" if extension == "md" else "text/plain"
        return self._extracted(item, data, media_type)

    def _export(self, item: SourceItem) -> tuple[bytes, str]:
        files = self.session.drive().files()
        action = f"Export of the Google Doc {describe(item)}"
        try:
            request = files.export(fileId=item.key, mimeType="text/markdown")
            data: bytes = self.session.execute(request, action=action + " as Markdown")
            return data, "md"
        except ApiFailure as failure:
            if failure.reason == EXPORT_LIMIT_REASON or failure.status in (401, 404):
                raise
            log.warning("%s; trying plain text", failure)
        request = files.export(fileId=item.key, mimeType="text/plain")
        data = self.session.execute(request, action=action + " as plain text")
        return data, "txt"

    def _too_large_doc(self, item: SourceItem) -> LoadedSubmission:
        """Read a Doc over Drive's export limit through the Docs API."""
        try:
            data, _ = self._cached(item, "docs-api", lambda: self._docs_api_text(item))
        except ApiFailure as failure:
            reason = (
                f"The Google Doc {describe(item)} is over Drive's 10 MB export limit "
                f"and the Docs API could not read it either ({failure}). Remove large "
                "images from it, or split it into smaller Docs."
            )
            return _failed(item, Status.TOO_LARGE, reason)
        loaded = self._extracted(item, data, "text/markdown")
        if loaded.status is not None:
            return loaded
        note = (
            f"{describe(item)} is over Drive's 10 MB export limit, so its text was "
            "read through the Docs API; its images were not sent."
        )
        return LoadedSubmission(item, loaded.content_hash, loaded.parts, None, note)

    def _has_feedback_section(self, item: SourceItem) -> bool:
        """True when gradebot appended feedback to this Doc (its named range exists)."""
        if self.cache.get(item.key, item.fingerprint, "docs-api") is not None:
            return True
        request = (
            self.session.docs()
            .documents()
            .get(documentId=item.key, fields="namedRanges")
        )
        document = self.session.execute(
            request, action=f"Checking the Google Doc {describe(item)} for feedback"
        )
        return bool(range_names(document, feedback_range_prefix(self.assignment_id)))

    def _docs_api_text(self, item: SourceItem) -> tuple[bytes, str]:
        request = self.session.docs().documents().get(documentId=item.key)
        document = self.session.execute(
            request, action=f"Reading the Google Doc {describe(item)}"
        )
        excluded = named_spans(document, feedback_range_prefix(self.assignment_id))
        return document_markdown(document, excluded).encode("utf-8"), "md"

    def _cached(
        self, item: SourceItem, how: str, fetch: Callable[[], tuple[bytes, str]]
    ) -> tuple[bytes, str]:
        hit = self.cache.get(item.key, item.fingerprint, how)
        if hit is not None:
            return hit.data, hit.extension
        data, extension = fetch()
        self.cache.put(item.key, item.fingerprint, how, data, extension)
        return data, extension

    def _extracted(
        self, item: SourceItem, data: bytes, media_type: str
    ) -> LoadedSubmission:
        result = extract(item.file_name, data, media_type, limits=self.limits)
        return LoadedSubmission(
            item=item,
            content_hash=hashlib.sha256(data).hexdigest(),
            parts=result.parts,
            status=result.status,
            reason=_with_id(result.reason, item),
        )


def _unsupported_reason(item: SourceItem) -> str:
    return (
        f"{describe(item)} is a {type_name(item.media_type)}; gradebot grades Google "
        "Docs, Word (.docx), PDF, text and image files. Ask for a Doc or a PDF "
        "(File > Download > PDF, then upload it to the folder)."
    )


def _with_id(reason: str, item: SourceItem) -> str:
    if not reason or item.key in reason:
        return reason
    return f"{reason} (Drive file ID {item.key})"


def _failed(item: SourceItem, status: Status, reason: str) -> LoadedSubmission:
    return LoadedSubmission(item=item, content_hash="", status=status, reason=reason)
