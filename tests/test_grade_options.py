"""Choosing what a run grades: re-runs, --regrade, --limit, --student, bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gradebot_cli.cli.main import cli
from gradebot_cli.rubric import load_rubric
from tests.conftest import EXAMPLE
from tests.fakes.anthropic_api import FakeAnthropic
from tests.support.grading import grading_responder


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


def grade(folder: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["grade", str(folder), "--json", *args])
    return result


def statuses(result: Result) -> dict[str, str]:
    report = json.loads(result.stdout)
    return {row["file"]: row["status"] for row in report["submissions"]}


def test_rerun_grades_only_changes(fake: FakeAnthropic, folder: Path) -> None:
    assert grade(folder).exit_code == 0
    maya = folder / "submissions" / "Maya_Okafor.txt"
    maya.write_text(
        maya.read_text(encoding="utf-8") + "\nP.S. Thank you.\n", encoding="utf-8"
    )
    (folder / "submissions" / "New_Student.txt").write_text(
        "Dear board, no change please."
    )
    before = fake.count("/v1/messages")
    result = grade(folder)
    assert result.exit_code == 0
    assert fake.count("/v1/messages") - before == 2
    report = json.loads(result.stdout)
    fresh = sorted(r["file"] for r in report["submissions"] if not r["unchanged"])
    assert fresh == ["Maya_Okafor.txt", "New_Student.txt"]


def test_touched_but_same_content_is_skipped(fake: FakeAnthropic, folder: Path) -> None:
    assert grade(folder).exit_code == 0
    maya = folder / "submissions" / "Maya_Okafor.txt"
    maya.write_bytes(maya.read_bytes())
    before = fake.count("/v1/messages")
    assert grade(folder).exit_code == 0
    assert fake.count("/v1/messages") == before


def test_regrade_sends_everything(fake: FakeAnthropic, folder: Path) -> None:
    grade(folder)
    before = fake.count("/v1/messages")
    assert grade(folder, "--regrade").exit_code == 0
    assert fake.count("/v1/messages") - before == 5


def test_limit(fake: FakeAnthropic, folder: Path) -> None:
    result = grade(folder, "--limit", "2")
    assert result.exit_code == 0
    assert fake.count("/v1/messages") == 2
    assert grade(folder).exit_code == 0
    assert fake.count("/v1/messages") == 5


def test_student_filter(fake: FakeAnthropic, folder: Path) -> None:
    result = grade(folder, "--student", "zoë nakamura", "--student", "Liam Chen.txt")
    assert result.exit_code == 0
    assert sorted(statuses(result)) == ["Liam Chen.txt", "Zoë_Nakamura.txt"]
    assert fake.count("/v1/messages") == 2


def test_bad_files_do_not_stop_class(fake: FakeAnthropic, folder: Path) -> None:
    submissions = folder / "submissions"
    (submissions / "Empty_Student.txt").write_bytes(b"")
    (submissions / "Binary_Student.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (submissions / "Sheet_Student.xlsx").write_bytes(b"PK\x03\x04not really")
    (submissions / "Broken_Student.docx").write_bytes(b"PK\x03\x04 corrupt zip")
    (submissions / "Ünïcödé_Ñame.md").write_text("¡Hola! 学校 😀 Dear board, I agree.")
    result = grade(folder)
    assert result.exit_code == 0, result.output
    found = statuses(result)
    assert found["Empty_Student.txt"] == "empty"
    assert found["Binary_Student.txt"] == "binary"
    assert found["Sheet_Student.xlsx"] == "unsupported"
    assert found["Broken_Student.docx"] == "unreadable"
    assert found["Ünïcödé_Ñame.md"] == "graded"
    assert found["Maya_Okafor.txt"] == "graded"
    assert fake.count("/v1/messages") == 6
    feedback = (folder / "feedback" / "Ünïcödé-Ñame.md").read_text(encoding="utf-8")
    assert "Student: Ünïcödé Ñame" in feedback


def test_bad_file_reasons_name_the_file(fake: FakeAnthropic, folder: Path) -> None:
    (folder / "submissions" / "Sheet_Student.xlsx").write_bytes(b"PK\x03\x04")
    result = grade(folder)
    report = json.loads(result.stdout)
    row = next(r for r in report["submissions"] if r["file"] == "Sheet_Student.xlsx")
    assert "Sheet_Student.xlsx" in row["reason"]
    assert ".docx" in row["reason"]


def test_grade_records_versions(
    fake: FakeAnthropic, folder: Path, gradebot_home: Path
) -> None:
    import sqlite3

    grade(folder)
    with sqlite3.connect(gradebot_home / "gradebot.db") as db:
        rows = db.execute(
            "select model, prompt_version, rubric_version from grades"
        ).fetchall()
    assert len(rows) == 5
    model, prompt_version, rubric_version = rows[0]
    assert model == "claude-sonnet-5-5"
    assert prompt_version.startswith("p-")
    assert rubric_version.startswith("2026-12+")


def test_prompt_override(fake: FakeAnthropic, folder: Path) -> None:
    prompts = folder / "prompts"
    prompts.mkdir()
    (prompts / "system.md").write_text(
        "Grade $title for $grade_level. Rubric:\n$rubric\nTone: $tone\n$instructions $subject"
    )
    result = grade(folder, "--prompts", str(prompts), "--limit", "1")
    assert result.exit_code == 0, result.output
    system = fake.requests_to("/v1/messages")[0].body["system"][0]["text"]
    assert system.startswith("Grade Letter to the school board")


def test_prompt_override_bad_placeholder(fake: FakeAnthropic, folder: Path) -> None:
    prompts = folder / "prompts"
    prompts.mkdir()
    (prompts / "system.md").write_text("Grade $assignment_name")
    result = grade(folder, "--prompts", str(prompts))
    assert result.exit_code == 2
    assert "unknown placeholder $assignment_name" in result.stderr
    assert fake.count("/v1/messages") == 0
