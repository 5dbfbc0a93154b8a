"""``documents.batchUpdate``: apply Docs API requests to a :class:`Document`.

Requests run in order against a copy of the document, and the copy replaces
the original only if every request succeeds, because the real API applies a
batch atomically. Invalid requests raise a 400 ``INVALID_ARGUMENT`` whose
message starts ``Invalid requests[N].<kind>:`` as the real API's do.

Index checks follow the Docs API reference: text is inserted inside an
existing paragraph, so at an index from 1 up to (not including) the end of
the body, and no request may delete the newline that ends the body. The
wording of "Index N must be less than the end index of the referenced
segment, M.", "The insertion index must be inside the bounds of an existing
paragraph." and "The range cannot include the newline character at the end
of the segment." matches messages the real API returns.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from tests.fakes.google_docs import (
    BULLET_GLYPHS,
    NAMED_STYLE_TYPES,
    NUMBER_GLYPHS,
    Document,
    NamedRange,
    units,
)
from tests.fakes.google_errors import ApiError, docs_error
from tests.fakes.google_fields import discovery

# insertText drops these: U+0000-U+0008, U+000C-U+001F and the BMP private
# use area U+E000-U+F8FF (Docs API reference, InsertTextRequest.text).
_STRIPPED = re.compile("[\u0000-\u0008\u000c-\u001f\ue000-\uf8ff]")
MAX_NAME_UNITS = 256

Handler = Callable[[Document, dict[str, Any], str], dict[str, Any]]


def apply_batch(document: Document, requests: list[Any]) -> list[dict[str, Any]]:
    """Apply ``requests`` atomically and return one reply per request."""
    working = copy.deepcopy(document)
    replies = []
    for number, request in enumerate(requests):
        kind, body = _request_kind(request, number)
        where = f"requests[{number}].{kind}"
        replies.append(_HANDLERS[kind](working, body, where))
    document.__dict__.update(working.__dict__)
    return replies


def _request_kind(request: Any, number: int) -> tuple[str, dict[str, Any]]:
    if not isinstance(request, dict) or len(request) != 1:
        raise _invalid(
            f"Invalid requests[{number}]: exactly one kind of request must be set."
        )
    kind, body = next(iter(request.items()))
    known = discovery("docs.v1")["schemas"]["Request"]["properties"]
    if kind not in known:
        raise _invalid(
            f'Invalid JSON payload received. Unknown name "{kind}" at '
            f"'requests[{number}]': Cannot find field."
        )
    if kind not in _HANDLERS:
        # NOTE: the fake implements only the requests listed in _HANDLERS.
        raise docs_error(
            501, f"The fake Docs API does not implement {kind} (requests[{number}])."
        )
    return kind, body if isinstance(body, dict) else {}


def _invalid(message: str) -> ApiError:
    return docs_error(400, message)


def _fail(where: str, message: str) -> ApiError:
    return _invalid(f"Invalid {where}: {message}")


def _check_segment(spec: dict[str, Any], where: str) -> None:
    segment = spec.get("segmentId") or ""
    if segment:
        raise _fail(where, f"The segment ID {segment} was not found.")
    tab = spec.get("tabId") or "t.0"
    if tab != "t.0":
        raise _fail(where, f"The tab ID {tab} was not found.")


def _insert_index(document: Document, body: dict[str, Any], where: str) -> int:
    if "endOfSegmentLocation" in body:
        _check_segment(body["endOfSegmentLocation"] or {}, where)
        return document.end_index - 1
    if "location" not in body:
        raise _fail(where, "Either location or endOfSegmentLocation must be set.")
    location = body["location"] or {}
    _check_segment(location, where)
    index = int(location.get("index", 0))
    if index < 1:
        raise _fail(
            where,
            "The insertion index must be inside the bounds of an existing paragraph.",
        )
    end = document.end_index
    if index >= end:
        raise _fail(
            where,
            f"Index {index} must be less than the end index of the referenced "
            f"segment, {end}.",
        )
    if document.position(index) is None:
        raise _fail(where, f"Index {index} is inside a surrogate pair.")
    return index


def _range(
    document: Document, body: dict[str, Any], where: str, *, may_end_body: bool
) -> tuple[int, int]:
    """Validate ``body["range"]``. A range may end after the body's final
    newline for styling but not for deletion."""
    raw = body.get("range") or {}
    _check_segment(raw, where)
    start, end = int(raw.get("startIndex", 0)), int(raw.get("endIndex", 0))
    if start >= end:
        raise _fail(where, "The range should not be empty.")
    if start < 1:
        raise _fail(where, f"Index {start} must be greater than or equal to 1.")
    body_end = document.end_index
    if end > body_end:
        raise _fail(
            where,
            f"Index {end - 1} must be less than the end index of the referenced "
            f"segment, {body_end}.",
        )
    if end == body_end and not may_end_body:
        raise _fail(
            where,
            "The range cannot include the newline character at the end of the segment.",
        )
    for index in (start, end):
        if document.position(index) is None:
            raise _fail(where, f"Index {index} is inside a surrogate pair.")
    return start, end


def _fields(body: dict[str, Any], where: str) -> list[str]:
    names = [name.strip() for name in (body.get("fields") or "").split(",")]
    names = [name for name in names if name]
    if not names:
        raise _fail(
            where,
            "At least one field must be listed in 'fields'. "
            "(Use '*' to indicate all fields.)",
        )
    return names


def insert_text(document: Document, body: dict[str, Any], where: str) -> dict[str, Any]:
    index = _insert_index(document, body, where)
    text = _STRIPPED.sub("", str(body.get("text", "")))
    if text:
        document.insert(index, text)
    return {}


def delete_content_range(
    document: Document, body: dict[str, Any], where: str
) -> dict[str, Any]:
    start, end = _range(document, body, where, may_end_body=False)
    document.delete(start, end)
    return {}


def update_paragraph_style(
    document: Document, body: dict[str, Any], where: str
) -> dict[str, Any]:
    start, end = _range(document, body, where, may_end_body=True)
    names = _fields(body, where)
    values = dict(body.get("paragraphStyle") or {})
    style_type = values.get("namedStyleType")
    if style_type is not None and style_type not in NAMED_STYLE_TYPES:
        raise _invalid(
            f"Invalid value at '{_snake(where)}.paragraph_style.named_style_type' "
            f'(type.googleapis.com/google.apps.docs.v1.NamedStyleType), "{style_type}"'
        )
    document.update_paragraph_style(start, end, values, names)
    return {}


def update_text_style(
    document: Document, body: dict[str, Any], where: str
) -> dict[str, Any]:
    start, end = _range(document, body, where, may_end_body=True)
    names = _fields(body, where)
    document.update_text_style(start, end, dict(body.get("textStyle") or {}), names)
    return {}


def create_paragraph_bullets(
    document: Document, body: dict[str, Any], where: str
) -> dict[str, Any]:
    """Bullet every paragraph in the range. Leading tabs set the nesting level
    and are removed, which moves later indexes."""
    start, end = _range(document, body, where, may_end_body=True)
    preset = body.get("bulletPreset")
    if preset not in BULLET_GLYPHS and preset not in NUMBER_GLYPHS:
        raise _invalid(
            f"Invalid value at '{_snake(where)}.bullet_preset' "
            f'(type.googleapis.com/google.apps.docs.v1.BulletGlyphPreset), "{preset}"'
        )
    positions = document.paragraph_positions(start, end)
    list_id = _list_to_join(document, positions[0], str(preset))
    for position in reversed(positions):
        first = document.paragraph_start(position)
        tabs = 0
        while document.cells[first + tabs].char == "\t":
            tabs += 1
        if tabs:
            index = document.starts()[first]
            document.delete(index, index + tabs)
        document.set_bullet(position - tabs, list_id, min(tabs, 8))
    return {}


def _list_to_join(document: Document, newline: int, preset: str) -> str:
    """Reuse the list of the paragraph just before, if it has the same preset."""
    first = document.paragraph_start(newline)
    if first > 0:
        before = document.cells[first - 1].para
        if before and before.list_id and document.lists.get(before.list_id) == preset:
            return before.list_id
    return document.new_list(preset)


def delete_paragraph_bullets(
    document: Document, body: dict[str, Any], where: str
) -> dict[str, Any]:
    start, end = _range(document, body, where, may_end_body=True)
    for position in document.paragraph_positions(start, end):
        document.set_bullet(position, None, 0)
    return {}


def create_named_range(
    document: Document, body: dict[str, Any], where: str
) -> dict[str, Any]:
    name = str(body.get("name") or "")
    if not 1 <= units(name) <= MAX_NAME_UNITS:
        raise _fail(
            where,
            f"The name must be between 1 and {MAX_NAME_UNITS} UTF-16 code units.",
        )
    start, end = _range(document, body, where, may_end_body=True)
    range_id = document.add_named_range(name, start, end)
    return {"createNamedRange": {"namedRangeId": range_id}}


def delete_named_range(
    document: Document, body: dict[str, Any], where: str
) -> dict[str, Any]:
    for named in _select_named(document, body, where, "namedRangeId", "name"):
        del document.named_ranges[named.range_id]
    return {}


def _select_named(
    document: Document, body: dict[str, Any], where: str, id_key: str, name_key: str
) -> list[NamedRange]:
    range_id, name = body.get(id_key), body.get(name_key)
    if bool(range_id) == bool(name):
        raise _fail(where, f"Exactly one of {id_key} or {name_key} must be set.")
    if range_id:
        if range_id not in document.named_ranges:
            raise _fail(where, f"The named range with ID {range_id} was not found.")
        return [document.named_ranges[range_id]]
    return [named for named in document.named_ranges.values() if named.name == name]


def replace_named_range_content(
    document: Document, body: dict[str, Any], where: str
) -> dict[str, Any]:
    """Replace the first range of each selected named range with ``text`` and
    delete its other ranges. The named range then covers the new text."""
    targets = _select_named(document, body, where, "namedRangeId", "namedRangeName")
    text = _STRIPPED.sub("", str(body.get("text", "")))
    pieces = []
    for named in targets:
        for number, (start, end) in enumerate(named.ranges):
            if end >= document.end_index:
                raise _fail(
                    where,
                    "The range cannot include the newline character at the end of "
                    "the segment.",
                )
            pieces.append((start, end, named, number == 0))
    markers: dict[str, NamedRange] = {}
    for start, end, named, first in sorted(pieces, key=lambda piece: -piece[0]):
        document.delete(start, end)
        if first and text:
            document.insert(start, text)
            marker = f"replace:{named.range_id}"
            document.named_ranges[marker] = NamedRange(
                marker, named.name, [[start, start + units(text)]]
            )
            markers[marker] = named
    for marker, named in markers.items():
        spans = document.named_ranges.pop(marker).ranges
        document.named_ranges[named.range_id] = NamedRange(
            named.range_id, named.name, spans
        )
    return {}


def replace_all_text(
    document: Document, body: dict[str, Any], where: str
) -> dict[str, Any]:
    contains = body.get("containsText") or {}
    needle = str(contains.get("text") or "")
    if not needle:
        raise _fail(where, "The text to search for must not be empty.")
    replacement = _STRIPPED.sub("", str(body.get("replaceText", "")))
    flags = 0 if contains.get("matchCase") else re.IGNORECASE
    text = document.text()[:-1]
    matches = list(re.finditer(re.escape(needle), text, flags))
    starts = document.starts()
    for match in reversed(matches):
        start = starts[match.start()]
        end = starts[match.end()] if match.end() < len(starts) else document.end_index
        document.delete(start, end)
        if replacement:
            document.insert(start, replacement)
    reply: dict[str, Any] = {}
    if matches:
        reply["occurrencesChanged"] = len(matches)
    return {"replaceAllText": reply}


def _snake(where: str) -> str:
    """Spell a request path in snake case, as the API's JSON-parsing errors do.

    For example ``requests[0].updateParagraphStyle`` becomes
    ``requests[0].update_paragraph_style``.
    """
    return re.sub(r"(?<=[a-z])([A-Z])", lambda m: "_" + m.group(1).lower(), where)


_HANDLERS: dict[str, Handler] = {
    "insertText": insert_text,
    "deleteContentRange": delete_content_range,
    "updateParagraphStyle": update_paragraph_style,
    "updateTextStyle": update_text_style,
    "createParagraphBullets": create_paragraph_bullets,
    "deleteParagraphBullets": delete_paragraph_bullets,
    "createNamedRange": create_named_range,
    "deleteNamedRange": delete_named_range,
    "replaceNamedRangeContent": replace_named_range_content,
    "replaceAllText": replace_all_text,
}
