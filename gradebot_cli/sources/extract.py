"""Turn a submitted file's bytes into content parts for Claude, or a file status.

Both the local-folder source and the Google Drive source call :func:`extract`, so
one set of rules decides what a file becomes:

- ``.txt``, ``.md``/``.markdown``, ``.html``/``.htm``, ``.docx``, and PDFs with a
  text layer become one :class:`TextPart`.
- PDFs with a page that has no text layer (a scan or photo) are sent whole as a
  ``BinaryPart("application/pdf")``, so Claude reads the page images.
- PNG, JPEG, GIF and WebP images become a ``BinaryPart`` with the media type that
  their bytes show, whatever the file extension claims.

Text is decoded as UTF-8 (with or without a BOM), as UTF-16 or UTF-32 when a BOM
marks it, then as Windows-1252 only when every byte is defined in that code page.
Newlines become ``\\n`` and text is normalised to Unicode NFC. The heavy parsers
(python-docx, pypdf, Beautiful Soup) are imported on first use.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from gradebot_cli.domain import BinaryPart, ContentPart, Status, TextPart

if TYPE_CHECKING:
    from docx.document import Document
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph
    from pypdf import PageObject

logger = logging.getLogger(__name__)

_MB = 1000 * 1000


@dataclass(frozen=True)
class Limits:
    """Size limits checked before a submission is sent to Claude.

    The API limits come from Anthropic's documentation (platform.claude.com):

    - "API overview", section "Request size limits": a Messages API request is at
      most 32 MB. PDFs and images travel base64-encoded, which makes them 4/3 as
      large, so 22 MB of files becomes 29.3 MB and leaves about 2.7 MB for the
      rubric, instructions and text.
    - "PDF support", section "Check PDF requirements": at most 100 pages per
      request, and no passwords or encryption.
    - "Images and vision", section "General limits": images up to 8000x8000 px,
      or 2000x2000 px when a request has more than 20 images, and 100 images per
      request on models with a 200k-token context window.
    - The per-image size limit is the API's 400 error "image exceeds 5 MB
      maximum: ... bytes > 5242880 bytes" on the base64 image source, as quoted
      in public bug reports; the documentation pages above do not state it.

    NOTE: a newer revision of "PDF support" allows 128 MB requests and 600 pages
    on models with a 1M-token context window. The defaults keep the lower limits,
    which every model accepts.
    """

    # Text-type files (.txt, .md, .html): 10 MB is far beyond any essay, so a
    # bigger file is almost certainly the wrong file.
    max_text_file_bytes: int = 10 * _MB
    # .docx and .pdf files, which often carry photos that make them large even
    # when their text is short.
    max_document_bytes: int = 50 * _MB
    # Total size a .docx may unzip to, so a zip bomb fails before it is parsed.
    max_unzipped_bytes: int = 200 * _MB
    # A long school essay is 1,500-5,000 words (about 10,000-35,000 characters);
    # 100,000 characters (about 25,000 tokens) admits a term paper but stops a
    # pasted book.
    max_text_chars: int = 100_000
    # Raw bytes of all PDFs and images one submission sends natively.
    max_native_bytes: int = 22 * _MB
    max_pdf_pages: int = 100
    # 5 MiB of base64 encodes 3,932,160 bytes of image. NOTE: if the API counts
    # decoded bytes instead, this rejects some images that it would accept.
    max_image_bytes: int = 5 * 1024 * 1024 * 3 // 4
    max_image_side: int = 8000
    # The side limit when one request carries more than ``many_images`` images.
    max_image_side_many: int = 2000
    many_images: int = 20
    max_images: int = 100


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class ExtractResult:
    """The parts extracted from one file, or the file status that stops grading."""

    parts: tuple[ContentPart, ...] = ()
    status: Status | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status is None


def _problem(status: Status, reason: str) -> ExtractResult:
    return ExtractResult(status=status, reason=reason)


_DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Each supported extension with its internal format name and its media type.
_EXTENSIONS = {
    ".txt": ("text", "text/plain"),
    ".md": ("markdown", "text/markdown"),
    ".markdown": ("markdown", "text/markdown"),
    ".html": ("html", "text/html"),
    ".htm": ("html", "text/html"),
    ".docx": ("docx", _DOCX_TYPE),
    ".pdf": ("pdf", "application/pdf"),
    ".png": ("image", "image/png"),
    ".jpg": ("image", "image/jpeg"),
    ".jpeg": ("image", "image/jpeg"),
    ".gif": ("image", "image/gif"),
    ".webp": ("image", "image/webp"),
}
SUPPORTED_EXTENSIONS = tuple(_EXTENSIONS)
# Media types that Google Drive reports for downloaded or exported files.
_MEDIA_TYPE_FORMATS = {media_type: fmt for fmt, media_type in _EXTENSIONS.values()}
_MEDIA_TYPE_FORMATS |= {"text/x-markdown": "markdown", "application/xhtml+xml": "html"}
# Fixes suggested for common file types that are not supported.
_UNSUPPORTED_HINTS = {
    ".doc": "save it as .docx or .pdf",
    ".odt": "save it as .docx or .pdf",
    ".rtf": "save it as .docx or .pdf",
    ".pages": "export it from Pages as .docx or .pdf",
    ".heic": "export it as JPEG",
    ".heif": "export it as JPEG",
    ".zip": "unzip it into the student's folder",
    ".gdoc": "a .gdoc file is only a link: download the document as .docx or "
    "read it with the Google Drive source",
}


def media_type_for(name: str) -> str:
    """Return the media type that a file name's extension implies, or ""."""
    known = _EXTENSIONS.get(PurePosixPath(name).suffix.lower())
    return known[1] if known else ""


