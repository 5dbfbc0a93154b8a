"""Tests for file-to-content extraction, on real files of every supported format."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import docx
import pypdf
import pytest
from docx.enum.text import WD_BREAK

from gradebot_cli.domain import BinaryPart, Status, TextPart
from gradebot_cli.sources.extract import (
    SUPPORTED_EXTENSIONS,
    ExtractResult,
    Limits,
    check_size,
    decode_text,
    extract,
    image_info,
    media_type_for,
)

ARABIC = "العربية"
SAMPLE = f"Café, Straße, 中文, {ARABIC}, 😀"
PILLOW_MISSING = (
    "Pillow, which makes real JPEG, GIF, WebP and PDF files, is not installed"
)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def only_text(result: ExtractResult) -> str:
    assert result.status is None, result.reason
    assert len(result.parts) == 1
    part = result.parts[0]
    assert isinstance(part, TextPart)
    return part.text


def only_binary(result: ExtractResult) -> BinaryPart:
    assert result.status is None, result.reason
    assert len(result.parts) == 1
    part = result.parts[0]
    assert isinstance(part, BinaryPart)
    return part


def write(tmp_path: Path, name: str, data: bytes) -> tuple[str, bytes]:
    """Write a real file and read it back, as a source would."""
    path = tmp_path / name
    path.write_bytes(data)
    return name, path.read_bytes()


# --- builders for real files ---------------------------------------------------


def make_png(width: int, height: int) -> bytes:
    """Encode a grey RGB PNG with zlib, following the PNG specification."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_pdf(pages: list[tuple[list[str], bool]]) -> bytes:
    """Build a PDF whose pages show text lines and, optionally, a vector drawing.

    The text uses a Type0 font with a ToUnicode map, as word processors write it,
    so any Unicode text has a real text layer without embedding a font file.
    Right-to-left lines must be given in visual order, as PDF stores them.
    """
    chars = sorted({c for lines, _ in pages for line in lines for c in line})
    code = {c: i + 1 for i, c in enumerate(chars)}
    cmap_entries = "\n".join(
        f"<{code[c]:04X}> <{c.encode('utf-16-be').hex().upper()}>" for c in chars
    )
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
        "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
        f"{len(chars)} beginbfchar\n{cmap_entries}\nendbfchar\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end\n"
    )
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "",  # the page tree, filled in below
        "<< /Type /Font /Subtype /Type0 /BaseFont /StudentFont /Encoding "
        "/Identity-H /DescendantFonts [4 0 R] /ToUnicode 5 0 R >>",
        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /StudentFont "
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        "/DW 600 >>",
        f"<< /Length {len(cmap.encode())} >>\nstream\n{cmap}endstream",
    ]
    kids = []
    for lines, drawing in pages:
        ops = ["BT /F1 12 Tf 72 720 Td 14 TL"]
        ops += [
            "<" + "".join(f"{code[c]:04X}" for c in line) + "> Tj T*" for line in lines
        ]
        ops.append("ET")
        if drawing:
            ops.append("2 w 100 100 m 500 400 l S 200 200 150 80 re f")
        stream = "\n".join(ops)
        objects.append(
            f"<< /Length {len(stream.encode())} >>\nstream\n{stream}\nendstream"
        )
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
            f"<< /Font << /F1 3 0 R >> >> /Contents {len(objects)} 0 R >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"

    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


PDF_LINES = ["Café, Straße, 中文 😀", ARABIC[::-1], "Ana María López " * 12]


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Mi ensayo: 中文", level=1)
    document.add_paragraph(SAMPLE)
    document.add_heading("Datos", level=2)
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "Größe"
    table.cell(0, 1).merge(table.cell(0, 2)).text = "merged"
    table.cell(1, 0).text = "1"
    table.cell(1, 1).add_table(rows=1, cols=1).cell(0, 0).text = "inner"
    document.add_paragraph("Punto uno", style="List Bullet")
    document.add_paragraph("Fin.").add_run().add_break(WD_BREAK.PAGE)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- plain text ---------------------------------------------------------------


def test_txt_utf8_non_ascii(tmp_path: Path) -> None:
    name, data = write(tmp_path, "essay.txt", SAMPLE.encode())
    assert only_text(extract(name, data)) == SAMPLE


def test_txt_part_named_after_file(tmp_path: Path) -> None:
    name, data = write(tmp_path, "essay.txt", b"Hello")
    result = extract(name, data)
    assert result.parts == (TextPart(text="Hello", name="essay.txt"),)


