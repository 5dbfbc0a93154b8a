"""Drive state for the fake: accounts, files, shared drives and permissions.

Access follows Drive's rules closely enough for gradebot. A file is visible to
its owner, to anyone named in one of its permissions or in a permission of a
folder above it, and to the members of its shared drive. The roles ``owner``,
``organizer``, ``fileOrganizer`` and ``writer`` may change it. Files in shared
drives have no owner, as in the real API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import string
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.google_docs import Document
from tests.fakes.google_errors import not_found

GOOGLE_PREFIX = "application/vnd.google-apps."
FOLDER = GOOGLE_PREFIX + "folder"
DOC = GOOGLE_PREFIX + "document"
SHEET = GOOGLE_PREFIX + "spreadsheet"
SHORTCUT = GOOGLE_PREFIX + "shortcut"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Export formats the real Drive lists in about.exportFormats.
EXPORT_FORMATS = {
    DOC: [
        "application/rtf",
        "application/vnd.oasis.opendocument.text",
        "text/html",
        "application/pdf",
        "text/markdown",
        "application/epub+zip",
        "application/zip",
        DOCX,
        "text/plain",
    ],
    SHEET: [
        "application/x-vnd.oasis.opendocument.spreadsheet",
        "text/tab-separated-values",
        "application/pdf",
        XLSX,
        "text/csv",
        "application/zip",
        "application/vnd.oasis.opendocument.spreadsheet",
    ],
}
IMPORT_FORMATS = {
    "text/html": [DOC],
    "text/plain": [DOC],
    "text/markdown": [DOC],
    DOCX: [DOC],
    "text/csv": [SHEET],
}
ROLE_RANK = {
    "reader": 1,
    "commenter": 2,
    "writer": 3,
    "fileOrganizer": 4,
    "organizer": 5,
    "owner": 6,
}
WRITE_ROLES = frozenset({"writer", "fileOrganizer", "organizer", "owner"})
_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


def rfc3339(moment: dt.datetime) -> str:
    """Format a time as Drive does: UTC with milliseconds, e.g. ``...00.000Z``."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Account:
    email: str
    display_name: str
    permission_id: str
    root_id: str

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]

    def user_json(self, viewer: Account | None) -> dict[str, Any]:
        return {
            "kind": "drive#user",
            "displayName": self.display_name,
            "me": viewer is not None and viewer.email == self.email,
            "permissionId": self.permission_id,
            "emailAddress": self.email,
        }


@dataclass
class Permission:
    id: str
    type: str
    role: str
    email: str | None = None
    domain: str | None = None
    allow_file_discovery: bool = False
    notified: bool = False
    email_message: str | None = None

    def matches(self, account: Account) -> bool:
        if self.type in ("user", "group"):
            return self.email == account.email
        if self.type == "domain":
            return self.domain == account.domain
        return self.type == "anyone"


@dataclass
class SharedDrive:
    id: str
    name: str
    created: dt.datetime
    members: dict[str, str] = field(default_factory=dict)
    hidden: bool = False


@dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    owner: str | None
    created: dt.datetime
    modified: dt.datetime
    version: int = 1
    content: bytes | None = None
    document: Document | None = None
    rows: list[list[str]] | None = None
    head_revision_id: str | None = None
    trashed: bool = False
    explicitly_trashed: bool = False
    description: str | None = None
    starred: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    app_properties: dict[str, str] = field(default_factory=dict)
    drive_id: str | None = None
    shortcut_target: str | None = None
    permissions: list[Permission] = field(default_factory=list)
    last_modifier: str | None = None
    original_filename: str | None = None
    viewed: dt.datetime | None = None
    is_root: bool = False

    @property
    def is_google_type(self) -> bool:
        return self.mime_type.startswith(GOOGLE_PREFIX)