def _format_of(name: str, media_type: str) -> str | None:
    # A known media type takes precedence, because Drive reports the type of
    # each file it exports. Otherwise the extension decides, as it does for
    # "application/octet-stream".
    base_type = media_type.split(";")[0].strip().lower()
    if base_type in _MEDIA_TYPE_FORMATS:
        return _MEDIA_TYPE_FORMATS[base_type]
    known = _EXTENSIONS.get(PurePosixPath(name).suffix.lower())
    return known[0] if known else None


def is_supported(name: str, media_type: str = "") -> bool:
    return _format_of(name, media_type) is not None


def format_size(size: int) -> str:
    """Format a byte count in decimal units, as file managers show it."""
    if size >= _MB:
        return f"{size / _MB:.1f} MB"
    if size >= 1000:
        return f"{size / 1000:.1f} KB"
    return f"{size} bytes"


def _unsupported(name: str, media_type: str) -> ExtractResult:
    suffix = PurePosixPath(name).suffix.lower()
    kind = f"type ({suffix or media_type or 'no extension'})"
    fix = _UNSUPPORTED_HINTS.get(suffix, "convert it to one of those")
    supported = ", ".join(SUPPORTED_EXTENSIONS)
    return _problem(
        Status.UNSUPPORTED,
        f"{name} has an unsupported file {kind}; supported: {supported}; {fix}.",
    )


def _max_file_bytes(fmt: str, limits: Limits) -> tuple[int, str]:
    if fmt in ("text", "markdown", "html"):
        return limits.max_text_file_bytes, "text files"
    if fmt == "image":
        return limits.max_image_bytes, "images sent to the Claude API"
    return limits.max_document_bytes, f".{fmt} files"


def check_size(
    name: str, size: int, media_type: str = "", *, limits: Limits = DEFAULT_LIMITS
) -> ExtractResult | None:
    """Return the problem with a file of ``size`` bytes, or None if it may be read.

    Sources call this before downloading or reading a file, so an oversized or
    unsupported file is never loaded into memory.
    """
    fmt = _format_of(name, media_type)
    if fmt is None:
        return _unsupported(name, media_type)
    if size == 0:
        return _problem(Status.EMPTY, f"{name} is empty (0 bytes); ask for it again.")

    max_bytes, label = _max_file_bytes(fmt, limits)
    if size > max_bytes:
        return _problem(
            Status.TOO_LARGE,
            f"{name} is {format_size(size)}, over the {format_size(max_bytes)} "
            f"limit for {label}; check it is the right file, or shrink or split it.",
        )
    return None


def extract(
    name: str, data: bytes, media_type: str = "", *, limits: Limits = DEFAULT_LIMITS
) -> ExtractResult:
    """Extract the content parts of one file, or the status that stops grading it.

    ``name`` is used in reasons and part names, and its extension selects the
    format unless ``media_type`` is a known type. An unexpected error from a
    parser is logged and returned as UNREADABLE rather than raised.
    """
    problem = check_size(name, len(data), media_type, limits=limits)
    if problem is not None:
        return problem

    fmt = _format_of(name, media_type) or "text"
    try:
        return _extract_format(name, data, fmt, limits)
    except Exception as error:
        # A parser bug on one odd file must not stop a whole class from loading.
        logger.warning("Extracting %s failed", name, exc_info=True)
        return _problem(
            Status.UNREADABLE,
            f"{name} could not be read ({type(error).__name__}: {error}); "
            "open it and save it again, or convert it to PDF.",
        )


