"""Submissions from a folder on disk: one file or one subfolder per student.

Layout rules:

- Each visible file directly in the folder is one student's submission. The
  student's name is the file name without its extension, with ``_`` turned into
  spaces and runs of whitespace collapsed: ``Ana_María López.docx`` belongs to
  ``Ana María López``.
- Each subfolder is one student's submission, named after the folder. Its
  visible files, in natural name order (``page2`` before ``page10``), become the
  parts. Folders nested inside a student's folder are not read.
- Hidden files (``.name``), office lock and temporary files (``~$name``,
  ``name~``), ``Thumbs.db``, ``desktop.ini`` and the paths in ``exclude`` are
  skipped everywhere.
- In a student's folder, files that fail (unsupported, empty, too large...) do
  not hide the good ones: the good files are graded and ``reason`` lists what was
  skipped, with ``status`` left as None. Only when no file gives content does the
  submission take a file status: that of its first failing file in name order.

``SourceItem.fingerprint`` is built from sizes and modification times, so listing
reads no content. ``LoadedSubmission.content_hash`` is the SHA-256 of the file's
bytes, or for a folder a SHA-256 over its member names and their hashes. It is ""
when nothing could be read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Collection, Iterator
from pathlib import Path, PurePosixPath

from gradebot_cli.domain import (
    BinaryPart,
    ContentPart,
    LoadedSubmission,
    SourceItem,
    Status,
    TextPart,
)
from gradebot_cli.errors import ConfigError
from gradebot_cli.sources.extract import (
    DEFAULT_LIMITS,
    ExtractResult,
    Limits,
    check_size,
    extract,
    format_size,
    media_type_for,
)

FOLDER_MEDIA_TYPE = "inode/directory"
_SKIPPED_NAMES = {"thumbs.db", "desktop.ini"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


def is_ignored_name(name: str) -> bool:
    """Return True for hidden, lock and temporary files that are never work."""
    return (
        name.startswith((".", "~$"))
        or name.endswith("~")
        or name.lower() in _SKIPPED_NAMES
    )


def student_name(file_name: str, *, is_folder: bool = False) -> str:
    """Derive a student's name from a file or folder name.

    ``Ana_María López.docx`` gives ``Ana María López`` and ``student-001.txt``
    gives ``student-001``. The result is NFC-normalised, because macOS stores
    file names decomposed.
    """
    stem = file_name if is_folder else PurePosixPath(file_name).stem
    name = " ".join(stem.replace("_", " ").split())
    return unicodedata.normalize("NFC", name) or file_name


def _natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    parts = re.split(r"(\d+)", name.casefold())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


class LocalFolderSource:
    """Submissions in a local folder; see the module docstring for the layout."""

    kind: str = "local"

    def __init__(
        self,
        folder: Path,
        *,
        exclude: Collection[Path] = (),
        limits: Limits | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.limits = limits or DEFAULT_LIMITS
        self._excluded = {os.path.realpath(p) for p in exclude}

    def list_items(self) -> Iterator[SourceItem]:
        """Yield one item per student file or folder, sorted by student then key.

        Raises ConfigError when the folder itself is missing or unreadable.
        """
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            raise ConfigError(
                f"Submissions folder not found: {self.folder}; check the path."
            ) from None
        except NotADirectoryError:
            raise ConfigError(
                f"Submissions folder is a file, not a folder: {self.folder}."
            ) from None
        except OSError as error:
            raise ConfigError(
                f"Cannot read the submissions folder {self.folder}: "
                f"{error.strerror}; check its permissions."
            ) from None

        items = [self._item(e) for e in entries if self._is_candidate(e)]
        items.sort(key=lambda i: (i.student.casefold(), i.student, i.key))
        yield from items

    def load(self, item: SourceItem) -> LoadedSubmission:
        """Read one item's file or folder.

        File-system and parser errors become a file status with a reason, so one
        bad file never stops the others.
        """
        if ".." in PurePosixPath(item.key).parts:
            return _failed(
                item, Status.UNREADABLE, f"{item.key} is outside the folder."
            )
        path = self.folder / item.key
        if not self._inside(path):
            return _failed(
                item,
                Status.UNREADABLE,
                f"{item.key} is a link to something outside the submissions folder; "
                "copy the work into the folder instead.",
            )
        if _is_dir(path):
            return self._load_folder(item, path)
        result, content_hash = self._read_file(path, item.key, self.limits)
        return LoadedSubmission(
            item=item,
            content_hash=content_hash,
            parts=result.parts,
            status=result.status,
            reason=result.reason,
        )

    # --- listing -------------------------------------------------------------

    def _inside(self, path: Path | str) -> bool:
        """Whether ``path``, with links followed, stays inside the folder.

        A link out of the folder could send any file the user can read (a token,
        a key) to the API as a student's work.
        """
        root = os.path.realpath(self.folder)
        real = os.path.realpath(path)
        return real == root or real.startswith(root + os.sep)

    def _is_candidate(self, entry: os.DirEntry[str]) -> bool:
        if is_ignored_name(entry.name):
            return False
        # realpath, unlike Path.resolve on Python 3.11, returns for symlink loops.
        return os.path.realpath(entry.path) not in self._excluded

    def _item(self, entry: os.DirEntry[str]) -> SourceItem:
        is_folder = _is_dir(entry)
        if is_folder:
            size, fingerprint = self._folder_fingerprint(Path(entry.path))
            media_type = FOLDER_MEDIA_TYPE
        else:
            size, fingerprint = _file_fingerprint(Path(entry.path))
            media_type = media_type_for(entry.name)
        return SourceItem(
            key=entry.name,
            student=student_name(entry.name, is_folder=is_folder),
            file_name=entry.name,
            fingerprint=fingerprint,
            media_type=media_type,
            size=size,
        )

    def _members(self, folder: Path) -> tuple[list[Path], list[Path]]:
        """Return a student folder's visible files and nested folders, sorted."""
        files: list[Path] = []
        nested: list[Path] = []
        for entry in os.scandir(folder):
            if not self._is_candidate(entry) or not self._inside(entry.path):
                continue
            (nested if _is_dir(entry) else files).append(Path(entry.path))
        files.sort(key=lambda p: _natural_key(p.name))
        nested.sort(key=lambda p: _natural_key(p.name))
        return files, nested

    def _folder_fingerprint(self, folder: Path) -> tuple[int | None, str]:
        try:
            files, nested = self._members(folder)
        except OSError as error:
            return None, f"unreadable:{error.errno}"
        digest = hashlib.sha256()
        total = 0
        for path in files:
            size, fingerprint = _file_fingerprint(path)
            total += size or 0
            digest.update(f"{path.name}\0{fingerprint}\n".encode())
        for path in nested:
            digest.update(f"{path.name}/\n".encode())
        return total, f"{len(files)}-{digest.hexdigest()[:32]}"

    # --- loading -------------------------------------------------------------

    def _read_file(
        self, path: Path, name: str, limits: Limits
    ) -> tuple[ExtractResult, str]:
        """Read and extract one file; return the result and the bytes' SHA-256."""
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                return _unreadable(name, "is not a regular file"), ""
            problem = check_size(name, info.st_size, limits=limits)
            if problem is not None:
                return problem, _hash_file(path) if info.st_size else _EMPTY_HASH
            with path.open("rb") as handle:
                data = handle.read(info.st_size + 1)
        except PermissionError:
            return _unreadable(
                name, "cannot be read (permission denied); fix its permissions"
            ), ""
        except OSError as error:
            return _unreadable(name, f"cannot be read ({error.strerror})"), ""
        return extract(name, data, limits=limits), hashlib.sha256(data).hexdigest()

    def _load_folder(self, item: SourceItem, folder: Path) -> LoadedSubmission:
        try:
            files, nested = self._members(folder)
        except PermissionError:
            reason = (
                f"{item.key}/ cannot be read (permission denied); fix its permissions."
            )
            return _failed(item, Status.UNREADABLE, reason)
        except OSError as error:
            reason = f"{item.key}/ cannot be read ({error.strerror})."
            return _failed(item, Status.UNREADABLE, reason)

        limits = self._folder_limits(files)
        digest = hashlib.sha256()
        parts: list[ContentPart] = []
        failures: list[ExtractResult] = []
        for path in files:
            name = f"{item.key}/{path.name}"
            result, file_hash = self._read_file(path, name, limits)
            digest.update(f"{path.name}\0{file_hash}\n".encode())
            if result.ok:
                parts.extend(result.parts)
            else:
                failures.append(result)

        content_hash = digest.hexdigest() if files else ""
        too_large = _check_folder_total(item.key, parts, limits)
        if too_large is not None:
            return _failed(item, Status.TOO_LARGE, too_large, content_hash)
        return _folder_submission(item, content_hash, parts, failures, nested)

    def _folder_limits(self, files: list[Path]) -> Limits:
        # One request carrying more than ``many_images`` images has a smaller
        # per-image side limit.
        images = sum(1 for p in files if p.suffix.lower() in _IMAGE_SUFFIXES)
        if images <= self.limits.many_images:
            return self.limits
        return dataclasses.replace(
            self.limits, max_image_side=self.limits.max_image_side_many
        )


