"""Building the Messages API request for one submission.

The system prompt (assignment, instructions, rubric and grading rules) comes first
and carries a ``cache_control`` breakpoint, so every submission of a class after
the first reads it from the prompt cache. The student's work follows in the user
turn, inside ``<student_submission>`` markers, as data to be graded.

The request sets no temperature, top_p or top_k, no assistant prefill and no tool
choice: the 5.5 models reject non-default sampling parameters and prefill, and
Opus 5.5 rejects forced tool use. Structured output comes from
``output_config.format`` instead. Adaptive thinking is on by default for the
models that support it, so answers may start with thinking blocks before the text.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from gradebot_cli.assignment import Assignment
from gradebot_cli.domain import BinaryPart, LoadedSubmission
from gradebot_cli.grading.schema import grade_schema
from gradebot_cli.prompting import PromptSet


@dataclass(frozen=True)
class RequestBuilder:
    """Renders requests for one assignment; the system prompt is rendered once."""

    assignment: Assignment
    prompts: PromptSet
    system_text: str
    schema: dict[str, Any]

    @classmethod
    def create(cls, assignment: Assignment, prompts: PromptSet) -> RequestBuilder:
        system_text = prompts.render(
            "system.md",
            title=assignment.title,
            subject=assignment.subject or "school",
            grade_level=assignment.grade_level or "school",
            instructions=assignment.instructions,
            rubric=assignment.rubric.to_text(),
            tone=assignment.tone,
        )
        return cls(assignment, prompts, system_text, grade_schema(assignment.rubric))

    def build(
        self,
        submission: LoadedSubmission,
        *,
        retry_errors: str = "",
        previous: str = "",
    ) -> dict[str, Any]:
        """Return the keyword arguments for ``client.messages.create``."""
        content: list[dict[str, Any]] = [
            _binary_block(part)
            for part in submission.parts
            if isinstance(part, BinaryPart)
        ]
        text = submission.text or "(No text: the work is in the attached file.)"
        content.append(
            {
                "type": "text",
                "text": self.prompts.render(
                    "submission.md",
                    file_name=submission.item.file_name,
                    submission=text,
                ),
            }
        )
        if retry_errors:
            content.append(
                {
                    "type": "text",
                    "text": self.prompts.render(
                        "retry.md", errors=retry_errors, previous_answer=previous
                    ),
                }
            )
        return {
            "model": self.assignment.model,
            "max_tokens": self.assignment.max_tokens,
            "system": [
                {
                    "type": "text",
                    "text": self.system_text,
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            "messages": [{"role": "user", "content": content}],
            "output_config": {"format": {"type": "json_schema", "schema": self.schema}},
        }


def _binary_block(part: BinaryPart) -> dict[str, Any]:
    data = base64.standard_b64encode(part.data).decode("ascii")
    return {
        "type": part.block_type,
        "source": {"type": "base64", "media_type": part.media_type, "data": data},
    }


def describe_request(params: dict[str, Any]) -> str:
    """Render a request as readable JSON with attachments shortened, for --dry-run."""

    def shorten(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("type") == "base64" and isinstance(value.get("data"), str):
                return {**value, "data": f"<{len(value['data'])} base64 characters>"}
            return {key: shorten(item) for key, item in value.items()}
        if isinstance(value, list):
            return [shorten(item) for item in value]
        return value

    return json.dumps(shorten(params), indent=2, ensure_ascii=False)
