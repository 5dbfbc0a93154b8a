"""A Google Doc's text from the Docs API (``documents.get``), as light Markdown.

Used instead of Drive's export in two cases. A Doc that carries a feedback
section appended by gradebot is read without the section's named range, so
feedback is never graded as the student's work. A Doc too large for Drive to
export is read here too.
Headings become ``#`` lines, list items ``-`` lines and table rows ``|``-joined
cells. Only the first tab of a Doc with tabs is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Span = tuple[int, int]

_HEADING_LEVELS = {
    "TITLE": 1,
    "SUBTITLE": 2,
    **{f"HEADING_{n}": n for n in range(1, 7)},
}


def range_names(document: dict[str, Any], prefix: str) -> list[str]:
    """Return the names of the document's named ranges that start with ``prefix``."""
    return sorted(n for n in document.get("namedRanges") or {} if n.startswith(prefix))


def named_spans(document: dict[str, Any], prefix: str) -> list[Span]:
    """Return the (start, end) spans of every named range whose name starts with
    ``prefix``, sorted."""
    spans: list[Span] = []
    for name in range_names(document, prefix):
        entry = document["namedRanges"][name] or {}
        for named in entry.get("namedRanges") or []:
            for piece in named.get("ranges") or []:
                start = int(piece.get("startIndex", 0))
                end = int(piece.get("endIndex", 0))
                if end > start:
                    spans.append((start, end))
    return sorted(spans)


def text_between(document: dict[str, Any], start: int, end: int) -> str:
    """Return the body text from index ``start`` to ``end`` (UTF-16 code units).

    Only paragraphs directly in the body are read, which is where gradebot
    writes; text in tables counts as missing.
    """
    pieces: list[str] = []
    for element in (document.get("body") or {}).get("content") or []:
        for run in (element.get("paragraph") or {}).get("elements") or []:
            text = (run.get("textRun") or {}).get("content", "")
            low = max(start, int(run.get("startIndex", 0)))
            high = min(end, int(run.get("endIndex", 0)))
            if high > low:
                offset = low - int(run.get("startIndex", 0))
                units = text.encode("utf-16-le", "surrogatepass")
                piece = units[2 * offset : 2 * (offset + high - low)]
                pieces.append(piece.decode("utf-16-le", "surrogatepass"))
    return "".join(pieces)


def body_end(document: dict[str, Any]) -> int:
    """Return the end index of the body (one past its final newline)."""
    content = (document.get("body") or {}).get("content") or []
    return int(content[-1].get("endIndex", 1)) if content else 1


def document_markdown(document: dict[str, Any], exclude: Sequence[Span] = ()) -> str:
    """Render the body as Markdown-like text, leaving out paragraphs in ``exclude``."""
    lines: list[str] = []
    content = (document.get("body") or {}).get("content") or []
    _render_elements(content, list(exclude), lines)
    return "\n".join(lines).strip()


def _render_elements(
    elements: list[Any], exclude: list[Span], lines: list[str]
) -> None:
    previous_bullet = False
    for element in elements:
        start = int(element.get("startIndex", 0))
        if any(low <= start < high for low, high in exclude):
            continue
        if "paragraph" in element:
            text, bullet = _paragraph(element["paragraph"])
            if not text.strip():
                continue
            if lines and not (bullet and previous_bullet):
                lines.append("")
            lines.append(text)
            previous_bullet = bullet
        elif "table" in element:
            if lines:
                lines.append("")
            lines.extend(_table(element["table"], exclude))
            previous_bullet = False


def _paragraph(paragraph: dict[str, Any]) -> tuple[str, bool]:
    pieces = [
        (run.get("textRun") or {}).get("content", "")
        for run in paragraph.get("elements") or []
    ]
    text = "".join(pieces).rstrip("\n").replace("\u000b", "\n")
    style = (paragraph.get("paragraphStyle") or {}).get("namedStyleType", "")
    bullet = paragraph.get("bullet")
    if bullet is not None:
        depth = int(bullet.get("nestingLevel", 0))
        return "  " * depth + "- " + text, True
    level = _HEADING_LEVELS.get(style)
    if level:
        return "#" * level + " " + text, False
    return text, False


def _table(table: dict[str, Any], exclude: list[Span]) -> list[str]:
    rows = []
    for row in table.get("tableRows") or []:
        cells = []
        for cell in row.get("tableCells") or []:
            cell_lines: list[str] = []
            _render_elements(cell.get("content") or [], exclude, cell_lines)
            cells.append(" ".join(line for line in cell_lines if line))
        rows.append("| " + " | ".join(cells) + " |")
    return rows
