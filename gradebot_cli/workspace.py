"""Resolving what a command works on: the assignment, its source and the store."""

from __future__ import annotations

from pathlib import Path

from gradebot_cli.assignment import (
    ASSIGNMENT_FILE,
    Assignment,
    adhoc_assignment,
    load_assignment,
)
from gradebot_cli.errors import ConfigError
from gradebot_cli.settings import database_path
from gradebot_cli.sources import Source
from gradebot_cli.storage import Store


def resolve_assignment(
    target: Path, *, rubric: Path | None = None, instructions: Path | None = None
) -> Assignment:
    """Load ``target`` as an assignment folder, or as a plain folder of submissions
    when ``rubric`` and ``instructions`` are given."""
    if not target.exists():
        raise ConfigError(
            f"{target} does not exist. Give an assignment folder or a folder of submissions."
        )
    if (target / ASSIGNMENT_FILE).is_file():
        if rubric is not None or instructions is not None:
            raise ConfigError(
                f"{target} is an assignment folder: its rubric and instructions come "
                f"from {ASSIGNMENT_FILE}. Drop --rubric and --instructions, or give "
                "the folder of submissions instead."
            )
        return load_assignment(target)
    if rubric is None or instructions is None:
        missing = " and ".join(
            name
            for name, value in (("--rubric", rubric), ("--instructions", instructions))
            if value is None
        )
        raise ConfigError(
            f"{target} has no {ASSIGNMENT_FILE}, so {missing} must be given "
            f"(or run `gradebot init {target}` to save the assignment)."
        )
    return adhoc_assignment(target, rubric, instructions)


def make_source(assignment: Assignment) -> Source:
    """Create the assignment's submission source."""
    if assignment.source.kind == "drive":
        from gradebot_cli.google.source import DriveSource

        return DriveSource.for_assignment(assignment)
    from gradebot_cli.sources.local import LocalFolderSource

    assert assignment.source.path is not None
    if not assignment.source.path.is_dir():
        raise ConfigError(
            f"Submissions folder {assignment.source.path} does not exist. Fix [source] "
            "path in the assignment file, or create the folder."
        )
    # The feedback folder may sit inside the submissions folder; its files are
    # gradebot's output, never a student's work.
    exclude = (*assignment.excluded_paths, assignment.output_dir)
    return LocalFolderSource(assignment.source.path, exclude=exclude)


def open_store(path: Path | None = None) -> Store:
    """Open the database in GRADEBOT_HOME (or at ``path``)."""
    return Store(path or database_path())


def resolve_assignment_id(
    target: Path | None,
    assignment_id: str | None,
    *,
    rubric: Path | None = None,
    instructions: Path | None = None,
) -> str:
    """Return the id of the assignment named by ``--assignment`` or by a folder."""
    if assignment_id:
        return assignment_id
    if target is None:
        raise ConfigError("Give an assignment folder, or --assignment ID.")
    if not target.exists():
        raise ConfigError(
            f"{target} does not exist. Give an assignment folder, a graded folder of "
            "submissions, or --assignment ID (see `gradebot status`)."
        )
    if (target / ASSIGNMENT_FILE).is_file() or (rubric and instructions):
        return resolve_assignment(target, rubric=rubric, instructions=instructions).id
    from gradebot_cli.assignment import assignment_id_for

    # A plain folder graded with --rubric and --instructions gets its id from its
    # path and name, so the gradebook can be found without them.
    resolved = target.resolve()
    return assignment_id_for(str(resolved), resolved.name)
