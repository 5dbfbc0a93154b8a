"""Where submissions come from: a local folder or a Google Drive folder.

Every source lists its items cheaply, then loads each one on request. Loading a
bad file returns a :class:`LoadedSubmission` with a file status and a reason
that names the file and, where there is one, the fix, rather than raising.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from gradebot_cli.domain import LoadedSubmission, SourceItem
from gradebot_cli.sources.extract import ExtractResult, Limits, extract
from gradebot_cli.sources.local import LocalFolderSource

__all__ = [
    "ExtractResult",
    "Limits",
    "LocalFolderSource",
    "Source",
    "extract",
]


class Source(Protocol):
    """A place that contains one submission per student."""

    kind: str
    """Short name of the source type, such as ``"local"`` or ``"drive"``."""

    def list_items(self) -> Iterator[SourceItem]:
        """Yield every submission without reading content (names, sizes,
        fingerprints), sorted by student and then by key."""
        ...

    def load(self, item: SourceItem) -> LoadedSubmission:
        """Read and extract one item; a bad file gives a file status, not an
        exception."""
        ...
