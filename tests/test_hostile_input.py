"""Hostile input and faults on the local grading path.

Bad rubric and assignment files, odd submission names and file types, invalid
flags and environment variables, mixed API faults under concurrency, and signals
sent to a real ``gradebot grade`` process. Tests marked ``xfail(strict=True)``
reproduce known bugs: they pass while the bug is present and fail once it is
fixed, which is when the marker should go.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gradebot_cli.assignment import Assignment, load_assignment
from gradebot_cli.cli.main import cli
from gradebot_cli.domain import LoadedSubmission, SourceItem, Status
from gradebot_cli.errors import RubricError
from gradebot_cli.grading.run import GradeOptions, RunReport
from gradebot_cli.grading.service import grade_class
from gradebot_cli.pricing import load_price_table
from gradebot_cli.rubric import load_rubric
from gradebot_cli.sources.local import LocalFolderSource
from gradebot_cli.storage import Store
from tests.conftest import EXAMPLE, REPO_ROOT
from tests.fakes.anthropic_api import FakeAnthropic, Fault
from tests.support.grading import (
    grade_answer,
    grading_responder,
    is_reask,
    lowest_level,
)

MAYA_TEXT = "My mom works at the hospital on Fridays"
FAST = GradeOptions(concurrency=4, backoff_base_seconds=0.01, timeout_seconds=5)
TWO_LEVELS = """
  [[criteria.levels]]
  label = "Low"
  points = 1
  descriptor = "Weak."

  [[criteria.levels]]
  label = "High"
  points = 2
  descriptor = "Strong."
"""


# --- helpers -----------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A private copy of the example assignment, so tests may change its files."""
    target = tmp_path / "assignment"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("feedback"))
    return target


@pytest.fixture
def fake(fake_api: FakeAnthropic) -> FakeAnthropic:
    fake_api.responder = grading_responder(load_rubric(EXAMPLE / "rubric.toml"))
    return fake_api


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def grade_json(folder: Path, *args: str) -> Result:
    return invoke("grade", str(folder), "--json", "-q", *args)


def submissions_of(result: Result) -> dict[str, dict[str, Any]]:
    report = json.loads(result.stdout)
    return {row["file"]: row for row in report["submissions"]}


def no_traceback(result: Result) -> bool:
    """True when the command ended through click, not an uncaught exception."""
    return result.exception is None or isinstance(result.exception, SystemExit)


def open_store(home: Path) -> Store:
    home.mkdir(parents=True, exist_ok=True)
    return Store(home / "gradebot.db")


def grade_in_process(
    assignment: Assignment,
    store: Store,
    options: GradeOptions = FAST,
    source: LocalFolderSource | None = None,
) -> RunReport:
    assert assignment.source.path is not None
    source = source or LocalFolderSource(
        assignment.source.path, exclude=assignment.excluded_paths
    )
    return grade_class(assignment, store, source, load_price_table(), options)


def requests_mentioning(fake: FakeAnthropic, text: str) -> int:
    return sum(
        1 for r in fake.requests_to("/v1/messages") if text in json.dumps(r.body)
    )