def _extract_format(name: str, data: bytes, fmt: str, limits: Limits) -> ExtractResult:
    if fmt == "image":
        return _extract_image(name, data, limits)
    if fmt == "pdf":
        return _extract_pdf(name, data, limits)
    if fmt == "docx":
        text = _docx_text(name, data, limits)
    else:
        text = _decode_text_format(name, data, fmt)
    if isinstance(text, ExtractResult):
        return text
    return _finish_text(name, text, limits, pictures_possible=fmt in ("docx", "html"))


def _finish_text(
    name: str, text: str, limits: Limits, *, pictures_possible: bool = False
) -> ExtractResult:
    text = normalize_text(text)
    if not text.strip():
        hint = "ask for the work again"
        if pictures_possible:
            hint = "if the work was pasted in as pictures, save it as PDF instead"
        return _problem(
            Status.EMPTY, f"{name} contains no text (only whitespace); {hint}."
        )
    if len(text) > limits.max_text_chars:
        return _problem(
            Status.TOO_LARGE,
            f"{name} has {len(text):,} characters of text, over the limit of "
            f"{limits.max_text_chars:,}; check it is the right file.",
        )
    return ExtractResult(parts=(TextPart(text=text, name=name),))


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalize_text(text: str) -> str:
    """Normalise newlines to ``\\n``, drop control characters, and apply NFC."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _CONTROL_CHARS.sub("", text)
    return unicodedata.normalize("NFC", text)


# --- Plain text, Markdown and HTML -------------------------------------------

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
# Leading bytes of binary formats that students most often save with a text
# extension, so the reason can name what the file really is.
_BINARY_SIGNATURES = (
    (b"%PDF-", "a PDF document", ".pdf"),
    (b"PK\x03\x04", "a ZIP archive such as a .docx document", ".docx"),
    (b"\xd0\xcf\x11\xe0", "an old Word 97-2003 document", ".doc"),
    (b"\x89PNG", "a PNG image", ".png"),
    (b"\xff\xd8\xff", "a JPEG image", ".jpg"),
    (b"GIF8", "a GIF image", ".gif"),
)


def decode_text(data: bytes, declared_encoding: str | None = None) -> str | None:
    """Decode text bytes, or return None when no supported encoding fits.

    Order: a BOM's encoding; UTF-8; ``declared_encoding`` (from an HTML meta
    tag); Windows-1252, which fails on its five undefined bytes.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None

    candidates = ["utf-8"]
    if declared_encoding:
        candidates.append(declared_encoding)
    candidates.append("cp1252")
    for codec in candidates:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return None


def _binary_problem(name: str, data: bytes) -> ExtractResult | None:
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return None
    for signature, description, extension in _BINARY_SIGNATURES:
        if data.startswith(signature):
            return _problem(
                Status.BINARY,
                f"{name} is {description}, not text; rename it with the {extension} "
                "extension if that is the student's work.",
            )

    # Text never contains NUL bytes unless it is UTF-16 or UTF-32, which need a
    # BOM here, while nearly every binary format has them near the start.
    if b"\x00" in data:
        return _problem(
            Status.BINARY,
            f"{name} contains NUL bytes, so it is binary data, not text; check "
            "that it is the student's work and has the right extension.",
        )
    return None


def _decode_text_format(name: str, data: bytes, fmt: str) -> str | ExtractResult:
    """Return the text of a plain-text, Markdown or HTML file, or its problem."""
    problem = _binary_problem(name, data)
    if problem is not None:
        return problem

    declared = None
    if fmt == "html":
        from bs4.dammit import EncodingDetector

        declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    text = decode_text(data, declared)
    if text is None:
        return _problem(
            Status.UNREADABLE,
            f"{name} is not valid UTF-8, UTF-16 or Windows-1252 text; open it in "
            "an editor and save it as UTF-8.",
        )

    if fmt == "html":
        text = html_to_text(text)
    elif fmt == "markdown":
        text = _DATA_URI.sub(r"data:\1;base64,[image data omitted]", text)
    return text


# Google Docs' Markdown export inlines every image as a base64 data URI.
_DATA_URI = re.compile(r"data:([\w.+/-]+);base64,[A-Za-z0-9+/=\s]+")

_PARAGRAPH = "\ue000"
_LINE = "\ue001"
_DROPPED_TAGS = ["script", "style", "noscript", "template", "head", "svg", "iframe"]
_BLOCK_TAGS = [
    "address", "article", "aside", "blockquote", "caption", "dd", "div", "dl",
    "dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
    "table", "tr", "ul",
]  # fmt: skip
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


