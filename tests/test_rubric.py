"""Rubric files: the shipped example loads, and each mistake names file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradebot_cli.errors import RubricError
from gradebot_cli.rubric import load_rubric
from tests.conftest import EXAMPLE


def write(tmp_path: Path, text: str, name: str = "rubric.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_rubric_loads() -> None:
    rubric = load_rubric(EXAMPLE / "rubric.toml")
    assert [c.id for c in rubric.criteria] == ["position", "reasons", "conventions"]
    assert rubric.max_points == 10


def test_json_rubric_loads(tmp_path: Path) -> None:
    data = {
        "title": "Holistic",
        "criteria": [
            {
                "id": "overall",
                "levels": [
                    {"label": "Low", "points": 1, "descriptor": "Weak."},
                    {"label": "High", "points": 2, "descriptor": "Strong."},
                ],
            }
        ],
    }
    rubric = load_rubric(write(tmp_path, json.dumps(data), "rubric.json"))
    assert rubric.criteria[0].max_points == 2


def test_version_changes_with_content(tmp_path: Path) -> None:
    text = (EXAMPLE / "rubric.toml").read_text(encoding="utf-8")
    first = load_rubric(write(tmp_path, text)).version
    second = load_rubric(
        write(tmp_path, text.replace("Hard to follow", "Difficult"))
    ).version
    assert first != second
    assert first.startswith("2026-12+")


LEVELS = """
  [[criteria.levels]]
  label = "Low"
  points = 1
  descriptor = "Weak."
  [[criteria.levels]]
  label = "High"
  points = {points}
  descriptor = "Strong."
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title = 'x'\n", "field 'criteria' must be a non-empty list"),
        ("[[criteria]]\nid = 'Bad Id'\n", "field 'id' must be"),
        ("[[criteria]]\nid = 'a'\n", "criterion 'a': field 'levels'"),
        (
            "[[criteria]]\nid = 'a'\n" + LEVELS.format(points="'four'"),
            "criterion 'a', level #2 ('High'): field 'points' must be a number",
        ),
        (
            "[[criteria]]\nid = 'a'\n" + LEVELS.format(points="-1"),
            "field 'points' must be zero or more",
        ),
        (
            "[[criteria]]\nid = 'a'\n" + LEVELS.format(points=2).replace("Strong.", ""),
            "field 'descriptor' must be non-empty",
        ),
        (
            "[[criteria]]\nid = 'a'\n"
            + LEVELS.format(points=2).replace('"High"', '"Low"'),
            "level label 'Low' is used twice",
        ),
        (
            "[[criteria]]\nid = 'a'\n"
            + LEVELS.format(points=2)
            + "[[criteria]]\nid = 'a'\n"
            + LEVELS.format(points=2),
            "criterion id 'a' is used twice",
        ),
        ("criteria = [", "invalid TOML"),
    ],
)
def test_invalid_rubric_names_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RubricError) as error:
        load_rubric(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_missing_rubric_file(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="rubric file not found"):
        load_rubric(tmp_path / "nope.toml")


def test_unsupported_extension(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="Use a .toml or .json file"):
        load_rubric(write(tmp_path, "x", "rubric.yaml"))
