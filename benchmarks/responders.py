"""Answers for the fake Messages API in benchmarks: a valid holistic grade.

Reads the level labels from the request's output schema, so it needs no rubric:
the benchmark rubric's labels are its point values ("1" to "6").
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from tests.support.grading import first_words, submission_text


def holistic(body: dict[str, Any]) -> str:
    text = submission_text(body)
    schema = body["output_config"]["format"]["schema"]
    criteria = schema["properties"]["criteria"]["properties"]
    answer: dict[str, Any] = {}
    for criterion_id, spec in criteria.items():
        labels = spec["properties"]["level"]["enum"]
        label = labels[zlib.crc32(text.encode()) % len(labels)]
        answer[criterion_id] = {
            "evidence": [first_words(text)],
            "rationale": "Matches the descriptor of this score point.",
            "level": label,
            "points": int(label),
        }
    return json.dumps(
        {
            "criteria": answer,
            "strengths": ["States a position."],
            "growth_areas": ["Develop each reason with a specific example."],
            "overall_feedback": "A solid start; add detail to persuade your reader.",
        }
    )
