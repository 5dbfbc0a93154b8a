"""Conversions between Google Docs and files: Drive import and export.

Import turns uploaded HTML, Markdown, plain text or .docx into Docs paragraphs
(headings, bullets, numbered lists, bold, italic, links). Export renders a
Document as Markdown, plain text, HTML, .docx or PDF.

NOTE: Google does not publish the exact output of its exporters. The shapes
here follow observed behaviour where it is documented publicly (the plain-text
export starts with a UTF-8 byte order mark) and are otherwise plausible
renderings: headings as ``#`` lines, ``*`` bullets and ``1.`` numbers indented
four spaces per level, ``**bold**`` and ``*italic*``.
"""

from __future__ import annotations

import html
import io
import itertools
import re
from collections import defaultdict
from html.parser import HTMLParser
from typing import Any

import markdown_it

from tests.fakes.google_docs import Document, Paragraph, ParagraphSpec, Run

HEADING_TAGS = {f"h{level}": f"HEADING_{level}" for level in range(1, 7)}
BLOCK_TAGS = {"p", "div", "li", "blockquote", "pre", "tr", "title"} | set(HEADING_TAGS)
SKIPPED_TAGS = {"head", "style", "script"}
INLINE_STYLES = {
    "b": {"bold": True},
    "strong": {"bold": True},
    "i": {"italic": True},
    "em": {"italic": True},
    "u": {"underline": True},
    "s": {"strikethrough": True},
    "strike": {"strikethrough": True},
    "del": {"strikethrough": True},
}
MARKDOWN_HEADINGS = {
    "TITLE": "#",
    "SUBTITLE": "##",
    **{f"HEADING_{level}": "#" * level for level in range(1, 7)},
}


# -- import -------------------------------------------------------------------


def specs_from_html(source: str) -> list[ParagraphSpec]:
    parser = _HtmlImporter()
    parser.feed(source)
    parser.close()
    parser.flush()
    return parser.specs


def specs_from_markdown(source: str) -> list[ParagraphSpec]:
    renderer = markdown_it.MarkdownIt("commonmark").enable("strikethrough")
    return specs_from_html(renderer.render(source))


def specs_from_text(source: str) -> list[ParagraphSpec]:
    lines = re.split(r"\r\n|\r|\n", source.lstrip("\ufeff"))
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return [ParagraphSpec([(line, {})]) for line in lines]


def specs_from_docx(data: bytes) -> list[ParagraphSpec]:
    import docx

    specs = []
    for paragraph in docx.Document(io.BytesIO(data)).paragraphs:
        name = paragraph.style.name if paragraph.style is not None else ""
        spec = ParagraphSpec(
            [(run.text, _docx_run_style(run)) for run in paragraph.runs if run.text]
        )
        if name.startswith("Heading ") and name[8:].isdigit():
            spec.named_style = f"HEADING_{min(int(name[8:]), 6)}"
        elif name in ("Title", "Subtitle"):
            spec.named_style = name.upper()
        elif name.startswith(("List Bullet", "List Number")):
            spec.list_kind = "number" if "Number" in name else "bullet"
            suffix = name.rsplit(" ", 1)[-1]
            spec.level = int(suffix) - 1 if suffix.isdigit() else 0
        specs.append(spec)
    return specs


def _docx_run_style(run: Any) -> dict[str, Any]:
    style: dict[str, Any] = {}
    for name in ("bold", "italic", "underline"):
        if getattr(run, name):
            style[name] = True
    return style


