"""``gradebot fetch`` and ``gradebot publish``: the Drive steps on their own."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from gradebot_cli.cli.common import add_plain_row, json_option, print_json, quiet_option


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    envvar="GRADEBOT_CONCURRENCY",
    help="Files read at once. Env: GRADEBOT_CONCURRENCY.",
)
@click.option(
    "--refetch",
    is_flag=True,
    help="Read every submission, also those already graded and unchanged.",
)
@json_option
@quiet_option
def fetch(
    target: Path, concurrency: int, refetch: bool, as_json: bool, quiet: bool
) -> None:
    """Read the submissions of assignment TARGET without grading them.

    Lists the assignment's Drive folder (or local folder), downloads every new or
    changed file into the local cache and shows what grading will see: the text
    size, or the problem that stops a file from being graded.
    """
    from gradebot_cli.domain import Status
    from gradebot_cli.errors import GoogleError
    from gradebot_cli.google.fetch import fetch_class
    from gradebot_cli.workspace import make_source, open_store, resolve_assignment

    assignment = resolve_assignment(target)
    store = open_store()
    source = None
    try:
        source = make_source(assignment)
        report = fetch_class(
            assignment, store, source, concurrency=concurrency, refetch=refetch
        )
    finally:
        store.close()
        close = getattr(source, "close", None)
        if close is not None:
            close()
    if as_json:
        print_json(_fetch_json(report))
    elif not quiet:
        _print_fetch(report)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(report.counts().items()))
    if not quiet:
        click.echo(f"{counts or 'no submissions'}.", err=True)
        for note in report.skipped:
            click.echo(f"Skipped {note}.", err=True)
    failed = [f for f in report.items if f.status == Status.API_ERROR]
    if failed:
        raise GoogleError(
            f"{len(failed)} files could not be read (first: {failed[0].detail}). Run "
            "the same command again to retry them."
        )


def _fetch_json(report: Any) -> dict[str, Any]:
    return {
        "counts": report.counts(),
        "skipped": report.skipped,
        "submissions": [
            {
                "student": f.item.student,
                "email": f.item.student_email,
                "file": f.item.file_name,
                "key": f.item.key,
                "type": f.item.media_type,
                "state": f.state,
                "status": f.status.value if f.status else None,
                "detail": f.detail,
            }
            for f in report.items
        ],
    }


def _print_fetch(report: Any) -> None:
    from rich.table import Table

    from gradebot_cli.cli.common import stdout_console

    table = Table()
    for column in ("Student", "E-mail", "File", "State", "Note"):
        table.add_column(column, overflow="fold")
    for fetched in report.items:
        state = fetched.state
        if fetched.status is not None and state != "unchanged":
            state = fetched.status.value.replace("_", " ")
        add_plain_row(
            table,
            fetched.item.student,
            fetched.item.student_email,
            fetched.item.file_name,
            state,
            fetched.detail,
        )
    stdout_console().print(table)


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--mode",
    type=click.Choice(["doc", "append"]),
    help="doc: a feedback Doc per student in [publish] folder; append: a section "
    "at the end of each student's own Doc. Default: [publish] mode.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would be written for each student; write nothing.",
)
@click.option(
    "--include-needs-review",
    is_flag=True,
    help="Also publish grades marked 'needs review'. Default: [publish] "
    "include_needs_review.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write feedback again even where it is unchanged since the last publish.",
)
@click.option(
    "--student",
    "students",
    multiple=True,
    metavar="NAME",
    help="Publish only this student (name, file, ID or e-mail); repeat for several.",
)
@json_option
@quiet_option
def publish(
    target: Path,
    mode: str | None,
    dry_run: bool,
    include_needs_review: bool,
    force: bool,
    students: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Publish the graded feedback of assignment TARGET to Google Drive.

    Publishing again updates the same Docs and sections, never creating a
    second one, and skips students whose feedback is unchanged.
    """
    from gradebot_cli.google.publish import publish_assignment
    from gradebot_cli.workspace import open_store, resolve_assignment

    assignment = resolve_assignment(target)
    from gradebot_cli.runlock import run_lock

    store = open_store()
    try:
        # A dry run writes nothing, so it may run beside a grading run.
        lock = contextlib.nullcontext() if dry_run else run_lock()
        with lock:
            report = publish_assignment(
                assignment,
                store,
                mode=mode,
                dry_run=dry_run,
                include_needs_review=True if include_needs_review else None,
                force=force,
                students=students,
            )
    finally:
        store.close()
    show_publish_report(report, as_json=as_json, quiet=quiet)


def show_publish_report(
    report: Any, *, as_json: bool, quiet: bool, table: bool = True
) -> None:
    """Print a publish report and raise GoogleError when some students failed.

    With ``table`` False only the one-line summary is printed (on stderr).
    """
    from gradebot_cli.errors import GoogleError

    if as_json:
        print_json(_publish_json(report))
    elif report.dry_run:
        _print_dry_run(report)
    elif table and not quiet:
        _print_publish(report)
    if not quiet:
        counts = ", ".join(f"{n} {r}" for r, n in sorted(report.counts().items()))
        click.echo(
            f"Publish ({report.mode}): {counts or 'nothing to publish'}.", err=True
        )
    failed = report.failed
    if failed:
        raise GoogleError(
            f"Feedback for {len(failed)} students could not be published (first: "
            f"{failed[0].student}: {failed[0].reason}). Run `gradebot publish` again "
            "to retry them."
        )


def _publish_json(report: Any) -> dict[str, Any]:
    return {
        "mode": report.mode,
        "dry_run": report.dry_run,
        "counts": report.counts(),
        "students": [
            {
                "student": o.student,
                "key": o.key,
                "result": o.result,
                "target": o.target,
                "shared_with": o.shared_with,
                "reason": o.reason,
                "preview": list(o.preview),
            }
            for o in report.outcomes
        ],
    }


def _print_dry_run(report: Any) -> None:
    for outcome in report.outcomes:
        click.echo(f"{outcome.student}: {outcome.result} ({outcome.mode})")
        if outcome.target:
            click.echo(f"  target: {outcome.target}")
        if outcome.reason:
            click.echo(f"  note: {outcome.reason}")
        for line in outcome.preview:
            click.echo(f"  | {line}")


def _print_publish(report: Any) -> None:
    from rich.table import Table

    from gradebot_cli.cli.common import stdout_console

    table = Table()
    for column in ("Student", "Result", "Target", "Note"):
        table.add_column(column, overflow="fold")
    for outcome in report.outcomes:
        note = outcome.reason
        if outcome.shared_with:
            note = f"shared with {outcome.shared_with}" + (f"; {note}" if note else "")
        add_plain_row(table, outcome.student, outcome.result, outcome.target, note)
    stdout_console().print(table)
