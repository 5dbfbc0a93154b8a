"""The command line: error messages, exit statuses, help and the fast start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradebot_cli.cli.main import COMMANDS, cli
from tests.conftest import EXAMPLE, REPO_ROOT
from tests.fakes.anthropic_api import FakeAnthropic


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def test_missing_api_key_sends_nothing(
    fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = invoke("grade", str(EXAMPLE), "--output", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY is not set" in result.stderr
    assert "export ANTHROPIC_API_KEY=" in result.stderr
    assert fake_api.count("/v1/messages") == 0


def test_dry_run_needs_no_key(
    fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = invoke("grade", str(EXAMPLE), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert len(plan["would_grade"]) == 5
    assert plan["first_request"]["model"] == "claude-sonnet-5-5"
    assert fake_api.count("/v1/messages") == 0


def test_wrong_key_is_one_line(
    fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong")
    result = invoke(
        "grade", str(EXAMPLE), "-c", "1", "-q", "--output", str(tmp_path / "out")
    )
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1
    assert "rejected the API key (401" in lines[0]


def test_unknown_model_exit_2(fake_api: FakeAnthropic, tmp_path: Path) -> None:
    result = invoke(
        "grade",
        str(EXAMPLE),
        "--model",
        "claude-nonexistent-1",
        "--output",
        str(tmp_path / "out"),
    )
    assert result.exit_code == 2
    assert "claude-nonexistent-1" in result.stderr
    assert fake_api.count("/v1/messages") == 0


def test_folder_without_rubric(tmp_path: Path) -> None:
    (tmp_path / "essays").mkdir()
    result = invoke("grade", str(tmp_path / "essays"))
    assert result.exit_code == 2
    assert "--rubric and --instructions must be given" in result.stderr


def test_missing_target(tmp_path: Path) -> None:
    result = invoke("grade", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_bad_max_cost(tmp_path: Path) -> None:
    result = invoke("grade", str(EXAMPLE), "--max-cost", "ten")
    assert result.exit_code == 2
    assert "'ten' is not an amount in US dollars" in result.stderr


def test_invalid_assignment_file(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "assignment.toml").write_text(
        'title = "x"\ninstructions = "Write."\nrubric = "../rubric.toml"\n'
        '[publish]\nmode = "email"\n',
        encoding="utf-8",
    )
    (tmp_path / "rubric.toml").write_bytes((EXAMPLE / "rubric.toml").read_bytes())
    result = invoke("grade", str(folder))
    assert result.exit_code == 2
    assert "assignment.toml [publish]: field 'mode'" in result.stderr


def test_export_unknown_assignment(tmp_path: Path) -> None:
    result = invoke("export", "--assignment", "nope-123")
    assert result.exit_code == 2
    assert "No graded assignment with id 'nope-123'" in result.stderr


def test_every_command_has_help() -> None:
    for name in COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None, f"{name} is listed but its module is missing"
        assert command.help, f"{name} has no help text"
        result = invoke(name, "--help")
        assert result.exit_code == 0, name


def test_command_reference_current() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "command_reference", REPO_ROOT / "scripts" / "command-reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reference = (REPO_ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    assert reference == module.render(), "run scripts/command-reference.py"
    for name in COMMANDS:
        assert f"## gradebot {name}" in reference, f"docs/commands.md lacks {name}"


def test_help_loads_no_clients() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from gradebot_cli.cli.main import cli\n"
        "CliRunner().invoke(cli, ['--help'])\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('anthropic', 'googleapiclient', 'google', 'httpx', 'tiktoken', 'docx', 'pypdf')]\n"
        "print(heavy)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    assert output.strip() == "[]"


def test_second_grade_waits_for_lock(fake_api: FakeAnthropic, tmp_path: Path) -> None:
    from gradebot_cli.runlock import run_lock

    with run_lock():
        result = invoke("grade", str(EXAMPLE), "--output", str(tmp_path / "out"))
    assert result.exit_code == 4
    assert "lock" in result.stderr
    assert fake_api.count("/v1/messages") == 0
