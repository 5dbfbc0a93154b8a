"""A local copy of downloaded Drive content, so re-runs do not download again.

Layout: ``ROOT/<file id>/<key>.<extension>``, where the key is a hash of the
file's fingerprint and of how the content was read (download, Markdown export,
Docs API). A file's older versions are removed when a new one is stored, and
the least recently used entries go when the cache grows past its size limit.

Concurrent runs are safe: entries are written to a temporary file and renamed
into place, and a reader that loses a race with a removal downloads again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gradebot_cli.settings import env_int, gradebot_home

log = logging.getLogger(__name__)

ENV_CACHE_MB = "GRADEBOT_DRIVE_CACHE_MB"
DEFAULT_CACHE_MB = 500
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class CachedContent:
    data: bytes
    extension: str


class DriveCache:
    """Downloaded bytes keyed by Drive file ID and fingerprint."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    @classmethod
    def default(cls) -> DriveCache:
        """Return the cache in ``$GRADEBOT_HOME/cache/drive``, sized by
        GRADEBOT_DRIVE_CACHE_MB."""
        megabytes = env_int(ENV_CACHE_MB, DEFAULT_CACHE_MB, minimum=0)
        return cls(gradebot_home() / "cache" / "drive", megabytes * 1_000_000)

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, file_id: str, fingerprint: str, how: str) -> CachedContent | None:
        folder = self._folder(file_id)
        if folder is None or not self.enabled:
            return None
        stem = _key(fingerprint, how)
        for path in _entries(folder):
            if path.stem != stem:
                continue
            try:
                data = path.read_bytes()
                os.utime(path)
            except OSError:
                return None
            return CachedContent(data, path.suffix.lstrip("."))
        return None

    def put(
        self, file_id: str, fingerprint: str, how: str, data: bytes, extension: str
    ) -> None:
        """Store content; failures are logged, because the cache is only a speed-up."""
        folder = self._folder(file_id)
        if folder is None or not self.enabled or len(data) > self.max_bytes:
            return
        stem = _key(fingerprint, how)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temp_name = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(data)
                os.replace(temp_name, folder / f"{stem}.{extension}")
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("Could not cache Drive file %s: %s", file_id, exc)
            return
        self._remove_other_versions(folder, stem)
        self.prune()

    def prune(self) -> None:
        """Remove the least recently used entries until the cache fits its limit."""
        entries: list[tuple[float, int, Path]] = []
        for folder in _entries(self.root):
            for path in _entries(folder):
                if path.name.startswith(".tmp-"):
                    continue
                try:
                    info = path.stat()
                except OSError:
                    continue
                entries.append((info.st_mtime, info.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def _folder(self, file_id: str) -> Path | None:
        # Drive IDs are letters, digits, "-" and "_"; anything else never
        # becomes a path.
        return self.root / file_id if _SAFE_ID.fullmatch(file_id) else None

    def _remove_other_versions(self, folder: Path, keep: str) -> None:
        for path in _entries(folder):
            if path.stem != keep and not path.name.startswith(".tmp-"):
                path.unlink(missing_ok=True)


def _key(fingerprint: str, how: str) -> str:
    return hashlib.sha256(f"{how}\0{fingerprint}".encode()).hexdigest()[:32]


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []
