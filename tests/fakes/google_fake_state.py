"""State of :class:`tests.fakes.google_api.FakeGoogle` and the helpers tests
use to set it up and read it back, without going through HTTP."""

from __future__ import annotations

import datetime as dt
import mimetypes
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tests.fakes import google_docs_convert as convert
from tests.fakes.google_docs import Document, ParagraphSpec
from tests.fakes.google_docs_render import document_json
from tests.fakes.google_drive_model import (
    DOC,
    DOCX,
    FOLDER,
    SHEET,
    SHORTCUT,
    Account,
    DriveFile,
    DriveStore,
    Permission,
    SharedDrive,
)
from tests.fakes.google_oauth import DEFAULT_SCOPES, OAuthServer
from tests.fakes.google_server import Clock, FaultQueue, RequestLog

DEFAULT_SERVICE_ACCOUNT = "grader@gradebot-tests.iam.gserviceaccount.com"
LIST_KINDS = ("bullet", "number")
ParagraphInput = str | tuple[str, str] | ParagraphSpec


@dataclass
class DocParagraph:
    """One paragraph of a Doc, as tests compare it."""

    text: str
    style: str
    list_kind: str | None
    level: int
    runs: list[tuple[str, dict[str, Any]]]


class FakeState:
    """Accounts, OAuth grants, Drive files and Docs, plus setup helpers.

    The helpers do not take the lock that request handling holds, so call them
    between requests, not while another thread is using the fake.
    """

    def __init__(
        self, teacher_email: str, teacher_name: str, token_lifetime: int, seed: int
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.store = DriveStore(self.rng)
        self.log = RequestLog()
        self.faults = FaultQueue(seed)
        self.oauth = OAuthServer(
            self.clock, lambda email: email in self.store.accounts, token_lifetime
        )
        self.client_id = "1234567890-gradebot.apps.googleusercontent.com"
        self.client_secret = "GOCSPX-" + secrets.token_urlsafe(21)
        self.oauth.add_client(self.client_id, self.client_secret)
        self.teacher = self.store.add_account(
            teacher_email, teacher_name, self.clock.now()
        )
        self.oauth.signed_in_user = teacher_email

    @property
    def token_uri(self) -> str:
        raise NotImplementedError

    @property
    def auth_uri(self) -> str:
        raise NotImplementedError

    # -- accounts and time -----------------------------------------------------

    def add_user(self, email: str, display_name: str | None = None) -> Account:
        return self.store.add_account(email, display_name, self.clock.now())

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock forward. Access tokens expire by this clock."""
        self.clock.advance(seconds)

    # -- OAuth --------------------------------------------------------------

    @property
    def access_token_lifetime(self) -> int:
        """Seconds a new access token is valid, sent as ``expires_in``.

        google-auth 2.x refreshes a token once fewer than 225 seconds of it are
        left, so a shorter lifetime makes it refresh before every request.
        """
        return self.oauth.access_token_lifetime

    @access_token_lifetime.setter
    def access_token_lifetime(self, seconds: int) -> None:
        self.oauth.access_token_lifetime = seconds

    def client_config(self) -> dict[str, Any]:
        """Client secrets for an installed app, as google-auth-oauthlib reads them."""
        return {
            "installed": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "redirect_uris": ["http://localhost"],
            }
        }

    def issue_refresh_token(
        self, email: str | None = None, scopes: Sequence[str] = DEFAULT_SCOPES
    ) -> str:
        return self.oauth.issue_refresh_token(
            email or self.teacher.email, self.client_id, list(scopes)
        )

    def issue_access_token(
        self, email: str | None = None, scopes: Sequence[str] = DEFAULT_SCOPES
    ) -> str:
        issued = self.oauth.issue_access_token(
            email or self.teacher.email, list(scopes), self.client_id, None
        )
        return issued.token

    def user_credentials(
        self, email: str | None = None, scopes: Sequence[str] = DEFAULT_SCOPES
    ) -> Any:
        """Return ``google.oauth2.credentials.Credentials`` holding a fresh refresh
        token for the user. The first request refreshes it at :attr:`token_uri`."""
        from google.oauth2.credentials import Credentials

        return Credentials(  # type: ignore[no-untyped-call]
            token=None,
            refresh_token=self.issue_refresh_token(email, scopes),
            token_uri=self.token_uri,
            client_id=self.client_id,
            client_secret=self.client_secret,
            scopes=list(scopes),
        )

    def service_account_info(
        self, email: str = DEFAULT_SERVICE_ACCOUNT, *, delegation: bool = True
    ) -> dict[str, Any]:
        """Create a service account and return its JSON key as a dict.

        ``delegation`` allows domain-wide delegation: an assertion with a
        ``sub`` claim then gets a token acting as that user.
        """
        account = self.oauth.service_accounts.get(email)
        if account is None:
            account = self.oauth.add_service_account(email, delegation)
            self.add_user(email, email.split("@", 1)[0])
        return {
            "type": "service_account",
            "project_id": "gradebot-tests",
            "private_key_id": account.key_id,
            "private_key": account.private_key_pem,
            "client_email": email,
            "client_id": account.client_id,
            "auth_uri": self.auth_uri,
            "token_uri": self.token_uri,
            "universe_domain": "googleapis.com",
        }

    def expire_all_access_tokens(self) -> None:
        self.oauth.expire_all()

    def revoke_refresh_token(self, token: str) -> None:
        if not self.oauth.revoke(token):
            raise KeyError(
                f"token not found: {token[:12]}... (issue it with this fake)"
            )

    def set_consent(self, approve: bool, user: str | None = None) -> None:
        """Choose what the authorization endpoint does: approve (as ``user``,
        default the teacher) or redirect with ``error=access_denied``."""
        self.oauth.consent = "approve" if approve else "deny"
        self.oauth.signed_in_user = user or self.teacher.email

    # -- Drive setup ------------------------------------------------------------

    def add_shared_drive(self, name: str, members: dict[str, str] | None = None) -> str:
        """Create a shared drive. ``members`` maps e-mail to role (default: the
        teacher as organizer). Its ID is also the ID of its top folder."""
        drive_id = self.store.new_drive_id()
        now = self.clock.now()
        roles = members if members is not None else {self.teacher.email: "organizer"}
        for email in roles:
            self.add_user(email)
        self.store.drives[drive_id] = SharedDrive(drive_id, name, now, dict(roles))
        self.store.files[drive_id] = DriveFile(
            drive_id, name, FOLDER, [], None, now, now, drive_id=drive_id, is_root=True
        )
        return drive_id

    def add_folder(self, name: str, parent: str | None = None, **options: Any) -> str:
        return self._add(name, FOLDER, parent, **options).id

    def add_doc(
        self,
        name: str,
        text: str | None = None,
        *,
        paragraphs: Sequence[ParagraphInput] | None = None,
        markdown: str | None = None,
        html: str | None = None,
        parent: str | None = None,
        **options: Any,
    ) -> str:
        """Create a Google Doc from plain text (one paragraph per line), from
        ``paragraphs`` (strings, ``(style, text)`` pairs where style is a named
        style such as ``HEADING_1`` or ``bullet``/``number``, or ParagraphSpec),
        or from Markdown or HTML as Drive's import would convert them."""
        specs = _doc_specs(text, paragraphs, markdown, html)
        file = self._add(name, DOC, parent, **options)
        file.document = (
            Document.from_specs(specs, self.rng) if specs else Document(self.rng)
        )
        return file.id

    def add_file(
        self,
        name: str,
        content: bytes,
        mime_type: str | None = None,
        parent: str | None = None,
        **options: Any,
    ) -> str:
        """Create an uploaded (binary) file, typed from its name by default."""
        guessed = mimetypes.guess_type(name)[0]
        if name.lower().endswith(".docx"):
            guessed = DOCX
        elif name.lower().endswith(".md"):
            guessed = "text/markdown"
        mime = mime_type or guessed or "application/octet-stream"
        file = self._add(name, mime, parent, **options)
        file.content = bytes(content)
        file.head_revision_id = self.store.new_revision_id()
        file.original_filename = name
        return file.id

    def add_sheet(
        self,
        name: str,
        rows: Sequence[Sequence[Any]],
        parent: str | None = None,
        **options: Any,
    ) -> str:
        file = self._add(name, SHEET, parent, **options)
        file.rows = [[str(cell) for cell in row] for row in rows]
        return file.id

    def add_shortcut(
        self, name: str, target_id: str, parent: str | None = None, **options: Any
    ) -> str:
        file = self._add(name, SHORTCUT, parent, **options)
        file.shortcut_target = target_id
        return file.id

    def _add(
        self,
        name: str,
        mime: str,
        parent: str | None,
        *,
        owner: str | None = None,
        file_id: str | None = None,
        created_time: dt.datetime | None = None,
        modified_time: dt.datetime | None = None,
        description: str | None = None,
        app_properties: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        trashed: bool = False,
        starred: bool = False,
        version: int = 1,
    ) -> DriveFile:
        owner_account = self.add_user(owner) if owner else self.teacher
        parent_id = parent or owner_account.root_id
        parent_file = self.store.files.get(parent_id)
        if parent_file is None:
            raise KeyError(f"no folder with ID {parent_id}")
        drive_id = parent_file.drive_id
        modified = modified_time or self.clock.now()
        file = DriveFile(
            file_id
            or self.store.new_file_id(mime.startswith("application/vnd.google-apps.")),
            name,
            mime,
            [parent_id],
            None if drive_id else owner_account.email,
            created_time or modified,
            modified,
            version=version,
            trashed=trashed,
            explicitly_trashed=trashed,
            description=description,
            starred=starred,
            properties=dict(properties or {}),
            app_properties=dict(app_properties or {}),
            drive_id=drive_id,
            last_modifier=owner_account.email,
        )
        self.store.files[file.id] = file
        return file

    def trash(self, file_id: str) -> None:
        file = self.file(file_id)
        file.trashed = file.explicitly_trashed = True

    def share(self, file_id: str, email: str, role: str = "reader") -> None:
        """Give a user a role on a file or folder (no notification is recorded)."""
        account = self.add_user(email)
        file = self.file(file_id)
        file.permissions.append(Permission(account.permission_id, "user", role, email))

    # -- reading state back --------------------------------------------------

    def file(self, file_id: str) -> DriveFile:
        return self.store.files[file_id]

    def files_named(self, name: str) -> list[DriveFile]:
        return [file for file in self.store.files.values() if file.name == name]

    def children(self, folder_id: str) -> list[DriveFile]:
        return [f for f in self.store.files.values() if folder_id in f.parents]

    def document(self, file_id: str) -> Document:
        document = self.file(file_id).document
        if document is None:
            raise KeyError(f"{file_id} is not a Google Doc")
        return document

    def doc_text(self, file_id: str) -> str:
        """Return a Doc's body text, paragraphs separated by newlines."""
        return self.document(file_id).text()[:-1]

    def doc_paragraphs(self, file_id: str) -> list[DocParagraph]:
        document = self.document(file_id)
        result = []
        for paragraph in document.paragraphs():
            attrs = paragraph.attrs
            result.append(
                DocParagraph(
                    paragraph.text[:-1],
                    attrs.named_style(),
                    document.list_kind(attrs.list_id),
                    attrs.nesting_level,
                    [(run.text, run.style) for run in paragraph.runs],
                )
            )
        return result

    def doc_json(self, file_id: str, tabs: bool = False) -> dict[str, Any]:
        """Return what ``documents.get`` would return for the Doc."""
        file = self.file(file_id)
        return document_json(self.document(file_id), file.id, file.name, tabs)

    def named_ranges(self, file_id: str) -> dict[str, list[tuple[int, int]]]:
        result: dict[str, list[tuple[int, int]]] = {}
        for named in self.document(file_id).named_ranges.values():
            spans = result.setdefault(named.name, [])
            spans.extend((start, end) for start, end in named.ranges)
        return result

    @property
    def notifications(self) -> list[tuple[str, str, str | None]]:
        """Sharing e-mails Drive would have sent: (file ID, address, message)."""
        return list(self.store.notifications)


def _doc_specs(
    text: str | None,
    paragraphs: Sequence[ParagraphInput] | None,
    markdown: str | None,
    html: str | None,
) -> list[ParagraphSpec]:
    given = [value is not None for value in (text, paragraphs, markdown, html)]
    if sum(given) > 1:
        raise ValueError("give at most one of text, paragraphs, markdown or html")
    if text is not None:
        return convert.specs_from_text(text)
    if markdown is not None:
        return convert.specs_from_markdown(markdown)
    if html is not None:
        return convert.specs_from_html(html)
    return [_paragraph_spec(item) for item in paragraphs or []]


def _paragraph_spec(item: ParagraphInput) -> ParagraphSpec:
    if isinstance(item, ParagraphSpec):
        return item
    if isinstance(item, str):
        return ParagraphSpec([(item, {})])
    style, text = item
    if style in LIST_KINDS:
        return ParagraphSpec([(text, {})], list_kind=style)
    return ParagraphSpec([(text, {})], named_style=style)
