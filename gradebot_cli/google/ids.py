"""Drive file and folder IDs from the URLs people copy out of a browser."""

from __future__ import annotations

import re
import urllib.parse

from gradebot_cli.errors import ConfigError

# Drive IDs use letters, digits, "-" and "_". Shared-drive IDs are the shortest
# in use (19 characters); 10 still rejects words typed by mistake.
_ID = re.compile(r"[A-Za-z0-9_-]{10,}")
# Path segments that precede the ID: /drive/folders/ID, /file/d/ID, /document/d/ID.
_MARKERS = ("folders", "d")


def parse_drive_id(value: str, kind: str = "Drive folder") -> str:
    """Return the file or folder ID in a Drive URL, or ``value`` if it is an ID.

    Accepts ``https://drive.google.com/drive/folders/ID`` (also with ``/u/0/`` or
    ``?usp=sharing``), ``.../open?id=ID``, ``.../folderview?id=ID``,
    ``.../file/d/ID/view``, ``https://docs.google.com/document/d/ID/edit`` and a
    bare ID. Raises ConfigError naming the value otherwise.
    """
    text = value.strip()
    if _ID.fullmatch(text):
        return text
    parts = urllib.parse.urlsplit(text)
    host = parts.hostname or ""
    if parts.scheme in ("http", "https") and host.endswith(".google.com"):
        found = _id_in_url(parts)
        if found:
            return found
    raise ConfigError(
        f"{value!r} is not a {kind} URL or ID. Open the folder in Google Drive and "
        "copy the address from the browser (https://drive.google.com/drive/folders/...)."
    )


def _id_in_url(parts: urllib.parse.SplitResult) -> str | None:
    query = urllib.parse.parse_qs(parts.query)
    for candidate in query.get("id", []):
        if _ID.fullmatch(candidate):
            return candidate
    segments = [s for s in parts.path.split("/") if s]
    for index, segment in enumerate(segments[:-1]):
        following = segments[index + 1]
        if segment in _MARKERS and _ID.fullmatch(following):
            return following
    return None