def test_txt_utf8_bom_removed(tmp_path: Path) -> None:
    name, data = write(tmp_path, "bom.txt", b"\xef\xbb\xbf" + SAMPLE.encode())
    assert only_text(extract(name, data)) == SAMPLE


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_txt_utf16_and_utf32_bom(tmp_path: Path, codec: str) -> None:
    encoded = SAMPLE.encode(codec)
    if codec == "utf-16-be":
        encoded = b"\xfe\xff" + encoded
    name, data = write(tmp_path, "windows.txt", encoded)
    assert only_text(extract(name, data)) == SAMPLE


def test_txt_cp1252_fallback(tmp_path: Path) -> None:
    text = "Café – “quoted” naïve façade €5"
    name, data = write(tmp_path, "legacy.txt", text.encode("cp1252"))
    assert only_text(extract(name, data)) == text


def test_txt_undecodable_unreadable(tmp_path: Path) -> None:
    # 0x81 is undefined in Windows-1252 and \xc3\x28 is invalid UTF-8.
    name, data = write(tmp_path, "odd.txt", b"caf\xc3\x28 \x81 text")
    result = extract(name, data)
    assert result.status is Status.UNREADABLE
    assert "odd.txt" in result.reason
    assert "save it as UTF-8" in result.reason


def test_txt_newlines_normalised(tmp_path: Path) -> None:
    name, data = write(tmp_path, "lines.txt", b"one\r\ntwo\rthree\nfour")
    assert only_text(extract(name, data)) == "one\ntwo\nthree\nfour"


def test_txt_nfc_normalised(tmp_path: Path) -> None:
    name, data = write(tmp_path, "nfd.txt", "Cafe\u0301 Zoe\u0308".encode())
    assert only_text(extract(name, data)) == "Café Zoë"


def test_txt_keeps_tabs_and_rtl(tmp_path: Path) -> None:
    text = f"col1\tcol2\n{ARABIC} שלום"
    name, data = write(tmp_path, "rtl.txt", text.encode())
    assert only_text(extract(name, data)) == text


def test_txt_nul_bytes_binary(tmp_path: Path) -> None:
    name, data = write(tmp_path, "essay.txt", b"some text\x00\x00\x01 more")
    result = extract(name, data)
    assert result.status is Status.BINARY
    assert "essay.txt" in result.reason


def test_txt_that_is_pdf_binary(tmp_path: Path) -> None:
    name, data = write(tmp_path, "essay.txt", make_pdf([(["Hi"], False)]))
    result = extract(name, data)
    assert result.status is Status.BINARY
    assert "rename it with the .pdf extension" in result.reason


def test_txt_empty(tmp_path: Path) -> None:
    name, data = write(tmp_path, "empty.txt", b"")
    result = extract(name, data)
    assert result.status is Status.EMPTY
    assert "empty.txt is empty (0 bytes)" in result.reason


def test_txt_whitespace_only(tmp_path: Path) -> None:
    name, data = write(tmp_path, "blank.txt", b" \r\n\t \n\xc2\xa0\n")
    result = extract(name, data)
    assert result.status is Status.EMPTY
    assert "blank.txt contains no text" in result.reason


def test_txt_file_over_byte_limit(tmp_path: Path) -> None:
    name, data = write(tmp_path, "big.txt", b"word " * 10)
    result = extract(name, data, limits=Limits(max_text_file_bytes=49))
    assert result.status is Status.TOO_LARGE
    assert "big.txt is 50 bytes, over the 49 bytes limit" in result.reason


def test_txt_over_char_limit(tmp_path: Path) -> None:
    name, data = write(tmp_path, "long.txt", "é".encode() * 30)
    result = extract(name, data, limits=Limits(max_text_chars=29))
    assert result.status is Status.TOO_LARGE
    assert "30 characters" in result.reason


def test_text_plain_media_type_without_extension() -> None:
    result = extract("Essay by Ana", SAMPLE.encode(), "text/plain; charset=utf-8")
    assert only_text(result) == SAMPLE


def test_decode_text_order() -> None:
    assert decode_text("é".encode()) == "é"
    assert decode_text("é".encode("cp1252")) == "é"
    assert decode_text(b"\x81") is None
    assert decode_text("é".encode("latin-1"), "iso-8859-1") == "é"
    assert decode_text(b"\xff\xfe\x00\xd8") is None  # a BOM, then a lone surrogate


# --- Markdown -----------------------------------------------------------------


def test_md_non_ascii(tmp_path: Path) -> None:
    text = f"# Título\n\n{SAMPLE}\n\n- punto"
    name, data = write(tmp_path, "essay.md", text.encode())
    assert only_text(extract(name, data)) == text