class DriveStore:
    """All Drive state, with the access rules that the handlers apply."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.accounts: dict[str, Account] = {}
        self.files: dict[str, DriveFile] = {}
        self.drives: dict[str, SharedDrive] = {}
        self.notifications: list[tuple[str, str, str | None]] = []

    # -- identifiers -------------------------------------------------------

    def new_file_id(self, google_type: bool = False) -> str:
        length = 43 if google_type else 32
        while True:
            file_id = "1" + "".join(
                self.rng.choice(_ID_ALPHABET) for _ in range(length)
            )
            if file_id not in self.files:
                return file_id

    def new_drive_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "0A" + "".join(self.rng.choice(alphabet) for _ in range(11)) + "Uk9PVA"

    def new_revision_id(self) -> str:
        return "0B" + "".join(self.rng.choice(_ID_ALPHABET) for _ in range(47))

    # -- accounts ------------------------------------------------------------

    def add_account(
        self, email: str, display_name: str | None, now: dt.datetime
    ) -> Account:
        if email in self.accounts:
            return self.accounts[email]
        permission_id = "".join(self.rng.choice(string.digits) for _ in range(20))
        root_id = self.new_drive_id()
        name = display_name or email.split("@", 1)[0].replace(".", " ").title()
        account = Account(email, name, permission_id, root_id)
        self.accounts[email] = account
        self.files[root_id] = DriveFile(
            root_id, "My Drive", FOLDER, [], email, now, now, is_root=True
        )
        return account

    # -- lookup and access ------------------------------------------------------

    def find(self, file_id: str, account: Account, all_drives: bool) -> DriveFile:
        """Return a file the account can see, or raise Drive's 404."""
        real_id = account.root_id if file_id == "root" else file_id
        file = self.files.get(real_id)
        if file is None or self.role_for(account, file) is None:
            raise not_found(file_id)
        if file.drive_id and not all_drives:
            raise not_found(file_id)
        return file

    def role_for(self, account: Account, file: DriveFile, depth: int = 0) -> str | None:
        """Return the account's role on the file, or None if it has no access."""
        best: str | None = None
        if file.drive_id:
            drive = self.drives.get(file.drive_id)
            best = drive.members.get(account.email) if drive else None
        elif file.owner == account.email:
            return "owner"
        for permission in file.permissions:
            if permission.matches(account):
                best = _higher(best, permission.role)
        if depth < 50:
            for parent_id in file.parents:
                parent = self.files.get(parent_id)
                if parent is None or parent.is_root:
                    continue
                inherited = self.role_for(account, parent, depth + 1)
                if inherited == "owner":
                    inherited = "writer"
                best = _higher(best, inherited)
        return best

    def can_write(self, account: Account, file: DriveFile) -> bool:
        return self.role_for(account, file) in WRITE_ROLES

    def shared_with(self, account: Account, file: DriveFile) -> bool:
        if file.drive_id or file.owner == account.email:
            return False
        return any(p.matches(account) and p.type != "anyone" for p in file.permissions)

    def emails_with_role(self, file: DriveFile, roles: frozenset[str]) -> set[str]:
        emails = {
            p.email for p in file.permissions if p.role in roles and p.email is not None
        }
        if file.owner and "owner" in roles:
            emails.add(file.owner)
        if file.drive_id and file.drive_id in self.drives:
            members = self.drives[file.drive_id].members
            emails.update(email for email, role in members.items() if role in roles)
        return emails

    # -- rendering ------------------------------------------------------------

    def file_json(self, file: DriveFile, viewer: Account) -> dict[str, Any]:
        """Render every field the fake supports, before ``fields`` selects some."""
        role = self.role_for(viewer, file) or "reader"
        result: dict[str, Any] = {
            "kind": "drive#file",
            "id": file.id,
            "name": file.name,
            "mimeType": file.mime_type,
            "starred": file.starred,
            "trashed": file.trashed,
            "explicitlyTrashed": file.explicitly_trashed,
            "parents": list(file.parents),
            "spaces": ["drive"],
            "version": str(file.version),
            "webViewLink": _web_view_link(file),
            "iconLink": f"https://drive-thirdparty.googleusercontent.com/16/type/{file.mime_type}",
            "hasThumbnail": False,
            "thumbnailVersion": "0",
            "viewedByMe": file.viewed is not None,
            "createdTime": rfc3339(file.created),
            "modifiedTime": rfc3339(file.modified),
            "modifiedByMe": file.last_modifier == viewer.email,
            "shared": bool(file.permissions),
            "ownedByMe": file.owner == viewer.email,
            "capabilities": _capabilities(file, role),
            "viewersCanCopyContent": True,
            "copyRequiresWriterPermission": False,
            "writersCanShare": True,
            "quotaBytesUsed": str(len(file.content or b"")),
            "isAppAuthorized": False,
        }
        self._add_optional(result, file, viewer)
        return result

    def _add_optional(
        self, result: dict[str, Any], file: DriveFile, viewer: Account
    ) -> None:
        if file.description is not None:
            result["description"] = file.description
        if file.properties:
            result["properties"] = dict(file.properties)
        if file.app_properties:
            result["appProperties"] = dict(file.app_properties)
        if file.viewed is not None:
            result["viewedByMeTime"] = rfc3339(file.viewed)
        if file.owner and file.owner in self.accounts:
            result["owners"] = [self.accounts[file.owner].user_json(viewer)]
        if file.last_modifier in self.accounts:
            modifier = self.accounts[file.last_modifier or ""]
            result["lastModifyingUser"] = modifier.user_json(viewer)
        if file.drive_id:
            result["driveId"] = file.drive_id
            result["teamDriveId"] = file.drive_id
        else:
            result["permissions"] = self.permissions_json(file)
            result["permissionIds"] = [p["id"] for p in result["permissions"]]
        if file.content is not None:
            result.update(_content_fields(file))
        if file.mime_type in EXPORT_FORMATS:
            result["exportLinks"] = {
                mime: f"https://docs.google.com/feeds/download/export?id={file.id}"
                f"&exportFormat={mime}"
                for mime in EXPORT_FORMATS[file.mime_type]
            }
        if file.shortcut_target is not None:
            target = self.files.get(file.shortcut_target)
            details = {"targetId": file.shortcut_target}
            if target is not None:
                details["targetMimeType"] = target.mime_type
            result["shortcutDetails"] = details

    def permissions_json(self, file: DriveFile) -> list[dict[str, Any]]:
        entries = []
        if file.owner and file.owner in self.accounts:
            owner = self.accounts[file.owner]
            entries.append(
                Permission(owner.permission_id, "user", "owner", owner.email)
            )
        entries.extend(file.permissions)
        return [self.permission_json(p) for p in entries]

    def permission_json(self, permission: Permission) -> dict[str, Any]:
        result: dict[str, Any] = {
            "kind": "drive#permission",
            "id": permission.id,
            "type": permission.type,
            "role": permission.role,
        }
        if permission.email:
            result["emailAddress"] = permission.email
            account = self.accounts.get(permission.email)
            if account is not None:
                result["displayName"] = account.display_name
        if permission.domain:
            result["domain"] = permission.domain
        if permission.type in ("anyone", "domain"):
            result["allowFileDiscovery"] = permission.allow_file_discovery
        result["deleted"] = False
        return result

    def drive_json(self, drive: SharedDrive) -> dict[str, Any]:
        return {
            "kind": "drive#drive",
            "id": drive.id,
            "name": drive.name,
            "createdTime": rfc3339(drive.created),
            "hidden": drive.hidden,
        }


