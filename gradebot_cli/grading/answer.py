"""Reading one Messages API response into a grading outcome.

Adaptive thinking puts thinking blocks before the text, so only ``text`` blocks
are read. ``stop_reason`` decides first: ``max_tokens`` and
``model_context_window_exceeded`` mean the JSON was cut off, and ``refusal`` means
Claude declined; neither is parsed as a grade.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from gradebot_cli.domain import Grade
from gradebot_cli.grading.validate import MalformedAnswer, parse_answer, validate_answer
from gradebot_cli.rubric import Rubric


class AnswerKind(enum.StrEnum):
    OK = "ok"
    INVALID = "invalid"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    REFUSED = "refused"


@dataclass(frozen=True)
class Answer:
    kind: AnswerKind
    text: str
    grade: Grade | None = None
    problems: tuple[str, ...] = ()
    reason: str = ""

    @property
    def retryable(self) -> bool:
        """Invalid and malformed answers get one more request with the error."""
        return self.kind in (AnswerKind.INVALID, AnswerKind.MALFORMED)


def answer_text(message: Any) -> str:
    parts = [
        block.text for block in message.content if getattr(block, "type", "") == "text"
    ]
    return "".join(parts).strip()


def read_answer(
    message: Any,
    rubric: Rubric,
    submission_text: str,
    *,
    max_tokens: int,
    quotes_required: bool,
) -> Answer:
    """Classify a response and, for a complete answer, validate it."""
    text = answer_text(message)
    stop_reason = getattr(message, "stop_reason", None)
    if stop_reason in ("max_tokens", "model_context_window_exceeded"):
        return Answer(
            AnswerKind.TRUNCATED,
            text,
            reason=(
                f"the answer was cut off at max_tokens={max_tokens} ({stop_reason}); "
                "raise max_tokens in the assignment or with --max-tokens"
            ),
        )
    if stop_reason == "refusal":
        return Answer(AnswerKind.REFUSED, text, reason=_refusal_reason(message))
    try:
        data = parse_answer(text)
    except MalformedAnswer as exc:
        return Answer(AnswerKind.MALFORMED, text, problems=(str(exc),), reason=str(exc))
    checked = validate_answer(
        data, rubric, submission_text, quotes_required=quotes_required
    )
    if checked.grade is None:
        reason = "; ".join(checked.problems)
        return Answer(
            AnswerKind.MALFORMED, text, problems=checked.problems, reason=reason
        )
    if checked.problems:
        return Answer(
            AnswerKind.INVALID,
            text,
            grade=checked.grade,
            problems=checked.problems,
            reason="; ".join(checked.problems),
        )
    return Answer(AnswerKind.OK, text, grade=checked.grade)


def _refusal_reason(message: Any) -> str:
    details = getattr(message, "stop_details", None)
    category = getattr(details, "category", None) if details is not None else None
    explanation = getattr(details, "explanation", None) if details is not None else None
    reason = "Claude declined to grade this submission (refusal"
    if category:
        reason += f", category {category}"
    reason += ")"
    if explanation:
        reason += f": {explanation}"
    return reason + "; grade it by hand"
