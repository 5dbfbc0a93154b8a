"""An in-memory Google Doc: the body as characters, indexed in UTF-16 code units.

The body is a list of cells, one per Python character. Every ``"\\n"`` cell ends
a paragraph and carries that paragraph's style and bullet, and every cell
carries its text style. Index 0 is the section break that opens the body, so
the first character is at index 1. A character outside the Basic Multilingual
Plane (most emoji) takes two indexes, as in the real Docs API. The last cell is
always the newline that ends the segment, which no edit may remove.

Named ranges are kept as UTF-16 ranges and move with inserts and deletes.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field, replace
from typing import Any

NAMED_STYLE_TYPES = (
    "NORMAL_TEXT",
    "TITLE",
    "SUBTITLE",
    "HEADING_1",
    "HEADING_2",
    "HEADING_3",
    "HEADING_4",
    "HEADING_5",
    "HEADING_6",
)
BULLET_GLYPHS = {
    "BULLET_DISC_CIRCLE_SQUARE": "●○■",
    "BULLET_DIAMONDX_ARROW3D_SQUARE": "❖➢■",
    "BULLET_CHECKBOX": "❑❑❑",
    "BULLET_ARROW_DIAMOND_DISC": "➔◆●",
    "BULLET_STAR_CIRCLE_SQUARE": "★○■",
    "BULLET_ARROW3D_CIRCLE_SQUARE": "➢○■",
    "BULLET_LEFTTRIANGLE_DIAMOND_DISC": "►◆●",
    "BULLET_DIAMONDX_HOLLOWDIAMOND_SQUARE": "❖◇■",
    "BULLET_DIAMOND_CIRCLE_SQUARE": "◆○■",
}
NUMBER_GLYPHS = {
    "NUMBERED_DECIMAL_ALPHA_ROMAN": (("DECIMAL", "ALPHA", "ROMAN"), "%{}."),
    "NUMBERED_DECIMAL_ALPHA_ROMAN_PARENS": (("DECIMAL", "ALPHA", "ROMAN"), "%{})"),
    "NUMBERED_DECIMAL_NESTED": (("DECIMAL", "DECIMAL", "DECIMAL"), "nested"),
    "NUMBERED_UPPERALPHA_ALPHA_ROMAN": (("UPPER_ALPHA", "ALPHA", "ROMAN"), "%{}."),
    "NUMBERED_UPPERROMAN_UPPERALPHA_DECIMAL": (
        ("UPPER_ROMAN", "UPPER_ALPHA", "DECIMAL"),
        "%{}.",
    ),
    "NUMBERED_ZERODECIMAL_ALPHA_ROMAN": (("ZERO_DECIMAL", "ALPHA", "ROMAN"), "%{}."),
}
BULLET_PRESET = "BULLET_DISC_CIRCLE_SQUARE"
NUMBER_PRESET = "NUMBERED_DECIMAL_ALPHA_ROMAN"
NESTING_LEVELS = 9


def units(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def canonical(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class ParagraphAttrs:
    """Paragraph style (canonical JSON) and bullet of one paragraph."""

    style: str = "{}"
    list_id: str | None = None
    nesting_level: int = 0

    def style_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.style)
        return result

    def named_style(self) -> str:
        return str(self.style_dict().get("namedStyleType", "NORMAL_TEXT"))


@dataclass
class Cell:
    char: str
    style: str = "{}"
    para: ParagraphAttrs | None = None


@dataclass
class Run:
    start: int
    end: int
    text: str
    style: dict[str, Any]


@dataclass
class Paragraph:
    """A read-only view of one paragraph, with its text including the newline."""

    start: int
    end: int
    runs: list[Run]
    attrs: ParagraphAttrs

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


@dataclass
class NamedRange:
    range_id: str
    name: str
    ranges: list[list[int]]


@dataclass
class ParagraphSpec:
    """Input to :meth:`Document.from_specs`: one paragraph to build."""

    runs: list[tuple[str, dict[str, Any]]]
    named_style: str = "NORMAL_TEXT"
    list_kind: str | None = None  # "bullet" or "number"
    level: int = 0


@dataclass
class Document:
    """The body, lists and named ranges of one Google Doc."""

    rng: random.Random
    cells: list[Cell] = field(
        default_factory=lambda: [Cell("\n", "{}", ParagraphAttrs())]
    )
    lists: dict[str, str] = field(default_factory=dict)
    named_ranges: dict[str, NamedRange] = field(default_factory=dict)
    revision_id: str = ""

    def __post_init__(self) -> None:
        if not self.revision_id:
            self.new_revision()

    @classmethod
    def from_specs(cls, specs: list[ParagraphSpec], rng: random.Random) -> Document:
        """Build a document from paragraphs. Consecutive list items share a list."""
        document = cls(rng)
        cells: list[Cell] = []
        current_list: tuple[str, str] | None = None
        for spec in specs:
            list_id = None
            if spec.list_kind:
                preset = NUMBER_PRESET if spec.list_kind == "number" else BULLET_PRESET
                if current_list is None or current_list[1] != preset:
                    current_list = (document.new_list(preset), preset)
                list_id = current_list[0]
            else:
                current_list = None
            for text, style in spec.runs:
                text = text.replace("\n", "\v")
                cells.extend(Cell(char, canonical(style)) for char in text)
            style = (
                {}
                if spec.named_style == "NORMAL_TEXT"
                else {"namedStyleType": spec.named_style}
            )
            attrs = ParagraphAttrs(canonical(style), list_id, spec.level)
            last_style = cells[-1].style if cells and cells[-1].char != "\n" else "{}"
            cells.append(Cell("\n", last_style, attrs))
        if cells:
            document.cells = cells
        return document

    # -- identifiers ---------------------------------------------------------

    def new_revision(self) -> str:
        alphabet = string.ascii_letters + string.digits + "-_"
        self.revision_id = "AL" + "".join(self.rng.choice(alphabet) for _ in range(62))
        return self.revision_id

    def new_id(self, prefix: str = "kix.") -> str:
        alphabet = string.ascii_lowercase + string.digits
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(12))

    def new_list(self, preset: str) -> str:
        list_id = self.new_id()
        self.lists[list_id] = preset
        return list_id

    # -- indexes ---------------------------------------------------------------

    @property
    def end_index(self) -> int:
        """Index just past the final newline: the end of the body segment."""
        return 1 + sum(units(cell.char) for cell in self.cells)

    def starts(self) -> list[int]:
        """Return the UTF-16 start index of every cell."""
        result, index = [], 1
        for cell in self.cells:
            result.append(index)
            index += units(cell.char)
        return result

    def position(self, index: int) -> int | None:
        """Return the cell that starts at ``index``, or None inside a pair."""
        if index == self.end_index:
            return len(self.cells)
        starts = self.starts()
        low, high = 0, len(starts) - 1
        while low <= high:
            middle = (low + high) // 2
            if starts[middle] == index:
                return middle
            if starts[middle] < index:
                low = middle + 1
            else:
                high = middle - 1
        return None

    def paragraph_end(self, position: int) -> int:
        """Return the position of the newline that ends the paragraph."""
        while self.cells[position].char != "\n":
            position += 1
        return position

    def paragraph_start(self, position: int) -> int:
        while position > 0 and self.cells[position - 1].char != "\n":
            position -= 1
        return position

    # -- edits -------------------------------------------------------------

    def insert(self, index: int, text: str) -> None:
        """Insert text before ``index``. Each newline in it splits the paragraph."""
        position = self.position(index)
        assert position is not None and position < len(self.cells)
        newline = self.cells[self.paragraph_end(position)]
        at_start = position == 0 or self.cells[position - 1].char == "\n"
        style = self.cells[position if at_start else position - 1].style
        new_cells = [
            Cell(char, style, newline.para if char == "\n" else None) for char in text
        ]
        self.cells[position:position] = new_cells
        self._shift_for_insert(index, units(text))

    def delete(self, start: int, end: int) -> None:
        """Delete ``[start, end)``. Merged paragraphs keep the first one's style."""
        first = self.position(start)
        last = self.position(end)
        assert first is not None and last is not None
        removed = self.cells[first:last]
        keep = None
        at_start = first == 0 or self.cells[first - 1].char == "\n"
        if any(cell.char == "\n" for cell in removed) and not at_start:
            keep = self.cells[self.paragraph_end(first)].para
        del self.cells[first:last]
        if keep is not None:
            self.cells[self.paragraph_end(first)].para = keep
        self._shift_for_delete(start, end)

    def paragraph_positions(self, start: int, end: int) -> list[int]:
        """Return the newline positions of paragraphs overlapping [start, end)."""
        first = self._position_at_or_before(start)
        last = self._position_at_or_before(max(start, end - 1))
        result = []
        position = self.paragraph_end(first)
        while True:
            result.append(position)
            if position >= last or position + 1 >= len(self.cells):
                break
            position = self.paragraph_end(position + 1)
        return result

    def _position_at_or_before(self, index: int) -> int:
        starts = self.starts()
        position = 0
        for candidate, value in enumerate(starts):
            if value > index:
                break
            position = candidate
        return min(position, len(self.cells) - 1)

    def update_paragraph_style(
        self, start: int, end: int, values: dict[str, Any], names: list[str]
    ) -> None:
        for position in self.paragraph_positions(start, end):
            attrs = self.cells[position].para or ParagraphAttrs()
            style = _apply_fields(attrs.style_dict(), values, names)
            if style.get("namedStyleType") == "NORMAL_TEXT":
                del style["namedStyleType"]
            self.cells[position].para = replace(attrs, style=canonical(style))

    def update_text_style(
        self, start: int, end: int, values: dict[str, Any], names: list[str]
    ) -> None:
        first, last = self.position(start), self.position(end)
        assert first is not None and last is not None
        for cell in self.cells[first:last]:
            style = _apply_fields(json.loads(cell.style), values, names)
            cell.style = canonical(style)

    def set_bullet(self, position: int, list_id: str | None, level: int) -> None:
        attrs = self.cells[position].para or ParagraphAttrs()
        self.cells[position].para = replace(attrs, list_id=list_id, nesting_level=level)

    # -- named ranges ----------------------------------------------------------

    def add_named_range(self, name: str, start: int, end: int) -> str:
        range_id = self.new_id()
        self.named_ranges[range_id] = NamedRange(range_id, name, [[start, end]])
        return range_id

    def _shift_for_insert(self, index: int, width: int) -> None:
        # NOTE: Google does not document whether text inserted exactly at a
        # named range's start or end joins the range. Here it joins neither.
        for named in self.named_ranges.values():
            for span in named.ranges:
                if index <= span[0]:
                    span[0] += width
                    span[1] += width
                elif index < span[1]:
                    span[1] += width

    def _shift_for_delete(self, start: int, end: int) -> None:
        width = end - start

        def moved(index: int) -> int:
            if index <= start:
                return index
            return start if index < end else index - width

        for range_id in list(self.named_ranges):
            named = self.named_ranges[range_id]
            named.ranges = [
                [moved(span[0]), moved(span[1])]
                for span in named.ranges
                if moved(span[0]) < moved(span[1])
            ]
            if not named.ranges:
                del self.named_ranges[range_id]

    # -- reading ---------------------------------------------------------------

    def paragraphs(self) -> list[Paragraph]:
        result: list[Paragraph] = []
        runs: list[Run] = []
        run_style = ""
        paragraph_start = index = 1
        for cell in self.cells:
            width = units(cell.char)
            if runs and run_style == cell.style:
                runs[-1].text += cell.char
                runs[-1].end += width
            else:
                runs.append(
                    Run(index, index + width, cell.char, json.loads(cell.style))
                )
                run_style = cell.style
            index += width
            if cell.char == "\n":
                attrs = cell.para or ParagraphAttrs()
                result.append(Paragraph(paragraph_start, index, runs, attrs))
                runs, paragraph_start = [], index
        return result

    def text(self) -> str:
        """Return the body text, ending with the final newline."""
        return "".join(cell.char for cell in self.cells)

    def list_kind(self, list_id: str | None) -> str | None:
        if list_id is None:
            return None
        return "number" if self.lists.get(list_id) in NUMBER_GLYPHS else "bullet"


def _apply_fields(
    current: dict[str, Any], values: dict[str, Any], names: list[str]
) -> dict[str, Any]:
    """Apply a field mask: listed fields are set from ``values`` or cleared."""
    result = dict(current)
    selected = list(values) if names == ["*"] else names
    for name in selected:
        if name in values:
            result[name] = values[name]
        else:
            result.pop(name, None)
    return result
