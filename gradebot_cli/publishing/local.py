"""Writing feedback files (Markdown and HTML) into the assignment's output folder.

Files are named after the student; two students whose names give the same file
name are told apart by a short hash of their submission key. Writes are atomic
(a temporary file renamed into place) and skipped when the content is unchanged.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from gradebot_cli.assignment import Assignment
from gradebot_cli.errors import ConfigError
from gradebot_cli.publishing.feedback import feedback_blocks, to_html, to_markdown
from gradebot_cli.storage import Store
from gradebot_cli.storage.store import grade_detail

_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)


def file_stem(student: str) -> str:
    """A file-system-safe stem that keeps letters of any script."""
    normalized = unicodedata.normalize("NFC", student).strip()
    stem = _UNSAFE.sub("-", normalized).strip("-.")
    return stem[:80] or "student"


def feedback_stems(store: Store, assignment_id: str) -> dict[int, str]:
    """Map submission ids to unique file stems."""
    rows = store.query(
        "select id, key, student from submissions where assignment_id = ? order by key",
        [assignment_id],
    )
    stems: dict[int, str] = {}
    counts: dict[str, int] = {}
    for row in rows:
        stem = file_stem(row["student"] or row["key"]).casefold()
        counts[stem] = counts.get(stem, 0) + 1
    for row in rows:
        stem = file_stem(row["student"] or row["key"])
        if counts[stem.casefold()] > 1:
            stem += "-" + hashlib.sha256(row["key"].encode()).hexdigest()[:6]
        stems[int(row["id"])] = stem
    return stems


def write_feedback_files(
    assignment: Assignment, store: Store, submission_id: int | None
) -> list[Path]:
    """Write the feedback of one submission, or of every graded one when None."""
    stems = feedback_stems(store, assignment.id)
    if submission_id is None:
        rows = store.query(
            "select id from submissions where assignment_id = ? and grade_id is not null "
            "and status in ('graded', 'needs_review')",
            [assignment.id],
        )
        ids = [int(row["id"]) for row in rows]
    else:
        ids = [submission_id]
    written: list[Path] = []
    for sid in ids:
        written.extend(_write_one(assignment, store, sid, stems[sid]))
    return written


def _write_one(
    assignment: Assignment, store: Store, submission_id: int, stem: str
) -> list[Path]:
    detail = grade_detail(store, submission_id)
    if detail is None:
        return []
    blocks = feedback_blocks(assignment.title, assignment.rubric, detail)
    folder = assignment.output_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the feedback folder {folder} ({exc.strerror}). Choose "
            "another with --output."
        ) from exc
    page_title = f"{assignment.title}: {detail.submission.student}"
    outputs = {
        folder / f"{stem}.md": to_markdown(blocks),
        folder / f"{stem}.html": to_html(blocks, page_title=page_title),
    }
    return [path for path, text in outputs.items() if _write_if_changed(path, text)]


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    handle, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=".tmp-", suffix=path.suffix
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return True