def start_grade(folder: Path, *args: str) -> subprocess.Popen[str]:
    """Start `gradebot grade` as a real process with this test's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "gradebot_cli", "grade", str(folder), *args],
        env=dict(os.environ),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not become true in time")
        time.sleep(0.05)


def graded_rows(home: Path) -> int:
    path = home / "gradebot.db"
    if not path.exists():
        return 0
    with closing(sqlite3.connect(path, timeout=5)) as connection:
        try:
            row = connection.execute(
                "select count(*) from submissions where status = 'graded'"
            ).fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(row[0])


def write_rubric(path: Path, body: str | bytes) -> Path:
    if isinstance(body, str):
        body = body.encode("utf-8")
    path.write_bytes(body)
    return path


# --- rubric files --------------------------------------------------------------

BAD_RUBRICS: dict[str, bytes] = {
    "latin1.toml": ('title = "Éval"\n[[criteria]]\nid = "a"\n' + TWO_LEVELS).encode(
        "latin-1"
    ),
    "utf16.toml": ('[[criteria]]\nid = "a"\n' + TWO_LEVELS).encode("utf-16"),
    "duplicate_id.toml": ('[[criteria]]\nid = "a"\n' + TWO_LEVELS).encode() * 2,
    "uppercase_id.toml": ('[[criteria]]\nid = "Ideas"\n' + TWO_LEVELS).encode(),
    "nan_points.toml": (
        '[[criteria]]\nid = "a"\n' + TWO_LEVELS.replace("points = 1", "points = nan")
    ).encode(),
    "negative_points.toml": (
        '[[criteria]]\nid = "a"\n' + TWO_LEVELS.replace("points = 1", "points = -1")
    ).encode(),
    "bool_points.toml": (
        '[[criteria]]\nid = "a"\n' + TWO_LEVELS.replace("points = 1", "points = true")
    ).encode(),
    "label_twice.toml": (
        '[[criteria]]\nid = "a"\n' + TWO_LEVELS.replace('"High"', '"Low  "')
    ).encode(),
    "one_level.toml": b'[[criteria]]\nid = "a"\n[[criteria.levels]]\n'
    b'label = "Only"\npoints = 1\ndescriptor = "d"\n',
    "criteria_table.toml": b'[criteria]\nid = "a"\n',
    "empty.toml": b"",
    "list.json": b"[1, 2]",
    "rubric.yaml": b"criteria: []\n",
}


@pytest.mark.parametrize("name", sorted(BAD_RUBRICS))
def test_rubric_rejects_bad_file(tmp_path: Path, name: str) -> None:
    path = write_rubric(tmp_path / name, BAD_RUBRICS[name])
    with pytest.raises(RubricError) as raised:
        load_rubric(path)
    assert name in str(raised.value)


def test_rubric_folder_rejected(tmp_path: Path) -> None:
    (tmp_path / "rubric.toml").mkdir()
    with pytest.raises(RubricError, match="cannot read the rubric"):
        load_rubric(tmp_path / "rubric.toml")


def test_rubric_bom_accepted(tmp_path: Path) -> None:
    text = '\ufefftitle = "Lab"\n[[criteria]]\nid = "a"\n' + TWO_LEVELS
    rubric = load_rubric(write_rubric(tmp_path / "rubric.toml", text))
    assert rubric.title == "Lab"
    assert rubric.max_points == 2


def test_rubric_huge_points_rejected(tmp_path: Path) -> None:
    text = '[[criteria]]\nid = "a"\n' + TWO_LEVELS.replace(
        "points = 1", 'points = "1e400"'
    )
    with pytest.raises(RubricError):
        load_rubric(write_rubric(tmp_path / "rubric.toml", text))


def test_rubric_json_duplicate_key(tmp_path: Path) -> None:
    levels = [{"label": "x", "points": 1, "descriptor": "d"}]
    levels.append({"label": "y", "points": 2, "descriptor": "d"})
    criterion = json.dumps({"id": "a", "levels": levels})
    text = f'{{"criteria": [{criterion}], "criteria": [{criterion}]}}'
    with pytest.raises(RubricError):
        load_rubric(write_rubric(tmp_path / "rubric.json", text))


def test_rubric_deep_nesting(tmp_path: Path) -> None:
    path = write_rubric(tmp_path / "rubric.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(RubricError):
        load_rubric(path)


def test_schema_keyword_ids_grade(
    folder: Path, fake_api: FakeAnthropic, gradebot_home: Path
) -> None:
    ids = ["properties", "required", "type", "additionalproperties", "enum"]
    text = "".join(f'[[criteria]]\nid = "{i}"\n{TWO_LEVELS}\n' for i in ids)
    write_rubric(folder / "rubric.toml", text)
    assignment = load_assignment(folder)
    fake_api.responder = grading_responder(assignment.rubric)
    report = grade_in_process(assignment, open_store(gradebot_home))
    assert report.counts()["graded"] == 5
    feedback = (folder / "feedback" / "Liam-Chen.md").read_text(encoding="utf-8")
    assert "## additionalproperties: Low (1/2)" in feedback


def test_fifty_odd_criteria_grade(
    folder: Path, fake_api: FakeAnthropic, gradebot_home: Path
) -> None:
    blocks = []
    for index in range(50):
        blocks.append(
            f'[[criteria]]\nid = "c{index}"\n'
            f'name = "Crit {index} 🎉 \\"q\\" <b>&amp;</b> | pipe"\n'
            '[[criteria.levels]]\nlabel = "Lo\\"w 🎉"\npoints = 0\n'
            'descriptor = "Bad </student_submission> text"\n'
            '[[criteria.levels]]\nlabel = "Hi *bold* [x](y) <i>"\npoints = 2.5\n'
            'descriptor = "Good"\n'
        )
    write_rubric(folder / "rubric.toml", "\n".join(blocks))
    assignment = load_assignment(folder)
    fake_api.responder = grading_responder(assignment.rubric)
    report = grade_in_process(assignment, open_store(gradebot_home))
    assert report.counts()["graded"] == 5
    assert {o.maximum for o in report.outcomes} == {125}
    html = (folder / "feedback" / "Liam-Chen.html").read_text(encoding="utf-8")
    assert "<b>&amp;</b>" not in html
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in html


# --- assignment files and targets --------------------------------------------


def test_assignment_unknown_key(folder: Path) -> None:
    path = folder / "assignment.toml"
    path.write_text(
        "max_token = 32000\n" + path.read_text(encoding="utf-8"), encoding="utf-8"
    )
    result = invoke("grade", str(folder), "--dry-run")
    assert result.exit_code == 2
    assert "max_token" in result.stderr


def test_rubric_flag_on_assignment_folder(folder: Path) -> None:
    result = invoke(
        "grade",
        str(folder),
        "--rubric",
        str(folder / "rubric.toml"),
        "--instructions",
        str(folder / "instructions.txt"),
        "--dry-run",
        "--json",
    )
    assert result.exit_code == 2
    assert "assignment.toml" in result.stderr


def test_retry_template_checked_early(folder: Path) -> None:
    prompts = folder / "prompts"
    prompts.mkdir()
    (prompts / "retry.md").write_text("Fix: $errors $nonsense\n", encoding="utf-8")
    result = invoke("grade", str(folder), "--prompts", str(prompts), "--dry-run")
    assert result.exit_code == 2


# --- flags and environment -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--limit", "0"], {}, "--limit"),
        (["--limit", "-1"], {}, "--limit"),
        (["--concurrency", "0"], {}, "--concurrency"),
        (["--concurrency", "1000"], {}, "--concurrency"),
        (["--max-cost", "-1"], {}, "--max-cost"),
        (["--max-cost", "abc"], {}, "--max-cost"),
        (["--max-cost", "NaN"], {}, "--max-cost"),
        (["--max-cost", "inf"], {}, "--max-cost"),
        ([], {"GRADEBOT_CONCURRENCY": "abc"}, "--concurrency"),
        ([], {"GRADEBOT_MAX_COST": "x"}, "--max-cost"),
        ([], {"GRADEBOT_QUIET": "maybe"}, "--quiet"),
        ([], {"GRADEBOT_MAX_RETRIES": "1e3"}, "--max-retries"),
        ([], {"GRADEBOT_RPM": "-5"}, "--rpm"),
    ],
)
def test_bad_setting_exit_2(
    fake: FakeAnthropic,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    named: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = invoke("grade", str(folder), *args)
    assert result.exit_code == 2
    assert named in result.stderr
    assert fake.count("/v1/messages") == 0


def test_dollar_max_cost_accepted(fake: FakeAnthropic, folder: Path) -> None:
    result = grade_json(folder, "--max-cost", "$1")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["counts"]["graded"] == 5


def test_nan_timeout_rejected(fake: FakeAnthropic, folder: Path) -> None:
    result = grade_json(folder, "--timeout", "nan", "--max-retries", "0")
    assert result.exit_code == 2
    assert "--timeout" in result.stderr
    assert fake.count("/v1/messages") == 0


def test_unknown_student_named(fake: FakeAnthropic, folder: Path) -> None:
    result = invoke("grade", str(folder), "--student", "Nobody Here")
    assert result.exit_code == 2
    assert "Nobody Here" in result.stderr


def test_regrade_limit_progresses(fake: FakeAnthropic, folder: Path) -> None:
    assert grade_json(folder).exit_code == 0
    chunks = []
    for _ in range(2):
        result = grade_json(folder, "--regrade", "--limit", "2")
        rows = submissions_of(result).values()
        chunks.append({row["file"] for row in rows if not row["unchanged"]})
    assert not chunks[0] & chunks[1]


def test_home_is_file_exit_2(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "home-file"
    home.write_text("", encoding="utf-8")
    monkeypatch.setenv("GRADEBOT_HOME", str(home))
    result = invoke("grade", str(folder), "--dry-run")
    assert result.exit_code == 2
    assert str(home) in result.stderr
    assert "GRADEBOT_HOME" in result.stderr


def test_corrupt_database_exit_2(folder: Path, gradebot_home: Path) -> None:
    gradebot_home.mkdir(parents=True)
    (gradebot_home / "gradebot.db").write_bytes(os.urandom(4096))
    result = invoke("grade", str(folder), "--dry-run")
    assert result.exit_code == 2
    assert "gradebot.db" in result.stderr


def test_newer_schema_exit_2(folder: Path, gradebot_home: Path) -> None:
    gradebot_home.mkdir(parents=True)
    with closing(sqlite3.connect(gradebot_home / "gradebot.db")) as connection:
        connection.execute("pragma user_version = 99")
    result = invoke("grade", str(folder), "--dry-run")
    assert result.exit_code == 2
    assert "newer gradebot" in result.stderr


def test_json_quiet_keeps_streams_pure(fake: FakeAnthropic, folder: Path) -> None:
    result = grade_json(folder)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["counts"]["graded"] == 5
    assert result.stderr == ""


def test_zero_budget_sends_nothing(fake: FakeAnthropic, folder: Path) -> None:
    result = grade_json(folder, "--max-cost", "0")
    assert result.exit_code == 3
    assert fake.count("/v1/messages") == 0
    assert "--max-cost" in result.stderr


# --- submissions -----------------------------------------------------------------


def test_name_twins_get_distinct_feedback(fake: FakeAnthropic, folder: Path) -> None:
    submissions = folder / "submissions"
    (submissions / "Jos\u00e9_Nfc.txt").write_text("Dear board, composed name.")
    (submissions / "Jose\u0301 Nfc.txt").write_text("Dear board, decomposed name.")
    (submissions / "liam chen.md").write_text("Dear board, lower-case twin.")
    (submissions / "Aisha_Rahman.md").write_text("Dear board, same stem.")
    result = grade_json(folder)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["counts"]["graded"] == 9
    markdown = sorted((folder / "feedback").glob("*.md"))
    students = [
        next(
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("Student:")
        )
        for path in markdown
    ]
    assert students.count("Student: José Nfc") == 2
    assert (folder / "feedback" / "José-Álvarez.md").is_file()


def test_special_files_get_statuses(
    fake: FakeAnthropic, folder: Path, tmp_path: Path
) -> None:
    submissions = folder / "submissions"
    os.mkfifo(submissions / "Pipe.txt")
    (submissions / "Broken.txt").symlink_to(tmp_path / "missing.txt")
    (submissions / "loop_a").symlink_to(submissions / "loop_b")
    (submissions / "loop_b").symlink_to(submissions / "loop_a")
    (submissions / "Empty_Folder").mkdir()
    (submissions / "Nested" / "inner").mkdir(parents=True)
    (submissions / "Nested" / "inner" / "work.txt").write_text("Dear board.")
    (submissions / "Blank.txt").write_text("  \n\t ")
    (submissions / "Nul.txt").write_bytes(b"Dear board\x00 nul")
    result = grade_json(folder)
    assert result.exit_code == 0
    rows = submissions_of(result)
    assert rows["Pipe.txt"]["status"] == "unreadable"
    assert rows["Broken.txt"]["status"] == "unreadable"
    assert rows["loop_a"]["status"] == "unreadable"
    assert rows["Empty_Folder"]["status"] == "empty"
    assert "Nested folders are not read" in rows["Nested"]["reason"]
    assert rows["Blank.txt"]["status"] == "empty"
    assert rows["Nul.txt"]["status"] == "binary"
    assert rows["Maya_Okafor.txt"]["status"] == "graded"
    assert fake.count("/v1/messages") == 5


def test_encodings_are_read(fake: FakeAnthropic, folder: Path) -> None:
    submissions = folder / "submissions"
    (submissions / "Latin_One.txt").write_bytes("Dear board, café".encode("latin-1"))
    (submissions / "Utf_Sixteen.txt").write_bytes("Dear board, ünï".encode("utf-16"))
    (submissions / "Bom.txt").write_bytes("\ufeffDear board, BOM.".encode())
    result = grade_json(folder)
    rows = submissions_of(result)
    for name in ("Latin_One.txt", "Utf_Sixteen.txt", "Bom.txt"):
        assert rows[name]["status"] == "graded", rows[name]["reason"]


class DeletingSource(LocalFolderSource):
    """A folder source whose ``victim`` file disappears after the listing, as if a
    student deleted it while the class was being graded."""

    def __init__(self, folder: Path, victim: Path, **kwargs: Any) -> None:
        super().__init__(folder, **kwargs)
        self.victim = victim

    def load(self, item: SourceItem) -> LoadedSubmission:
        self.victim.unlink(missing_ok=True)
        return super().load(item)


def test_file_deleted_after_listing(
    fake: FakeAnthropic, folder: Path, gradebot_home: Path
) -> None:
    assignment = load_assignment(folder)
    assert assignment.source.path is not None
    victim = assignment.source.path / "Zoë_Nakamura.txt"
    source = DeletingSource(
        assignment.source.path, victim, exclude=assignment.excluded_paths
    )
    report = grade_in_process(assignment, open_store(gradebot_home), source=source)
    statuses = {o.file_name: o.status for o in report.outcomes}
    assert statuses["Zoë_Nakamura.txt"] is Status.UNREADABLE
    assert list(statuses.values()).count(Status.GRADED) == 4


def test_symlink_outside_not_sent(
    fake: FakeAnthropic, folder: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "token.json"
    secret.write_text("Dear board, refresh_token SECRET-1234 is here.")
    (folder / "submissions" / "Eve.txt").symlink_to(secret)
    grade_json(folder)
    assert requests_mentioning(fake, "SECRET-1234") == 0


def test_long_name_feedback_written(fake: FakeAnthropic, folder: Path) -> None:
    student = folder / "submissions" / ("\U0001d400" * 63)
    student.mkdir()
    (student / "letter.txt").write_text("Dear board, a fancy name.")
    result = grade_json(folder)
    assert no_traceback(result), repr(result.exception)


def test_feedback_write_error_one_line(fake: FakeAnthropic, folder: Path) -> None:
    (folder / "feedback" / "Liam-Chen.md").mkdir(parents=True)
    result = grade_json(folder)
    assert no_traceback(result), repr(result.exception)
    assert result.exit_code == 2
    assert "Liam-Chen.md" in result.stderr


def test_output_file_checked_first(fake: FakeAnthropic, folder: Path) -> None:
    (folder / "feedback").write_text("not a folder", encoding="utf-8")
    result = grade_json(folder)
    assert result.exit_code == 2
    assert fake.count("/v1/messages") == 0


def test_output_in_submissions_ignored(fake: FakeAnthropic, folder: Path) -> None:
    submissions = str(folder / "submissions")
    grade_json(folder, "--output", submissions)
    grade_json(folder, "--output", submissions)
    assert fake.count("/v1/messages") <= 5


def test_feedback_folder_not_a_student(fake: FakeAnthropic, folder: Path) -> None:
    for path in (folder / "submissions").iterdir():
        path.rename(folder / path.name)
    (folder / "submissions").rmdir()
    config = folder / "assignment.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'path = "submissions"', 'path = "."'
        ),
        encoding="utf-8",
    )
    assert grade_json(folder).exit_code == 0
    result = grade_json(folder)
    assert "feedback" not in submissions_of(result)


def test_collision_leaves_no_stale_file(fake: FakeAnthropic, folder: Path) -> None:
    assert grade_json(folder).exit_code == 0
    (folder / "submissions" / "Liam_Chen.md").write_text("Dear board, other Liam.")
    assert grade_json(folder).exit_code == 0
    liams = [
        path
        for path in (folder / "feedback").glob("*.md")
        if "Student: Liam Chen" in path.read_text(encoding="utf-8")
    ]
    assert len(liams) == 2


# --- output ----------------------------------------------------------------------


def test_table_keeps_brackets(fake: FakeAnthropic, folder: Path) -> None:
    (folder / "submissions" / "Ana Lopez [late].txt").write_text("Dear board, late.")
    result = invoke("grade", str(folder))
    assert result.exit_code == 0
    assert "Ana Lopez [late]" in result.stdout


def test_table_survives_markup_reason(fake: FakeAnthropic, folder: Path) -> None:
    rubric = load_rubric(EXAMPLE / "rubric.toml")
    invented = grade_answer(rubric, "x", lowest_level, quote="see [/b] here")
    fake.queue_fault(Fault.answer(json.dumps(invented)), match=MAYA_TEXT, times=2)
    result = invoke("grade", str(folder))
    assert no_traceback(result), repr(result.exception)


def test_csv_formula_escaped(fake: FakeAnthropic, folder: Path) -> None:
    (folder / "submissions" / "=HYPERLINK(1).txt").write_text("Dear board, hi.")
    assert grade_json(folder).exit_code == 0
    result = invoke("export", str(folder))
    cells = [line.split(",")[0] for line in result.stdout.splitlines()]
    assert not any(cell.lstrip('"').startswith("=") for cell in cells)


def test_export_missing_folder(
    fake: FakeAnthropic, folder: Path, tmp_path: Path
) -> None:
    assert grade_json(folder).exit_code == 0
    result = invoke("export", str(folder), "-o", str(tmp_path / "no" / "book.csv"))
    assert no_traceback(result), repr(result.exception)
    assert result.exit_code == 2


# --- API faults --------------------------------------------------------------------


def class_of_twenty(folder: Path) -> None:
    for index in range(20):
        (folder / "submissions" / f"Student_{index:02d}.txt").write_text(
            f"Dear board, letter {index} marker{index:02d}x about the week.\n"
        )


def test_mixed_faults_under_concurrency(
    fake: FakeAnthropic, folder: Path, gradebot_home: Path
) -> None:
    class_of_twenty(folder)
    assignment = load_assignment(folder)
    rubric = assignment.rubric
    bad_level = grade_answer(rubric, "x", lowest_level)
    bad_level["criteria"]["position"]["level"] = "Nonexistent"
    invented = grade_answer(rubric, "x", lowest_level, quote="never written")

    # Ten 429s go to whichever requests come first; the rest aim at one student.
    script = [
        (Fault.rate_limited(retry_after=0), None, 10),
        (Fault.overloaded(), "marker01x", 2),
        (Fault.server_error(), "marker02x", 2),
        (Fault.dropped_connection(), "marker03x", 2),
        (Fault.truncated(), "marker04x", 1),
        (Fault.refusal(), "marker05x", 1),
        (Fault.malformed_json(), "marker06x", 2),
        (Fault.answer(json.dumps(bad_level)), "marker07x", 2),
        (Fault.answer(json.dumps(invented)), "marker08x", 2),
        (Fault.malformed_json(), "marker09x", 1),
        (Fault.server_error(), "marker10x", 30),
        (Fault.answer("[]"), "marker11x", 2),
        (Fault.answer('{"criteria": {}, "criteria": {}}'), "marker12x", 2),
    ]
    for fault, match, times in script:
        fake.queue_fault(fault, match=match, times=times)

    options = GradeOptions(
        concurrency=8, max_retries=6, backoff_base_seconds=0.001, timeout_seconds=5
    )
    store = open_store(gradebot_home)
    report = grade_in_process(assignment, store, options)

    status = {o.file_name: o.status.value for o in report.outcomes}
    expected = {
        "01": "graded",
        "02": "graded",
        "03": "graded",
        "04": "truncated",
        "05": "refused",
        "06": "malformed",
        "07": "needs_review",
        "08": "needs_review",
        "09": "graded",
        "10": "api_error",
        "11": "malformed",
        "12": "malformed",
        "13": "graded",
    }
    for number, value in expected.items():
        assert status[f"Student_{number}.txt"] == value

    # Every HTTP attempt is in the ledger, and the report's cost is the ledger's.
    rows = store.query("select * from api_requests")
    assert sum(row["retries"] + 1 for row in rows) == fake.count("/v1/messages")
    assert sum(row["cost_micro"] for row in rows) == report.cost_micro


def test_failed_reask_keeps_answer(
    fake: FakeAnthropic, folder: Path, gradebot_home: Path
) -> None:
    assignment = load_assignment(folder)
    invented = grade_answer(assignment.rubric, "x", lowest_level, quote="never written")

    def first_maya(body: dict[str, Any]) -> bool:
        return MAYA_TEXT in json.dumps(body) and not is_reask(body)

    fake.queue_fault(Fault.answer(json.dumps(invented)), match=first_maya)
    fake.queue_fault(Fault.server_error(), match=is_reask, times=10)
    options = GradeOptions(max_retries=1, backoff_base_seconds=0.01, timeout_seconds=5)
    report = grade_in_process(assignment, open_store(gradebot_home), options)
    maya = next(o for o in report.outcomes if o.file_name == "Maya_Okafor.txt")
    assert maya.status is Status.NEEDS_REVIEW


def test_budget_not_stopped_by_reservations(
    fake: FakeAnthropic, folder: Path, gradebot_home: Path
) -> None:
    fake.latency = 0.3
    options = GradeOptions(concurrency=4, max_cost_micro=100_000, timeout_seconds=5)
    report = grade_in_process(
        load_assignment(folder), open_store(gradebot_home), options
    )
    assert report.cost_micro < 50_000
    assert not report.stopped_by_budget


def test_credit_balance_stops_run(fake: FakeAnthropic, folder: Path) -> None:
    message = (
        "Your credit balance is too low to access the Anthropic API. Please go "
        "to Plans & Billing to upgrade or purchase credits."
    )
    fake.queue_fault(Fault.status_error(400, message), times=10)
    grade_json(folder, "-c", "1")
    assert fake.count("/v1/messages") == 1


# --- signals and concurrent runs (real processes) --------------------------------


def test_sigterm_keeps_finished_work(
    fake: FakeAnthropic, folder: Path, gradebot_home: Path
) -> None:
    fake.latency = 1.0
    process = start_grade(folder, "-c", "2", "--json")
    wait_for(lambda: fake.count("/v1/messages") >= 2)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    report = json.loads(stdout)
    assert report["counts"]["graded"] == 2
    assert report["counts"]["not_started"] == 3
    fake.latency = 0.0
    assert grade_json(folder).exit_code == 0
    assert fake.count("/v1/messages") == 5


def test_sigkill_then_rerun_pays_once(
    fake: FakeAnthropic, folder: Path, gradebot_home: Path
) -> None:
    fake.latency = 0.5
    process = start_grade(folder, "-c", "1", "-q")
    wait_for(lambda: graded_rows(gradebot_home) >= 1)
    process.kill()
    process.communicate(timeout=30)
    fake.latency = 0.0
    result = grade_json(folder)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["counts"].get("unchanged", 0) >= 1
    # Only the request in flight at the kill may be sent twice.
    assert fake.count("/v1/messages") <= 6


def test_second_sigint_exit_130(fake: FakeAnthropic, folder: Path) -> None:
    fake.latency = 2.0
    process = start_grade(folder, "-c", "1", "-q")
    wait_for(lambda: fake.count("/v1/messages") >= 1)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 130


def test_two_runs_pay_once(fake: FakeAnthropic, folder: Path) -> None:
    fake.latency = 0.5
    first = start_grade(folder, "-c", "1", "-q")
    second = start_grade(folder, "-c", "1", "-q")
    first.communicate(timeout=60)
    second.communicate(timeout=60)
    assert fake.count("/v1/messages") == 5
    assert sorted([first.returncode, second.returncode]) in ([0, 0], [0, 4])