def html_to_text(html: str) -> str:
    """Convert HTML to plain text with a blank line between block elements.

    Scripts, styles and the head are dropped; headings gain Markdown ``#``
    marks, list items ``- ``, table cells `` | `` between them, and images
    ``[image: alt]`` placeholders.
    """
    from bs4 import BeautifulSoup

    html = html.replace(_PARAGRAPH, "").replace(_LINE, "")
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()

    for pre in soup.find_all("pre"):
        for string in pre.find_all(string=True):
            string.replace_with(string.replace("\n", _LINE))
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.insert(0, "#" * level + " ")
    for item in soup.find_all("li"):
        item.insert(0, "- ")
    for cell in soup.find_all(["td", "th"]):
        if cell.find_previous_sibling(["td", "th"]) is not None:
            cell.insert_before(" | ")
    for image in soup.find_all("img"):
        alt = str(image.get("alt") or "").strip()
        image.replace_with(f" [image: {alt}] " if alt else " [image] ")
    for br in soup.find_all("br"):
        br.replace_with(_LINE)
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before(_PARAGRAPH)
        block.insert_after(_PARAGRAPH)

    text = _HTML_SPACE.sub(" ", soup.get_text())
    text = text.replace(_PARAGRAPH, "\n\n").replace(_LINE, "\n")
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- Word documents ------------------------------------------------------------