class _HtmlImporter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.specs: list[ParagraphSpec] = []
        self.current: ParagraphSpec | None = None
        self.styles: list[dict[str, Any]] = []
        self.lists: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping += 1
        elif tag in ("ul", "ol"):
            self.flush()
            self.lists.append("number" if tag == "ol" else "bullet")
        elif tag in BLOCK_TAGS:
            self.flush()
            self.current = self._new_paragraph(tag)
        elif tag == "br":
            self._append("\v")
        else:
            self.styles.append(_inline_style(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in ("ul", "ol"):
            self.flush()
            if self.lists:
                self.lists.pop()
        elif tag in BLOCK_TAGS:
            self.flush()
        elif tag != "br" and self.styles:
            self.styles.pop()

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = re.sub(r"\s+", " ", data)
        if self.current is None or not self.current.runs:
            text = text.lstrip()
        if text:
            self._append(text)

    def _new_paragraph(self, tag: str) -> ParagraphSpec:
        spec = ParagraphSpec([], HEADING_TAGS.get(tag, "NORMAL_TEXT"))
        if tag == "li" and self.lists:
            spec.list_kind = self.lists[-1]
            spec.level = len(self.lists) - 1
        return spec

    def _append(self, text: str) -> None:
        if self.current is None:
            self.current = ParagraphSpec([])
        style: dict[str, Any] = {}
        for layer in self.styles:
            style.update(layer)
        self.current.runs.append((text, style))

    def flush(self) -> None:
        spec, self.current = self.current, None
        if spec is None or not spec.runs:
            return
        text, style = spec.runs[-1]
        spec.runs[-1] = (text.rstrip(" "), style)
        spec.runs = [(text, style) for text, style in spec.runs if text]
        if spec.runs:
            self.specs.append(spec)


def _inline_style(tag: str, attrs: dict[str, str | None]) -> dict[str, Any]:
    style: dict[str, Any] = dict(INLINE_STYLES.get(tag, {}))
    if tag == "a" and attrs.get("href"):
        style["link"] = {"url": attrs["href"]}
    css = (attrs.get("style") or "").replace(" ", "").lower()
    if "font-weight:700" in css or "font-weight:bold" in css:
        style["bold"] = True
    if "font-style:italic" in css:
        style["italic"] = True
    return style


# -- export -------------------------------------------------------------------


class _Numbering:
    """Counters for numbered list items, per list and nesting level."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = defaultdict(int)

    def next(self, list_id: str, level: int) -> int:
        for deeper in [
            key for key in self.counts if key[0] == list_id and key[1] > level
        ]:
            del self.counts[deeper]
        self.counts[(list_id, level)] += 1
        return self.counts[(list_id, level)]


def _list_prefix(
    document: Document, paragraph: Paragraph, numbering: _Numbering
) -> str:
    attrs = paragraph.attrs
    if attrs.list_id is None:
        return ""
    indent = "    " * attrs.nesting_level
    if document.list_kind(attrs.list_id) == "number":
        return f"{indent}{numbering.next(attrs.list_id, attrs.nesting_level)}. "
    return f"{indent}* "


def to_plain_text(document: Document) -> bytes:
    """Render the plain-text export: BOM, then one line per paragraph (CRLF)."""
    numbering = _Numbering()
    lines = []
    for paragraph in document.paragraphs():
        text = paragraph.text[:-1].replace("\v", "\r\n")
        lines.append(_list_prefix(document, paragraph, numbering) + text)
    return ("\ufeff" + "\r\n".join(lines)).encode("utf-8")


def to_markdown(document: Document) -> bytes:
    numbering = _Numbering()
    blocks: list[str] = []
    previous_list = False
    for paragraph in document.paragraphs():
        text = _markdown_inline(paragraph.runs)
        text = text.rstrip("\n").replace("\v", "  \n")
        in_list = paragraph.attrs.list_id is not None
        if not text.strip() and not in_list:
            previous_list = False
            continue
        heading = MARKDOWN_HEADINGS.get(paragraph.attrs.named_style())
        if in_list:
            line = _list_prefix(document, paragraph, numbering) + text
        else:
            line = f"{heading} {text}" if heading else text
        if blocks and not (in_list and previous_list):
            blocks.append("")
        blocks.append(line)
        previous_list = in_list
    return ("\n".join(blocks) + "\n").encode("utf-8") if blocks else b""


def _markdown_inline(runs: list[Run]) -> str:
    """Render a paragraph's runs, joining neighbouring runs with one link."""
    pieces = []
    for url, group in itertools.groupby(runs, key=_link_url):
        text = "".join(_wrap(_escape(run.text), _emphasis(run.style)) for run in group)
        pieces.append(_wrap(text, ("[", f"]({url})")) if url else text)
    return "".join(pieces)


def _link_url(run: Run) -> str:
    return str((run.style.get("link") or {}).get("url") or "")


def _emphasis(style: dict[str, Any]) -> tuple[str, str]:
    marker = ""
    if style.get("bold") and style.get("italic"):
        marker = "***"
    elif style.get("bold"):
        marker = "**"
    elif style.get("italic"):
        marker = "*"
    if style.get("strikethrough"):
        return "~~" + marker, marker + "~~"
    return marker, marker


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]])", r"\\\1", text)


