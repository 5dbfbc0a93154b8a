"""Typed reads and writes over the gradebot database.

One ``Store`` is shared by the worker threads of a run. SQLite connections are not
safe to use from two threads at once, so every call takes the store's lock, and
every write is one ``BEGIN IMMEDIATE`` transaction committed before the call
returns: a finished grade survives ``kill -9``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.db import Table

from gradebot_cli.domain import Grade, SourceItem, Status
from gradebot_cli.errors import ConfigError, GradebotError, LockedError
from gradebot_cli.storage.db import open_database


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class SubmissionRow:
    id: int
    assignment_id: str
    key: str
    student: str
    student_email: str
    file_name: str
    fingerprint: str
    content_hash: str
    status: Status
    reason: str
    grade_id: int | None
    total: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class GradeMeta:
    """The provenance of a grade: the pinned model, prompt and rubric versions."""

    model: str
    prompt_version: str
    rubric_version: str
    answer_json: str
    review_reason: str = ""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db: sqlite_utils.Database = open_database(path)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """Hold the lock and one immediate transaction; commit on success."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _store_error(self.path, exc) from exc
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, params))

    # Assignments and runs

    def upsert_assignment(self, row: dict[str, Any]) -> None:
        now = utc_now()
        with self.transaction() as db:
            existing = _table(db, "assignments").count_where("id = ?", [row["id"]])
            if existing:
                _table(db, "assignments").update(row["id"], {**row, "updated_at": now})
            else:
                _table(db, "assignments").insert(
                    {**row, "created_at": now, "updated_at": now}
                )

    def start_run(self, assignment_id: str, command: str) -> str:
        run_id = uuid.uuid4().hex[:12]
        with self.transaction() as db:
            # The command line holds the run lock while it grades, so a run of this
            # assignment still marked "running" was killed before it could finish.
            # NOTE: the Python API takes no lock; two API runs at once would mark
            # the earlier one abandoned while it still works (its grades are kept).
            db.execute(
                "update runs set outcome = 'abandoned' "
                "where assignment_id = ? and outcome = 'running'",
                [assignment_id],
            )
            _table(db, "runs").insert(
                {
                    "id": run_id,
                    "assignment_id": assignment_id,
                    "command": command,
                    "started_at": utc_now(),
                    "finished_at": None,
                    "outcome": "running",
                    "counts_json": "{}",
                }
            )
        return run_id

    def finish_run(self, run_id: str, outcome: str, counts: dict[str, int]) -> None:
        with self.transaction() as db:
            _table(db, "runs").update(
                run_id,
                {
                    "finished_at": utc_now(),
                    "outcome": outcome,
                    "counts_json": json.dumps(counts, sort_keys=True),
                },
            )

    # Submissions

    def submissions(self, assignment_id: str) -> dict[str, SubmissionRow]:
        rows = self.query(
            "select s.*, g.total, g.maximum from submissions s "
            "left join grades g on g.id = s.grade_id "
            "where s.assignment_id = ? order by s.student, s.key",
            [assignment_id],
        )
        return {row["key"]: _submission(row) for row in rows}

    def submission(self, submission_id: int) -> SubmissionRow:
        rows = self.query("select * from submissions where id = ?", [submission_id])
        return _submission(rows[0])

    def upsert_submission(
        self,
        assignment_id: str,
        item: SourceItem,
        *,
        content_hash: str,
        status: Status,
        reason: str = "",
    ) -> int:
        """Insert or update the row for ``item``; returns the submission id."""
        values = {
            "assignment_id": assignment_id,
            "key": item.key,
            "student": item.student,
            "student_email": item.student_email,
            "file_name": item.file_name,
            "fingerprint": item.fingerprint,
            "content_hash": content_hash,
            "status": status.value,
            "reason": reason,
            "updated_at": utc_now(),
        }
        with self.transaction() as db:
            found = list(
                db.query(
                    "select id from submissions where assignment_id = ? and key = ?",
                    [assignment_id, item.key],
                )
            )
            if found:
                submission_id = int(found[0]["id"])
                _table(db, "submissions").update(submission_id, values)
                return submission_id
            table = _table(db, "submissions").insert({**values, "grade_id": None})
            assert table.last_pk is not None
            return int(table.last_pk or 0)

    def set_status(self, submission_id: int, status: Status, reason: str = "") -> None:
        with self.transaction() as db:
            _table(db, "submissions").update(
                submission_id,
                {"status": status.value, "reason": reason, "updated_at": utc_now()},
            )

    def save_grade(
        self,
        submission_id: int,
        content_hash: str,
        grade: Grade,
        meta: GradeMeta,
        status: Status,
    ) -> int:
        """Store a validated grade and make it the submission's current grade."""
        with self.transaction() as db:
            table = _table(db, "grades").insert(
                {
                    "submission_id": submission_id,
                    "content_hash": content_hash,
                    "status": status.value,
                    "model": meta.model,
                    "prompt_version": meta.prompt_version,
                    "rubric_version": meta.rubric_version,
                    "total": grade.total,
                    "maximum": grade.maximum,
                    "strengths_json": json.dumps(grade.strengths, ensure_ascii=False),
                    "growth_areas_json": json.dumps(
                        grade.growth_areas, ensure_ascii=False
                    ),
                    "overall_feedback": grade.overall_feedback,
                    "review_reason": meta.review_reason,
                    "answer_json": meta.answer_json,
                    "created_at": utc_now(),
                }
            )
            grade_id = int(table.last_pk or 0)
            _table(db, "criterion_scores").insert_all(
                {
                    "grade_id": grade_id,
                    "position": position,
                    "criterion_id": score.criterion_id,
                    "level": score.level,
                    "points": score.points,
                    "max_points": score.max_points,
                    "rationale": score.rationale,
                    "evidence_json": json.dumps(score.evidence, ensure_ascii=False),
                }
                for position, score in enumerate(grade.scores)
            )
            _table(db, "submissions").update(
                submission_id,
                {
                    "status": status.value,
                    "reason": meta.review_reason,
                    "grade_id": grade_id,
                    "content_hash": content_hash,
                    "updated_at": utc_now(),
                },
            )
        return grade_id

    # Ledger

    def record_request(self, row: dict[str, Any]) -> int:
        with self.transaction() as db:
            table = _table(db, "api_requests").insert({"created_at": utc_now(), **row})
            return int(table.last_pk or 0)

    def spent_micro(self, *, run_id: str) -> int:
        rows = self.query(
            "select coalesce(sum(cost_micro), 0) as total from api_requests where run_id = ?",
            [run_id],
        )
        return int(rows[0]["total"])


