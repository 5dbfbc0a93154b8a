"""``gradebot status``: assignments and submissions as the database records them."""

from __future__ import annotations

from pathlib import Path

import click

from gradebot_cli.cli.common import add_plain_row, json_option, print_json


@click.command()
@click.argument("target", type=click.Path(path_type=Path), required=False)
@click.option(
    "--assignment",
    "assignment_id",
    metavar="ID",
    help="Assignment id, instead of TARGET.",
)
@json_option
def status(target: Path | None, assignment_id: str | None, as_json: bool) -> None:
    """List graded assignments, or the submissions of one assignment with their status."""
    from gradebot_cli.status import assignment_summaries, submission_statuses
    from gradebot_cli.workspace import open_store, resolve_assignment_id

    store = open_store()
    try:
        columns: tuple[str, ...]
        if target is None and assignment_id is None:
            rows = assignment_summaries(store)
            columns = (
                "id",
                "title",
                "submissions",
                "graded",
                "needs_review",
                "problems",
                "cost",
            )
        else:
            ident = resolve_assignment_id(target, assignment_id)
            rows = submission_statuses(store, ident)
            columns = ("student", "file", "status", "total", "reason")
    finally:
        store.close()
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    from gradebot_cli.cli.common import stdout_console

    table = Table()
    for column in columns:
        table.add_column(column.replace("_", " ").capitalize(), overflow="fold")
    for row in rows:
        add_plain_row(table, *("" if row[c] is None else str(row[c]) for c in columns))
    stdout_console().print(table)
