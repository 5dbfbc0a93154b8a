"""``gradebot export``: write the gradebook as CSV or JSON."""

from __future__ import annotations

from pathlib import Path

import click

from gradebot_cli.errors import ConfigError


@click.command()
@click.argument("target", type=click.Path(path_type=Path), required=False)
@click.option(
    "--assignment",
    "assignment_id",
    metavar="ID",
    help="Assignment id (see `gradebot status`), instead of TARGET.",
)
@click.option(
    "--rubric",
    type=click.Path(path_type=Path),
    help="The rubric TARGET was graded with, for a folder without assignment.toml.",
)
@click.option(
    "--instructions",
    type=click.Path(path_type=Path),
    help="The instructions TARGET was graded with, for a folder without assignment.toml.",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of stdout.",
)
def export(
    target: Path | None,
    assignment_id: str | None,
    rubric: Path | None,
    instructions: Path | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Write the gradebook of an assignment: student, file, status, total, maximum,
    points per criterion and the needs-review reason."""
    from gradebot_cli.gradebook import build_gradebook, to_csv, to_json
    from gradebot_cli.workspace import open_store, resolve_assignment_id

    store = open_store()
    try:
        ident = resolve_assignment_id(
            target, assignment_id, rubric=rubric, instructions=instructions
        )
        book = build_gradebook(store, ident)
    finally:
        store.close()
    text = to_csv(book) if fmt == "csv" else to_json(book)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot write {output} ({exc.strerror or exc}). Check that its folder "
            "exists and is writable."
        ) from None
    click.echo(f"Wrote {len(book.rows)} rows to {output}", err=True)