def test_google_docs_markdown_export() -> None:
    exported = (
        f"# Ensayo\n\n{SAMPLE} ![][image1]\n\n"
        "[image1]: <data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB>\n"
    )
    text = only_text(extract("Ensayo", exported.encode(), "text/markdown"))
    assert SAMPLE in text
    assert "iVBORw0" not in text
    assert "data:image/png;base64,[image data omitted]" in text


# --- HTML ---------------------------------------------------------------------


HTML = f"""<!DOCTYPE html>
<html><head><title>Not content</title><style>p {{ color: red; }}</style>
<script>alert("no");</script></head>
<body>
<h1>Mi  ensayo</h1>
<p>{SAMPLE}</p>
<p>Second
   paragraph<br>new line &amp; more</p>
<script type="module">console.log("hidden")</script>
<ul><li>one</li><li>two</li></ul>
<table><tr><th>Name</th><th>Größe</th></tr></table>
<!-- a comment -->
<img src="x.png" alt="a diagram">
</body></html>"""


def test_html_text_and_breaks(tmp_path: Path) -> None:
    name, data = write(tmp_path, "essay.html", HTML.encode())
    text = only_text(extract(name, data))
    assert text == (
        f"# Mi ensayo\n\n{SAMPLE}\n\nSecond paragraph\nnew line & more\n\n"
        "- one\n\n- two\n\nName | Größe\n\n[image: a diagram]"
    )


def test_html_drops_script_and_style(tmp_path: Path) -> None:
    name, data = write(tmp_path, "essay.htm", HTML.encode())
    text = only_text(extract(name, data))
    assert "alert" not in text
    assert "console" not in text
    assert "color" not in text
    assert "Not content" not in text
    assert "comment" not in text


def test_html_declared_charset(tmp_path: Path) -> None:
    page = '<meta charset="iso-8859-1"><p>Café Straße</p>'
    name, data = write(tmp_path, "latin.html", page.encode("latin-1"))
    assert only_text(extract(name, data)) == "Café Straße"


def test_html_only_script_empty(tmp_path: Path) -> None:
    page = b"<html><body><script>var a = 1;</script> </body></html>"
    name, data = write(tmp_path, "script.html", page)
    assert extract(name, data).status is Status.EMPTY


# --- Word documents -------------------------------------------------------------


def test_docx_text_headings_tables(tmp_path: Path) -> None:
    name, data = write(tmp_path, "Ana_María López.docx", make_docx())
    text = only_text(extract(name, data))
    assert text == (
        f"# Mi ensayo: 中文\n\n{SAMPLE}\n\n## Datos\n\n"
        "Größe | merged\n1 | inner |\n\n- Punto uno\n\nFin."
    )


def test_docx_by_media_type(tmp_path: Path) -> None:
    name, data = write(tmp_path, "download.bin", make_docx())
    assert SAMPLE in only_text(extract("Essay", data, DOCX_TYPE))


def test_docx_corrupt(tmp_path: Path) -> None:
    name, data = write(tmp_path, "broken.docx", bytes(range(256)) * 8)
    result = extract(name, data)
    assert result.status is Status.UNREADABLE
    assert "broken.docx is not a valid .docx file" in result.reason
    assert "save it again as .docx" in result.reason