def _docx_text(name: str, data: bytes, limits: Limits) -> str | ExtractResult:
    """Return the body text of a .docx file, or its problem."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return _problem(
            Status.UNREADABLE,
            f"{name} is password-protected or an old Word 97-2003 file renamed to "
            ".docx; open it in Word and save it as .docx without a password.",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as error:
        return _corrupt_docx(name, error)
    if unzipped > limits.max_unzipped_bytes:
        return _problem(
            Status.TOO_LARGE,
            f"{name} unzips to {format_size(unzipped)}, over the "
            f"{format_size(limits.max_unzipped_bytes)} limit; save a copy "
            "with smaller pictures.",
        )

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = _docx_blocks(document)
    # python-docx raises zipfile, lxml, KeyError and ValueError errors, among
    # others, for damaged files, and any of them means the file cannot be read.
    except Exception as error:
        return _corrupt_docx(name, error)
    return "\n\n".join(blocks)


def _corrupt_docx(name: str, error: Exception) -> ExtractResult:
    return _problem(
        Status.UNREADABLE,
        f"{name} is not a valid .docx file ({type(error).__name__}: {error}); "
        "open it in Word or Google Docs and save it again as .docx.",
    )


def _docx_blocks(container: Document | _Cell) -> list[str]:
    """Return the text of each paragraph and table of a document or cell, in order.

    Headers, footers, footnotes and text boxes are not read.
    """
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    blocks: list[str] = []
    for block in container.iter_inner_content():
        if isinstance(block, Paragraph):
            text = _docx_paragraph(block)
        elif isinstance(block, Table):
            text = _docx_table(block)
        else:
            continue
        if text.strip():
            blocks.append(text)
    return blocks


def _docx_paragraph(paragraph: Paragraph) -> str:
    text = paragraph.text
    style = paragraph.style
    style_name = str(style.name) if style is not None else ""
    if style_name == "Title":
        return "# " + text
    level = style_name.removeprefix("Heading ")
    if level != style_name and level.isdigit():
        return "#" * int(level) + " " + text
    if style_name.startswith("List"):
        return "- " + text
    return text


def _docx_table(table: Table) -> str:
    rows = []
    for row in table.rows:
        seen: set[object] = set()
        cells = []
        # A merged cell appears once per grid column it spans, each time with
        # the same <w:tc> element, so read each element once.
        for cell in row.cells:
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            cells.append(" ".join(_docx_blocks(cell)).replace("\n", " "))
        rows.append(" | ".join(cells).rstrip())
    return "\n".join(rows)


# --- PDF -------------------------------------------------------------------------

# A page with less text than this that also draws images or vector graphics is
# treated as having no text layer (a scan, a photo or a drawing).
_MIN_PAGE_TEXT = 200
# Content-stream operators that paint images, shadings or paths; pypdf reports
# an inline image as the operator b"INLINE IMAGE".
_PAINT_OPERATORS = {
    b"Do", b"INLINE IMAGE", b"sh", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*",
    b"S", b"s",
}  # fmt: skip


def _extract_pdf(name: str, data: bytes, limits: Limits) -> ExtractResult:
    """Send a PDF as text when every page has a text layer, else natively."""
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        if encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            return _problem(
                Status.UNREADABLE,
                f"{name} is password-protected; ask for a copy without a password.",
            )
        pages = list(reader.pages)
        texts = [page.extract_text() or "" for page in pages]
        pages_without_text = [
            number
            for number, (page, text) in enumerate(zip(pages, texts, strict=True), 1)
            if _visible_chars(text) < _MIN_PAGE_TEXT and _draws_graphics(page)
        ]
    # pypdf raises its own errors, and also ValueError, KeyError, TypeError and
    # others, on damaged files, and any of them means the file cannot be read.
    except Exception as error:
        return _problem(
            Status.UNREADABLE,
            f"{name} is not a readable PDF ({type(error).__name__}: {error}); "
            "open it and export or print it to PDF again.",
        )

    if not pages_without_text:
        return _finish_text(name, "\n\n".join(t.strip() for t in texts), limits)
    return _native_pdf(name, data, len(pages), pages_without_text, encrypted, limits)


def _visible_chars(text: str) -> int:
    return sum(1 for char in text if not char.isspace())


def _draws_graphics(page: PageObject) -> bool:
    try:
        contents = page.get_contents()
        if contents is None:
            return False
        return any(op in _PAINT_OPERATORS for _, op in contents.operations)
    # An unparsable content stream may still render, and sending the PDF
    # natively lets Claude see whatever it draws.
    except Exception:
        return True


def _native_pdf(
    name: str,
    data: bytes,
    page_count: int,
    pages_without_text: list[int],
    encrypted: bool,
    limits: Limits,
) -> ExtractResult:
    page_numbers = ", ".join(str(n) for n in pages_without_text[:5]) + (
        " ..." if len(pages_without_text) > 5 else ""
    )
    explanation = (
        f"{name} has pages without a text layer ({page_numbers}), "
        "so it is sent as a PDF"
    )
    if encrypted:
        return _problem(
            Status.UNREADABLE,
            f"{explanation}, but it is encrypted and the Claude API accepts only PDFs "
            "without encryption; ask for an unprotected copy.",
        )
    if page_count > limits.max_pdf_pages:
        return _problem(
            Status.TOO_LARGE,
            f"{explanation}, but it has {page_count} pages and the Claude API accepts "
            f"{limits.max_pdf_pages} pages; split it or export it with a text layer.",
        )
    if len(data) > limits.max_native_bytes:
        return _problem(
            Status.TOO_LARGE,
            f"{explanation}, but it is {format_size(len(data))} and the Claude API "
            f"accepts {format_size(limits.max_native_bytes)}; compress or split it.",
        )
    return ExtractResult(parts=(BinaryPart("application/pdf", data, name),))


# --- Images ------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    media_type: str
    width: int
    height: int


def image_info(data: bytes) -> ImageInfo | None:
    """Read the format and pixel size from a PNG, GIF, WebP or JPEG header.

    Returns None for any other or truncated data. Only headers are parsed, which
    is all the size checks need, so no imaging library is required.
    """
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return _sized("image/png", width, height)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return _sized("image/gif", width, height)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_info(data)
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg_info(data)
    except (struct.error, IndexError):
        return None
    return None


def _sized(media_type: str, width: int, height: int) -> ImageInfo | None:
    return ImageInfo(media_type, width, height) if width and height else None


def _webp_info(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return _sized("image/webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and data[20] == 0x2F:
        (bits,) = struct.unpack("<I", data[21:25])
        return _sized("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _sized("image/webp", width, height)
    return None


# JPEG start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_info(data: bytes) -> ImageInfo | None:
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            offset += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame
            return None
        if marker in _JPEG_FRAME_MARKERS:
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return _sized("image/jpeg", width, height)
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        offset += 2 + length
    return None


def _extract_image(name: str, data: bytes, limits: Limits) -> ExtractResult:
    info = image_info(data)
    if info is None:
        hint = ""
        if data[4:8] == b"ftyp":
            hint = " It looks like an HEIC photo: export it as JPEG."
        return _problem(
            Status.UNREADABLE,
            f"{name} is not a valid PNG, JPEG, GIF or WebP image.{hint}",
        )
    side = limits.max_image_side
    if info.width > side or info.height > side:
        return _problem(
            Status.TOO_LARGE,
            f"{name} is {info.width}x{info.height} px and the Claude API accepts "
            f"at most {side}x{side} px per image in this request; resize it.",
        )
    return ExtractResult(parts=(BinaryPart(info.media_type, data, name),))
