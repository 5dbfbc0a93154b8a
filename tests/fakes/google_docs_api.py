"""Docs v1 methods: documents.get, documents.batchUpdate and documents.create.

A document is a Drive file of type ``application/vnd.google-apps.document``, so
both APIs see the same content: edits made here show in Drive exports, and a
Doc uploaded through Drive can be read here. The Docs API reaches files in
shared drives without any ``supportsAllDrives`` flag.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.google_docs import Document
from tests.fakes.google_docs_render import document_json
from tests.fakes.google_docs_requests import apply_batch
from tests.fakes.google_drive_model import DOC, Account, DriveFile, DriveStore
from tests.fakes.google_errors import docs_error
from tests.fakes.google_fields import select
from tests.fakes.google_server import Clock, Request, Response


def _json(body: Any) -> Response:
    return Response(200, json.dumps(body, indent=2, ensure_ascii=False).encode())


class DocsApi:
    def __init__(self, store: DriveStore, clock: Clock) -> None:
        self.store, self.clock = store, clock

    def find(self, document_id: str, account: Account) -> DriveFile:
        """Return the Doc, or raise the Docs API's 404 or 400."""
        file = self.store.files.get(document_id)
        if file is None or self.store.role_for(account, file) is None:
            raise docs_error(404, "Requested entity was not found.")
        if file.mime_type != DOC or file.document is None:
            raise docs_error(
                400,
                "This operation is not supported for this document",
                status_name="FAILED_PRECONDITION",
            )
        return file

    def get(self, request: Request, account: Account, document_id: str) -> Response:
        file = self.find(document_id, account)
        assert file.document is not None
        tabs = request.flag("includeTabsContent")
        body = document_json(file.document, file.id, file.name, tabs)
        fields = request.param("fields")
        return _json(select(body, fields, "*", "docs.v1", "Document"))

    def batch_update(
        self, request: Request, account: Account, document_id: str
    ) -> Response:
        file = self.find(document_id, account)
        assert file.document is not None
        if not self.store.can_write(account, file):
            raise docs_error(403, "The caller does not have permission")
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise docs_error(400, "Invalid JSON payload received.") from None
        control = body.get("writeControl") or {}
        required = control.get("requiredRevisionId")
        if required is not None and required != file.document.revision_id:
            # NOTE: only the status and code of this error are documented, not its text.
            raise docs_error(
                400,
                f"The required revision ID {required} does not match the latest "
                f"revision of the document.",
                status_name="FAILED_PRECONDITION",
            )
        requests = body.get("requests") or []
        replies = apply_batch(file.document, requests)
        if requests:
            file.document.new_revision()
            file.version += 1
            file.modified = self.clock.now()
            file.last_modifier = account.email
        return _json(
            {
                "replies": replies,
                "writeControl": {"requiredRevisionId": file.document.revision_id},
                "documentId": file.id,
            }
        )

    def create(self, request: Request, account: Account) -> Response:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise docs_error(400, "Invalid JSON payload received.") from None
        now = self.clock.now()
        file = DriveFile(
            self.store.new_file_id(True),
            str(body.get("title") or "Untitled document"),
            DOC,
            [account.root_id],
            account.email,
            now,
            now,
            document=Document(self.store.rng),
            last_modifier=account.email,
        )
        self.store.files[file.id] = file
        assert file.document is not None
        return _json(document_json(file.document, file.id, file.name, False))
