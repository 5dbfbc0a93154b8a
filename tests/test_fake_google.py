"""The fake Google server, driven through the real Google client libraries."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload, MediaIoBaseDownload

from tests.fakes import tls
from tests.fakes.google_api import FakeGoogle

DRIVE = "https://www.googleapis.com/auth/drive"
DRIVE_READONLY = "https://www.googleapis.com/auth/drive.readonly"
DOC_MIME = "application/vnd.google-apps.document"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    ca_file = tls.ca_file()
    monkeypatch.setenv("HTTPLIB2_CA_CERTS", ca_file)
    monkeypatch.setattr(httplib2, "CA_CERTS", ca_file)
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def make_clients(google: FakeGoogle) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """Build Drive and Docs clients aimed at the fake and close them afterwards."""
    opened: list[Any] = []

    def make(credentials: Any = None) -> tuple[Any, Any]:
        credentials = credentials or google.user_credentials()
        options = {"api_endpoint": google.endpoint}
        drive = build("drive", "v3", credentials=credentials, client_options=options)
        docs = build("docs", "v1", credentials=credentials, client_options=options)
        opened.extend((drive, docs))
        return drive, docs

    yield make
    for resource in opened:
        resource.close()


@pytest.fixture
def drive(make_clients: Callable[..., tuple[Any, Any]]) -> Any:
    return make_clients()[0]


@pytest.fixture
def docs(make_clients: Callable[..., tuple[Any, Any]]) -> Any:
    return make_clients()[1]


@pytest.fixture
def http() -> Iterator[httplib2.Http]:
    client = httplib2.Http()
    yield client
    client.close()


def service_credentials(info: dict[str, Any], **options: Any) -> Any:
    factory = service_account.Credentials.from_service_account_info
    return factory(info, **options)  # type: ignore[no-untyped-call]


def error_reason(error: HttpError) -> str:
    return str(error.error_details[0]["reason"])


def no_sleep(request: Any) -> Any:
    """Skip googleapiclient's back-off pauses between retries."""
    request._sleep = lambda seconds: None
    return request


# -- files.list ----------------------------------------------------------------


def test_list_pages_through_many_files(google: FakeGoogle, drive: Any) -> None:
    folder = google.add_folder("Period 3")
    created = {
        google.add_doc(f"Essay {n:03d}", "text", parent=folder) for n in range(250)
    }
    query = f"'{folder}' in parents"

    first = drive.files().list(q=query).execute()
    seen, token, pages = (
        {f["id"] for f in first["files"]},
        first.get("nextPageToken"),
        1,
    )
    while token:
        page = drive.files().list(q=query, pageToken=token).execute()
        seen |= {f["id"] for f in page["files"]}
        token, pages = page.get("nextPageToken"), pages + 1

    assert len(first["files"]) == 100
    assert pages == 3
    assert seen == created


def test_list_page_size_is_capped(google: FakeGoogle, drive: Any) -> None:
    folder = google.add_folder("Big")
    for n in range(5):
        google.add_file(f"{n}.txt", b"x", parent=folder)

    result = drive.files().list(q=f"'{folder}' in parents", pageSize=5000).execute()

    assert len(result["files"]) == 5
    assert "nextPageToken" not in result


