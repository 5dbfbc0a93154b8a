"""The JSON schema Claude's answer must follow (structured outputs).

The schema stays inside the subset that structured outputs accept: every object
lists all its properties as required and sets ``additionalProperties`` to false,
and constraints are expressed with ``enum`` rather than numeric or length limits.
Criterion ids become property names, so the schema itself asks for every
criterion exactly once; validation still checks it, because an answer is data.
"""

from __future__ import annotations

from typing import Any

from gradebot_cli.rubric import Criterion, Rubric


def _criterion_schema(criterion: Criterion) -> dict[str, Any]:
    points = sorted({level.points for level in criterion.levels})
    return {
        "type": "object",
        "description": f"{criterion.name}: choose one level of this criterion.",
        "properties": {
            "evidence": {
                "type": "array",
                "description": "Short passages copied exactly from the submission.",
                "items": {"type": "string"},
            },
            "rationale": {"type": "string"},
            "level": {
                "type": "string",
                "enum": [level.label for level in criterion.levels],
            },
            "points": {"type": "number", "enum": [_json_number(p) for p in points]},
        },
        "required": ["evidence", "rationale", "level", "points"],
        "additionalProperties": False,
    }


def _json_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def grade_schema(rubric: Rubric) -> dict[str, Any]:
    """Build the answer schema for ``rubric``."""
    criteria = {c.id: _criterion_schema(c) for c in rubric.criteria}
    string_list = {"type": "array", "items": {"type": "string"}}
    return {
        "type": "object",
        "properties": {
            "criteria": {
                "type": "object",
                "properties": criteria,
                "required": list(criteria),
                "additionalProperties": False,
            },
            "strengths": string_list,
            "growth_areas": string_list,
            "overall_feedback": {"type": "string"},
        },
        "required": ["criteria", "strengths", "growth_areas", "overall_feedback"],
        "additionalProperties": False,
    }
