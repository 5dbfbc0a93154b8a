"""Answers in gradebot's grade format, for the fake Messages API to send back.

The fake calls a responder with each request's JSON body; these responders read
the student's text out of the ``<student_submission>`` markers and answer a grade
that passes gradebot's validation, with levels chosen by the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from gradebot_cli.rubric import Criterion, Level, Rubric

SUBMISSION = re.compile(r"<student_submission>\n(.*)\n</student_submission>", re.DOTALL)

LevelChooser = Callable[[str, Criterion], Level]


def submission_text(body: dict[str, Any]) -> str:
    """Return the student's text from a grading request (the first user turn)."""
    for block in body["messages"][0]["content"]:
        if block.get("type") == "text":
            match = SUBMISSION.search(block["text"])
            if match:
                return match.group(1)
    raise AssertionError("the request has no <student_submission> block")


def is_reask(body: dict[str, Any]) -> bool:
    blocks = body["messages"][0]["content"]
    return any("could not be accepted" in b.get("text", "") for b in blocks)


def first_words(text: str, count: int = 6) -> str:
    return " ".join(text.split()[:count])


def grade_answer(
    rubric: Rubric, text: str, choose: LevelChooser, *, quote: str | None = None
) -> dict[str, Any]:
    """Build a valid answer for ``text`` with the levels ``choose`` picks."""
    evidence: list[str] = []
    if quote is not None:
        evidence = [quote]
    elif text.strip():
        evidence = [first_words(text)]
    criteria = {}
    for criterion in rubric.criteria:
        level = choose(text, criterion)
        criteria[criterion.id] = {
            "evidence": evidence,
            "rationale": f"The work meets the {level.label} descriptor.",
            "level": level.label,
            "points": level.points,
        }
    return {
        "criteria": criteria,
        "strengths": ["A clear opening."],
        "growth_areas": ["Add one more specific example."],
        "overall_feedback": "Good work overall; keep building your evidence.",
    }


def lowest_level(text: str, criterion: Criterion) -> Level:
    return min(criterion.levels, key=lambda level: level.points)


def grading_responder(
    rubric: Rubric, choose: LevelChooser = lowest_level
) -> Callable[[dict[str, Any]], str]:
    """A responder that grades every submission validly with ``choose``."""

    def respond(body: dict[str, Any]) -> str:
        text = submission_text(body)
        return json.dumps(grade_answer(rubric, text, choose), ensure_ascii=False)

    return respond


def example_responder(body: dict[str, Any]) -> str:
    """Grade the bundled example assignment (for scripts/try-example.sh)."""
    from pathlib import Path

    from gradebot_cli.rubric import load_rubric

    root = Path(__file__).resolve().parents[2]
    rubric = load_rubric(root / "examples" / "four-day-week" / "rubric.toml")
    return grading_responder(rubric, middle_level)(body)


def middle_level(text: str, criterion: Criterion) -> Level:
    ordered = sorted(criterion.levels, key=lambda level: level.points)
    return ordered[len(ordered) // 2]
