"""Writing feedback files (Markdown and HTML) into the assignment's output folder.

Files are named after the student. When two students' names give the same file
name, the later one gets a short hash of its submission key. Writes are atomic
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


# File systems limit a name to 255 bytes; the stem leaves room for a hash suffix
# and the extension.
MAX_STEM_BYTES = 200


def file_stem(student: str) -> str:
    """Return a file-system-safe stem that keeps letters of any script."""
    normalized = unicodedata.normalize("NFC", student).strip()
    stem = _UNSAFE.sub("-", normalized).strip("-.")
    while len(stem.encode("utf-8")) > MAX_STEM_BYTES:
        stem = stem[:-1]
    return stem or "student"


class FeedbackNames:
    """Unique file stems of an assignment's submissions, assigned in order of arrival.

    The first submission with a name keeps the plain file name and later ones with
    the same name get a suffix, so no file is renamed (and left behind) when a
    namesake joins the class. New submissions are named incrementally, which keeps
    naming out of a large class's hot path.
    """

    def __init__(self, store: Store, assignment_id: str) -> None:
        self._store = store
        self._assignment_id = assignment_id
        self._stems: dict[int, str] = {}
        self._taken: set[str] = set()
        self._last_id = 0

    def stem(self, submission_id: int) -> str:
        if submission_id not in self._stems:
            self._name_new_submissions()
        return self._stems[submission_id]

    def _name_new_submissions(self) -> None:
        rows = self._store.query(
            "select id, key, student from submissions "
            "where assignment_id = ? and id > ? order by id",
            [self._assignment_id, self._last_id],
        )
        for row in rows:
            stem = file_stem(row["student"] or row["key"])
            if stem.casefold() in self._taken:
                stem += "-" + hashlib.sha256(row["key"].encode()).hexdigest()[:6]
            self._taken.add(stem.casefold())
            self._stems[int(row["id"])] = stem
            self._last_id = int(row["id"])


def check_output_folder(folder: Path, submissions: Path | None = None) -> None:
    """Fail before anything is sent when feedback could not be written there."""
    if submissions is not None and folder.resolve() == submissions.resolve():
        raise ConfigError(
            f"The feedback folder {folder} is the submissions folder, so feedback "
            "would be graded as students' work. Choose another folder with --output."
        )
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"The feedback folder {folder} is a file. Move it, or choose another "
            "folder with --output."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(
            f"Cannot write to the feedback folder {folder} ({exc.strerror or exc}). "
            "Fix its permissions, or choose another folder with --output."
        ) from None


def write_feedback_files(
    assignment: Assignment,
    store: Store,
    submission_id: int | None,
    names: FeedbackNames | None = None,
) -> list[Path]:
    """Write the feedback of one submission, or of every graded one when None.

    A run passes the same ``names`` to every call, so file names are worked out
    once per submission.
    """
    names = names or FeedbackNames(store, assignment.id)
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
        written.extend(_write_one(assignment, store, sid, names.stem(sid)))
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
    written = []
    for path, text in outputs.items():
        try:
            changed = _write_if_changed(path, text)
        except OSError as exc:
            raise ConfigError(
                f"Cannot write the feedback file {path} ({exc.strerror or exc}). The "
                "grades are saved; fix the folder (or choose another with --output) "
                "and run again to write the files."
            ) from exc
        if changed:
            written.append(path)
    return written


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
