"""The anonymised ASAP essay class from ../shared/data, turned into a gradebot job.

The rubric is built at test time from the scoring guide's text (score points 1-6
as the levels of one holistic criterion), so nothing from ../shared is copied
into the repository.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from gradebot_cli.rubric import Criterion, Level, Rubric, rubric_from_dict

SCORE_POINT = re.compile(r"Score Point (\d): (.*?)(?=\nScore Point \d:|\Z)", re.DOTALL)


@dataclass(frozen=True)
class AsapClass:
    folder: Path
    rubric_path: Path
    instructions_path: Path
    rubric: Rubric
    scores: dict[str, int]

    @property
    def submissions(self) -> Path:
        return self.folder / "submissions"

    def expected_level(self, file_name: str) -> str:
        return str(self.scores[file_name])


def holistic_rubric_toml(guide: str) -> str:
    """Write the scoring guide as a one-criterion TOML rubric."""
    lines = [
        'title = "Persuasive letter (holistic)"',
        "",
        "[[criteria]]",
        'id = "holistic"',
        'name = "Overall score"',
    ]
    for point, text in SCORE_POINT.findall(guide):
        descriptor = " ".join(text.split()).replace('"', "'")
        lines += [
            "",
            "  [[criteria.levels]]",
            f'  label = "{point}"',
            f"  points = {point}",
            f'  descriptor = "{descriptor}"',
        ]
    return "\n".join(lines) + "\n"


def load_class(data_root: Path, work: Path) -> AsapClass:
    """Prepare the class-30 job in ``work`` (rubric and instructions files)."""
    set_folder = data_root / "asap-set1"
    rubric_path = work / "rubric.toml"
    rubric_path.write_text(
        holistic_rubric_toml((set_folder / "rubric.txt").read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    instructions_path = work / "instructions.txt"
    instructions_path.write_text(
        (set_folder / "prompt.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with (set_folder / "class-30" / "scores.csv").open(encoding="utf-8") as stream:
        scores = {
            row["file"]: int(row["rater1_domain1"]) for row in csv.DictReader(stream)
        }
    rubric = rubric_from_dict(_toml(rubric_path), source=str(rubric_path))
    return AsapClass(
        set_folder / "class-30", rubric_path, instructions_path, rubric, scores
    )


def _toml(path: Path) -> dict[str, object]:
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8"))


def level_by_score(rubric: Rubric, score: int) -> Level:
    criterion: Criterion = rubric.criteria[0]
    level = criterion.level(str(score))
    assert level is not None
    return level
