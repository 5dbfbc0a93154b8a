"""Render a :class:`~tests.fakes.google_docs.Document` as ``documents.get`` returns it.

Structural elements carry ``startIndex``/``endIndex`` in UTF-16 code units. The
opening section break has only ``endIndex: 1`` because the API, like proto3
JSON, leaves out fields whose value is zero.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.google_docs import (
    BULLET_GLYPHS,
    BULLET_PRESET,
    NAMED_STYLE_TYPES,
    NESTING_LEVELS,
    NUMBER_GLYPHS,
    Document,
)

SECTION_BREAK = {
    "sectionStyle": {
        "columnSeparatorStyle": "NONE",
        "contentDirection": "LEFT_TO_RIGHT",
        "sectionType": "CONTINUOUS",
    }
}
_FONT_SIZES = {"TITLE": 26, "SUBTITLE": 15, "HEADING_1": 20, "HEADING_2": 16}
DOCUMENT_STYLE = {
    "background": {"color": {}},
    "pageNumberStart": 1,
    "marginTop": {"magnitude": 72, "unit": "PT"},
    "marginBottom": {"magnitude": 72, "unit": "PT"},
    "marginRight": {"magnitude": 72, "unit": "PT"},
    "marginLeft": {"magnitude": 72, "unit": "PT"},
    "pageSize": {
        "height": {"magnitude": 792, "unit": "PT"},
        "width": {"magnitude": 612, "unit": "PT"},
    },
}
# Glyphs per nesting level (repeating every three levels) for each preset.


def document_json(
    document: Document, document_id: str, title: str, tabs: bool
) -> dict[str, Any]:
    """Render the ``documents.get`` response."""
    tab: dict[str, Any] = {
        "body": {"content": _content(document)},
        "documentStyle": DOCUMENT_STYLE,
        "namedStyles": {"styles": _named_styles()},
    }
    if document.lists:
        tab["lists"] = {
            list_id: _list_json(preset) for list_id, preset in document.lists.items()
        }
    if document.named_ranges:
        tab["namedRanges"] = _named_ranges_json(document)
    result: dict[str, Any] = {"title": title}
    if tabs:
        result["tabs"] = [
            {
                "tabProperties": {"tabId": "t.0", "title": "Tab 1"},
                "documentTab": tab,
            }
        ]
    else:
        result.update(tab)
    result["revisionId"] = document.revision_id
    result["suggestionsViewMode"] = "SUGGESTIONS_INLINE"
    result["documentId"] = document_id
    return result


def _content(document: Document) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"endIndex": 1, "sectionBreak": SECTION_BREAK}]
    for paragraph in document.paragraphs():
        elements = [
            {
                "startIndex": run.start,
                "endIndex": run.end,
                "textRun": {"content": run.text, "textStyle": run.style},
            }
            for run in paragraph.runs
        ]
        body: dict[str, Any] = {
            "elements": elements,
            "paragraphStyle": {
                "namedStyleType": "NORMAL_TEXT",
                "direction": "LEFT_TO_RIGHT",
                **paragraph.attrs.style_dict(),
            },
        }
        if paragraph.attrs.list_id:
            bullet: dict[str, Any] = {"listId": paragraph.attrs.list_id}
            if paragraph.attrs.nesting_level:
                bullet["nestingLevel"] = paragraph.attrs.nesting_level
            bullet["textStyle"] = {"underline": False}
            body["bullet"] = bullet
        content.append(
            {
                "startIndex": paragraph.start,
                "endIndex": paragraph.end,
                "paragraph": body,
            }
        )
    return content


def _named_ranges_json(document: Document) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for named in document.named_ranges.values():
        entry = result.setdefault(named.name, {"name": named.name, "namedRanges": []})
        entry["namedRanges"].append(
            {
                "namedRangeId": named.range_id,
                "name": named.name,
                "ranges": [
                    {"startIndex": start, "endIndex": end}
                    for start, end in named.ranges
                ],
            }
        )
    return result


def _named_styles() -> list[dict[str, Any]]:
    styles = []
    for name in NAMED_STYLE_TYPES:
        size = _FONT_SIZES.get(name, 14 if name.startswith("HEADING") else 11)
        styles.append(
            {
                "namedStyleType": name,
                "textStyle": {"fontSize": {"magnitude": size, "unit": "PT"}},
                "paragraphStyle": {
                    "namedStyleType": name,
                    "direction": "LEFT_TO_RIGHT",
                },
            }
        )
    return styles


def _list_json(preset: str) -> dict[str, Any]:
    levels = []
    for level in range(NESTING_LEVELS):
        entry: dict[str, Any] = {
            "bulletAlignment": "START",
            "indentFirstLine": {"magnitude": 18 + 36 * level, "unit": "PT"},
            "indentStart": {"magnitude": 36 + 36 * level, "unit": "PT"},
            "textStyle": {"underline": False},
            "startNumber": 1,
        }
        if preset in NUMBER_GLYPHS:
            types, pattern = NUMBER_GLYPHS[preset]
            entry["glyphType"] = types[level % 3]
            if pattern == "nested":
                entry["glyphFormat"] = "".join(f"%{n}." for n in range(level + 1))
            else:
                entry["glyphFormat"] = pattern.format(level)
        else:
            glyphs = BULLET_GLYPHS.get(preset, BULLET_GLYPHS[BULLET_PRESET])
            entry["glyphSymbol"] = glyphs[level % 3]
            entry["glyphFormat"] = f"%{level}"
        levels.append(entry)
    return {"listProperties": {"nestingLevels": levels}}
