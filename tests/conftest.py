"""Shared fixtures: a private GRADEBOT_HOME per test and the fake Messages API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import FakeAnthropic

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
EXAMPLE = REPO_ROOT / "examples" / "four-day-week"


@pytest.fixture(autouse=True)
def gradebot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty data folder and no inherited gradebot settings."""
    home = tmp_path / "gradebot-home"
    monkeypatch.setenv("GRADEBOT_HOME", str(home))
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "GRADEBOT_MODEL",
        "GRADEBOT_CONCURRENCY",
        "GRADEBOT_MAX_COST",
        "GRADEBOT_RPM",
        "GRADEBOT_QUIET",
        "GRADEBOT_GOOGLE_API_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """The fake Messages API, with the SDK's environment pointed at it."""
    with FakeAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", fake.api_key)
        yield fake


def shared_class(name: str) -> Path:
    """Return a folder under ../shared/data, skipping the test where it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the anonymised essays are not part of a clone")
    return path