def test_list_query_filters(google: FakeGoogle, drive: Any) -> None:
    folder = google.add_folder("Essays")
    essay = google.add_doc("Essay on rivers", "text", parent=folder)
    google.add_doc("Old draft", "text", parent=folder, trashed=True)
    notes = google.add_file("notes.txt", b"hi", parent=folder)
    tagged = google.add_file(
        "tagged.pdf", b"%PDF", parent=folder, app_properties={"gradebot": "feedback"}
    )

    def names(query: str) -> set[str]:
        files = drive.files().list(q=query, fields="files(name)").execute()["files"]
        return {file["name"] for file in files}

    inside = f"'{folder}' in parents"
    assert names(f"{inside} and trashed = false") == {
        "Essay on rivers",
        "notes.txt",
        "tagged.pdf",
    }
    assert names(f"{inside} and trashed = true") == {"Old draft"}
    assert names(f"{inside} and mimeType = '{DOC_MIME}' and not trashed = true") == {
        "Essay on rivers"
    }
    assert names(f"{inside} and mimeType != '{DOC_MIME}'") == {
        "notes.txt",
        "tagged.pdf",
    }
    assert names(f"{inside} and name contains 'riv'") == {"Essay on rivers"}
    assert names(f"{inside} and name = 'notes.txt'") == {"notes.txt"}
    assert names(f"{inside} and (name contains 'notes' or name contains 'tagged')") == {
        "notes.txt",
        "tagged.pdf",
    }
    assert names("appProperties has { key='gradebot' and value='feedback' }") == {
        "tagged.pdf"
    }
    assert {essay, notes, tagged} <= {
        f["id"] for f in drive.files().list(q=inside).execute()["files"]
    }


def test_list_rejects_invalid_query(drive: Any) -> None:
    with pytest.raises(HttpError) as caught:
        drive.files().list(q="name = 'unterminated").execute()

    assert caught.value.status_code == 400
    assert error_reason(caught.value) == "invalid"
    assert caught.value.error_details[0]["location"] == "q"


def test_list_rejects_unknown_field(drive: Any) -> None:
    with pytest.raises(HttpError) as caught:
        drive.files().list(fields="files(id,colour)").execute()

    assert caught.value.status_code == 400
    assert caught.value.reason == "Invalid field selection files/colour"


def test_list_returns_selected_fields(google: FakeGoogle, drive: Any) -> None:
    google.add_file("a.txt", b"abc")

    result = (
        drive.files()
        .list(q="name = 'a.txt'", fields="files(id,md5Checksum,owners(emailAddress))")
        .execute()
    )

    assert result["files"][0]["md5Checksum"] == hashlib.md5(b"abc").hexdigest()
    assert result["files"][0]["owners"] == [{"emailAddress": "teacher@school.example"}]
    assert set(result["files"][0]) == {"id", "md5Checksum", "owners"}


# -- shared drives and shortcuts -----------------------------------------------


def test_shared_drive_files_need_all_drives_flags(
    google: FakeGoogle, drive: Any
) -> None:
    shared = google.add_shared_drive("Department")
    folder = google.add_folder("Year 9", parent=shared)
    essay = google.add_doc("Shared essay", "text", parent=folder)
    query = f"'{folder}' in parents"

    hidden = drive.files().list(q=query).execute()["files"]
    shown = (
        drive.files()
        .list(q=query, supportsAllDrives=True, includeItemsFromAllDrives=True)
        .execute()["files"]
    )
    in_drive = (
        drive.files()
        .list(
            corpora="drive",
            driveId=shared,
            supportsAllDrives=True,
            includeItemsFromAllDrives=True,
            fields="files(id,driveId)",
        )
        .execute()["files"]
    )

    assert hidden == []
    assert [f["id"] for f in shown] == [essay]
    assert {f["driveId"] for f in in_drive} == {shared}
    with pytest.raises(HttpError) as caught:
        drive.files().get(fileId=essay).execute()
    assert caught.value.status_code == 404
    assert (
        drive.files().get(fileId=essay, supportsAllDrives=True).execute()["id"] == essay
    )


def test_corpora_drive_requires_drive_id(drive: Any) -> None:
    with pytest.raises(HttpError) as caught:
        drive.files().list(
            corpora="drive", supportsAllDrives=True, includeItemsFromAllDrives=True
        ).execute()

    assert caught.value.status_code == 400
    assert error_reason(caught.value) == "teamDriveIdRequiresTeamDriveCorpora"


