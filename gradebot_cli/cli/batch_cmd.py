"""``gradebot batch``: check and collect Message Batches sent by ``grade --batch``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from gradebot_cli.cli.common import (
    add_plain_row,
    instructions_option,
    json_option,
    max_retries_option,
    quiet_option,
    rubric_option,
    timeout_option,
)


@click.group()
def batch() -> None:
    """Check and collect the Message Batches sent by `gradebot grade --batch`.

    A batch costs half the standard price and ends within 24 hours (usually
    within one). `gradebot grade` on the same assignment also collects ended
    batches before it grades anything.
    """


@batch.command("status")
@click.argument("target", type=click.Path(path_type=Path), required=False)
@click.option("--batch", "batch_id", metavar="ID", help="Show only this batch id.")
@click.option(
    "--assignment",
    "assignment_id",
    metavar="ID",
    help="Assignment id, instead of TARGET.",
)
@rubric_option
@instructions_option
@json_option
def status(
    target: Path | None,
    batch_id: str | None,
    assignment_id: str | None,
    rubric: Path | None,
    instructions: Path | None,
    as_json: bool,
) -> None:
    """Show the processing status and request counts of batches.

    Lists the batches of TARGET (or --assignment), one batch with --batch, or
    every batch. Batches not yet collected are refreshed from the API when
    ANTHROPIC_API_KEY is set.
    """
    from gradebot_cli.batch import batch_status, make_client
    from gradebot_cli.workspace import open_store, resolve_assignment_id

    ident = None
    if target is not None or assignment_id:
        ident = resolve_assignment_id(
            target, assignment_id, rubric=rubric, instructions=instructions
        )
    client = None
    if os.environ.get("ANTHROPIC_API_KEY", "").strip():
        client = make_client(60.0)
    else:
        click.echo(
            "ANTHROPIC_API_KEY is not set: showing the status last stored, not refreshed.",
            err=True,
        )
    store = open_store()
    try:
        rows = batch_status(
            store, assignment_id=ident, batch_id=batch_id, client=client
        )
    finally:
        store.close()
        if client is not None:
            client.close()
    if as_json:
        from dataclasses import asdict

        from gradebot_cli.cli.common import print_json

        print_json([asdict(row) for row in rows])
        return
    _print_status(rows)


def _print_status(rows: list[Any]) -> None:
    from rich.table import Table

    from gradebot_cli.cli.common import stdout_console

    console = stdout_console()
    if not rows:
        console.print("No Message Batches in the ledger.", markup=False)
        return
    table = Table()
    for column in (
        "Batch",
        "Assignment",
        "Status",
        "Results",
        "Waiting",
        "Created",
        "Expires",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        state = "collected" if row.collected_at else row.status.replace("_", " ")
        results = ", ".join(
            f"{row.counts[name]} {name}"
            for name in ("processing", "succeeded", "errored", "expired", "canceled")
            if row.counts.get(name)
        )
        add_plain_row(
            table,
            row.id,
            row.assignment_id,
            state,
            f"{row.request_count} requests" + (f": {results}" if results else ""),
            str(row.waiting),
            _minutes(row.created_at),
            _minutes(row.expires_at),
        )
    console.print(table)


def _minutes(timestamp: str | None) -> str:
    """Shorten an ISO timestamp to UTC minutes."""
    return (timestamp or "")[:16].replace("T", " ")


@batch.command("collect")
@click.argument("target", type=click.Path(path_type=Path), default=".")
@rubric_option
@instructions_option
@max_retries_option
@timeout_option
@json_option
@quiet_option
def collect(
    target: Path,
    rubric: Path | None,
    instructions: Path | None,
    max_retries: int,
    timeout: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Save the results of the ended batches of TARGET (default: this folder).

    Each answer is validated like an interactive one; an invalid or malformed
    answer is asked again once, interactively, at the standard price. Expired
    and transiently failed requests are sent again in a new batch. Collecting
    twice records nothing twice.
    """
    from gradebot_cli.grading.run import GradeOptions
    from gradebot_cli.workspace import make_source, open_store, resolve_assignment

    assignment = resolve_assignment(target, rubric=rubric, instructions=instructions)
    options = GradeOptions(max_retries=max_retries, timeout_seconds=timeout)
    from gradebot_cli.runlock import run_lock

    store = open_store()
    try:
        with run_lock():
            report = _collect(assignment, store, make_source(assignment), options)
    finally:
        store.close()
    if as_json:
        from gradebot_cli.cli.common import print_json

        print_json(_collect_json(report))
        return
    if not quiet and report.outcomes:
        from gradebot_cli.cli.report import print_outcomes
        from gradebot_cli.grading.run import RunReport

        print_outcomes(
            RunReport(run_id="", assignment_id=assignment.id, outcomes=report.outcomes)
        )
    if not quiet:
        click.echo(
            report.summary() if _has_news(report) else "No open batches to collect.",
            err=True,
        )


