"""Edge cases fixed after hostile testing: limits, damaged files, odd headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gradebot_cli.cli.main import cli
from gradebot_cli.errors import ConfigError, RubricError
from gradebot_cli.grading.client import MAX_RETRY_AFTER_SECONDS, retry_after_seconds
from gradebot_cli.rubric import load_rubric
from gradebot_cli.storage import Store
from tests.conftest import EXAMPLE


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": str(MAX_RETRY_AFTER_SECONDS + 1)}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


def test_label_with_newline_rejected(tmp_path: Path) -> None:
    text = (EXAMPLE / "rubric.toml").read_text(encoding="utf-8")
    path = tmp_path / "rubric.toml"
    path.write_text(text.replace('label = "Beginning"', 'label = "Begin\\nning"', 1))
    with pytest.raises(RubricError, match="field 'label' must be one line"):
        load_rubric(path)


def test_damaged_database_named(tmp_path: Path) -> None:
    path = tmp_path / "gradebot.db"
    path.write_bytes(b"this is not sqlite at all" * 200)
    with pytest.raises(ConfigError, match="not a gradebot database or is damaged"):
        Store(path)


def test_dry_run_and_estimate_conflict() -> None:
    result = CliRunner().invoke(cli, ["grade", str(EXAMPLE), "--dry-run", "--estimate"])
    assert result.exit_code == 2
    assert "--dry-run and --estimate cannot be combined" in result.stderr


def test_status_of_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