def test_drives_list_shows_memberships(google: FakeGoogle, drive: Any) -> None:
    mine = google.add_shared_drive("Department")
    google.add_shared_drive("Other school", members={"head@other.example": "organizer"})

    drives = drive.drives().list().execute()["drives"]

    assert [(d["id"], d["name"]) for d in drives] == [(mine, "Department")]


def test_shortcut_reports_target(google: FakeGoogle, drive: Any) -> None:
    essay = google.add_doc("Essay", "text")
    shortcut = google.add_shortcut("Essay shortcut", essay)

    result = (
        drive.files().get(fileId=shortcut, fields="mimeType,shortcutDetails").execute()
    )

    assert result["mimeType"] == "application/vnd.google-apps.shortcut"
    assert result["shortcutDetails"] == {"targetId": essay, "targetMimeType": DOC_MIME}


# -- export and download -------------------------------------------------------


def test_export_markdown_keeps_emoji(google: FakeGoogle, drive: Any) -> None:
    doc = google.add_doc(
        "Essay",
        paragraphs=[
            ("HEADING_1", "Rivers 🌊"),
            "Water flows — 水.",
            ("bullet", "Deltas"),
        ],
    )

    exported = drive.files().export(fileId=doc, mimeType="text/markdown").execute()

    assert exported.decode("utf-8") == "# Rivers 🌊\n\nWater flows — 水.\n\n* Deltas\n"


def test_export_plain_text_has_bom(google: FakeGoogle, drive: Any) -> None:
    doc = google.add_doc("Essay", "First line\nSecond line")

    exported = drive.files().export(fileId=doc, mimeType="text/plain").execute()

    assert exported.decode("utf-8") == "\ufeffFirst line\r\nSecond line"


def test_export_too_large_is_403(google: FakeGoogle, drive: Any) -> None:
    doc = google.add_doc("Long essay", "word " * 100)
    google.export_size_limit = 100

    with pytest.raises(HttpError) as caught:
        drive.files().export(fileId=doc, mimeType="text/plain").execute()

    assert caught.value.status_code == 403
    assert error_reason(caught.value) == "exportSizeLimitExceeded"
    assert caught.value.reason == "This file is too large to be exported."


def test_export_unsupported_type_is_400(google: FakeGoogle, drive: Any) -> None:
    doc = google.add_doc("Essay", "text")

    with pytest.raises(HttpError) as caught:
        drive.files().export(fileId=doc, mimeType="image/png").execute()

    assert caught.value.status_code == 400
    assert error_reason(caught.value) == "badRequest"


def test_download_docx_matches_checksum(google: FakeGoogle, drive: Any) -> None:
    content = b"PK\x03\x04" + bytes(range(256)) * 40
    file_id = google.add_file("essay.docx", content)
    meta = (
        drive.files().get(fileId=file_id, fields="mimeType,md5Checksum,size").execute()
    )

    buffer = io.BytesIO()
    downloader = MediaIoBaseDownload(
        buffer, drive.files().get_media(fileId=file_id), chunksize=4096
    )
    done = False
    while not done:
        _, done = downloader.next_chunk()

    assert meta["mimeType"] == DOCX_MIME
    assert buffer.getvalue() == content
    assert meta["md5Checksum"] == hashlib.md5(content).hexdigest()
    assert meta["size"] == str(len(content))


def test_download_of_google_doc_is_403(google: FakeGoogle, drive: Any) -> None:
    doc = google.add_doc("Essay", "text")

    with pytest.raises(HttpError) as caught:
        drive.files().get_media(fileId=doc).execute()

    assert caught.value.status_code == 403
    assert error_reason(caught.value) == "fileNotDownloadable"


# -- uploads -------------------------------------------------------------------


