"""Drive file metadata: the fields gradebot reads, and what it derives from them."""

from __future__ import annotations

from typing import Any

from gradebot_cli.domain import SourceItem
from gradebot_cli.sources.local import student_name

GOOGLE_APPS = "application/vnd.google-apps."
FOLDER = GOOGLE_APPS + "folder"
DOC = GOOGLE_APPS + "document"
SHORTCUT = GOOGLE_APPS + "shortcut"
GOOGLE_TYPE_NAMES = {
    "document": "Google Doc",
    "folder": "folder",
    "spreadsheet": "Google Sheets spreadsheet",
    "presentation": "Google Slides presentation",
    "form": "Google Form",
    "drawing": "Google Drawing",
    "jam": "Jamboard",
    "site": "Google Site",
    "script": "Apps Script project",
    "map": "Google My Maps map",
    "vid": "Google Vids video",
}
FILE_FIELDS = (
    "id,name,mimeType,size,md5Checksum,version,modifiedTime,headRevisionId,"
    "trashed,driveId,appProperties,owners(displayName,emailAddress,me),"
    "lastModifyingUser(displayName,emailAddress,me),shortcutDetails(targetId)"
)


def describe(item: SourceItem) -> str:
    """Name a Drive item for messages: its name and ID."""
    return f"'{item.file_name}' (Drive file ID {item.key})"


def student_of(meta: dict[str, Any]) -> tuple[str, str, str]:
    """Return (name, e-mail, where they came from) for a Drive file."""
    owners = meta.get("owners") or []
    if owners:
        candidate, origin = owners[0], "owner"
    else:
        candidate, origin = meta.get("lastModifyingUser") or {}, "last modifier"
    email = str(candidate.get("emailAddress") or "")
    name = str(candidate.get("displayName") or email.split("@", 1)[0])
    if name and not candidate.get("me"):
        return name, email, origin
    return student_name(meta["name"]), "", "title"


def fingerprint(meta: dict[str, Any]) -> str:
    """Return a change fingerprint from Drive metadata: ``md5Checksum`` for
    uploaded files, ``version`` and ``modifiedTime`` for Google types."""
    if meta.get("md5Checksum"):
        return f"md5:{meta['md5Checksum']}"
    if meta["mimeType"].startswith(GOOGLE_APPS):
        return f"version:{meta.get('version', '')}:{meta.get('modifiedTime', '')}"
    return (
        f"revision:{meta.get('headRevisionId', '')}:{meta.get('modifiedTime', '')}:"
        f"{meta.get('size', '')}"
    )


def type_name(mime_type: str) -> str:
    if mime_type.startswith(GOOGLE_APPS):
        kind = mime_type.removeprefix(GOOGLE_APPS)
        return GOOGLE_TYPE_NAMES.get(kind, f"Google {kind} file")
    return f"file of type {mime_type}"