def _has_news(report: Any) -> bool:
    return bool(
        report.collected or report.in_progress or report.resubmitted or report.outcomes
    )


def _collect(assignment: Any, store: Any, source: Any, options: Any) -> Any:
    from gradebot_cli.batch import make_client
    from gradebot_cli.grading.batch import collect_batches
    from gradebot_cli.pricing import load_price_table
    from gradebot_cli.settings import gradebot_home

    price = load_price_table(gradebot_home() / "prices.toml").get(assignment.model)
    client = make_client(options.timeout_seconds)
    try:
        return collect_batches(assignment, store, source, price, options, client=client)
    finally:
        client.close()


def _collect_json(report: Any) -> dict[str, Any]:
    return {
        "collected_batches": report.collected,
        "in_progress": report.in_progress,
        "new_batches": report.new_batches,
        "resubmitted": report.resubmitted,
        "stale": report.stale,
        "already_recorded": report.already_recorded,
        "cost_micro": report.cost_micro,
        "submissions": [
            {
                "student": o.student,
                "key": o.key,
                "file": o.file_name,
                "status": o.status.value,
                "total": o.total,
                "maximum": o.maximum,
                "reason": o.reason,
                "cost_micro": o.cost_micro,
            }
            for o in report.outcomes
        ],
    }


def grade_in_batch(
    assignment: Any,
    store: Any,
    source: Any,
    options: Any,
    *,
    as_json: bool,
    quiet: bool,
) -> None:
    """Collect ended batches, then send the class as a batch; for ``grade --batch``.

    Raises BudgetExceeded (exit status 3) when --max-cost left submissions out.
    """
    from gradebot_cli.batch import make_client, submit_batch
    from gradebot_cli.cli.common import stderr_console
    from gradebot_cli.grading.batch import collect_batches
    from gradebot_cli.pricing import load_price_table
    from gradebot_cli.settings import gradebot_home

    prices = load_price_table(gradebot_home() / "prices.toml")
    price = prices.get(assignment.model)
    console = stderr_console(quiet)
    client = make_client(options.timeout_seconds)
    try:
        collected = collect_batches(
            assignment, store, source, price, options, client=client
        )
        if _has_news(collected):
            console.print(collected.summary(), markup=False, highlight=False)
        report = submit_batch(assignment, store, source, prices, options, client=client)
    finally:
        client.close()
    if as_json:
        from gradebot_cli.cli.common import print_json

        print_json(_submit_json(report))
    else:
        console.print(_submit_line(report), markup=False, highlight=False)
    _exit_for_left_out(report)


def _submit_line(report: Any) -> str:
    from gradebot_cli.pricing import format_usd

    skipped = (
        f"{sum(1 for o in report.outcomes if o.unchanged)} unchanged, "
        f"{sum(1 for o in report.outcomes if not o.unchanged)} not sendable, "
        f"{report.waiting} still waiting in earlier batches"
    )
    if not report.batch_ids:
        return f"Nothing to send ({skipped})."
    return (
        f"Sent {len(report.queued)} submissions in Message Batch "
        f"{', '.join(report.batch_ids)} (about {format_usd(report.estimate_micro)} at "
        f"batch prices); {skipped}. Results usually arrive within an hour and always "
        "within 24 hours: `gradebot batch status` shows progress, and `gradebot batch "
        "collect` or the next `gradebot grade` saves them."
    )


def _submit_json(report: Any) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "batch_ids": report.batch_ids,
        "queued": [
            {"student": o.student, "key": o.key, "file": o.file_name}
            for o in report.queued
        ],
        "not_sent": [
            {
                "student": o.student,
                "key": o.key,
                "status": o.status.value,
                "unchanged": o.unchanged,
                "reason": o.reason,
            }
            for o in report.outcomes
        ],
        "waiting_in_earlier_batches": report.waiting,
        "estimate_micro": report.estimate_micro,
        "left_out": [item.key for item in report.left_out],
        "left_out_estimate_micro": report.left_out_estimate_micro,
    }


def _exit_for_left_out(report: Any) -> None:
    from gradebot_cli.errors import BudgetExceeded
    from gradebot_cli.pricing import format_usd

    if report.left_out:
        raise BudgetExceeded(
            f"--max-cost reached: {len(report.left_out)} submissions were not sent, "
            f"estimated at {format_usd(report.left_out_estimate_micro)} at batch prices. "
            "Run the same command with a higher --max-cost to send them."
        )