def test_docx_zip_without_document(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a document")
    name, data = write(tmp_path, "fake.docx", buffer.getvalue())
    assert extract(name, data).status is Status.UNREADABLE


def test_docx_ole_file(tmp_path: Path) -> None:
    name, data = write(
        tmp_path, "locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" * 64
    )
    result = extract(name, data)
    assert result.status is Status.UNREADABLE
    assert "password-protected" in result.reason


def test_docx_whitespace_only(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("   ")
    buffer = io.BytesIO()
    document.save(buffer)
    name, data = write(tmp_path, "blank.docx", buffer.getvalue())
    result = extract(name, data)
    assert result.status is Status.EMPTY
    assert "save it as PDF" in result.reason


def test_docx_unzipped_limit(tmp_path: Path) -> None:
    name, data = write(tmp_path, "bomb.docx", make_docx())
    result = extract(name, data, limits=Limits(max_unzipped_bytes=1000))
    assert result.status is Status.TOO_LARGE
    assert "unzips to" in result.reason


# --- PDF ----------------------------------------------------------------------


def test_pdf_text_layer(tmp_path: Path) -> None:
    name, data = write(tmp_path, "essay.pdf", make_pdf([(PDF_LINES, False)]))
    text = only_text(extract(name, data))
    assert "Café, Straße, 中文 😀" in text
    assert ARABIC in text
    assert "Ana María López" in text


def test_pdf_pages_joined(tmp_path: Path) -> None:
    pdf = make_pdf([(PDF_LINES, False), (["Página dos " * 20], False)])
    name, data = write(tmp_path, "two.pdf", pdf)
    text = only_text(extract(name, data))
    assert "López\n\nPágina dos" in text


def test_pdf_drawing_only_native(tmp_path: Path) -> None:
    name, data = write(tmp_path, "drawing.pdf", make_pdf([([], True)]))
    part = only_binary(extract(name, data))
    assert part.media_type == "application/pdf"
    assert part.block_type == "document"
    assert part.data == data
    assert part.name == "drawing.pdf"


def test_pdf_mixed_pages_native(tmp_path: Path) -> None:
    pdf = make_pdf([(PDF_LINES, False), (["Figure 1"], True)])
    name, data = write(tmp_path, "mixed.pdf", pdf)
    assert only_binary(extract(name, data)).media_type == "application/pdf"


def test_pdf_blank_page_stays_text(tmp_path: Path) -> None:
    pdf = make_pdf([(PDF_LINES, False), ([], False)])
    name, data = write(tmp_path, "blank-end.pdf", pdf)
    assert ARABIC in only_text(extract(name, data))


def test_pdf_blank_only_empty(tmp_path: Path) -> None:
    name, data = write(tmp_path, "blank.pdf", make_pdf([([], False)]))
    assert extract(name, data).status is Status.EMPTY


def test_pdf_image_only_native(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image", reason=PILLOW_MISSING)
    buffer = io.BytesIO()
    image.new("RGB", (400, 300), "white").save(buffer, "PDF")
    name, data = write(tmp_path, "scan.pdf", buffer.getvalue())
    assert only_binary(extract(name, data)).media_type == "application/pdf"


def test_pdf_native_page_limit(tmp_path: Path) -> None:
    pdf = make_pdf([([], True), ([], True)])
    name, data = write(tmp_path, "scan.pdf", pdf)
    result = extract(name, data, limits=Limits(max_pdf_pages=1))
    assert result.status is Status.TOO_LARGE
    assert "2 pages" in result.reason


def test_pdf_native_byte_limit(tmp_path: Path) -> None:
    name, data = write(tmp_path, "scan.pdf", make_pdf([([], True)]))
    result = extract(name, data, limits=Limits(max_native_bytes=100))
    assert result.status is Status.TOO_LARGE
    assert "scan.pdf has pages without a text layer (1)" in result.reason


def test_pdf_corrupt(tmp_path: Path) -> None:
    name, data = write(tmp_path, "broken.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4)
    result = extract(name, data)
    assert result.status is Status.UNREADABLE
    assert "broken.pdf is not a readable PDF" in result.reason


def encrypt(pdf: bytes, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password, "owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_password_protected(tmp_path: Path) -> None:
    pdf = encrypt(make_pdf([(PDF_LINES, False)]), "secret")
    name, data = write(tmp_path, "locked.pdf", pdf)
    result = extract(name, data)
    assert result.status is Status.UNREADABLE
    assert "password-protected" in result.reason


def test_pdf_owner_password_text_read(tmp_path: Path) -> None:
    name, data = write(
        tmp_path, "owner.pdf", encrypt(make_pdf([(PDF_LINES, False)]), "")
    )
    assert ARABIC in only_text(extract(name, data))


def test_pdf_encrypted_scan_unreadable(tmp_path: Path) -> None:
    name, data = write(tmp_path, "scan.pdf", encrypt(make_pdf([([], True)]), ""))
    result = extract(name, data)
    assert result.status is Status.UNREADABLE
    assert "without encryption" in result.reason


# --- images -------------------------------------------------------------------


def test_png_binary_part(tmp_path: Path) -> None:
    name, data = write(tmp_path, "photo.png", make_png(3, 2))
    part = only_binary(extract(name, data))
    assert part.media_type == "image/png"
    assert part.block_type == "image"
    assert part.data == data


def test_image_info_png() -> None:
    info = image_info(make_png(640, 480))
    assert info is not None
    assert (info.media_type, info.width, info.height) == ("image/png", 640, 480)


@pytest.mark.parametrize(
    ("fmt", "options", "media_type"),
    [
        ("JPEG", {}, "image/jpeg"),
        ("JPEG", {"progressive": True}, "image/jpeg"),
        (
            "JPEG",
            {"exif": b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"},
            "image/jpeg",
        ),
        ("GIF", {}, "image/gif"),
        ("WEBP", {"quality": 80}, "image/webp"),
        ("WEBP", {"lossless": True}, "image/webp"),
        (
            "WEBP",
            {"exif": b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"},
            "image/webp",
        ),
    ],
)
def test_image_info_real_encoders(
    fmt: str, options: dict[str, object], media_type: str
) -> None:
    image = pytest.importorskip("PIL.Image", reason=PILLOW_MISSING)
    buffer = io.BytesIO()
    image.new("RGB", (1234, 567), "blue").save(buffer, fmt, **options)
    info = image_info(buffer.getvalue())
    assert info is not None
    assert (info.media_type, info.width, info.height) == (media_type, 1234, 567)


def test_image_type_from_bytes(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image", reason=PILLOW_MISSING)
    buffer = io.BytesIO()
    image.new("RGB", (20, 10)).save(buffer, "JPEG")
    name, data = write(tmp_path, "photo.png", buffer.getvalue())
    assert only_binary(extract(name, data)).media_type == "image/jpeg"


def test_image_invalid_bytes(tmp_path: Path) -> None:
    name, data = write(tmp_path, "photo.jpg", b"\xff\xd8\xff" + b"\x00" * 50)
    result = extract(name, data)
    assert result.status is Status.UNREADABLE
    assert "photo.jpg is not a valid PNG, JPEG, GIF or WebP image" in result.reason


def test_image_truncated_headers() -> None:
    image = pytest.importorskip("PIL.Image", reason=PILLOW_MISSING)
    assert image_info(make_png(5, 5)[:20]) is None
    for fmt, options in [("WEBP", {}), ("WEBP", {"lossless": True}), ("JPEG", {})]:
        buffer = io.BytesIO()
        image.new("RGB", (9, 9)).save(buffer, fmt, **options)
        for length in (12, 16, 21, 24):
            assert image_info(buffer.getvalue()[:length]) is None, (fmt, length)


def test_image_heic_hint(tmp_path: Path) -> None:
    name, data = write(
        tmp_path, "IMG_0001.jpg", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40
    )
    assert "HEIC" in extract(name, data).reason


def test_image_over_side_limit(tmp_path: Path) -> None:
    name, data = write(tmp_path, "wide.png", make_png(11, 2))
    result = extract(name, data, limits=Limits(max_image_side=10))
    assert result.status is Status.TOO_LARGE
    assert "wide.png is 11x2 px" in result.reason


def test_image_over_byte_limit(tmp_path: Path) -> None:
    name, data = write(tmp_path, "big.png", make_png(30, 30))
    result = extract(name, data, limits=Limits(max_image_bytes=len(data) - 1))
    assert result.status is Status.TOO_LARGE
    assert "images sent to the Claude API" in result.reason


def test_default_image_byte_limit() -> None:
    # 5 MiB of base64 is the API's per-image limit.
    raw = Limits().max_image_bytes
    assert 4 * -(-raw // 3) <= 5 * 1024 * 1024


# --- unsupported and size checks ----------------------------------------------


@pytest.mark.parametrize("name", ["setup.exe", "grades.xlsx", "README"])
def test_unsupported_lists_extensions(tmp_path: Path, name: str) -> None:
    name, data = write(tmp_path, name, b"MZ\x90\x00 binary")
    result = extract(name, data)
    assert result.status is Status.UNSUPPORTED
    assert name in result.reason
    assert ", ".join(SUPPORTED_EXTENSIONS) in result.reason


def test_unsupported_drive_type_named() -> None:
    sheet = "application/vnd.google-apps.spreadsheet"
    result = extract("Lab data", b"x", sheet)
    assert result.status is Status.UNSUPPORTED
    assert f"Lab data has an unsupported file type ({sheet})" in result.reason


def test_unsupported_doc_hint() -> None:
    result = extract("old.doc", b"\xd0\xcf\x11\xe0")
    assert "save it as .docx or .pdf" in result.reason


def test_check_size_before_reading() -> None:
    assert check_size("essay.docx", 1000) is None
    too_large = check_size("essay.docx", 60_000_000)
    assert too_large is not None
    assert too_large.status is Status.TOO_LARGE
    unsupported = check_size("essay.exe", 10)
    assert unsupported is not None
    assert unsupported.status is Status.UNSUPPORTED


def test_media_type_for_extensions() -> None:
    assert media_type_for("a.DOCX") == DOCX_TYPE
    assert media_type_for("a.jpeg") == "image/jpeg"
    assert media_type_for("a.md") == "text/markdown"
    assert media_type_for("a.exe") == ""
