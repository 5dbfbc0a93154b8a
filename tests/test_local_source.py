"""Tests for the local-folder submission source, on real files in tmp_path."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest

from gradebot_cli.domain import (
    BinaryPart,
    LoadedSubmission,
    SourceItem,
    Status,
    TextPart,
)
from gradebot_cli.errors import ConfigError
from gradebot_cli.sources import LocalFolderSource, Source
from gradebot_cli.sources.extract import Limits
from gradebot_cli.sources.local import FOLDER_MEDIA_TYPE, student_name

SAMPLE = "Café, Straße, 中文, العربية, 😀"
ASAP_CLASS = (
    Path(__file__).resolve().parents[1]
    / "../shared/data/asap-set1/class-30/submissions"
)


@pytest.fixture
def class_dir(tmp_path: Path) -> Path:
    """A submissions folder of its own, apart from anything else in tmp_path."""
    folder = tmp_path / "class"
    folder.mkdir()
    return folder


def make_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x40" * (3 * width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_docx(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def items_of(folder: Path, **options: object) -> list[SourceItem]:
    return list(LocalFolderSource(folder, **options).list_items())  # type: ignore[arg-type]


def load_all(source: LocalFolderSource) -> dict[str, LoadedSubmission]:
    return {item.key: source.load(item) for item in source.list_items()}


def texts(submission: LoadedSubmission) -> list[str]:
    return [p.text for p in submission.parts if isinstance(p, TextPart)]


# --- names and listing ----------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("Ana_María López.docx", "Ana María López"),
        ("student-001.txt", "student-001"),
        ("  Zoë__Ñúñez_ .txt", "Zoë Ñúñez"),
        ("李_小龙.pdf", "李 小龙"),
        ("Mr. O'Neil.md", "Mr. O'Neil"),
        ("_.txt", "_.txt"),
    ],
)
def test_student_name_from_file(file_name: str, expected: str) -> None:
    assert student_name(file_name) == expected


def test_student_name_from_folder() -> None:
    assert student_name("Ana_M. López", is_folder=True) == "Ana M. López"


def test_student_name_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "José_Núñez.txt")
    assert student_name(decomposed) == "José Núñez"


def test_list_one_file_per_student(class_dir: Path) -> None:
    (class_dir / "Zoë_Adams.txt").write_text("z")
    (class_dir / "Ana_María López.docx").write_bytes(make_docx("a"))
    (class_dir / "bob.md").write_text("b")
    items = items_of(class_dir)
    assert [i.student for i in items] == ["Ana María López", "bob", "Zoë Adams"]
    assert [i.key for i in items] == ["Ana_María López.docx", "bob.md", "Zoë_Adams.txt"]


def test_list_item_fields(class_dir: Path) -> None:
    path = class_dir / "student-001.txt"
    path.write_text("hello")
    os.utime(path, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    (item,) = items_of(class_dir)
    assert item.key == "student-001.txt"
    assert item.file_name == "student-001.txt"
    assert item.student == "student-001"
    assert item.size == 5
    assert item.media_type == "text/plain"
    assert item.fingerprint == "5-1700000000123456789"


def test_list_same_student_sorted_by_key(class_dir: Path) -> None:
    (class_dir / "ana.txt").write_text("1")
    (class_dir / "Ana.pdf").write_text("2")
    (class_dir / "Ana").mkdir()
    (class_dir / "Ana" / "a.txt").write_text("3")
    assert [i.key for i in items_of(class_dir)] == ["Ana", "Ana.pdf", "ana.txt"]


def test_list_fingerprint_changes_with_file(class_dir: Path) -> None:
    path = class_dir / "essay.txt"
    path.write_text("first")
    before = items_of(class_dir)[0].fingerprint
    path.write_text("second")
    os.utime(path, ns=(1, 1))
    assert items_of(class_dir)[0].fingerprint != before


def test_list_skips_hidden_and_temp(class_dir: Path) -> None:
    for name in [
        ".DS_Store",
        ".hidden.txt",
        "~$essay.docx",
        ".~lock.essay.docx#",
        "essay.txt~",
        "Thumbs.db",
        "desktop.ini",
        "essay.txt",
    ]:
        (class_dir / name).write_text("x")
    (class_dir / ".git").mkdir()
    assert [i.key for i in items_of(class_dir)] == ["essay.txt"]


def test_list_exclude_paths(class_dir: Path) -> None:
    for name in ["rubric.md", "assignment.toml", "instructions.txt", "ana.txt"]:
        (class_dir / name).write_text("x")
    (class_dir / "feedback").mkdir()
    exclude = [
        class_dir / "rubric.md",
        class_dir / "assignment.toml",
        class_dir / "instructions.txt",
        class_dir / "feedback",
    ]
    assert [i.key for i in items_of(class_dir, exclude=exclude)] == ["ana.txt"]


def test_list_exclude_relative_path(
    class_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (class_dir / "rubric.md").write_text("x")
    (class_dir / "ana.txt").write_text("x")
    monkeypatch.chdir(class_dir)
    keys = [i.key for i in items_of(Path("."), exclude=[Path("rubric.md")])]
    assert keys == ["ana.txt"]


def test_list_missing_folder(class_dir: Path) -> None:
    with pytest.raises(ConfigError, match="Submissions folder not found"):
        items_of(class_dir / "nope")


def test_list_lists_unsupported(class_dir: Path) -> None:
    (class_dir / "grades.xlsx").write_bytes(b"PK\x03\x04")
    (class_dir / "ana.txt").write_text("x")
    assert [i.key for i in items_of(class_dir)] == ["ana.txt", "grades.xlsx"]


def test_source_protocol(class_dir: Path) -> None:
    source: Source = LocalFolderSource(class_dir)
    assert source.kind == "local"


# --- loading single files ------------------------------------------------------


def test_load_text_file(class_dir: Path) -> None:
    data = SAMPLE.encode()
    (class_dir / "Ana_López.txt").write_bytes(data)
    source = LocalFolderSource(class_dir)
    (item,) = source.list_items()
    loaded = source.load(item)
    assert loaded.status is None
    assert loaded.item == item
    assert loaded.parts == (TextPart(text=SAMPLE, name="Ana_López.txt"),)
    assert loaded.content_hash == hashlib.sha256(data).hexdigest()


def test_load_every_format(class_dir: Path) -> None:
    (class_dir / "a.txt").write_text(SAMPLE, encoding="utf-16")
    (class_dir / "b.md").write_text(f"# {SAMPLE}", encoding="utf-8")
    (class_dir / "c.html").write_text(f"<p>{SAMPLE}</p><script>x()</script>")
    (class_dir / "d.docx").write_bytes(make_docx(SAMPLE))
    (class_dir / "e.png").write_bytes(make_png(4, 4))
    loaded = load_all(LocalFolderSource(class_dir))
    for key in ["a.txt", "b.md", "c.html", "d.docx"]:
        assert SAMPLE in loaded[key].text, key
    assert loaded["e.png"].has_binary


def test_bad_files_do_not_stop_others(class_dir: Path) -> None:
    (class_dir / "empty.txt").write_bytes(b"")
    (class_dir / "blank.md").write_text("  \n\t\n")
    (class_dir / "nul.txt").write_bytes(b"abc\x00def")
    (class_dir / "corrupt.docx").write_bytes(os.urandom(2048))
    (class_dir / "setup.exe").write_bytes(b"MZ\x90\x00")
    (class_dir / "grades.xlsx").write_bytes(b"PK\x03\x04")
    (class_dir / "good.txt").write_text(SAMPLE)
    loaded = load_all(LocalFolderSource(class_dir))
    statuses = {key: s.status for key, s in loaded.items()}
    assert statuses == {
        "blank.md": Status.EMPTY,
        "corrupt.docx": Status.UNREADABLE,
        "empty.txt": Status.EMPTY,
        "good.txt": None,
        "grades.xlsx": Status.UNSUPPORTED,
        "nul.txt": Status.BINARY,
        "setup.exe": Status.UNSUPPORTED,
    }
    for key, submission in loaded.items():
        if submission.status is not None:
            assert key in submission.reason
            assert submission.parts == ()


def test_load_too_large(class_dir: Path) -> None:
    data = b"word " * 100
    (class_dir / "big.txt").write_bytes(data)
    source = LocalFolderSource(class_dir, limits=Limits(max_text_file_bytes=100))
    (item,) = source.list_items()
    loaded = source.load(item)
    assert loaded.status is Status.TOO_LARGE
    assert "big.txt is 500 bytes, over the 100 bytes limit" in loaded.reason
    assert loaded.content_hash == hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def readable_only_by_owner_rules(folder: Path) -> Iterator[None]:
    """Run the block with file permissions enforced, even when tests run as root.

    Root reads any file, so as root the block runs with the effective user
    ``nobody`` (65534), and ``folder`` and the three folders above it are
    opened for traversal meanwhile.
    """
    if os.geteuid() != 0:
        yield
        return
    folders = [folder, *folder.parents[:3]]
    modes = [path.stat().st_mode for path in folders]
    for path, mode in zip(folders, modes, strict=True):
        path.chmod(mode | 0o011)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        for path, mode in zip(folders, modes, strict=True):
            path.chmod(mode)


def test_load_permission_denied(class_dir: Path) -> None:
    (class_dir / "locked.txt").write_text("secret")
    (class_dir / "open.txt").write_text("public")
    (class_dir / "locked.txt").chmod(0o000)
    source = LocalFolderSource(class_dir)
    items = list(source.list_items())
    try:
        with readable_only_by_owner_rules(class_dir):
            locked, opened = (source.load(item) for item in items)
    finally:
        (class_dir / "locked.txt").chmod(0o644)
    assert locked.status is Status.UNREADABLE
    assert "locked.txt cannot be read (permission denied)" in locked.reason
    assert locked.content_hash == ""
    assert opened.text == "public"


def test_load_dangling_symlink(class_dir: Path) -> None:
    (class_dir / "gone.txt").symlink_to(class_dir / "missing.txt")
    source = LocalFolderSource(class_dir)
    (item,) = source.list_items()
    loaded = source.load(item)
    assert loaded.status is Status.UNREADABLE
    assert "gone.txt cannot be read (No such file or directory)" in loaded.reason


def test_load_symlink_loop(class_dir: Path) -> None:
    (class_dir / "loop.txt").symlink_to(class_dir / "loop.txt")
    source = LocalFolderSource(class_dir)
    (item,) = source.list_items()
    loaded = source.load(item)
    assert loaded.status is Status.UNREADABLE
    assert "loop.txt cannot be read" in loaded.reason


def test_load_fifo_not_opened(class_dir: Path) -> None:
    os.mkfifo(class_dir / "pipe.txt")
    source = LocalFolderSource(class_dir)
    (item,) = source.list_items()
    loaded = source.load(item)
    assert loaded.status is Status.UNREADABLE
    assert "pipe.txt is not a regular file" in loaded.reason


def test_load_rejects_key_outside(class_dir: Path) -> None:
    (class_dir / "class").mkdir()
    (class_dir / "secret.txt").write_text("x")
    source = LocalFolderSource(class_dir / "class")
    item = SourceItem(key="../secret.txt", student="x", file_name="x", fingerprint="")
    assert source.load(item).status is Status.UNREADABLE


# --- one subfolder per student ----------------------------------------------------


def test_folder_is_one_student(class_dir: Path) -> None:
    student = class_dir / "Ana_María López"
    student.mkdir()
    (student / "page10.png").write_bytes(make_png(2, 2))
    (student / "page2.png").write_bytes(make_png(3, 3))
    (student / "essay.docx").write_bytes(make_docx(SAMPLE))
    (student / ".DS_Store").write_bytes(b"\x00")
    source = LocalFolderSource(class_dir)
    (item,) = source.list_items()
    assert item.key == "Ana_María López"
    assert item.student == "Ana María López"
    assert item.media_type == FOLDER_MEDIA_TYPE
    assert item.size == sum(p.stat().st_size for p in student.iterdir()) - 1

    loaded = source.load(item)
    assert loaded.status is None
    assert loaded.reason == ""
    assert [p.name for p in loaded.parts] == [
        "Ana_María López/essay.docx",
        "Ana_María López/page2.png",
        "Ana_María López/page10.png",
    ]
    assert loaded.text == SAMPLE
    assert isinstance(loaded.parts[1], BinaryPart)


def test_folder_hash_tracks_members(class_dir: Path) -> None:
    student = class_dir / "ana"
    student.mkdir()
    (student / "a.txt").write_text("one")
    source = LocalFolderSource(class_dir)
    first = source.load(next(source.list_items()))
    again = source.load(next(source.list_items()))
    (student / "b.txt").write_text("two")
    second = source.load(next(source.list_items()))
    assert len(first.content_hash) == 64
    assert first.content_hash == again.content_hash
    assert second.content_hash != first.content_hash


def test_folder_fingerprint_tracks_members(class_dir: Path) -> None:
    student = class_dir / "ana"
    student.mkdir()
    (student / "a.txt").write_text("one")
    before = items_of(class_dir)[0].fingerprint
    (student / "b.txt").write_text("two")
    assert items_of(class_dir)[0].fingerprint != before


def test_folder_bad_file_keeps_good(class_dir: Path) -> None:
    student = class_dir / "bob"
    student.mkdir()
    (student / "essay.txt").write_text(SAMPLE)
    (student / "notes.exe").write_bytes(b"MZ")
    (student / "empty.md").write_bytes(b"")
    source = LocalFolderSource(class_dir)
    loaded = source.load(next(source.list_items()))
    assert loaded.status is None
    assert texts(loaded) == [SAMPLE]
    assert loaded.reason.startswith("Skipped: ")
    assert "bob/empty.md is empty" in loaded.reason
    assert "bob/notes.exe has an unsupported file type" in loaded.reason


def test_folder_all_bad_first_status(class_dir: Path) -> None:
    student = class_dir / "bob"
    student.mkdir()
    (student / "a.md").write_bytes(b"")
    (student / "b.exe").write_bytes(b"MZ")
    source = LocalFolderSource(class_dir)
    loaded = source.load(next(source.list_items()))
    assert loaded.status is Status.EMPTY
    assert loaded.parts == ()
    assert "bob/a.md" in loaded.reason
    assert "bob/b.exe" in loaded.reason


def test_folder_empty(class_dir: Path) -> None:
    (class_dir / "carol").mkdir()
    source = LocalFolderSource(class_dir)
    loaded = source.load(next(source.list_items()))
    assert loaded.status is Status.EMPTY
    assert loaded.reason == "carol/ contains no files."


def test_folder_nested_not_read(class_dir: Path) -> None:
    nested = class_dir / "dan" / "drafts"
    nested.mkdir(parents=True)
    (nested / "draft.txt").write_text("old draft")
    source = LocalFolderSource(class_dir)
    loaded = source.load(next(source.list_items()))
    assert loaded.status is Status.EMPTY
    assert "Nested folders are not read: dan/drafts/" in loaded.reason


def test_folder_nested_noted_beside_work(class_dir: Path) -> None:
    nested = class_dir / "dan" / "drafts"
    nested.mkdir(parents=True)
    (nested / "draft.txt").write_text("old draft")
    (class_dir / "dan" / "final.txt").write_text("final")
    source = LocalFolderSource(class_dir)
    loaded = source.load(next(source.list_items()))
    assert loaded.status is None
    assert loaded.text == "final"
    assert "dan/drafts/" in loaded.reason


def test_folder_excluded_member(class_dir: Path) -> None:
    student = class_dir / "eve"
    student.mkdir()
    (student / "essay.txt").write_text("mine")
    (student / "rubric.md").write_text("teacher's")
    source = LocalFolderSource(class_dir, exclude=[student / "rubric.md"])
    loaded = source.load(next(source.list_items()))
    assert loaded.text == "mine"
    assert loaded.reason == ""


def test_folder_permission_denied(class_dir: Path) -> None:
    student = class_dir / "ivy"
    student.mkdir()
    (student / "essay.txt").write_text("hidden work")
    source = LocalFolderSource(class_dir)
    (item,) = source.list_items()
    student.chmod(0o000)
    try:
        with readable_only_by_owner_rules(class_dir):
            loaded = source.load(item)
    finally:
        student.chmod(0o755)
    assert loaded.status is Status.UNREADABLE
    assert (
        loaded.reason == "ivy/ cannot be read (permission denied); fix its permissions."
    )


def test_folder_many_images_side_limit(class_dir: Path) -> None:
    student = class_dir / "fay"
    student.mkdir()
    for number in range(3):
        (student / f"page{number}.png").write_bytes(make_png(5, 5))
    limits = Limits(many_images=2, max_image_side_many=4)
    source = LocalFolderSource(class_dir, limits=limits)
    loaded = source.load(next(source.list_items()))
    assert loaded.status is Status.TOO_LARGE
    assert "fay/page0.png is 5x5 px" in loaded.reason


def test_folder_native_total_limit(class_dir: Path) -> None:
    student = class_dir / "gus"
    student.mkdir()
    png = make_png(8, 8)
    (student / "a.png").write_bytes(png)
    (student / "b.png").write_bytes(png)
    source = LocalFolderSource(class_dir, limits=Limits(max_native_bytes=len(png) + 1))
    loaded = source.load(next(source.list_items()))
    assert loaded.status is Status.TOO_LARGE
    assert "gus/ has" in loaded.reason
    assert len(loaded.content_hash) == 64


def test_folder_text_total_limit(class_dir: Path) -> None:
    student = class_dir / "hal"
    student.mkdir()
    (student / "a.txt").write_text("x" * 6)
    (student / "b.txt").write_text("y" * 6)
    source = LocalFolderSource(class_dir, limits=Limits(max_text_chars=10))
    loaded = source.load(next(source.list_items()))
    assert loaded.status is Status.TOO_LARGE
    assert "12 characters of text in all" in loaded.reason


# --- real student work ------------------------------------------------------------


def test_asap_class_loads() -> None:
    if not ASAP_CLASS.is_dir():
        pytest.skip(f"ASAP class sample not present at {ASAP_CLASS.resolve()}")
    source = LocalFolderSource(ASAP_CLASS)
    items = list(source.list_items())
    assert len(items) == 30
    assert items[0].student == "student-001"
    for item in items:
        loaded = source.load(item)
        assert loaded.status is None, loaded.reason
        assert len(loaded.parts) == 1
        assert isinstance(loaded.parts[0], TextPart)
        assert loaded.text.strip()