def test_create_doc_from_html_upload(google: FakeGoogle, drive: Any) -> None:
    html = (
        "<h1>Feedback</h1><p>Good <b>structure</b>.</p>"
        "<ul><li>Cite sources</li><li>Check spelling</li></ul><p>Score: 8/10 ✅</p>"
    )
    media = MediaInMemoryUpload(html.encode(), mimetype="text/html")

    created = (
        drive.files()
        .create(
            body={
                "name": "Feedback",
                "mimeType": DOC_MIME,
                "appProperties": {"run": "7"},
            },
            media_body=media,
            fields="id,mimeType,appProperties",
        )
        .execute()
    )
    paragraphs = google.doc_paragraphs(created["id"])
    upload = google.requests_to("POST", "^/upload/drive/v3/files$")[0]

    assert created["mimeType"] == DOC_MIME
    assert created["appProperties"] == {"run": "7"}
    assert [(p.text, p.style, p.list_kind) for p in paragraphs] == [
        ("Feedback", "HEADING_1", None),
        ("Good structure.", "NORMAL_TEXT", None),
        ("Cite sources", "NORMAL_TEXT", "bullet"),
        ("Check spelling", "NORMAL_TEXT", "bullet"),
        ("Score: 8/10 ✅", "NORMAL_TEXT", None),
    ]
    assert upload.scheme == "https"
    assert upload.param("uploadType") == "multipart"


def test_resumable_upload_in_chunks(google: FakeGoogle, drive: Any) -> None:
    content = bytes(range(256)) * 3000
    media = MediaInMemoryUpload(
        content, mimetype="application/pdf", resumable=True, chunksize=256 * 1024
    )

    created = (
        drive.files()
        .create(body={"name": "scan.pdf"}, media_body=media, fields="id,md5Checksum")
        .execute()
    )
    puts = google.requests_to("PUT", "^/upload/drive/v3/files$")

    assert created["md5Checksum"] == hashlib.md5(content).hexdigest()
    assert [put.status for put in puts] == [308, 308, 200]


def test_create_doc_from_markdown_resumable(google: FakeGoogle, drive: Any) -> None:
    markdown = "# Rubric\n\n1. Thesis\n2. Evidence\n\nNotes in *italics*.\n"
    media = MediaInMemoryUpload(
        markdown.encode(), mimetype="text/markdown", resumable=True
    )

    created = (
        drive.files()
        .create(body={"name": "Rubric", "mimeType": DOC_MIME}, media_body=media)
        .execute()
    )
    paragraphs = google.doc_paragraphs(created["id"])

    assert [(p.text, p.style, p.list_kind) for p in paragraphs] == [
        ("Rubric", "HEADING_1", None),
        ("Thesis", "NORMAL_TEXT", "number"),
        ("Evidence", "NORMAL_TEXT", "number"),
        ("Notes in italics.", "NORMAL_TEXT", None),
    ]
    assert paragraphs[3].runs[1] == ("italics", {"italic": True})


def test_update_rejects_parents_in_body(google: FakeGoogle, drive: Any) -> None:
    file_id = google.add_file("a.txt", b"a")

    with pytest.raises(HttpError) as caught:
        drive.files().update(fileId=file_id, body={"parents": ["root"]}).execute()

    assert caught.value.status_code == 403
    assert error_reason(caught.value) == "fieldNotWritable"


def test_update_bumps_version(google: FakeGoogle, drive: Any) -> None:
    file_id = google.add_file("a.txt", b"a", app_properties={"keep": "1", "drop": "2"})

    updated = (
        drive.files()
        .update(
            fileId=file_id,
            body={"appProperties": {"drop": None, "new": "3"}},
            media_body=MediaInMemoryUpload(b"bb", mimetype="text/plain"),
            fields="version,appProperties,size",
        )
        .execute()
    )

    assert updated == {
        "version": "2",
        "appProperties": {"keep": "1", "new": "3"},
        "size": "2",
    }