def _wrap(text: str, markers: tuple[str, str]) -> str:
    """Put markers around text, keeping outer spaces and newlines outside."""
    core = text.strip(" \n")
    if not core or markers == ("", ""):
        return text
    start = text.index(core)
    opening, closing = markers
    return text[:start] + opening + core + closing + text[start + len(core) :]


def to_html(document: Document, title: str) -> bytes:
    numbering_tags = {"number": "ol", "bullet": "ul"}
    parts = [
        '<html><head><meta content="text/html; charset=UTF-8" '
        f'http-equiv="content-type"><title>{html.escape(title)}</title></head>'
        '<body class="doc-content">'
    ]
    open_lists: list[str] = []
    for paragraph in document.paragraphs():
        attrs = paragraph.attrs
        kind = document.list_kind(attrs.list_id)
        depth = attrs.nesting_level + 1 if kind else 0
        while len(open_lists) > depth:
            parts.append(f"</{open_lists.pop()}>")
        while kind and len(open_lists) < depth:
            open_lists.append(numbering_tags[kind])
            parts.append(f"<{open_lists[-1]}>")
        inner = "".join(_html_run(run.text, run.style) for run in paragraph.runs)
        tag = "li" if kind else _html_block(attrs.named_style())
        parts.append(f"<{tag}>{inner}</{tag}>")
    parts.extend(f"</{tag}>" for tag in reversed(open_lists))
    parts.append("</body></html>")
    return "".join(parts).encode("utf-8")


def _html_block(named_style: str) -> str:
    if named_style.startswith("HEADING_"):
        return "h" + named_style[-1]
    return {"TITLE": "h1", "SUBTITLE": "h2"}.get(named_style, "p")


def _html_run(text: str, style: dict[str, Any]) -> str:
    body = html.escape(text.rstrip("\n")).replace("\v", "<br>")
    if not body:
        return ""
    css = []
    if style.get("bold"):
        css.append("font-weight:700")
    if style.get("italic"):
        css.append("font-style:italic")
    if style.get("underline"):
        css.append("text-decoration:underline")
    span = (
        f'<span style="{";".join(css)}">{body}</span>'
        if css
        else f"<span>{body}</span>"
    )
    link = style.get("link") or {}
    if link.get("url"):
        return f'<a href="{html.escape(link["url"])}">{span}</a>'
    return span


def to_docx(document: Document) -> bytes:
    import docx

    result = docx.Document()
    for paragraph in document.paragraphs():
        attrs = paragraph.attrs
        kind = document.list_kind(attrs.list_id)
        out = result.add_paragraph(
            style=_docx_style(attrs.named_style(), kind, attrs.nesting_level)
        )
        for run in paragraph.runs:
            text = run.text.rstrip("\n").replace("\v", "\n")
            if not text:
                continue
            added = out.add_run(text)
            added.bold = bool(run.style.get("bold")) or None
            added.italic = bool(run.style.get("italic")) or None
            added.underline = bool(run.style.get("underline")) or None
    buffer = io.BytesIO()
    result.save(buffer)
    return buffer.getvalue()


def _docx_style(named_style: str, kind: str | None, level: int) -> str:
    if kind:
        base = "List Number" if kind == "number" else "List Bullet"
        return base if level == 0 else f"{base} {min(level + 1, 3)}"
    if named_style.startswith("HEADING_"):
        return f"Heading {named_style[-1]}"
    return {"TITLE": "Title", "SUBTITLE": "Subtitle"}.get(named_style, "Normal")


def to_pdf(document: Document) -> bytes:
    """Render a minimal one-font PDF, with ``?`` for characters outside Latin-1."""
    lines = to_plain_text(document).decode("utf-8").lstrip("\ufeff").split("\r\n")
    pages = [lines[start : start + 50] for start in range(0, len(lines), 50)] or [[]]
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for page in pages:
        stream = _pdf_text_stream(page)
        content_number = len(objects) + 2
        kids.append(f"{len(objects) + 1} 0 R")
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {len(pages) * 2 + 3} 0 R >> >> "
            f"/Contents {content_number} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _pdf_file(objects)


def _pdf_text_stream(lines: list[str]) -> str:
    commands = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
    for line in lines:
        safe = line.encode("latin-1", "replace").decode("latin-1")
        safe = safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        commands.append(f"({safe}) Tj T*")
    commands.append("ET")
    return "\n".join(commands)


def _pdf_file(objects: list[str]) -> bytes:
    output = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(output)
    output += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        output += f"{offset:010d} 00000 n \n".encode()
    output += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(output)
