"""Appending a feedback section to a student's own Google Doc (Docs API).

The section is one paragraph per feedback block, wrapped in a named range
(:func:`gradebot_cli.google.markers.feedback_range_name`) whose name ends with a
hash of the section's text. Publishing again deletes the range's text and
writes the new section in its place, so a Doc never gets a second section,
even when the student wrote more after it. The old text is deleted only if it
still matches the hash: text someone typed into the section, or next to it if
the Docs editor widened the range over it, is never deleted silently.

Index arithmetic, in UTF-16 code units as the Docs API counts:

- First publish: the body ends with a newline at ``end - 1``. The text
  ``"\\n" + section`` is inserted at ``end - 1``. The leading newline ends the
  student's last paragraph, and the Doc's final newline ends the section's last
  paragraph. The named range covers the section text, from ``end`` to
  ``end + len(section)``, without the newline that ends it.
- Republish: deleting the range's text leaves one empty paragraph (the newline
  that ended the old section), and the new section is inserted into it. The
  student's paragraphs are never merged with the section's, so their styles
  stay as they were.

Inserted text takes the style of the paragraph it lands in, so every request
batch also resets the section's text style, removes inherited bullets and sets
each paragraph's style. The whole batch is applied atomically, and only if the
Doc has not changed since it was read (``requiredRevisionId``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gradebot_cli.google.doc_text import (
    body_end,
    named_spans,
    range_names,
    text_between,
)
from gradebot_cli.google.markers import (
    feedback_range_name,
    feedback_range_prefix,
    text_digest,
)
from gradebot_cli.google.utf16 import docs_text, utf16_len
from gradebot_cli.publishing.feedback import Block

PARAGRAPH_STYLES = {
    "title": "HEADING_1",
    "heading": "HEADING_2",
    "paragraph": "NORMAL_TEXT",
    "bullet": "NORMAL_TEXT",
    "quote": "NORMAL_TEXT",
}
BULLET_PRESET = "BULLET_DISC_CIRCLE_SQUARE"
QUOTE_INDENT_PT = 36
# Every TextStyle field, so that an empty style resets all of them.
TEXT_STYLE_FIELDS = (
    "bold,italic,underline,strikethrough,smallCaps,backgroundColor,"
    "foregroundColor,fontSize,weightedFontFamily,baselineOffset,link"
)


@dataclass(frozen=True)
class Paragraph:
    kind: str
    text: str


def section_paragraphs(blocks: Sequence[Block]) -> list[Paragraph]:
    """Return one paragraph per non-empty block, with text the Docs API keeps."""
    paragraphs = []
    for block in blocks:
        text = docs_text(block.text).strip()
        if text:
            paragraphs.append(Paragraph(block.kind, text))
    return paragraphs


def section_text(paragraphs: Sequence[Paragraph]) -> str:
    return "\n".join(p.text for p in paragraphs)


class SectionEdited(Exception):
    """The section in the Doc is no longer the text gradebot wrote there."""


def append_requests(
    document: dict[str, Any],
    paragraphs: Sequence[Paragraph],
    assignment_id: str,
    *,
    replace_edited: bool = False,
) -> list[dict[str, Any]]:
    """Build the batchUpdate requests that write the section into ``document``.

    ``document`` is a ``documents.get`` response with ``namedRanges`` and the
    body's paragraphs. Raises SectionEdited when an earlier section's text no
    longer matches the hash in its range name and ``replace_edited`` is False.
    That happens when someone edited the section, or when the range grew over
    text typed next to it, and gradebot does not delete text it did not write.
    """
    prefix = feedback_range_prefix(assignment_id)
    names = range_names(document, prefix)
    requests: list[dict[str, Any]] = []
    end = body_end(document)
    if names:
        spans = named_spans(document, prefix)
        start = spans[0][0]
        stop = min(max(high for _, high in spans), end - 1)
        if not replace_edited:
            _check_unedited(document, names, start, stop)
        if stop > start:
            requests.append(_delete(start, stop))
        requests.extend({"deleteNamedRange": {"name": name}} for name in names)
        insert_at, lead = start, ""
    else:
        insert_at, lead = end - 1, "\n"
    text = section_text(paragraphs)
    requests.append(
        {"insertText": {"location": {"index": insert_at}, "text": lead + text}}
    )
    section_start = insert_at + utf16_len(lead)
    section_end = section_start + utf16_len(text)
    requests.extend(style_requests(paragraphs, section_start, section_end))
    requests.append(
        {
            "createNamedRange": {
                "name": feedback_range_name(assignment_id, text),
                "range": {"startIndex": section_start, "endIndex": section_end},
            }
        }
    )
    return requests


def _check_unedited(
    document: dict[str, Any], names: list[str], start: int, stop: int
) -> None:
    found = text_digest(text_between(document, start, stop))
    if len(names) != 1 or not names[0].endswith("-" + found):
        raise SectionEdited(
            f"the text between indexes {start} and {stop} differs from what "
            "gradebot wrote"
        )


def style_requests(
    paragraphs: Sequence[Paragraph], start: int, end: int
) -> list[dict[str, Any]]:
    """Reset inherited styles on [start, end) and style each paragraph."""
    requests: list[dict[str, Any]] = [
        {
            "updateTextStyle": {
                "range": _range(start, end),
                "textStyle": {},
                "fields": TEXT_STYLE_FIELDS,
            }
        },
        {"deleteParagraphBullets": {"range": _range(start, end)}},
    ]
    bullet_run: list[tuple[int, int]] = []
    position = start
    for paragraph in paragraphs:
        length = utf16_len(paragraph.text)
        requests.append(_paragraph_style(paragraph.kind, position, position + length))
        if paragraph.kind == "quote":
            requests.append(_italic(position, position + length))
        if paragraph.kind == "bullet":
            bullet_run.append((position, position + length))
        elif bullet_run:
            requests.append(_bullets(bullet_run))
            bullet_run = []
        position += length + 1
    if bullet_run:
        requests.append(_bullets(bullet_run))
    return requests


def _range(start: int, end: int) -> dict[str, int]:
    return {"startIndex": start, "endIndex": end}


def _delete(start: int, end: int) -> dict[str, Any]:
    return {"deleteContentRange": {"range": _range(start, end)}}


def _paragraph_style(kind: str, start: int, end: int) -> dict[str, Any]:
    style: dict[str, Any] = {
        "namedStyleType": PARAGRAPH_STYLES.get(kind, "NORMAL_TEXT")
    }
    if kind == "quote":
        style["indentStart"] = {"magnitude": QUOTE_INDENT_PT, "unit": "PT"}
    return {
        "updateParagraphStyle": {
            "range": _range(start, end),
            "paragraphStyle": style,
            "fields": "namedStyleType,indentStart,indentFirstLine",
        }
    }


def _italic(start: int, end: int) -> dict[str, Any]:
    return {
        "updateTextStyle": {
            "range": _range(start, end),
            "textStyle": {"italic": True},
            "fields": "italic",
        }
    }


def _bullets(run: list[tuple[int, int]]) -> dict[str, Any]:
    return {
        "createParagraphBullets": {
            "range": _range(run[0][0], run[-1][1]),
            "bulletPreset": BULLET_PRESET,
        }
    }