def _higher(current: str | None, candidate: str | None) -> str | None:
    if candidate is None:
        return current
    if current is None or ROLE_RANK[candidate] > ROLE_RANK[current]:
        return candidate
    return current


def _web_view_link(file: DriveFile) -> str:
    if file.mime_type == DOC:
        return f"https://docs.google.com/document/d/{file.id}/edit?usp=drivesdk"
    if file.mime_type == FOLDER:
        return f"https://drive.google.com/drive/folders/{file.id}"
    return f"https://drive.google.com/file/d/{file.id}/view?usp=drivesdk"


def _content_fields(file: DriveFile) -> dict[str, Any]:
    data = file.content or b""
    name = file.original_filename or file.name
    result: dict[str, Any] = {
        "md5Checksum": hashlib.md5(data).hexdigest(),
        "sha1Checksum": hashlib.sha1(data).hexdigest(),
        "sha256Checksum": hashlib.sha256(data).hexdigest(),
        "size": str(len(data)),
        "originalFilename": name,
        "webContentLink": f"https://drive.google.com/uc?id={file.id}&export=download",
    }
    if file.head_revision_id:
        result["headRevisionId"] = file.head_revision_id
    if "." in name:
        result["fileExtension"] = name.rsplit(".", 1)[-1]
        result["fullFileExtension"] = name.split(".", 1)[-1]
    return result


def _capabilities(file: DriveFile, role: str) -> dict[str, bool]:
    can_edit = role in WRITE_ROLES
    folder = file.mime_type == FOLDER
    return {
        "canAddChildren": folder and can_edit,
        "canComment": role != "reader",
        "canCopy": not folder,
        "canDelete": role in ("owner", "organizer"),
        "canDownload": True,
        "canEdit": can_edit,
        "canListChildren": folder,
        "canModifyContent": can_edit,
        "canReadRevisions": can_edit,
        "canRemoveChildren": folder and can_edit,
        "canRename": can_edit,
        "canShare": can_edit,
        "canTrash": role in ("owner", "organizer", "fileOrganizer"),
        "canUntrash": role in ("owner", "organizer", "fileOrganizer"),
    }