def test_permission_create_records_notification(google: FakeGoogle, drive: Any) -> None:
    doc = google.add_doc("Feedback", "text")

    quiet = (
        drive.permissions()
        .create(
            fileId=doc,
            body={
                "type": "user",
                "role": "reader",
                "emailAddress": "kid@school.example",
            },
            sendNotificationEmail=False,
        )
        .execute()
    )
    drive.permissions().create(
        fileId=doc,
        body={
            "type": "user",
            "role": "commenter",
            "emailAddress": "parent@home.example",
        },
        emailMessage="Your feedback",
    ).execute()

    assert quiet["role"] == "reader"
    assert set(quiet) == {"kind", "id", "type", "role"}
    assert google.notifications == [(doc, "parent@home.example", "Your feedback")]


# -- Docs API --------------------------------------------------------------------


def test_documents_get_counts_utf16(google: FakeGoogle, docs: Any) -> None:
    doc = google.add_doc("Essay", "Hi 😀\nNext")

    content = docs.documents().get(documentId=doc).execute()["body"]["content"]

    assert content[0] == {"endIndex": 1, "sectionBreak": content[0]["sectionBreak"]}
    assert [(c["startIndex"], c["endIndex"]) for c in content[1:]] == [(1, 7), (7, 12)]
    assert content[1]["paragraph"]["elements"][0]["textRun"]["content"] == "Hi 😀\n"


def test_insert_at_end_of_emoji_doc(google: FakeGoogle, docs: Any) -> None:
    doc = google.add_doc("Essay", "Hi 😀")
    before = google.document(doc).revision_id
    content = docs.documents().get(documentId=doc).execute()["body"]["content"]
    end = content[-1]["endIndex"]
    insert = {"insertText": {"location": {"index": end - 1}, "text": " ok"}}

    reply = (
        docs.documents()
        .batchUpdate(documentId=doc, body={"requests": [insert]})
        .execute()
    )
    revision = google.document(doc).revision_id

    assert end == 7
    assert google.doc_text(doc) == "Hi 😀 ok"
    assert reply["replies"] == [{}]
    assert reply["writeControl"]["requiredRevisionId"] == revision
    assert revision != before


def test_insert_past_final_newline_is_400(google: FakeGoogle, docs: Any) -> None:
    doc = google.add_doc("Essay", "Hi 😀")

    with pytest.raises(HttpError) as caught:
        docs.documents().batchUpdate(
            documentId=doc,
            body={
                "requests": [{"insertText": {"location": {"index": 7}, "text": "x"}}]
            },
        ).execute()

    body = json.loads(caught.value.content)["error"]
    assert caught.value.status_code == 400
    assert body["status"] == "INVALID_ARGUMENT"
    assert body["message"] == (
        "Invalid requests[0].insertText: Index 7 must be less than the end index "
        "of the referenced segment, 7."
    )


def test_delete_of_final_newline_is_400(google: FakeGoogle, docs: Any) -> None:
    doc = google.add_doc("Essay", "Hello")

    with pytest.raises(HttpError) as caught:
        docs.documents().batchUpdate(
            documentId=doc,
            body={
                "requests": [
                    {"deleteContentRange": {"range": {"startIndex": 1, "endIndex": 7}}}
                ]
            },
        ).execute()

    assert caught.value.status_code == 400
    assert "cannot include the newline character at the end" in caught.value.reason
    assert google.doc_text(doc) == "Hello"


def test_batch_update_is_atomic(google: FakeGoogle, docs: Any) -> None:
    doc = google.add_doc("Essay", "Hello")
    revision = google.document(doc).revision_id
    requests = [
        {"insertText": {"location": {"index": 1}, "text": "Oh. "}},
        {"insertText": {"location": {"index": 99}, "text": "x"}},
    ]

    with pytest.raises(HttpError):
        docs.documents().batchUpdate(
            documentId=doc, body={"requests": requests}
        ).execute()

    assert google.doc_text(doc) == "Hello"
    assert google.document(doc).revision_id == revision