def _store_error(path: Path, exc: sqlite3.OperationalError) -> GradebotError:
    """Name the database and the fix for a write that SQLite refused."""
    if "locked" in str(exc):
        return LockedError(
            f"The database {path} stayed locked by another program for 30 seconds. "
            "Close it (a database browser, a backup in progress) and run again."
        )
    if "readonly" in str(exc) or "read-only" in str(exc):
        return ConfigError(
            f"The database {path} is read-only. Make it writable for this user, or "
            "point GRADEBOT_HOME at a writable folder."
        )
    return ConfigError(f"Cannot write to the database {path} ({exc}).")


def _table(db: sqlite_utils.Database, name: str) -> Table:
    table = db[name]
    assert isinstance(table, Table), f"{name} is a view"
    return table


def _submission(row: dict[str, Any]) -> SubmissionRow:
    return SubmissionRow(
        id=int(row["id"]),
        assignment_id=row["assignment_id"],
        key=row["key"],
        student=row["student"] or "",
        student_email=row["student_email"] or "",
        file_name=row["file_name"] or "",
        fingerprint=row["fingerprint"] or "",
        content_hash=row["content_hash"] or "",
        status=Status(row["status"]),
        reason=row["reason"] or "",
        grade_id=row["grade_id"],
        total=row.get("total"),
        maximum=row.get("maximum"),
    )


@dataclass(frozen=True)
class GradeDetail:
    """A submission with its current grade and criterion scores, for feedback."""

    submission: SubmissionRow
    grade: dict[str, Any]
    scores: list[dict[str, Any]]


def grade_detail(store: Store, submission_id: int) -> GradeDetail | None:
    """Load the submission's current grade, or None when it has none."""
    submission = store.submission(submission_id)
    if submission.grade_id is None:
        return None
    grades = store.query("select * from grades where id = ?", [submission.grade_id])
    scores = store.query(
        "select * from criterion_scores where grade_id = ? order by position",
        [submission.grade_id],
    )
    return GradeDetail(submission, grades[0], scores)
