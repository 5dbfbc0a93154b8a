"""The 30-essay ASAP class graded end to end under concurrency, and after a kill.

The fake Messages API answers each essay with its first human rater's score, so
every stored grade, feedback file and CSV row can be checked against the right
student: a swap between concurrent requests would show as a wrong score.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gradebot_cli.cli.main import cli
from tests.conftest import REPO_ROOT, SHARED_DATA, shared_class
from tests.fakes.anthropic_api import FakeAnthropic
from tests.support.asap import AsapClass, level_by_score, load_class
from tests.support.grading import grade_answer, submission_text


@pytest.fixture
def asap(tmp_path: Path) -> AsapClass:
    shared_class("asap-set1/class-30")
    return load_class(SHARED_DATA, tmp_path)


def scores_by_text(asap: AsapClass) -> dict[str, int]:
    """Map each essay's text (as gradebot sends it) to its rater-1 score."""
    result = {}
    for path in sorted(asap.submissions.iterdir()):
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n").strip()
        result[" ".join(text.split())[:200]] = asap.scores[path.name]
    return result


def known_grade_responder(asap: AsapClass) -> Any:
    table = scores_by_text(asap)

    def respond(body: dict[str, Any]) -> str:
        text = submission_text(body)
        score = table[" ".join(text.split())[:200]]
        level = level_by_score(asap.rubric, score)
        return json.dumps(grade_answer(asap.rubric, text, lambda _t, _c: level))

    return respond


def grade_args(asap: AsapClass, output: Path, *extra: str) -> list[str]:
    return [
        "grade",
        str(asap.submissions),
        "--rubric",
        str(asap.rubric_path),
        "--instructions",
        str(asap.instructions_path),
        "--output",
        str(output),
        *extra,
    ]


def test_class_graded_without_swaps(
    asap: AsapClass, fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    fake_api.responder = known_grade_responder(asap)
    fake_api.latency = 0.05
    output = tmp_path / "feedback"
    runner = CliRunner()
    result = runner.invoke(
        cli, grade_args(asap, output, "--concurrency", "8", "--json")
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["graded"] == 30
    for row in report["submissions"]:
        assert row["total"] == asap.scores[row["file"]], row["file"]
    for file_name, score in asap.scores.items():
        stem = Path(file_name).stem
        markdown = (output / f"{stem}.md").read_text(encoding="utf-8")
        assert f"Student: {stem}" in markdown
        assert f"Score: {score} / 6" in markdown
        assert (output / f"{stem}.html").is_file()
    exported = runner.invoke(cli, ["export", str(asap.submissions)])
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 30
    for row in rows:
        assert int(row["total"]) == asap.scores[row["file"]], row["file"]
        assert int(row["points_holistic"]) == asap.scores[row["file"]]


def test_kill_and_resume(
    asap: AsapClass, fake_api: FakeAnthropic, tmp_path: Path, gradebot_home: Path
) -> None:
    fake_api.responder = known_grade_responder(asap)
    fake_api.latency = 0.25
    output = tmp_path / "feedback"
    env = {**os.environ, "GRADEBOT_HOME": str(gradebot_home)}
    command = [
        sys.executable,
        "-m",
        "gradebot_cli",
        *grade_args(asap, output, "-c", "4", "-q"),
    ]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = gradebot_home / "gradebot.db"
    finished = wait_for_grades(database, at_least=8, process=process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    graded_before = graded_files(database)
    assert len(graded_before) >= finished
    assert len(graded_before) < 30
    requests_before = len(fake_api.requests_to("/v1/messages"))

    rerun = CliRunner().invoke(cli, grade_args(asap, output, "--json"))
    assert rerun.exit_code == 0, rerun.output
    second_run = fake_api.requests_to("/v1/messages")[requests_before:]
    table = scores_by_text(asap)
    sent_again = {" ".join(submission_text(r.body).split())[:200] for r in second_run}
    for file_name in graded_before:
        text = (asap.submissions / file_name).read_text(encoding="utf-8")
        assert " ".join(text.split())[:200] not in sent_again, (
            f"{file_name} was paid for twice"
        )
    assert len(sent_again) == 30 - len(graded_before)
    assert len(table) == 30
    with sqlite3.connect(database) as db:
        charges = db.execute(
            "select submission_id, count(*) from api_requests where outcome = 'ok' "
            "group by submission_id having count(*) > 1"
        ).fetchall()
        graded = db.execute(
            "select count(*) from submissions where status = 'graded'"
        ).fetchone()
        outcomes = [
            row[0] for row in db.execute("select outcome from runs order by started_at")
        ]
    assert charges == []
    assert graded[0] == 30
    assert outcomes == ["abandoned", "ok"]


def graded_files(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "select file_name from submissions where status = 'graded'"
        ).fetchall()
    return {row[0] for row in rows}


def wait_for_grades(
    database: Path, *, at_least: int, process: subprocess.Popen[bytes]
) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "gradebot exited before it could be killed"
        if database.exists():
            try:
                count = len(graded_files(database))
            except sqlite3.OperationalError:
                count = 0
            if count >= at_least:
                return count
        time.sleep(0.05)
    raise AssertionError("no grades were written within 60 seconds")
