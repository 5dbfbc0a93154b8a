"""Summaries of what the database holds, for ``gradebot status``."""

from __future__ import annotations

from typing import Any

from gradebot_cli.gradebook import find_assignment
from gradebot_cli.pricing import format_usd
from gradebot_cli.storage import Store

PROBLEM_STATUSES = (
    "truncated",
    "refused",
    "malformed",
    "api_error",
    "empty",
    "unreadable",
    "too_large",
    "binary",
    "unsupported",
)


def assignment_summaries(store: Store) -> list[dict[str, Any]]:
    placeholders = ", ".join("?" for _ in PROBLEM_STATUSES)
    rows = store.query(
        "select a.id, a.title, count(s.id) as submissions, "
        "sum(s.status = 'graded') as graded, sum(s.status = 'needs_review') as needs_review, "
        f"sum(s.status in ({placeholders})) as problems, "
        "(select coalesce(sum(cost_micro), 0) from api_requests r where r.assignment_id = a.id)"
        " as cost_micro from assignments a left join submissions s on s.assignment_id = a.id "
        "group by a.id order by a.updated_at desc",
        list(PROBLEM_STATUSES),
    )
    for row in rows:
        row["cost"] = format_usd(row.pop("cost_micro"))
        for key in ("graded", "needs_review", "problems"):
            row[key] = row[key] or 0
    return rows


def submission_statuses(store: Store, assignment_id: str) -> list[dict[str, Any]]:
    find_assignment(store, assignment_id)
    rows = store.query(
        "select s.student, s.file_name as file, s.status, g.total, g.maximum, s.reason "
        "from submissions s left join grades g on g.id = s.grade_id "
        "where s.assignment_id = ? order by s.student collate nocase, s.key",
        [assignment_id],
    )
    for row in rows:
        total, maximum = row.pop("total"), row.pop("maximum")
        row["total"] = f"{total:g}/{maximum:g}" if total is not None else None
    return rows