def test_named_range_survives_edits(google: FakeGoogle, docs: Any) -> None:
    doc = google.add_doc("Feedback", "Score: 7\nComments")
    created = (
        docs.documents()
        .batchUpdate(
            documentId=doc,
            body={
                "requests": [
                    {
                        "createNamedRange": {
                            "name": "score",
                            "range": {"startIndex": 8, "endIndex": 9},
                        }
                    }
                ]
            },
        )
        .execute()
    )
    range_id = created["replies"][0]["createNamedRange"]["namedRangeId"]

    docs.documents().batchUpdate(
        documentId=doc,
        body={
            "requests": [
                {"insertText": {"location": {"index": 1}, "text": "🎯 "}},
                {"deleteContentRange": {"range": {"startIndex": 13, "endIndex": 17}}},
            ]
        },
    ).execute()
    after_edits = docs.documents().get(documentId=doc).execute()["namedRanges"]
    docs.documents().batchUpdate(
        documentId=doc,
        body={
            "requests": [
                {"replaceNamedRangeContent": {"namedRangeId": range_id, "text": "10"}}
            ]
        },
    ).execute()

    assert after_edits["score"]["namedRanges"][0]["ranges"] == [
        {"startIndex": 11, "endIndex": 12}
    ]
    assert google.doc_text(doc) == "🎯 Score: 10\nents"
    assert google.named_ranges(doc) == {"score": [(11, 13)]}


def test_styles_and_bullets_show_in_export(
    google: FakeGoogle, docs: Any, drive: Any
) -> None:
    doc = google.add_doc(
        "Feedback", "Summary\nStrong thesis\n\tClear examples\nWeak ending"
    )
    requests = [
        {
            "updateParagraphStyle": {
                "range": {"startIndex": 1, "endIndex": 2},
                "paragraphStyle": {"namedStyleType": "HEADING_2"},
                "fields": "namedStyleType",
            }
        },
        {
            "createParagraphBullets": {
                "range": {"startIndex": 9, "endIndex": 40},
                "bulletPreset": "BULLET_DISC_CIRCLE_SQUARE",
            }
        },
        {
            "updateTextStyle": {
                "range": {"startIndex": 9, "endIndex": 15},
                "textStyle": {"bold": True},
                "fields": "bold",
            }
        },
    ]

    docs.documents().batchUpdate(documentId=doc, body={"requests": requests}).execute()
    exported = drive.files().export(fileId=doc, mimeType="text/markdown").execute()

    assert exported.decode() == (
        "## Summary\n\n* **Strong** thesis\n    * Clear examples\n* Weak ending\n"
    )


def test_bad_named_style_is_400(google: FakeGoogle, docs: Any) -> None:
    doc = google.add_doc("Essay", "Hello")
    request = {
        "updateParagraphStyle": {
            "range": {"startIndex": 1, "endIndex": 2},
            "paragraphStyle": {"namedStyleType": "HEADING_7"},
            "fields": "namedStyleType",
        }
    }

    with pytest.raises(HttpError) as caught:
        docs.documents().batchUpdate(
            documentId=doc, body={"requests": [request]}
        ).execute()

    assert caught.value.status_code == 400
    assert "HEADING_7" in caught.value.reason


def test_docs_get_of_uploaded_file_is_400(google: FakeGoogle, docs: Any) -> None:
    file_id = google.add_file("essay.docx", b"PK")

    with pytest.raises(HttpError) as caught:
        docs.documents().get(documentId=file_id).execute()

    assert caught.value.status_code == 400
    assert json.loads(caught.value.content)["error"]["status"] == "FAILED_PRECONDITION"


# -- OAuth -----------------------------------------------------------------------


def test_refresh_token_grant(google: FakeGoogle, http: httplib2.Http) -> None:
    credentials = google.user_credentials(scopes=[DRIVE])

    credentials.refresh(google_auth_httplib2.Request(http))

    assert credentials.valid
    assert credentials.token.startswith("ya29.")
    assert credentials.granted_scopes == [DRIVE]
    assert (
        google.requests_to("POST", "^/token$")[0].body.count(
            b"grant_type=refresh_token"
        )
        == 1
    )


