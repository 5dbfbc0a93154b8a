"""Rubrics: criteria, each with levels (label, descriptor, points).

A rubric is a TOML or JSON file that teachers edit by hand (see
``examples/persuasive-letter/rubric.toml``). A holistic rubric is a rubric with one
criterion. Every validation error names the file, the criterion and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from gradebot_cli.errors import RubricError

CRITERION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Far above any real rubric; it keeps points finite and totals exact as floats.
MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class Level:
    label: str
    points: float
    descriptor: str


@dataclass(frozen=True)
class Criterion:
    id: str
    name: str
    description: str
    levels: tuple[Level, ...]

    @property
    def max_points(self) -> float:
        return max(level.points for level in self.levels)

    def level(self, label: str) -> Level | None:
        for level in self.levels:
            if level.label == label:
                return level
        return None


@dataclass(frozen=True)
class Rubric:
    title: str
    criteria: tuple[Criterion, ...]
    declared_version: str = ""

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.criteria)

    @property
    def version(self) -> str:
        """The declared version plus a hash of the content, so edits are visible."""
        digest = hashlib.sha256(self.canonical_json().encode()).hexdigest()[:10]
        return f"{self.declared_version}+{digest}" if self.declared_version else digest

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    def criterion(self, criterion_id: str) -> Criterion | None:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "version": self.declared_version,
            "criteria": [
                {
                    "id": c.id,
                    "name": c.name,
                    "description": c.description,
                    "levels": [
                        {
                            "label": lv.label,
                            "points": lv.points,
                            "descriptor": lv.descriptor,
                        }
                        for lv in c.levels
                    ],
                }
                for c in self.criteria
            ],
        }

    def to_text(self) -> str:
        """Render the rubric as plain text for the grading prompt."""
        lines = [
            f"Rubric: {self.title}",
            f"Maximum total: {_num(self.max_points)} points",
        ]
        for criterion in self.criteria:
            lines.append("")
            lines.append(f"## Criterion `{criterion.id}`: {criterion.name}")
            if criterion.description:
                lines.append(criterion.description)
            for level in criterion.levels:
                lines.append(
                    f'- Level "{level.label}" ({_num(level.points)} {_points_word(level.points)}): '
                    f"{level.descriptor}"
                )
        return "\n".join(lines)


def _points_word(value: float) -> str:
    return "point" if value == 1 else "points"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def load_rubric(path: Path) -> Rubric:
    """Read and validate a rubric file (``.toml`` or ``.json``)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RubricError(
            f"{path}: rubric file not found. Check the --rubric path."
        ) from None
    except OSError as exc:
        raise RubricError(f"{path}: cannot read the rubric ({exc.strerror}).") from None
    data = _parse(path, raw)
    return rubric_from_dict(data, source=str(path))


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    suffix = path.suffix.lower()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RubricError(
            f"{path}: the rubric is not UTF-8 text. Save it as UTF-8."
        ) from None
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_keys(path))
        else:
            raise RubricError(
                f"{path}: unsupported rubric format {suffix or '(no extension)'!r}. "
                "Use a .toml or .json file."
            )
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{path}: invalid TOML: {exc}.") from None
    except RecursionError:
        raise RubricError(f"{path}: the rubric is nested too deeply to read.") from None
    except json.JSONDecodeError as exc:
        raise RubricError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        ) from None
    if not isinstance(data, dict):
        raise RubricError(f"{path}: the rubric must be an object with 'criteria'.")
    return data


def _unique_keys(path: Path) -> Any:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise RubricError(
                    f"{path}: the key {key!r} appears twice in one object."
                )
            result[key] = value
        return result

    return build


def rubric_from_dict(data: dict[str, Any], *, source: str = "rubric") -> Rubric:
    """Validate a parsed rubric; errors name ``source``, the criterion and the field."""
    title = _optional_str(data, "title", source) or "Rubric"
    version = _optional_str(data, "version", source)
    raw_criteria = data.get("criteria")
    if not isinstance(raw_criteria, list) or not raw_criteria:
        raise RubricError(
            f"{source}: field 'criteria' must be a non-empty list of criteria "
            "(a holistic rubric has one criterion)."
        )
    criteria = tuple(
        _criterion(item, index, source) for index, item in enumerate(raw_criteria, 1)
    )
    seen: set[str] = set()
    for criterion in criteria:
        if criterion.id in seen:
            raise RubricError(
                f"{source}: criterion id {criterion.id!r} is used twice; ids must be unique."
            )
        seen.add(criterion.id)
    return Rubric(title=title, criteria=criteria, declared_version=version)


def _criterion(item: Any, index: int, source: str) -> Criterion:
    where = f"{source}: criterion #{index}"
    if not isinstance(item, dict):
        raise RubricError(f"{where}: must be a table with id, name and levels.")
    criterion_id = item.get("id")
    if not isinstance(criterion_id, str) or not CRITERION_ID.match(criterion_id):
        raise RubricError(
            f"{where}: field 'id' must be 1-64 lowercase letters, digits, '-' or '_' "
            f"starting with a letter or digit, got {criterion_id!r}."
        )
    where = f"{source}: criterion {criterion_id!r}"
    name = _optional_str(item, "name", where) or criterion_id
    description = _optional_str(item, "description", where)
    raw_levels = item.get("levels")
    if not isinstance(raw_levels, list) or len(raw_levels) < 2:
        raise RubricError(f"{where}: field 'levels' must list at least two levels.")
    levels = tuple(_level(lv, n, where) for n, lv in enumerate(raw_levels, 1))
    labels = [level.label for level in levels]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise RubricError(f"{where}: level label {duplicates[0]!r} is used twice.")
    return Criterion(criterion_id, name, description, levels)


def _level(item: Any, index: int, where: str) -> Level:
    where = f"{where}, level #{index}"
    if not isinstance(item, dict):
        raise RubricError(
            f"{where}: must be a table with label, points and descriptor."
        )
    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        raise RubricError(f"{where}: field 'label' must be non-empty text.")
    _single_line(label, "label", where)
    descriptor = item.get("descriptor")
    if not isinstance(descriptor, str) or not descriptor.strip():
        raise RubricError(
            f"{where} ({label!r}): field 'descriptor' must be non-empty text."
        )
    points = _points(item.get("points"), f"{where} ({label!r})")
    return Level(label.strip(), points, descriptor.strip())


def _points(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RubricError(f"{where}: field 'points' must be a number, got {value!r}.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RubricError(
            f"{where}: field 'points' must be a number, got {value!r}."
        ) from None
    if not number.is_finite() or number < 0:
        raise RubricError(
            f"{where}: field 'points' must be zero or more, got {value!r}."
        )
    if number > MAX_POINTS:
        raise RubricError(
            f"{where}: field 'points' must be at most {MAX_POINTS:,}, got {value!r}."
        )
    return float(number)


def _optional_str(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise RubricError(f"{where}: field {key!r} must be text, got {value!r}.")
    if key in ("title", "name", "version"):
        _single_line(value, key, where)
    return value.strip()


def _single_line(value: str, key: str, where: str) -> None:
    """Reject line breaks and control characters in names that become headings."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise RubricError(
            f"{where}: field {key!r} must be one line without control characters, "
            f"got {value!r}."
        )
