"""``gradebot init``: save an assignment in a folder as a hand-editable file."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--title", required=True, help="Assignment title, shown in feedback.")
@click.option(
    "--rubric",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Rubric file to copy in. Default: a starter rubric to edit.",
)
@click.option(
    "--instructions",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Instructions file to copy in. Default: a placeholder to edit.",
)
@click.option("--subject", default="", help="Subject, e.g. 'English'.")
@click.option("--grade-level", default="", help="Grade level, e.g. '8th grade'.")
@click.option(
    "--model", default=None, help="Claude model id. Default: claude-sonnet-5-5."
)
@click.option(
    "--drive-folder",
    metavar="URL_OR_ID",
    help="Take submissions from this Google Drive folder instead of ./submissions.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing assignment.toml.")
def init(
    folder: Path,
    title: str,
    rubric: Path | None,
    instructions: Path | None,
    subject: str,
    grade_level: str,
    model: str | None,
    drive_folder: str | None,
    force: bool,
) -> None:
    """Create FOLDER/assignment.toml (and starter files) for `gradebot grade FOLDER`."""
    from gradebot_cli.assignment_init import InitRequest, create_assignment_folder

    created = create_assignment_folder(
        InitRequest(
            folder=folder,
            title=title,
            rubric=rubric,
            instructions=instructions,
            subject=subject,
            grade_level=grade_level,
            model=model,
            drive_folder=drive_folder,
            force=force,
        )
    )
    for path in created:
        click.echo(f"Created {path}", err=True)
    if not drive_folder:
        click.echo(
            f"Put one file or subfolder per student in {folder / 'submissions'}.",
            err=True,
        )
    click.echo(f"Edit them, then run: gradebot grade {folder}", err=True)