def test_refresh_after_revoke_fails(google: FakeGoogle, http: httplib2.Http) -> None:
    credentials = google.user_credentials()
    google.revoke_refresh_token(credentials.refresh_token)

    with pytest.raises(RefreshError) as caught:
        credentials.refresh(google_auth_httplib2.Request(http))

    assert caught.value.args[1] == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


def test_revoke_endpoint_ends_grant(google: FakeGoogle, http: httplib2.Http) -> None:
    credentials = google.user_credentials()
    credentials.refresh(google_auth_httplib2.Request(http))

    response, _ = http.request(
        google.revoke_uri,
        "POST",
        body=urllib.parse.urlencode({"token": credentials.token}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status == 200
    with pytest.raises(RefreshError):
        credentials.refresh(google_auth_httplib2.Request(http))


def test_expired_token_is_refreshed_once(google: FakeGoogle, drive: Any) -> None:
    drive.about().get(fields="user").execute()
    google.expire_all_access_tokens()
    google.clear_requests()

    about = drive.about().get(fields="user(emailAddress)").execute()

    assert about == {"user": {"emailAddress": "teacher@school.example"}}
    assert [(r.path, r.status) for r in google.requests] == [
        ("/about", 401),
        ("/token", 200),
        ("/about", 200),
    ]


def test_unknown_bearer_gets_drive_401(google: FakeGoogle, http: httplib2.Http) -> None:
    response, content = http.request(
        f"{google.endpoint}/drive/v3/about?fields=user",
        headers={"Authorization": "Bearer ya29.not-a-token"},
    )

    error = json.loads(content)["error"]
    assert response.status == 401
    assert error["status"] == "UNAUTHENTICATED"
    assert error["errors"][0]["reason"] == "authError"
    assert error["errors"][0]["message"] == "Invalid Credentials"


def test_service_account_acts_for_user(
    google: FakeGoogle, make_clients: Callable[..., tuple[Any, Any]]
) -> None:
    info = google.service_account_info()
    credentials = service_credentials(
        info, scopes=[DRIVE], subject="teacher@school.example"
    )
    drive, _ = make_clients(credentials)

    about = drive.about().get(fields="user(emailAddress)").execute()
    assertion = google.requests_to("POST", "^/token$")[0]

    assert about == {"user": {"emailAddress": "teacher@school.example"}}
    assert assertion.param("grant_type") is None
    assert b"jwt-bearer" in assertion.body


def test_service_account_without_subject(
    google: FakeGoogle, make_clients: Callable[..., tuple[Any, Any]]
) -> None:
    info = google.service_account_info()
    credentials = service_credentials(info, scopes=[DRIVE])
    drive, _ = make_clients(credentials)

    about = drive.about().get(fields="user(emailAddress)").execute()

    assert about == {"user": {"emailAddress": info["client_email"]}}


def test_service_account_delegation_refused(
    google: FakeGoogle, http: httplib2.Http
) -> None:
    info = google.service_account_info(delegation=False)
    credentials = service_credentials(
        info, scopes=[DRIVE], subject="teacher@school.example"
    )

    with pytest.raises(RefreshError) as caught:
        credentials.refresh(google_auth_httplib2.Request(http))

    assert caught.value.args[1]["error"] == "unauthorized_client"


def test_readonly_scope_cannot_create(
    google: FakeGoogle, make_clients: Callable[..., tuple[Any, Any]]
) -> None:
    drive, _ = make_clients(google.user_credentials(scopes=[DRIVE_READONLY]))

    with pytest.raises(HttpError) as caught:
        drive.files().create(body={"name": "x"}).execute()

    assert caught.value.status_code == 403
    assert json.loads(caught.value.content)["error"]["errors"][0]["reason"] == (
        "insufficientPermissions"
    )


def test_authorization_code_flow(
    google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google_auth_oauthlib.flow import Flow

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    flow = Flow.from_client_config(
        google.client_config(), scopes=[DRIVE], redirect_uri="http://127.0.0.1:1/"
    )
    url, state = flow.authorization_url(access_type="offline")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(url)
    location = redirect.value.headers["Location"]
    redirect.value.close()
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    flow.fetch_token(code=params["code"][0])
    flow.oauth2session.close()

    assert params["state"] == [state]
    assert flow.credentials.refresh_token.startswith("1//")
    assert flow.credentials.token.startswith("ya29.")


# -- faults and the request log -------------------------------------------------


def test_rate_limit_error_body(google: FakeGoogle, drive: Any) -> None:
    google.fail("GET", "^/files$", status=403, reason="userRateLimitExceeded")

    with pytest.raises(HttpError) as caught:
        drive.files().list().execute()

    detail = caught.value.error_details[0]
    assert caught.value.status_code == 403
    assert detail["reason"] == "userRateLimitExceeded"
    assert detail["domain"] == "usageLimits"
    assert json.loads(caught.value.content)["error"]["status"] == "PERMISSION_DENIED"


def test_client_retries_past_rate_limits(google: FakeGoogle, drive: Any) -> None:
    google.fail("GET", "^/files$", status=403, reason="rateLimitExceeded")
    google.fail("GET", "^/files$", status=503)

    result = no_sleep(drive.files().list()).execute(num_retries=2)

    assert result["files"] == []
    assert [r.status for r in google.requests_to("GET", "^/files$")] == [403, 503, 200]


def test_docs_rate_limit_is_429(google: FakeGoogle, docs: Any) -> None:
    doc = google.add_doc("Essay", "text")
    google.fail("POST", ":batchUpdate$", status=429, reason="rateLimitExceeded")

    with pytest.raises(HttpError) as caught:
        docs.documents().batchUpdate(documentId=doc, body={"requests": []}).execute()

    error = json.loads(caught.value.content)["error"]
    assert caught.value.status_code == 429
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"


def test_dropped_connection_once_is_retried(google: FakeGoogle, drive: Any) -> None:
    google.drop_connection("GET", "^/about$", count=1)

    about = drive.about().get(fields="user(displayName)").execute()

    assert about == {"user": {"displayName": "Ada Teacher"}}


def test_dropped_connection_twice_fails(google: FakeGoogle, drive: Any) -> None:
    drive.about().get(fields="kind").execute()
    google.drop_connection("GET", "^/about$", count=2)

    with pytest.raises(ConnectionError):
        drive.about().get(fields="kind").execute()


def test_rate_limit_storm_every_third(google: FakeGoogle, drive: Any) -> None:
    drive.about().get(fields="kind").execute()
    google.rate_limit_storm(every=3, requests=6)
    statuses = []

    for _ in range(8):
        try:
            drive.about().get(fields="kind").execute()
            statuses.append(200)
        except HttpError as error:
            statuses.append(error.status_code)

    assert statuses == [200, 200, 403, 200, 200, 403, 200, 200]


def test_rate_limit_storm_by_fraction(google: FakeGoogle, drive: Any) -> None:
    drive.about().get(fields="kind").execute()
    google.rate_limit_storm(fraction=1.0, requests=2, status=429)
    statuses = []

    for _ in range(3):
        try:
            drive.about().get(fields="kind").execute()
            statuses.append(200)
        except HttpError as error:
            statuses.append(error.status_code)

    assert statuses == [429, 429, 200]


def test_requests_are_recorded_without_tokens(google: FakeGoogle, drive: Any) -> None:
    drive.files().list(q="trashed = false", pageSize=10).execute()

    listed = google.requests_to("GET", "^/files$")[0]

    assert listed.param("q") == "trashed = false"
    assert listed.param("pageSize") == "10"
    assert listed.headers["authorization"] == "Bearer <redacted>"
