"""Printing run results: the grades table, JSON, the summary line, exit status."""

from __future__ import annotations

import sys
from typing import Any

import click

from gradebot_cli.cli.common import add_plain_row
from gradebot_cli.errors import ApiError, BudgetExceeded
from gradebot_cli.grading.run import RunReport, counts_line
from gradebot_cli.pricing import format_usd

INTERRUPTED_EXIT = 130


def _score(total: float | None, maximum: float | None) -> str:
    if total is None:
        return ""
    if maximum is None:
        return f"{total:g}"
    return f"{total:g}/{maximum:g}"


def print_outcomes(report: RunReport) -> None:
    from rich.table import Table

    from gradebot_cli.cli.common import stdout_console

    table = Table(title=None, show_lines=False)
    for column in ("Student", "File", "Status", "Score", "Note"):
        table.add_column(column, overflow="fold")
    for outcome in sorted(report.outcomes, key=lambda o: (o.student.casefold(), o.key)):
        status = outcome.status.value.replace("_", " ")
        if outcome.unchanged:
            status += " (unchanged)"
        add_plain_row(
            table,
            outcome.student,
            outcome.file_name,
            status,
            _score(outcome.total, outcome.maximum),
            outcome.reason,
        )
    stdout_console().print(table)


def report_json(assignment: Any, report: RunReport) -> dict[str, Any]:
    return {
        "assignment": {"id": assignment.id, "title": assignment.title},
        "run_id": report.run_id,
        "cost_micro": report.cost_micro,
        "cost_usd": format_usd(report.cost_micro),
        "counts": report.counts(),
        "stopped_by_budget": report.stopped_by_budget,
        "remaining_estimate_micro": report.remaining_estimate_micro,
        "submissions": [
            {
                "student": o.student,
                "key": o.key,
                "file": o.file_name,
                "status": o.status.value,
                "unchanged": o.unchanged,
                "total": o.total,
                "maximum": o.maximum,
                "reason": o.reason,
                "cost_micro": o.cost_micro,
            }
            for o in sorted(
                report.outcomes, key=lambda o: (o.student.casefold(), o.key)
            )
        ],
    }


def summary_line(store: Any, report: RunReport) -> str:
    rows = store.query(
        "select count(*) as requests, coalesce(sum(cost_micro), 0) as cost, "
        "coalesce(sum(input_tokens), 0) as input, coalesce(sum(output_tokens), 0) as output, "
        "coalesce(sum(cache_read_tokens), 0) as cache_read, "
        "coalesce(sum(cache_write_5m_tokens + cache_write_1h_tokens), 0) as cache_write "
        "from api_requests where run_id = ?",
        [report.run_id],
    )
    row = rows[0]
    graded = sum(1 for o in report.outcomes if not o.unchanged and o.total is not None)
    per = (
        f", {format_usd(row['cost'] // graded)} per graded submission" if graded else ""
    )
    from gradebot_cli.costs.reports import run_savings

    cache_saved, _ = run_savings(store, report.run_id)
    saved = f"; caching saved {format_usd(cache_saved)}" if row["cache_read"] else ""
    return (
        f"{counts_line(report.counts())}. Cost {format_usd(row['cost'])} for "
        f"{_count(row['requests'], 'request')}{per} (tokens: {row['input']:,} input, "
        f"{row['output']:,} output, {row['cache_write']:,} cache write, "
        f"{row['cache_read']:,} cache read{saved})."
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def exit_for(report: RunReport) -> None:
    """Raise or exit with the status that matches the run's outcome."""
    if report.fatal is not None:
        raise report.fatal
    if report.stopped_by_budget:
        left = len(report.not_started) + sum(
            1 for o in report.outcomes if o.status.value == "pending"
        )
        limit = format_usd(report.max_cost_micro or 0)
        raise BudgetExceeded(
            f"--max-cost {limit} reached after spending {format_usd(report.cost_micro)}: "
            f"the next request could cost up to "
            f"{format_usd(report.refused_estimate_micro)} (input priced without the "
            f"cache discount), which could pass the limit. {_count(left, 'submission')} "
            f"left to grade, estimated at {format_usd(report.remaining_estimate_micro)}. "
            "Finished grades are saved; run the same command again with a higher "
            "--max-cost to continue."
        )
    if report.interrupted:
        click.echo(
            "Stopped before the class was finished; run again to continue.", err=True
        )
        sys.exit(INTERRUPTED_EXIT)
    failed = [
        o for o in report.outcomes if o.status.value == "api_error" and not o.unchanged
    ]
    if failed:
        raise ApiError(
            f"{len(failed)} submissions failed with API errors (first: {failed[0].student}: "
            f"{failed[0].reason}). Run the same command again to retry them."
        )


def print_dry_run(plan: Any, *, as_json: bool) -> None:
    from gradebot_cli.cli.common import print_json
    from gradebot_cli.grading.request import describe_request

    items = []
    blocked = []
    for item, tokens in zip(plan.items, plan.estimated_input_tokens, strict=True):
        entry = {"student": item.student, "file": item.file_name, "key": item.key}
        if item.key in plan.problems:
            status, reason = plan.problems[item.key]
            blocked.append({**entry, "status": status, "reason": reason})
        else:
            items.append({**entry, "estimated_input_tokens": tokens})
    if as_json:
        print_json(
            {
                "would_grade": items,
                "cannot_send": blocked,
                "unchanged": len(plan.unchanged),
                "first_request": plan.first_request,
            }
        )
        return
    click.echo(
        f"Would grade {len(items)} submissions ({len(plan.unchanged)} unchanged, skipped):"
    )
    for entry in items:
        click.echo(
            f"  {entry['student']} ({entry['file']}): about "
            f"{entry['estimated_input_tokens']:,} input tokens"
        )
    if blocked:
        click.echo(f"Cannot send {len(blocked)} submissions:")
        for entry in blocked:
            click.echo(
                f"  {entry['student']} ({entry['file']}): {entry['status']}: "
                f"{entry['reason']}"
            )
    if plan.first_request is not None:
        click.echo("\nFirst request (nothing was sent):")
        click.echo(describe_request(plan.first_request))
