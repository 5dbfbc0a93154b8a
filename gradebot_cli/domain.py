"""Core value types shared by sources, grading, storage and publishing."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(enum.StrEnum):
    """State of one submission in an assignment.

    ``PENDING`` and ``API_ERROR`` are graded again by the next run; the file
    statuses (``EMPTY`` to ``UNSUPPORTED``) are retried only when the file changes;
    the answer statuses (``NEEDS_REVIEW`` to ``MALFORMED``) stay until the teacher
    runs ``--regrade`` or the submission changes.
    """

    PENDING = "pending"
    GRADED = "graded"
    NEEDS_REVIEW = "needs_review"
    TRUNCATED = "truncated"
    REFUSED = "refused"
    MALFORMED = "malformed"
    API_ERROR = "api_error"
    EMPTY = "empty"
    UNREADABLE = "unreadable"
    TOO_LARGE = "too_large"
    BINARY = "binary"
    UNSUPPORTED = "unsupported"

    @property
    def is_file_problem(self) -> bool:
        return self in FILE_STATUSES

    @property
    def is_final(self) -> bool:
        """True when re-running without --regrade leaves the submission alone."""
        return self not in (Status.PENDING, Status.API_ERROR)


FILE_STATUSES = frozenset(
    {
        Status.EMPTY,
        Status.UNREADABLE,
        Status.TOO_LARGE,
        Status.BINARY,
        Status.UNSUPPORTED,
    }
)


@dataclass(frozen=True)
class TextPart:
    """Text extracted from a file, sent to Claude as a text block."""

    text: str
    name: str = ""


@dataclass(frozen=True)
class BinaryPart:
    """A PDF or image sent to Claude natively as a document or image block."""

    media_type: str
    data: bytes
    name: str = ""

    @property
    def block_type(self) -> str:
        return "document" if self.media_type == "application/pdf" else "image"


ContentPart = TextPart | BinaryPart


@dataclass(frozen=True)
class SourceItem:
    """One student's submission as listed by a source, before its content is read.

    ``key`` is stable across runs (a relative path or a Drive file id), and
    ``fingerprint`` changes whenever the content may have changed, so a source can
    skip fetching work that is already graded.
    """

    key: str
    student: str
    file_name: str
    fingerprint: str
    student_email: str = ""
    media_type: str = ""
    size: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedSubmission:
    """A submission's content, or the file status that prevents grading it."""

    item: SourceItem
    content_hash: str
    parts: tuple[ContentPart, ...] = ()
    status: Status | None = None
    reason: str = ""

    @property
    def text(self) -> str:
        """All text parts joined, used to check quoted evidence."""
        return "\n\n".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def has_binary(self) -> bool:
        return any(isinstance(p, BinaryPart) for p in self.parts)


@dataclass(frozen=True)
class CriterionScore:
    criterion_id: str
    level: str
    points: float
    max_points: float
    rationale: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Grade:
    """A validated grade for one submission."""

    scores: tuple[CriterionScore, ...]
    strengths: tuple[str, ...]
    growth_areas: tuple[str, ...]
    overall_feedback: str

    @property
    def total(self) -> float:
        return sum(s.points for s in self.scores)

    @property
    def maximum(self) -> float:
        return sum(s.max_points for s in self.scores)
