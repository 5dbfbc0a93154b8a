"""Names gradebot writes into Drive and Docs to find its own output again.

Feedback Docs carry ``appProperties`` (private to the OAuth client that set
them). After a lost database, publishing finds the existing Docs through them
instead of creating second copies, and the source never reads feedback as a
submission. A section appended to a student's Doc is a named
range, so it can be found, replaced, and left out when the Doc is graded again.
"""

from __future__ import annotations

import hashlib

SUBMISSION_PROPERTY = "gradebot_submission"
ASSIGNMENT_PROPERTY = "gradebot_assignment"
SHARED_WITH_PROPERTY = "gradebot_shared_with"


def feedback_range_prefix(assignment_id: str) -> str:
    """Return the start of the named-range names of an assignment's sections."""
    return f"gradebot-feedback-{assignment_id}-"


def feedback_range_name(assignment_id: str, section_text: str) -> str:
    """Return the named-range name for a section with ``section_text``.

    The name ends with a hash of the text, so a later publish can tell whether
    anyone edited the section before it replaces it.
    """
    return feedback_range_prefix(assignment_id) + text_digest(section_text)


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
