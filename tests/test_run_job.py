"""`gradebot run`: every assignment on the server, JSON logs, lock and exit status."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradebot_cli.rubric import load_rubric
from gradebot_cli.runlock import run_lock
from tests.conftest import EXAMPLE, REPO_ROOT
from tests.fakes.anthropic_api import FakeAnthropic
from tests.support.grading import grading_responder


@pytest.fixture
def server_home(gradebot_home: Path) -> Path:
    """A data folder laid out as on a server, with two assignments."""
    assignments = gradebot_home / "assignments"
    shutil.copytree(
        EXAMPLE, assignments / "letters", ignore=shutil.ignore_patterns("feedback")
    )
    broken = assignments / "broken"
    broken.mkdir(parents=True)
    (broken / "assignment.toml").write_text('title = "Broken"\n', encoding="utf-8")
    return gradebot_home


def run_job(home: Path, fake: FakeAnthropic) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GRADEBOT_HOME": str(home),
        "ANTHROPIC_BASE_URL": fake.base_url,
        "ANTHROPIC_API_KEY": fake.api_key,
    }
    return subprocess.run(
        [sys.executable, "-m", "gradebot_cli", "run"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def events(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_run_grades_every_assignment(
    server_home: Path, fake_api: FakeAnthropic
) -> None:
    fake_api.responder = grading_responder(load_rubric(EXAMPLE / "rubric.toml"))
    result = run_job(server_home, fake_api)
    assert result.returncode == 1, result.stderr
    logged = events(result.stdout)
    names = [e["event"] for e in logged]
    assert names[0] == "run_started"
    assert names[-1] == "run_finished"
    assert all(str(e["run_id"]).endswith("-manual") for e in logged)
    finished = next(e for e in logged if e["event"] == "assignment_finished")
    assert finished["assignment"] == "letters"
    assert finished["counts"]["graded"] == 5
    failed = next(e for e in logged if e["event"] == "assignment_failed")
    assert failed["assignment"] == "broken"
    assert "field 'rubric' is required" in failed["error"]
    summary = logged[-1]
    assert summary["config_errors"] == ["broken"]
    assert summary["exit_code"] == 1
    assert (
        server_home / "assignments" / "letters" / "feedback" / "Maya-Okafor.md"
    ).is_file()


def test_run_logs_no_secret_or_essay(
    server_home: Path, fake_api: FakeAnthropic
) -> None:
    fake_api.responder = grading_responder(load_rubric(EXAMPLE / "rubric.toml"))
    result = run_job(server_home, fake_api)
    assert fake_api.api_key not in result.stdout + result.stderr
    assert "hospital on Fridays" not in result.stdout + result.stderr


def test_run_refuses_while_locked(server_home: Path, fake_api: FakeAnthropic) -> None:
    with run_lock(server_home):
        result = run_job(server_home, fake_api)
    assert result.returncode == 4
    assert "lock" in result.stderr
    assert fake_api.count("/v1/messages") == 0


def test_run_without_assignments(gradebot_home: Path, fake_api: FakeAnthropic) -> None:
    gradebot_home.mkdir(parents=True, exist_ok=True)
    result = run_job(gradebot_home, fake_api)
    assert result.returncode == 2
    assert "No assignments folder" in result.stderr
