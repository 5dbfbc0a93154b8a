"""``gradebot estimate``: what grading a class would cost, before sending anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gradebot_cli.cli.common import (
    add_plain_row,
    concurrency_option,
    instructions_option,
    json_option,
    limit_option,
    max_tokens_option,
    model_option,
    prompts_option,
    regrade_option,
    rubric_option,
    student_option,
)


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@rubric_option
@instructions_option
@model_option
@max_tokens_option
@prompts_option
@concurrency_option
@regrade_option
@limit_option
@student_option
@click.option(
    "--exact",
    is_flag=True,
    help="Count tokens with the API's free token-counting endpoint instead of "
    "tiktoken. Needs ANTHROPIC_API_KEY; grades nothing.",
)
@click.option(
    "--per-submission",
    is_flag=True,
    help="Also list each submission's tokens and cost.",
)
@json_option
def estimate(
    target: Path,
    rubric: Path | None,
    instructions: Path | None,
    model: str | None,
    max_tokens: int | None,
    prompts: Path | None,
    concurrency: int,
    regrade: bool,
    limit: int | None,
    students: tuple[str, ...],
    exact: bool,
    per_submission: bool,
    as_json: bool,
) -> None:
    """Estimate what `gradebot grade TARGET` would cost, with a low-high range.

    Renders the requests a run would send and counts their tokens offline with
    tiktoken, corrected by how far past estimates were from billed tokens. Needs
    no API key and sends nothing, unless --exact is given.
    """
    from gradebot_cli.grading.run import GradeOptions
    from gradebot_cli.workspace import make_source, open_store, resolve_assignment

    assignment = resolve_assignment(target, rubric=rubric, instructions=instructions)
    assignment = assignment.with_overrides(
        model=model, max_tokens=max_tokens, prompts_dir=prompts
    )
    options = GradeOptions(regrade=regrade, limit=limit, students=students)
    store = open_store()
    try:
        source = make_source(assignment)
        show_estimate(
            assignment,
            store,
            source,
            options,
            concurrency=concurrency,
            exact=exact,
            per_submission=per_submission,
            as_json=as_json,
        )
    finally:
        store.close()


def show_estimate(
    assignment: Any,
    store: Any,
    source: Any,
    options: Any,
    *,
    concurrency: int,
    exact: bool,
    per_submission: bool,
    as_json: bool,
) -> None:
    """Compute the estimate and print it; shared with ``gradebot grade --estimate``."""
    from gradebot_cli.costs.estimate import api_token_counter, estimate_class
    from gradebot_cli.pricing import load_price_table
    from gradebot_cli.settings import gradebot_home

    prices = load_price_table(gradebot_home() / "prices.toml")
    counter = api_token_counter(max_retries=options.max_retries) if exact else None
    try:
        result = estimate_class(
            assignment,
            store,
            source,
            prices,
            options,
            concurrency=concurrency,
            counter=counter,
        )
    finally:
        if counter is not None:
            counter.close()
    if as_json:
        from gradebot_cli.cli.common import print_json

        print_json(estimate_json(result))
        return
    print_estimate(result, per_submission=per_submission)


def estimate_json(result: Any) -> dict[str, Any]:
    """Return the estimate as JSON-ready data, money in micro-dollars and USD."""
    from gradebot_cli.pricing import format_usd

    def cost_range(value: Any) -> dict[str, Any]:
        return {
            "expected_micro": value.expected,
            "low_micro": value.low,
            "high_micro": value.high,
            "expected_usd": format_usd(value.expected),
            "low_usd": format_usd(value.low),
            "high_usd": format_usd(value.high),
        }

    calibration = result.calibration
    return {
        "assignment": {"id": result.assignment_id, "title": result.title},
        "model": result.model,
        "method": result.method,
        "requests": result.requests,
        "unchanged": result.unchanged,
        "waiting_in_batch": result.waiting_in_batch,
        "interactive": cost_range(result.interactive),
        "batch": cost_range(result.batch),
        "expected_tokens": {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
            "cache_write_5m_tokens": result.usage.cache_write_5m_tokens,
            "cache_read_tokens": result.usage.cache_read_tokens,
        },
        "correction": {
            "ratio": round(calibration.ratio, 4),
            "low": round(calibration.low, 4),
            "high": round(calibration.high, 4),
            "basis": calibration.basis,
            "rows": calibration.rows,
            "description": calibration.describe(),
        },
        "output_tokens": {
            "expected": result.output.expected,
            "low": result.output.low,
            "high": result.output.high,
            "basis": result.output.basis,
            "rows": result.output.rows,
        },
        "caching": {
            "prefix_tokens": result.cache.prefix_tokens,
            "minimum_tokens": result.cache.minimum_tokens,
            "minimum_confirmed": result.cache.minimum_confirmed,
            "cacheable": result.cache.cacheable,
            "description": result.cache.describe(),
        },
        "reask_rate": round(result.reask_rate, 4),
        "submissions": [
            {
                "student": s.student,
                "file": s.file_name,
                "key": s.key,
                "status": s.status,
                "counted_tokens": s.counted_tokens,
                "input_tokens": s.input_tokens,
                "cost_micro": s.cost_micro,
                "reason": s.reason,
            }
            for s in result.submissions
        ],
    }


def print_estimate(result: Any, *, per_submission: bool) -> None:
    """Print the estimate as a table with the assumptions under it."""
    from rich.table import Table

    from gradebot_cli.cli.common import stdout_console
    from gradebot_cli.pricing import format_usd

    console = stdout_console()
    not_sent = sum(1 for s in result.submissions if s.status != "to_grade")
    sent = (
        "nothing sent" if result.method == "tiktoken" else "tokens counted by the API"
    )
    console.print(
        f"Estimate for {result.title!r} with {result.model} ({sent}): "
        f"{result.requests} to grade, {result.unchanged} unchanged, "
        f"{result.waiting_in_batch} waiting in a batch, {not_sent} that cannot be sent.",
        markup=False,
    )
    if result.requests == 0:
        if per_submission:
            _print_submissions(console, result)
        return
    table = Table()
    for column in ("Path", "Expected", "Low", "High", "Per submission"):
        table.add_column(column, justify="left" if column == "Path" else "right")
    for name, value in (
        ("Interactive (grade)", result.interactive),
        ("Message Batches (grade --batch)", result.batch),
    ):
        per = format_usd(value.expected // result.requests) if result.requests else "-"
        add_plain_row(
            table,
            name,
            format_usd(value.expected),
            format_usd(value.low),
            format_usd(value.high),
            per,
        )
    console.print(table)
    usage = result.usage
    reasks = f"{result.reask_rate:.0%} of first requests, as in the model's history"
    for name, text in (
        ("Input tokens", result.calibration.describe()),
        ("Output tokens", result.output.describe()),
        ("Prompt caching", result.cache.describe()),
        (
            "Expected tokens",
            f"{usage.input_tokens:,} input, "
            f"{usage.cache_write_5m_tokens:,} cache write, {usage.cache_read_tokens:,} "
            f"cache read, {usage.output_tokens:,} output",
        ),
        ("Re-asks", reasks),
    ):
        console.print(f"{name}: {text}.", markup=False, highlight=False)
    if per_submission:
        _print_submissions(console, result)


def _print_submissions(console: Any, result: Any) -> None:
    from rich.table import Table

    from gradebot_cli.pricing import format_usd

    table = Table()
    for column in (
        "Student",
        "File",
        "Status",
        "Counted tokens",
        "Input tokens",
        "Cost",
    ):
        table.add_column(column, overflow="fold")
    for s in sorted(result.submissions, key=lambda s: (s.student.casefold(), s.key)):
        sent = s.status == "to_grade"
        add_plain_row(
            table,
            s.student,
            s.file_name,
            s.status.replace("_", " "),
            f"{s.counted_tokens:,}" if sent else "",
            f"{s.input_tokens:,}" if sent else "",
            format_usd(s.cost_micro) if sent else s.reason,
        )
    console.print(table)
