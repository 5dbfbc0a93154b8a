"""``gradebot grade``: grade every new or changed submission of an assignment."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from gradebot_cli.cli.common import (
    concurrency_option,
    instructions_option,
    json_option,
    limit_option,
    max_cost_option,
    max_retries_option,
    max_tokens_option,
    model_option,
    prompts_option,
    quiet_option,
    regrade_option,
    rpm_option,
    rubric_option,
    student_option,
    timeout_option,
    usd_to_micro,
)


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@rubric_option
@instructions_option
@model_option
@max_tokens_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Folder for feedback files. Default: the assignment's output folder.",
)
@prompts_option
@concurrency_option
@max_retries_option
@rpm_option
@timeout_option
@max_cost_option
@regrade_option
@limit_option
@student_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would be sent, send nothing. Needs no API key.",
)
@click.option(
    "--estimate",
    is_flag=True,
    help="Print the expected cost with a low-high range and send nothing (as "
    "`gradebot estimate`). Needs no API key.",
)
@click.option(
    "--exact",
    is_flag=True,
    help="With --estimate: count tokens with the API's free token-counting "
    "endpoint instead of tiktoken. Needs ANTHROPIC_API_KEY.",
)
@click.option(
    "--per-submission",
    is_flag=True,
    help="With --estimate: also list each submission's tokens and cost.",
)
@click.option(
    "--batch",
    is_flag=True,
    help="Send the submissions as a Message Batch at half price and return at "
    "once; `gradebot batch collect` or the next `gradebot grade` saves the results.",
)
@click.option(
    "--no-publish",
    is_flag=True,
    help="Do not publish feedback to Google Drive after grading, even when "
    "[publish] mode in assignment.toml asks for it.",
)
@json_option
@quiet_option
def grade(
    target: Path,
    rubric: Path | None,
    instructions: Path | None,
    model: str | None,
    max_tokens: int | None,
    output: Path | None,
    prompts: Path | None,
    concurrency: int,
    max_retries: int,
    rpm: int | None,
    timeout: float,
    max_cost: str | None,
    regrade: bool,
    limit: int | None,
    students: tuple[str, ...],
    dry_run: bool,
    estimate: bool,
    exact: bool,
    per_submission: bool,
    batch: bool,
    no_publish: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Grade the submissions in TARGET against the rubric with Claude.

    TARGET is an assignment folder (with assignment.toml) or a folder of
    submissions, one file or subfolder per student, given with --rubric and
    --instructions. Re-running grades only what is new or changed.
    """
    from gradebot_cli.grading.run import GradeOptions
    from gradebot_cli.workspace import make_source, open_store, resolve_assignment

    modes = [
        flag
        for flag, on in (
            ("--dry-run", dry_run),
            ("--estimate", estimate),
            ("--batch", batch),
        )
        if on
    ]
    if len(modes) > 1:
        raise click.UsageError(f"{' and '.join(modes)} cannot be combined; choose one.")
    if exact and not estimate:
        estimate = True

    assignment = resolve_assignment(target, rubric=rubric, instructions=instructions)
    assignment = assignment.with_overrides(
        model=model, max_tokens=max_tokens, output_dir=output, prompts_dir=prompts
    )
    options = GradeOptions(
        regrade=regrade,
        limit=limit,
        students=students,
        dry_run=dry_run,
        concurrency=concurrency,
        max_retries=max_retries,
        max_cost_micro=usd_to_micro(max_cost, "--max-cost"),
        rpm=rpm,
        timeout_seconds=timeout,
    )
    store = open_store()
    try:
        source = make_source(assignment)
        if dry_run:
            _dry_run(assignment, store, source, options, as_json)
            return
        if estimate or exact:
            from gradebot_cli.cli.estimate_cmd import show_estimate

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
            return
        from gradebot_cli.runlock import run_lock

        # Two runs over the same data folder would send (and pay for) the same
        # submissions twice, so a second one exits with status 4 instead.
        with run_lock():
            if batch:
                from gradebot_cli.cli.batch_cmd import grade_in_batch

                grade_in_batch(
                    assignment, store, source, options, as_json=as_json, quiet=quiet
                )
                return
            _grade(
                assignment,
                store,
                source,
                options,
                as_json=as_json,
                quiet=quiet,
                publish=not no_publish,
            )
    finally:
        store.close()


def _grade(
    assignment: Any,
    store: Any,
    source: Any,
    options: Any,
    *,
    as_json: bool,
    quiet: bool,
    publish: bool = False,
) -> None:
    from gradebot_cli.cli.common import stderr_console
    from gradebot_cli.cli.progress import RichProgress
    from gradebot_cli.cli.report import exit_for, print_outcomes, summary_line
    from gradebot_cli.grading.service import grade_class
    from gradebot_cli.pricing import load_price_table
    from gradebot_cli.settings import gradebot_home

    prices = load_price_table(gradebot_home() / "prices.toml")
    console = stderr_console(quiet)
    progress = None if quiet else RichProgress(console, assignment.title)
    stop = threading.Event()
    with _stop_on_signals(stop, console):
        report = grade_class(
            assignment, store, source, prices, options, progress=progress, stop=stop
        )
    if as_json:
        from gradebot_cli.cli.common import print_json
        from gradebot_cli.cli.report import report_json

        print_json(report_json(assignment, report))
    elif not quiet:
        print_outcomes(report)
    console.print(summary_line(store, report), markup=False, highlight=False)
    if publish and assignment.publish.mode != "none" and not stop.is_set():
        from gradebot_cli.cli.drive_cmd import show_publish_report
        from gradebot_cli.google.publish import publish_assignment

        published = publish_assignment(assignment, store, stop=stop)
        show_publish_report(published, as_json=False, quiet=quiet, table=False)
    exit_for(report)


def _dry_run(
    assignment: Any, store: Any, source: Any, options: Any, as_json: bool
) -> None:
    from gradebot_cli.cli.report import print_dry_run
    from gradebot_cli.grading.service import plan_dry_run

    plan = plan_dry_run(assignment, store, source, options)
    print_dry_run(plan, as_json=as_json)


class _stop_on_signals:  # noqa: N801 - used as a context manager
    """First SIGINT or SIGTERM stops new work; a second SIGINT aborts at once."""

    def __init__(self, stop: threading.Event, console: Any) -> None:
        self.stop = stop
        self.console = console
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop.set()
        self.console.print(
            "Stopping: no new requests start; finishing the ones in flight "
            "(press Ctrl-C again to abort them).",
            markup=False,
        )

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, self._handle)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
