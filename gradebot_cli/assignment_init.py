"""Creating an assignment folder with a commented ``assignment.toml``."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from gradebot_cli.assignment import (
    ASSIGNMENT_FILE,
    DEFAULT_MODEL,
    DEFAULT_TONE,
    PLACEHOLDER_DESCRIPTOR,
    PLACEHOLDER_INSTRUCTIONS,
)
from gradebot_cli.errors import ConfigError
from gradebot_cli.rubric import load_rubric

STARTER_RUBRIC = """# A holistic rubric: one criterion with levels. Add [[criteria]] tables for an
# analytic rubric. Each level needs a label, its points and a descriptor.
title = "Holistic rubric"

[[criteria]]
id = "overall"
name = "Overall quality"

  [[criteria.levels]]
  label = "Beginning"
  points = 1
  descriptor = "{placeholder}"

  [[criteria.levels]]
  label = "Developing"
  points = 2
  descriptor = "{placeholder}"

  [[criteria.levels]]
  label = "Proficient"
  points = 3
  descriptor = "{placeholder}"
"""


@dataclass(frozen=True)
class InitRequest:
    folder: Path
    title: str
    rubric: Path | None = None
    instructions: Path | None = None
    subject: str = ""
    grade_level: str = ""
    model: str | None = None
    drive_folder: str | None = None
    force: bool = False


def _value(value: object) -> str:
    """Render one TOML value with tomli_w's quoting rules."""
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def new_assignment_id(title: str) -> str:
    """A readable, unique id: a slug of the title and random hex digits."""
    import secrets

    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "assignment"
    return f"{slug}-{secrets.token_hex(4)}"


def render_assignment_file(request: InitRequest, rubric_name: str) -> str:
    if request.drive_folder:
        source = f'[source]\ntype = "drive"\nfolder = {_value(request.drive_folder)}\nrecursive = false\n'
    else:
        source = '[source]\ntype = "local"\npath = "submissions"\n'
    return (
        "# The id keeps this assignment's grades and costs together if the folder\n"
        "# moves. Give every assignment its own: change it in a copied folder.\n"
        f"id = {_value(new_assignment_id(request.title))}\n"
        f"title = {_value(request.title)}\n"
        f"subject = {_value(request.subject)}\n"
        f"grade_level = {_value(request.grade_level)}\n"
        f"# How the feedback should sound.\ntone = {_value(DEFAULT_TONE)}\n"
        f"model = {_value(request.model or DEFAULT_MODEL)}\n"
        "# Output tokens per answer, thinking included.\nmax_tokens = 16000\n"
        'instructions_file = "instructions.txt"\n'
        f"rubric = {_value(rubric_name)}\n"
        "# A folder of your own prompt templates (system.md, submission.md, retry.md).\n"
        '# prompts = "prompts"\n\n'
        f"{source}\n"
        '[output]\nfolder = "feedback"\n\n'
        "[publish]\n"
        '# "none", "doc" (a new Google Doc per student in `folder`) or "append"\n'
        "# (a feedback section at the end of each student's own Google Doc).\n"
        'mode = "none"\n# folder = "https://drive.google.com/drive/folders/..."\n'
        "share_with_student = false\ninclude_needs_review = false\n"
    )


def create_assignment_folder(request: InitRequest) -> list[Path]:
    """Write the assignment folder; returns the files created."""
    folder = request.folder
    target = folder / ASSIGNMENT_FILE
    if target.exists() and not request.force:
        raise ConfigError(
            f"{target} already exists. Edit it, or pass --force to replace it."
        )
    if request.rubric is not None:
        load_rubric(request.rubric)
    folder.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    rubric_name = request.rubric.name if request.rubric else "rubric.toml"
    rubric_path = folder / rubric_name
    if request.rubric is not None:
        if request.rubric.resolve() != rubric_path.resolve():
            shutil.copyfile(request.rubric, rubric_path)
            created.append(rubric_path)
    elif not rubric_path.exists():
        rubric_path.write_text(
            STARTER_RUBRIC.replace("{placeholder}", PLACEHOLDER_DESCRIPTOR),
            encoding="utf-8",
        )
        created.append(rubric_path)
    instructions_path = folder / "instructions.txt"
    if request.instructions is not None:
        if request.instructions.resolve() != instructions_path.resolve():
            shutil.copyfile(request.instructions, instructions_path)
            created.append(instructions_path)
    elif not instructions_path.exists():
        instructions_path.write_text(PLACEHOLDER_INSTRUCTIONS + "\n", encoding="utf-8")
        created.append(instructions_path)
    if not request.drive_folder:
        (folder / "submissions").mkdir(exist_ok=True)
    target.write_text(render_assignment_file(request, rubric_name), encoding="utf-8")
    created.append(target)
    return created
