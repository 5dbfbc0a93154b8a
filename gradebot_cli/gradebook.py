"""The gradebook: one row per submission with its status, total and criterion points."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from gradebot_cli.errors import ConfigError
from gradebot_cli.storage import Store

FIXED_COLUMNS = (
    "student",
    "email",
    "file",
    "status",
    "total",
    "maximum",
    "needs_review_reason",
    "model",
    "graded_at",
)


@dataclass(frozen=True)
class Gradebook:
    assignment_id: str
    title: str
    criteria: list[str]
    rows: list[dict[str, Any]]

    @property
    def columns(self) -> list[str]:
        return [
            *FIXED_COLUMNS[:6],
            *(f"points_{c}" for c in self.criteria),
            *FIXED_COLUMNS[6:],
        ]


def find_assignment(store: Store, assignment_id: str) -> dict[str, Any]:
    rows = store.query("select * from assignments where id = ?", [assignment_id])
    if not rows:
        known = store.query(
            "select id, title from assignments order by updated_at desc limit 5"
        )
        hint = ", ".join(f"{r['id']} ({r['title']})" for r in known) or "none yet"
        raise ConfigError(
            f"No graded assignment with id {assignment_id!r}. Grade it first with "
            f"`gradebot grade`. Recent assignments: {hint}."
        )
    return rows[0]


def build_gradebook(store: Store, assignment_id: str) -> Gradebook:
    """Collect every submission of the assignment with its current grade."""
    assignment = find_assignment(store, assignment_id)
    submissions = store.query(
        "select s.*, g.total, g.maximum, g.model, g.created_at as graded_at, g.review_reason "
        "from submissions s left join grades g on g.id = s.grade_id "
        "where s.assignment_id = ? order by s.student collate nocase, s.key",
        [assignment_id],
    )
    scores = store.query(
        "select c.grade_id, c.criterion_id, c.points, c.position from criterion_scores c "
        "join submissions s on s.grade_id = c.grade_id where s.assignment_id = ? "
        "order by c.position",
        [assignment_id],
    )
    criteria: list[str] = []
    points: dict[tuple[int, str], float] = {}
    for score in scores:
        if score["criterion_id"] not in criteria:
            criteria.append(score["criterion_id"])
        points[(score["grade_id"], score["criterion_id"])] = score["points"]
    rows = [_row(s, criteria, points) for s in submissions]
    return Gradebook(assignment_id, assignment["title"], criteria, rows)


def _row(
    s: dict[str, Any], criteria: list[str], points: dict[tuple[int, str], float]
) -> dict[str, Any]:
    graded = s["grade_id"] is not None and s["status"] in ("graded", "needs_review")
    # A needs-review grade may lack criteria, so its sum is not a score to import
    # into a gradebook. The criteria that were checked still show their points.
    complete = graded and s["status"] == "graded"
    row: dict[str, Any] = {
        "student": s["student"],
        "email": s["student_email"] or "",
        "file": s["file_name"],
        "status": s["status"],
        "total": s["total"] if complete else None,
        "maximum": s["maximum"] if graded else None,
        "needs_review_reason": s["reason"] if s["status"] != "graded" else "",
        "model": s["model"] if graded else "",
        "graded_at": s["graded_at"] if graded else "",
    }
    for criterion in criteria:
        row[f"points_{criterion}"] = (
            points.get((s["grade_id"], criterion)) if graded else None
        )
    return row


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A spreadsheet runs a cell that starts with one of these as a formula. Student
# names and reasons are text, so such cells get a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return _number(value)


def to_csv(book: Gradebook) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=book.columns, lineterminator="\n")
    writer.writeheader()
    for row in book.rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


def to_json(book: Gradebook) -> str:
    data = {
        "assignment": {"id": book.assignment_id, "title": book.title},
        "criteria": book.criteria,
        "submissions": [{k: _number(v) for k, v in row.items()} for row in book.rows],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
