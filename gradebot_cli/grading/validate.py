"""Checking Claude's answer against the rubric and the submission.

An answer is data from outside: it is parsed and checked, never trusted. The
checks: valid JSON with no repeated keys, every criterion exactly once and no
other, a level that exists in that criterion with its exact points, evidence
quotes that occur in the submission after normalising whitespace and quotation
marks, and non-empty feedback.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from gradebot_cli.domain import CriterionScore, Grade
from gradebot_cli.rubric import Rubric


class MalformedAnswer(ValueError):
    """The answer is not a JSON object of the expected shape."""


@dataclass(frozen=True)
class Validation:
    """The checked answer: a grade of the criteria that passed, and the problems.

    With problems, ``grade`` is partial and is kept only for the teacher's review.
    """

    grade: Grade | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.grade is not None and not self.problems


_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)
_SPACE = re.compile(r"\s+")
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|\u2026)\s*")


def normalize_for_quotes(text: str) -> str:
    """Fold quotation marks to ASCII and runs of whitespace to one space."""
    folded = unicodedata.normalize("NFC", text).translate(_QUOTES)
    return _SPACE.sub(" ", folded).strip()


def quote_occurs(quote: str, normalized_text: str) -> bool:
    """Check that ``quote`` occurs in the text; an ellipsis may skip words between parts."""
    parts = [p for p in _ELLIPSIS.split(normalize_for_quotes(quote).strip("'\"")) if p]
    if not parts:
        return False
    position = 0
    for part in parts:
        found = normalized_text.find(part.strip("'\" "), position)
        if found < 0:
            return False
        position = found + len(part)
    return True


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedAnswer(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def parse_answer(text: str) -> dict[str, Any]:
    """Parse the answer text as one JSON object; raises MalformedAnswer."""
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise MalformedAnswer(
            f"the answer is not valid JSON ({exc.msg} at char {exc.pos})"
        ) from None
    if not isinstance(data, dict):
        raise MalformedAnswer("the answer is JSON but not an object")
    return data


def validate_answer(
    data: dict[str, Any], rubric: Rubric, submission_text: str, *, quotes_required: bool
) -> Validation:
    """Check a parsed answer; returns the grade or the list of problems."""
    problems: list[str] = []
    criteria = data.get("criteria")
    if not isinstance(criteria, dict):
        return Validation(None, ("'criteria' must be an object keyed by criterion id",))
    unknown = sorted(set(criteria) - {c.id for c in rubric.criteria})
    if unknown:
        problems.append(f"unknown criteria {unknown}; the rubric has no such ids")
    normalized = normalize_for_quotes(submission_text)
    scores = []
    for criterion in rubric.criteria:
        entry = criteria.get(criterion.id)
        if entry is None:
            problems.append(f"criterion {criterion.id!r} is missing")
            continue
        score = _score(
            criterion.id, entry, rubric, normalized, quotes_required, problems
        )
        if score is not None:
            scores.append(score)
    strengths = _string_list(data, "strengths", problems)
    growth = _string_list(data, "growth_areas", problems)
    overall = data.get("overall_feedback")
    if not isinstance(overall, str) or not overall.strip():
        problems.append("'overall_feedback' must be non-empty text")
        overall = ""
    grade = Grade(tuple(scores), tuple(strengths), tuple(growth), overall.strip())
    return Validation(grade, tuple(problems))


def _score(
    criterion_id: str,
    entry: Any,
    rubric: Rubric,
    normalized_text: str,
    quotes_required: bool,
    problems: list[str],
) -> CriterionScore | None:
    criterion = rubric.criterion(criterion_id)
    assert criterion is not None
    where = f"criterion {criterion_id!r}"
    if not isinstance(entry, dict):
        problems.append(f"{where} must be an object")
        return None
    label = entry.get("level")
    level = criterion.level(label) if isinstance(label, str) else None
    if level is None:
        labels = ", ".join(repr(lv.label) for lv in criterion.levels)
        problems.append(
            f"{where}: level {label!r} is not in the rubric (levels: {labels})"
        )
        return None
    points = entry.get("points")
    if (
        isinstance(points, bool)
        or not isinstance(points, int | float)
        or float(points) != float(level.points)
    ):
        problems.append(
            f"{where}: level {level.label!r} is worth {level.points:g} points, "
            f"not {points!r}"
        )
        return None
    rationale = entry.get("rationale")
    if not isinstance(rationale, str) or not rationale.strip():
        problems.append(f"{where}: 'rationale' must be non-empty text")
        return None
    evidence = _evidence(
        where, entry.get("evidence"), normalized_text, quotes_required, problems
    )
    if evidence is None:
        return None
    return CriterionScore(
        criterion_id,
        level.label,
        level.points,
        criterion.max_points,
        rationale.strip(),
        evidence,
    )


def _evidence(
    where: str, raw: Any, normalized_text: str, required: bool, problems: list[str]
) -> tuple[str, ...] | None:
    if not isinstance(raw, list) or not all(isinstance(q, str) for q in raw):
        problems.append(f"{where}: 'evidence' must be a list of quoted passages")
        return None
    quotes = tuple(q.strip() for q in raw if q.strip())
    if required and not quotes:
        problems.append(
            f"{where}: quote at least one passage from the submission as evidence"
        )
        return None
    if not required:
        # Quotes from an image or a scanned PDF cannot be checked against text.
        return quotes
    invented = [q for q in quotes if not quote_occurs(q, normalized_text)]
    if invented:
        shown = "; ".join(repr(q[:80]) for q in invented)
        problems.append(f"{where}: evidence not found in the submission: {shown}")
        return None
    return quotes


def _string_list(data: dict[str, Any], key: str, problems: list[str]) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{key!r} must be a list of text items")
        return []
    return [v.strip() for v in value if v.strip()]
