"""Publishing feedback to Google Drive: a Doc per student, or a section in theirs.

- ``doc``: a new Google Doc per student in the feedback folder, created from the
  HTML of :func:`gradebot_cli.publishing.feedback.to_html` (Drive converts it,
  so headings and lists render). Publishing again updates the same Doc in place.
  The Doc is found from the ``publications`` table, or, when the database was
  lost, from its ``appProperties`` (:mod:`gradebot_cli.google.markers`).
- ``append``: a section at the end of the student's own Google Doc, replaced in
  place on republish (see :mod:`gradebot_cli.google.append`). Submissions that
  are not Google Docs are skipped with a reason.

Only grades with status ``graded`` are published, plus ``needs_review`` ones
when asked. A student whose feedback is unchanged since the last publish (same
content hash) is skipped without any Google call. One student's failure never
stops the others; a sign-in failure stops the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from gradebot_cli.assignment import PUBLISH_MODES, Assignment
from gradebot_cli.errors import ConfigError
from gradebot_cli.google import scopes
from gradebot_cli.google.client import GoogleSession
from gradebot_cli.google.ids import parse_drive_id
from gradebot_cli.google.writer import (
    CREATED,
    FAILED,
    NOT_STARTED,
    SKIPPED,
    TARGETS,
    UNCHANGED,
    UPDATED,
    WOULD_CREATE,
    WOULD_UPDATE,
    FeedbackJob,
    FeedbackWriter,
    PublishOutcome,
    outcome,
)
from gradebot_cli.publishing.feedback import Block, feedback_blocks
from gradebot_cli.storage import Store
from gradebot_cli.storage.store import grade_detail

__all__ = ["PublishOutcome", "PublishReport", "publish_assignment"]

log = logging.getLogger(__name__)

PREVIEW_BLOCKS = 4


@dataclass
class PublishReport:
    mode: str
    dry_run: bool = False
    outcomes: list[PublishOutcome] = field(default_factory=list)

    @property
    def published(self) -> int:
        """Students whose feedback was written in this run."""
        return sum(1 for o in self.outcomes if o.result in (CREATED, UPDATED))

    @property
    def failed(self) -> list[PublishOutcome]:
        return [o for o in self.outcomes if o.result == FAILED]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for each in self.outcomes:
            counts[each.result] = counts.get(each.result, 0) + 1
        return counts


def publish_assignment(
    assignment: Assignment,
    store: Store,
    *,
    stop: threading.Event | None = None,
    mode: str | None = None,
    dry_run: bool = False,
    include_needs_review: bool | None = None,
    force: bool = False,
    students: Sequence[str] = (),
    session: GoogleSession | None = None,
) -> PublishReport:
    """Publish the feedback of every finished grade of ``assignment`` to Drive.

    ``mode``, ``include_needs_review`` default to the assignment's ``[publish]``
    settings; ``force`` republishes unchanged feedback. Raises ConfigError for
    an unusable mode and GoogleAuthError when signing in fails.
    """
    mode = mode or assignment.publish.mode
    if mode not in PUBLISH_MODES:
        raise ConfigError(
            f"Publishing needs [publish] mode 'doc' or 'append' in assignment.toml "
            f"(or --mode), not {mode!r}."
        )
    if include_needs_review is None:
        include_needs_review = assignment.publish.include_needs_review
    folder_id = _feedback_folder(assignment, mode)
    stop = stop or threading.Event()
    report = PublishReport(mode, dry_run)
    jobs, skipped = _select(assignment, store, mode, include_needs_review, students)
    report.outcomes.extend(skipped)
    todo = [job for job in jobs if force or job.content_hash != job.previous_hash]
    same = [job for job in jobs if not force and job.content_hash == job.previous_hash]
    report.outcomes.extend(_unchanged(job, mode) for job in same)
    if dry_run:
        report.outcomes.extend(_preview(job, mode, folder_id) for job in todo)
        return report
    if not todo:
        return report
    owns_session = session is None
    if session is None:
        session = GoogleSession.open(scopes.for_features(publish_features(mode)))
    try:
        writer = FeedbackWriter(
            assignment, store, session, mode, folder_id, force=force
        )
        for job in todo:
            if stop.is_set():
                report.outcomes.append(
                    outcome(job, mode, NOT_STARTED, reason="stopped")
                )
                continue
            report.outcomes.append(writer.publish(job))
    finally:
        if owns_session:
            session.close()
    return report


def publish_features(mode: str) -> list[str]:
    """Return the sign-in features publishing in ``mode`` needs.

    Append mode also reads Drive metadata, to record the Doc's version after
    gradebot's edit (FeedbackWriter._note_own_edit).
    """
    return ["read", "append"] if mode == "append" else ["doc"]


def _feedback_folder(assignment: Assignment, mode: str) -> str:
    if mode != "doc":
        return ""
    if not assignment.publish.drive_folder:
        raise ConfigError(
            "Mode 'doc' needs [publish] folder in assignment.toml: the Drive folder "
            "(URL or ID) that receives the feedback Docs."
        )
    return parse_drive_id(assignment.publish.drive_folder, "Drive feedback folder")


def _select(
    assignment: Assignment,
    store: Store,
    mode: str,
    include_needs_review: bool,
    students: Sequence[str],
) -> tuple[list[FeedbackJob], list[PublishOutcome]]:
    rows = store.query(
        "select s.id, s.key, s.student, s.student_email, s.file_name, s.status, "
        "p.external_id, p.content_hash as published_hash from submissions s "
        "left join publications p on p.submission_id = s.id and p.target = ? "
        "where s.assignment_id = ? and s.grade_id is not null "
        "and s.status in ('graded', 'needs_review') order by s.student, s.key",
        [TARGETS[mode], assignment.id],
    )
    wanted = {name.casefold() for name in students}
    jobs: list[FeedbackJob] = []
    skipped: list[PublishOutcome] = []
    for row in rows:
        names = {row["student"] or "", row["key"], row["file_name"] or ""}
        names.add(row["student_email"] or "")
        if wanted and not wanted & {n.casefold() for n in names if n}:
            continue
        if row["status"] == "needs_review" and not include_needs_review:
            skipped.append(
                PublishOutcome(
                    int(row["id"]),
                    row["student"] or "",
                    row["key"],
                    mode,
                    SKIPPED,
                    reason="needs review: check the grade, then publish with "
                    "--include-needs-review",
                )
            )
            continue
        detail = grade_detail(store, int(row["id"]))
        if detail is None:
            continue
        blocks = feedback_blocks(assignment.title, assignment.rubric, detail)
        jobs.append(
            FeedbackJob(
                detail,
                blocks,
                _content_hash(mode, blocks, assignment),
                row["external_id"] or "",
                row["published_hash"] or "",
            )
        )
    return jobs, skipped


def _content_hash(mode: str, blocks: list[Block], assignment: Assignment) -> str:
    payload = {
        "mode": mode,
        "blocks": [[b.kind, b.text] for b in blocks],
        "share": assignment.publish.share_with_student,
    }
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _unchanged(job: FeedbackJob, mode: str) -> PublishOutcome:
    return outcome(job, mode, UNCHANGED, target=job.previous_id)


def _preview(job: FeedbackJob, mode: str, folder_id: str) -> PublishOutcome:
    lines = tuple(block.text for block in job.blocks[:PREVIEW_BLOCKS])
    if mode == "append":
        target = f"end of the student's Doc {job.detail.submission.key}"
        result = WOULD_UPDATE if job.previous_id else WOULD_CREATE
    elif job.previous_id:
        target, result = f"Doc {job.previous_id}", WOULD_UPDATE
    else:
        target, result = f"new Doc in folder {folder_id}", WOULD_CREATE
    return outcome(job, mode, result, target=target, preview=lines)
