"""Drive v3 sharing: permissions.create, permissions.list and permissions.delete.

Sharing with a user or group records the notification e-mail Drive would send
unless ``sendNotificationEmail=false``, and tests read them from
``FakeGoogle.notifications``. Making someone the owner needs
``transferOwnership=true``, and the previous owner becomes a writer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.fakes.google_drive import json_response
from tests.fakes.google_drive_model import (
    ROLE_RANK,
    Account,
    DriveFile,
    DriveStore,
    Permission,
)
from tests.fakes.google_drive_write import json_body
from tests.fakes.google_errors import (
    drive_error,
    insufficient_file_permissions,
    invalid_value,
)
from tests.fakes.google_fields import select
from tests.fakes.google_server import Clock, Request, Response


class DrivePermissions:
    """Handlers for the permissions resource."""

    def __init__(self, store: DriveStore, clock: Clock) -> None:
        self.store, self.clock = store, clock

    def create_permission(
        self, request: Request, account: Account, file_id: str
    ) -> Response:
        file = self.store.find(file_id, account, _all_drives(request))
        if not self.store.can_write(account, file):
            raise insufficient_file_permissions()
        body = json_body(request)
        kind, role = body.get("type"), body.get("role")
        email = body.get("emailAddress")
        _check_permission(kind, role, email, body.get("domain"))
        if role == "owner" and self.store.role_for(account, file) != "owner":
            raise insufficient_file_permissions()
        if role == "owner" and not request.flag("transferOwnership"):
            raise drive_error(
                403,
                "forbidden",
                "The transferOwnership parameter must be enabled when the permission "
                "role is 'owner'.",
                location="transferOwnership",
            )
        permission = self._grant(file, str(kind), str(role), email, body)
        notify = request.param("sendNotificationEmail")
        if kind in ("user", "group") and (notify is None or notify == "true"):
            permission.notified = True
            permission.email_message = request.param("emailMessage")
            self.store.notifications.append(
                (file.id, str(email), permission.email_message)
            )
        file.version += 1
        result = self.store.permission_json(permission)
        fields = request.param("fields")
        return json_response(
            select(result, fields, "kind,id,type,role", "drive.v3", "Permission")
        )

    def _grant(
        self,
        file: DriveFile,
        kind: str,
        role: str,
        email: Any,
        body: dict[str, Any],
    ) -> Permission:
        if kind in ("user", "group"):
            grantee = self.store.add_account(str(email), None, self.clock.now())
            permission_id = grantee.permission_id
        elif kind == "anyone":
            permission_id = (
                "anyone" if body.get("allowFileDiscovery") else "anyoneWithLink"
            )
        else:
            digest = hashlib.sha256(str(body.get("domain")).encode()).hexdigest()
            permission_id = str(int(digest, 16))[:20]
        if role == "owner" and file.owner:
            previous = self.store.accounts[file.owner]
            file.permissions.append(
                Permission(previous.permission_id, "user", "writer", previous.email)
            )
            file.permissions = [p for p in file.permissions if p.id != permission_id]
            file.owner = str(email)
            return Permission(permission_id, kind, "owner", str(email))
        for existing in file.permissions:
            if existing.id == permission_id:
                existing.role = role
                return existing
        permission = Permission(
            permission_id,
            kind,
            role,
            str(email) if email else None,
            body.get("domain"),
            bool(body.get("allowFileDiscovery")),
        )
        file.permissions.append(permission)
        return permission

    def list_permissions(
        self, request: Request, account: Account, file_id: str
    ) -> Response:
        file = self.store.find(file_id, account, _all_drives(request))
        body = {
            "kind": "drive#permissionList",
            "permissions": self.store.permissions_json(file),
        }
        fields = request.param("fields")
        return json_response(
            select(
                body,
                fields,
                "kind,permissions(kind,id,type,role)",
                "drive.v3",
                "PermissionList",
            )
        )

    def delete_permission(
        self, request: Request, account: Account, file_id: str, permission_id: str
    ) -> Response:
        file = self.store.find(file_id, account, _all_drives(request))
        if not self.store.can_write(account, file):
            raise insufficient_file_permissions()
        remaining = [p for p in file.permissions if p.id != permission_id]
        if len(remaining) == len(file.permissions):
            raise drive_error(
                404,
                "notFound",
                f"Permission not found: {permission_id}.",
                location="permissionId",
            )
        file.permissions = remaining
        return Response(204, b"", "text/html")


def _all_drives(request: Request) -> bool:
    return request.flag("supportsAllDrives") or request.flag("supportsTeamDrives")


def _check_permission(kind: Any, role: Any, email: Any, domain: Any) -> None:
    if not kind:
        raise drive_error(
            400,
            "required",
            "The permission type field is required.",
            location="permission.type",
        )
    if kind not in ("user", "group", "domain", "anyone"):
        raise invalid_value("permission.type")
    if not role:
        raise drive_error(
            400,
            "required",
            "The permission role field is required.",
            location="permission.role",
        )
    if role not in ROLE_RANK:
        raise invalid_value("permission.role")
    if kind in ("user", "group") and not email:
        raise drive_error(
            400,
            "required",
            "The permission emailAddress field is required.",
            location="permission.emailAddress",
        )
    if kind == "domain" and not domain:
        raise drive_error(
            400,
            "required",
            "The permission domain field is required.",
            location="permission.domain",
        )
