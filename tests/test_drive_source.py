"""The Drive folder source against the fake Drive: listing, loading, faults."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import pytest

from gradebot_cli.domain import BinaryPart, Status
from gradebot_cli.errors import ConfigError, GoogleAuthError, GoogleError
from gradebot_cli.google import scopes
from gradebot_cli.google.cache import DriveCache
from gradebot_cli.google.client import GoogleSession
from gradebot_cli.google.ids import parse_drive_id
from gradebot_cli.google.markers import SUBMISSION_PROPERTY, feedback_range_name
from gradebot_cli.google.source import DriveSource
from tests.fakes.google_api import FakeGoogle
from tests.test_extract import make_pdf
from tests.test_google_auth import google, sign_in

__all__ = ["google"]

FOLDER_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz012345"


@pytest.fixture
def session(google: FakeGoogle) -> Iterator[GoogleSession]:
    sign_in(google)
    with GoogleSession.open(scopes.for_features(["read"])) as opened:
        yield opened


def make_source(
    session: GoogleSession, folder: str, tmp_path: Path, **options: Any
) -> DriveSource:
    cache = DriveCache(tmp_path / "cache", 10_000_000)
    return DriveSource(session, folder, cache=cache, **options)


def docx_bytes(*paragraphs: str) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def downloads(google: FakeGoogle) -> list[Any]:
    """Requests that fetched content: downloads and exports."""
    return [
        r
        for r in google.requests
        if r.param("alt") == "media" or r.path.endswith("/export")
    ]


def by_name(source: DriveSource) -> dict[str, Any]:
    return {item.file_name: item for item in source.list_items()}


# -- IDs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        FOLDER_ID,
        f"https://drive.google.com/drive/folders/{FOLDER_ID}",
        f"https://drive.google.com/drive/u/1/folders/{FOLDER_ID}?usp=sharing",
        f"https://drive.google.com/open?id={FOLDER_ID}",
        f"https://drive.google.com/folderview?id={FOLDER_ID}&usp=sharing",
        f"https://drive.google.com/file/d/{FOLDER_ID}/view",
        f"https://docs.google.com/document/d/{FOLDER_ID}/edit#heading=h.1",
        f"  {FOLDER_ID}\n",
    ],
)
def test_drive_id_forms(value: str) -> None:
    assert parse_drive_id(value) == FOLDER_ID


@pytest.mark.parametrize(
    "value",
    [
        "Essays",
        "https://example.com/drive/folders/" + FOLDER_ID,
        "https://drive.google.com/",
    ],
)
def test_drive_id_rejected(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_drive_id(value)

    assert repr(value) in str(caught.value)


# -- listing ---------------------------------------------------------------------


def test_list_reads_every_page(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Period 3")
    for n in range(25):
        google.add_doc(f"Essay {n:02d}", "text", parent=folder)

    items = list(make_source(session, folder, tmp_path, page_size=10).list_items())

    pages = google.requests_to("GET", "/files$")
    assert len(items) == 25
    assert len(pages) == 3
    assert pages[0].param("fields").startswith("nextPageToken,files(")


def test_student_from_owner(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_user("ana@school.example", "Ana María López")
    doc = google.add_doc("My essay", "text", parent=folder, owner="ana@school.example")

    item = by_name(make_source(session, folder, tmp_path))["My essay"]

    assert item.key == doc
    assert item.student == "Ana María López"
    assert item.student_email == "ana@school.example"
    assert item.metadata["student_from"] == "owner"


def test_teacher_owned_named_by_title(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_file("Ben_Okafor.docx", docx_bytes("Hello"), parent=folder)

    item = by_name(make_source(session, folder, tmp_path))["Ben_Okafor.docx"]

    assert item.student == "Ben Okafor"
    assert item.student_email == ""
    assert item.metadata["student_from"] == "title"


def test_shared_drive_last_modifier(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    drive = google.add_shared_drive("Year 9")
    folder = google.add_folder("Essays", parent=drive)
    google.add_user("chen@school.example", "Chen Wei")
    google.add_doc("Essay", "text", parent=folder, owner="chen@school.example")

    item = by_name(make_source(session, folder, tmp_path))["Essay"]
    listing = google.requests_to("GET", "/files$")[0]

    assert item.student == "Chen Wei"
    assert item.metadata["student_from"] == "last modifier"
    assert listing.param("corpora") == "drive"
    assert listing.param("includeItemsFromAllDrives") == "true"


def test_shortcut_followed_once(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    elsewhere = google.add_doc("Dana's essay", "text")
    inside = google.add_doc("Eli's essay", "text", parent=folder)
    google.add_shortcut("Shortcut to Dana", elsewhere, parent=folder)
    google.add_shortcut("Shortcut to Eli", inside, parent=folder)

    items = list(make_source(session, folder, tmp_path).list_items())

    assert sorted(item.key for item in items) == sorted([elsewhere, inside])
    dana = next(item for item in items if item.key == elsewhere)
    assert dana.file_name == "Dana's essay"
    assert "shortcut_id" in dana.metadata


def test_broken_shortcut_unreadable(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_user("fay@school.example")
    private = google.add_doc("Private", "text", owner="fay@school.example")
    shortcut = google.add_shortcut("Fay's essay", private, parent=folder)

    source = make_source(session, folder, tmp_path)
    loaded = source.load(by_name(source)["Fay's essay"])

    assert loaded.status == Status.UNREADABLE
    assert shortcut in loaded.reason
    assert "not shared with the signed-in account" in loaded.reason


def test_subfolders_need_recursive(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    nested = google.add_folder("Late work", parent=folder)
    google.add_doc("Late essay", "text", parent=nested)
    other = google.add_folder("Other class")
    google.add_doc("Linked essay", "text", parent=other)
    google.add_shortcut("Linked folder", other, parent=folder)

    flat = make_source(session, folder, tmp_path)
    flat_items = list(flat.list_items())
    deep = make_source(session, folder, tmp_path, recursive=True)
    deep_names = {item.file_name for item in deep.list_items()}

    assert flat_items == []
    assert any(
        "Late work" in note and "recursive = true" in note for note in flat.skipped
    )
    assert deep_names == {"Late essay", "Linked essay"}


def test_trashed_and_feedback_skipped(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_doc("Kept", "text", parent=folder)
    google.add_doc("Old draft", "text", parent=folder, trashed=True)
    google.add_doc(
        "Feedback", "text", parent=folder, app_properties={SUBMISSION_PROPERTY: "x"}
    )

    names = set(by_name(make_source(session, folder, tmp_path)))

    assert names == {"Kept"}


def test_missing_folder_error(session: GoogleSession, tmp_path: Path) -> None:
    with pytest.raises(GoogleError) as caught:
        list(make_source(session, FOLDER_ID, tmp_path).list_items())

    assert f"Drive folder {FOLDER_ID} was not found" in str(caught.value)


def test_file_is_not_a_folder(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    doc = google.add_doc("Essay", "text")

    with pytest.raises(GoogleError) as caught:
        list(make_source(session, doc, tmp_path).list_items())

    assert "('Essay') is not a folder but a Google Doc" in str(caught.value)


# -- loading ---------------------------------------------------------------------


def test_doc_exported_as_markdown(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_doc(
        "Essay",
        paragraphs=[
            ("HEADING_1", "Rivers 🌊"),
            "Water flows — 水.",
            ("bullet", "Deltas"),
        ],
        parent=folder,
    )
    source = make_source(session, folder, tmp_path)

    loaded = source.load(by_name(source)["Essay"])
    export = google.requests_to("GET", "/export$")[0]

    assert loaded.status is None
    assert "Rivers 🌊" in loaded.text
    assert "Water flows — 水." in loaded.text
    assert export.param("mimeType") == "text/markdown"


def test_markdown_failure_uses_plain_text(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_doc("Essay", "First line\nSecond line", parent=folder)
    google.fail("GET", "/export$", status=400, reason="badRequest")
    source = make_source(session, folder, tmp_path)

    loaded = source.load(by_name(source)["Essay"])

    assert loaded.status is None
    assert loaded.text == "First line\nSecond line"
    assert google.requests_to("GET", "/export$")[-1].param("mimeType") == "text/plain"


def test_too_large_doc_read_by_docs_api(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_doc("Long essay", "word " * 50, parent=folder)
    google.export_size_limit = 100
    source = make_source(session, folder, tmp_path)

    loaded = source.load(by_name(source)["Long essay"])

    assert loaded.status is None
    assert loaded.text.startswith("word word")
    assert "10 MB export limit" in loaded.reason


def test_too_large_doc_without_fallback(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    doc = google.add_doc("Long essay", "word " * 50, parent=folder)
    google.export_size_limit = 100
    google.fail("GET", "^/v1/documents/", status=403, reason="forbidden")
    source = make_source(session, folder, tmp_path)

    loaded = source.load(by_name(source)["Long essay"])

    assert loaded.status == Status.TOO_LARGE
    assert "'Long essay'" in loaded.reason
    assert doc in loaded.reason


def test_docx_and_pdf_like_local_files(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_file("essay.docx", docx_bytes("Párrafo uno.", "Zwei 😀"), parent=folder)
    google.add_file(
        "essay.pdf", make_pdf([(["Page text " * 30], False)]), parent=folder
    )
    google.add_file("scan.pdf", make_pdf([([], True)]), parent=folder)
    source = make_source(session, folder, tmp_path)
    items = by_name(source)

    docx_loaded = source.load(items["essay.docx"])
    pdf_loaded = source.load(items["essay.pdf"])
    scan_loaded = source.load(items["scan.pdf"])

    assert docx_loaded.text == "Párrafo uno.\n\nZwei 😀"
    assert pdf_loaded.text.startswith("Page text")
    assert isinstance(scan_loaded.parts[0], BinaryPart)
    assert scan_loaded.parts[0].media_type == "application/pdf"


def test_sheet_unsupported(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    sheet = google.add_sheet("Data", [["a", "b"]], parent=folder)
    source = make_source(session, folder, tmp_path)

    loaded = source.load(by_name(source)["Data"])

    assert loaded.status == Status.UNSUPPORTED
    assert "Google Sheets spreadsheet" in loaded.reason
    assert sheet in loaded.reason
    assert google.requests_to("GET", "/export$") == []


def test_empty_and_unsupported_uploads(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    empty = google.add_file("blank.txt", b"", parent=folder)
    google.add_file("archive.zip", b"PK\x03\x04", parent=folder)
    source = make_source(session, folder, tmp_path)
    items = by_name(source)

    blank = source.load(items["blank.txt"])
    archive = source.load(items["archive.zip"])

    assert blank.status == Status.EMPTY
    assert empty in blank.reason
    assert archive.status == Status.UNSUPPORTED
    assert downloads(google) == []


def test_appended_section_left_out(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    doc = google.add_doc("Essay", "My essay text\nFeedback: great", parent=folder)
    document = google.document(doc)
    document.add_named_range(feedback_range_name("essay-1", "Feedback: great"), 15, 30)
    source = make_source(
        session, folder, tmp_path, assignment_id="essay-1", check_appended_feedback=True
    )

    loaded = source.load(by_name(source)["Essay"])

    assert loaded.text == "My essay text"


# -- change detection and the cache ----------------------------------------------


def test_fingerprint_follows_changes(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    doc = google.add_doc("Essay", "text", parent=folder)
    upload = google.add_file("essay.txt", b"one", parent=folder)
    source = make_source(session, folder, tmp_path)
    before = {i.key: i.fingerprint for i in source.list_items()}

    google.file(doc).version += 1
    google.file(upload).content = b"two"
    after = {i.key: i.fingerprint for i in source.list_items()}
    again = {i.key: i.fingerprint for i in source.list_items()}

    assert before[doc] != after[doc]
    assert before[upload] != after[upload]
    assert after == again


def test_cache_avoids_second_download(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_doc("Essay", "text", parent=folder)
    google.add_file("essay.txt", b"Some words.", parent=folder)
    first = make_source(session, folder, tmp_path)
    for item in first.list_items():
        first.load(item)
    google.clear_requests()

    second = make_source(session, folder, tmp_path)
    loaded = [second.load(item) for item in second.list_items()]

    assert [item.status for item in loaded] == [None, None]
    assert downloads(google) == []


def test_cache_stays_under_limit(tmp_path: Path) -> None:
    cache = DriveCache(tmp_path, 2500)
    for n in range(5):
        cache.put(f"file{n:02d}xxxxxxxx", "fp", "download", bytes(1000), "bin")
    cache.put("file00xxxxxxxx", "fp2", "download", bytes(10), "bin")

    stored = sorted(p for p in tmp_path.rglob("*") if p.is_file())

    assert sum(p.stat().st_size for p in stored) <= 2500
    assert cache.get("file04xxxxxxxx", "fp", "download") is not None
    assert cache.get("file00xxxxxxxx", "fp", "download") is None
    assert cache.get("../etc", "fp", "download") is None


# -- faults ------------------------------------------------------------------------


def test_rate_limit_storm_all_fetched(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    for n in range(8):
        google.add_file(f"essay{n}.txt", f"Essay number {n}.".encode(), parent=folder)
    google.rate_limit_storm(every=2, requests=40, reason="rateLimitExceeded")
    source = make_source(session, folder, tmp_path)

    loaded = [source.load(item) for item in source.list_items()]

    assert [item.status for item in loaded] == [None] * 8
    assert session.retries >= 8
    assert any(r.status == 403 for r in google.requests)


def test_server_error_on_one_file(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    bad = google.add_file("bad.txt", b"Never arrives.", parent=folder)
    google.add_file("good.txt", b"Arrives.", parent=folder)
    google.fail("GET", f"/files/{bad}$", status=500, count=100)
    source = make_source(session, folder, tmp_path)
    items = by_name(source)

    failed = source.load(items["bad.txt"])
    fine = source.load(items["good.txt"])

    assert failed.status == Status.API_ERROR
    assert "'bad.txt'" in failed.reason
    assert bad in failed.reason
    assert "HTTP 500" in failed.reason
    assert fine.status is None
    assert session.retries == session.policy.max_retries


def test_token_expiry_mid_run(
    google: FakeGoogle, session: GoogleSession, tmp_path: Path
) -> None:
    folder = google.add_folder("Essays")
    google.add_file("a.txt", b"First essay.", parent=folder)
    google.add_file("b.txt", b"Second essay.", parent=folder)
    source = make_source(session, folder, tmp_path)
    items = list(source.list_items())
    source.load(items[0])
    google.expire_all_access_tokens()
    google.clear_requests()

    loaded = source.load(items[1])

    assert loaded.status is None
    assert [r.status for r in google.requests] == [401, 200, 200]
    assert google.requests[1].path == "/token"


def test_revoked_refresh_token_stops_listing(
    google: FakeGoogle, tmp_path: Path
) -> None:
    google.revoke_refresh_token(sign_in(google))
    folder = google.add_folder("Essays")

    with (
        GoogleSession.open(scopes.for_features(["read"])) as session,
        pytest.raises(GoogleAuthError) as caught,
    ):
        list(make_source(session, folder, tmp_path).list_items())

    assert "gradebot auth login" in str(caught.value)
    assert caught.value.exit_code == 2