_EMPTY_HASH = hashlib.sha256(b"").hexdigest()


def _is_dir(entry: os.DirEntry[str] | Path) -> bool:
    # Both is_dir methods raise PermissionError; an entry that cannot be
    # inspected is then read as a file, which reports the error.
    try:
        return entry.is_dir()
    except OSError:
        return False


def _file_fingerprint(path: Path) -> tuple[int | None, str]:
    try:
        info = path.stat()
    except OSError as error:
        return None, f"unreadable:{error.errno}"
    return info.st_size, f"{info.st_size}-{info.st_mtime_ns}"


def _hash_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _unreadable(name: str, problem: str) -> ExtractResult:
    return ExtractResult(status=Status.UNREADABLE, reason=f"{name} {problem}.")


def _failed(
    item: SourceItem, status: Status, reason: str, content_hash: str = ""
) -> LoadedSubmission:
    return LoadedSubmission(
        item=item, content_hash=content_hash, status=status, reason=reason
    )


def _check_folder_total(
    key: str, parts: list[ContentPart], limits: Limits
) -> str | None:
    """Return why a folder's parts exceed one request's limits, or None.

    NOTE: the pages of several native PDFs are not added up against
    ``max_pdf_pages``; each PDF is checked on its own.
    """
    native = [p for p in parts if isinstance(p, BinaryPart)]
    native_bytes = sum(len(p.data) for p in native)
    if native_bytes > limits.max_native_bytes:
        return (
            f"{key}/ has {format_size(native_bytes)} of PDFs and images, over the "
            f"{format_size(limits.max_native_bytes)} one Claude API request can "
            "carry; compress or remove some files."
        )
    images = sum(1 for p in native if p.block_type == "image")
    if images > limits.max_images:
        return (
            f"{key}/ has {images} images, over the {limits.max_images} one "
            "Claude API request can carry; combine them into a PDF."
        )
    text_chars = sum(len(p.text) for p in parts if isinstance(p, TextPart))
    if text_chars > limits.max_text_chars:
        return (
            f"{key}/ has {text_chars:,} characters of text in all, over the "
            f"limit of {limits.max_text_chars:,}; check it holds the right files."
        )
    return None


def _folder_submission(
    item: SourceItem,
    content_hash: str,
    parts: list[ContentPart],
    failures: list[ExtractResult],
    nested: list[Path],
) -> LoadedSubmission:
    notes = [f.reason for f in failures]
    if nested:
        names = ", ".join(f"{item.key}/{p.name}/" for p in nested)
        notes.append(f"Nested folders are not read: {names}; move their files up.")
    if parts:
        reason = ("Skipped: " + " ".join(notes)) if notes else ""
        return LoadedSubmission(
            item=item, content_hash=content_hash, parts=tuple(parts), reason=reason
        )
    if failures:
        status = failures[0].status or Status.UNREADABLE
        return _failed(item, status, " ".join(notes), content_hash)
    reason = f"{item.key}/ contains no files."
    if notes:
        reason += " " + " ".join(notes)
    return _failed(item, Status.EMPTY, reason, content_hash)
