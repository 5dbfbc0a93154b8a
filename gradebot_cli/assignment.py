"""Assignments: what to grade, against which rubric, with which settings.

An assignment folder contains ``assignment.toml`` (hand-editable), usually beside the
rubric and instructions it names. Paths in the file are relative to the folder.
``gradebot grade FOLDER --rubric R --instructions I`` builds the same object
without a file.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gradebot_cli.errors import AssignmentError, ConfigError
from gradebot_cli.rubric import Rubric, load_rubric

ASSIGNMENT_FILE = "assignment.toml"
DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_TONE = "warm, specific and encouraging; written to the student"
DEFAULT_MAX_TOKENS = 16000
PUBLISH_MODES = ("doc", "append")
# Text that `gradebot init` writes for the teacher to replace; grading stops while
# it is still there, so placeholder instructions are never sent to Claude.
PLACEHOLDER_INSTRUCTIONS = "Paste the instructions the students were given here."
PLACEHOLDER_DESCRIPTOR = "Describe work at this level."


@dataclass(frozen=True)
class SourceSpec:
    """The submissions source: ``local`` (a folder) or ``drive`` (a folder id)."""

    kind: str = "local"
    path: Path | None = None
    drive_folder: str = ""
    recursive: bool = False


@dataclass(frozen=True)
class PublishSpec:
    """The feedback destination besides local files: ``none`` or a Drive mode."""

    mode: str = "none"
    drive_folder: str = ""
    share_with_student: bool = False
    include_needs_review: bool = False


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    instructions: str
    rubric: Rubric
    source: SourceSpec
    output_dir: Path
    subject: str = ""
    grade_level: str = ""
    tone: str = DEFAULT_TONE
    model: str = DEFAULT_MODEL
    max_tokens: int = DEFAULT_MAX_TOKENS
    prompts_dir: Path | None = None
    publish: PublishSpec = field(default_factory=PublishSpec)
    folder: Path | None = None
    excluded_paths: tuple[Path, ...] = ()

    def with_overrides(self, **changes: Any) -> Assignment:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def assignment_id_for(location: str, title: str) -> str:
    """Build a stable id from a readable slug and a hash of the location."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "assignment"
    digest = hashlib.sha256(location.encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def load_assignment(folder: Path) -> Assignment:
    """Read ``assignment.toml`` from an assignment folder."""
    folder = folder.resolve()
    path = folder / ASSIGNMENT_FILE
    data = _read_toml(path)
    where = str(path)
    _reject_unknown_keys(data, where)
    title = _text(data, "title", where, required=True)
    rubric_path = folder / _text(data, "rubric", where, required=True)
    instructions = _instructions(data, folder, where)
    source = _source(data.get("source", {}), folder, where)
    output = data.get("output", {})
    _require_table(output, "output", where)
    output_dir = folder / _text(
        output, "folder", f"{where} [output]", default="feedback"
    )
    prompts = _text(data, "prompts", where)
    excluded = [path, rubric_path]
    if "instructions_file" in data:
        excluded.append(folder / str(data["instructions_file"]))
    rubric = load_rubric(rubric_path)
    _reject_placeholders(instructions, rubric, folder, rubric_path)
    return Assignment(
        id=_assignment_id(data, where) or assignment_id_for(str(folder), title),
        title=title,
        instructions=instructions,
        rubric=rubric,
        source=source,
        output_dir=output_dir,
        subject=_text(data, "subject", where),
        grade_level=_text(data, "grade_level", where),
        tone=_text(data, "tone", where, default=DEFAULT_TONE),
        model=_text(data, "model", where, default=DEFAULT_MODEL),
        max_tokens=_int(data, "max_tokens", where, DEFAULT_MAX_TOKENS),
        prompts_dir=folder / prompts if prompts else None,
        publish=_publish(data.get("publish", {}), where),
        folder=folder,
        excluded_paths=tuple(p.resolve() for p in excluded),
    )


KNOWN_KEYS: dict[str, frozenset[str]] = {
    "": frozenset(
        {
            "id",
            "title",
            "subject",
            "grade_level",
            "tone",
            "model",
            "max_tokens",
            "instructions",
            "instructions_file",
            "rubric",
            "prompts",
            "source",
            "output",
            "publish",
        }
    ),
    "source": frozenset({"type", "path", "folder", "recursive"}),
    "output": frozenset({"folder"}),
    "publish": frozenset(
        {"mode", "folder", "share_with_student", "include_needs_review"}
    ),
}


def _reject_unknown_keys(data: dict[str, Any], where: str) -> None:
    """Name a misspelt key instead of silently using a default for it."""
    import difflib

    tables = [("", data)] + [
        (name, data[name])
        for name in ("source", "output", "publish")
        if isinstance(data.get(name), dict)
    ]
    for table, values in tables:
        known = KNOWN_KEYS[table]
        for key in values:
            if key in known:
                continue
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            section = f" [{table}]" if table else ""
            raise AssignmentError(
                f"{where}{section}: unknown field {key!r}.{hint} Known fields: "
                + ", ".join(sorted(known))
                + "."
            )


def _reject_placeholders(
    instructions: str, rubric: Rubric, folder: Path, rubric_path: Path
) -> None:
    if instructions.strip() == PLACEHOLDER_INSTRUCTIONS:
        raise AssignmentError(
            f"{folder}: the instructions are still the placeholder from `gradebot "
            "init`. Paste the instructions the students were given."
        )
    for criterion in rubric.criteria:
        for level in criterion.levels:
            if level.descriptor == PLACEHOLDER_DESCRIPTOR:
                raise AssignmentError(
                    f"{rubric_path}: criterion {criterion.id!r}, level {level.label!r} "
                    "still has the starter descriptor. Describe work at that level."
                )


ASSIGNMENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")


def _assignment_id(data: dict[str, Any], where: str) -> str:
    """Return the file's ``id``, which keeps an assignment's history when its folder
    moves; without it the id comes from the folder's path."""
    value = data.get("id")
    if value is None:
        return ""
    if not isinstance(value, str) or not ASSIGNMENT_ID.match(value):
        raise AssignmentError(
            f"{where}: field 'id' must be 3-64 lowercase letters, digits and '-', "
            f"got {value!r}."
        )
    return value


def adhoc_assignment(
    submissions: Path,
    rubric_path: Path,
    instructions_path: Path,
    title: str | None = None,
) -> Assignment:
    """Build an assignment from a submissions folder, a rubric and instructions."""
    submissions = submissions.resolve()
    if not submissions.is_dir():
        raise ConfigError(f"{submissions} is not a folder of submissions.")
    instructions = _read_text(instructions_path, "instructions")
    rubric = load_rubric(rubric_path)
    name = title or submissions.name
    return Assignment(
        id=assignment_id_for(str(submissions), name),
        title=name,
        instructions=instructions,
        rubric=rubric,
        source=SourceSpec(kind="local", path=submissions),
        output_dir=submissions.parent / f"{submissions.name}-feedback",
        folder=None,
        excluded_paths=(rubric_path.resolve(), instructions_path.resolve()),
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AssignmentError(
            f"{path} not found. Create it with `gradebot init {path.parent}`, or pass "
            "--rubric and --instructions to grade a plain folder."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AssignmentError(
            f"{path}: cannot read it as UTF-8 text ({exc})."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{path}: invalid TOML: {exc}.") from None


def _read_text(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig").strip()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read the {what} as UTF-8 text ({exc})."
        ) from None
    if not text:
        raise ConfigError(f"{path}: the {what} file is empty.")
    return text


def _instructions(data: dict[str, Any], folder: Path, where: str) -> str:
    inline = data.get("instructions")
    file_name = data.get("instructions_file")
    if inline and file_name:
        raise AssignmentError(
            f"{where}: set 'instructions' or 'instructions_file', not both."
        )
    if file_name:
        if not isinstance(file_name, str):
            raise AssignmentError(f"{where}: field 'instructions_file' must be a path.")
        return _read_text(folder / file_name, "instructions")
    if isinstance(inline, str) and inline.strip():
        return inline.strip()
    raise AssignmentError(
        f"{where}: field 'instructions' (text) or 'instructions_file' (a path) is required."
    )


def _source(raw: Any, folder: Path, where: str) -> SourceSpec:
    _require_table(raw, "source", where)
    where = f"{where} [source]"
    kind = _text(raw, "type", where, default="local")
    if kind == "local":
        path = folder / _text(raw, "path", where, default="submissions")
        return SourceSpec(kind="local", path=path)
    if kind == "drive":
        folder_ref = _text(raw, "folder", where, required=True)
        recursive = raw.get("recursive", False)
        if not isinstance(recursive, bool):
            raise AssignmentError(f"{where}: field 'recursive' must be true or false.")
        return SourceSpec(kind="drive", drive_folder=folder_ref, recursive=recursive)
    raise AssignmentError(
        f"{where}: field 'type' must be 'local' or 'drive', got {kind!r}."
    )


def _publish(raw: Any, where: str) -> PublishSpec:
    _require_table(raw, "publish", where)
    where = f"{where} [publish]"
    mode = _text(raw, "mode", where, default="none")
    if mode not in ("none", *PUBLISH_MODES):
        raise AssignmentError(
            f"{where}: field 'mode' must be 'none', 'doc' (a new Google Doc per student) "
            f"or 'append' (a section at the end of the student's Doc), got {mode!r}."
        )
    flags = {}
    for key in ("share_with_student", "include_needs_review"):
        value = raw.get(key, False)
        if not isinstance(value, bool):
            raise AssignmentError(f"{where}: field {key!r} must be true or false.")
        flags[key] = value
    folder = _text(raw, "folder", where)
    if mode == "doc" and not folder:
        raise AssignmentError(
            f"{where}: mode 'doc' needs 'folder', the Drive folder for feedback."
        )
    return PublishSpec(mode=mode, drive_folder=folder, **flags)


def _require_table(value: Any, name: str, where: str) -> None:
    if not isinstance(value, dict):
        raise AssignmentError(f"{where}: [{name}] must be a table.")


def _text(
    data: dict[str, Any],
    key: str,
    where: str,
    *,
    required: bool = False,
    default: str = "",
) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise AssignmentError(f"{where}: field {key!r} is required.")
        return default
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise AssignmentError(f"{where}: field {key!r} must be text, got {value!r}.")
    text = str(value).strip()
    if required and not text:
        raise AssignmentError(f"{where}: field {key!r} must not be empty.")
    return text or default


def _int(data: dict[str, Any], key: str, where: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AssignmentError(
            f"{where}: field {key!r} must be a positive whole number."
        )
    return value
