"""The --max-cost limit: where it stops a run, its message, and the resumed run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gradebot_cli.assignment import load_assignment
from gradebot_cli.cli.main import cli
from gradebot_cli.grading.budget import Budget
from gradebot_cli.grading.request import RequestBuilder
from gradebot_cli.ledger import RequestRecord, ledger_row
from gradebot_cli.pricing import TokenUsage, cost_micro, load_price_table
from gradebot_cli.prompting import load_prompts
from gradebot_cli.sources.local import LocalFolderSource
from gradebot_cli.storage import Store
from gradebot_cli.tokens import estimate_request_input_tokens
from tests.conftest import EXAMPLE
from tests.fakes.anthropic_api import FakeAnthropic
from tests.support.grading import grading_responder

BUDGET_EXIT = 3


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "assignment"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("feedback"))
    return target


@pytest.fixture
def fake(fake_api: FakeAnthropic, folder: Path) -> FakeAnthropic:
    fake_api.responder = grading_responder(load_assignment(folder).rubric)
    return fake_api


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def graded_count(home: Path) -> int:
    store = Store(home / "gradebot.db")
    try:
        rows = store.query(
            "select count(*) as n from submissions where status = 'graded'"
        )
        return int(rows[0]["n"])
    finally:
        store.close()


def test_reserve_waits_for_requests_in_flight() -> None:
    import threading

    budget = Budget(limit_micro=100)
    first = budget.reserve(40)
    second = budget.reserve(40)
    assert first is not None
    assert second is not None
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.append(budget.reserve(40)))
    waiter.start()
    waiter.join(timeout=0.2)
    assert waiter.is_alive(), "a request that does not fit yet must wait"
    budget.settle(first, 10)
    waiter.join(timeout=5)
    assert results and results[0] is not None
    assert not budget.exhausted.is_set()


def test_reserve_fails_when_nothing_in_flight() -> None:
    budget = Budget(limit_micro=100)
    reservation = budget.reserve(80)
    assert reservation is not None
    budget.settle(reservation, 80)
    assert budget.reserve(40) is None
    assert budget.exhausted.is_set()
    assert budget.refused_micro == 40


def test_settle_frees_the_estimate() -> None:
    budget = Budget(limit_micro=100)
    reservation = budget.reserve(60)
    assert reservation is not None
    budget.settle(reservation, 10)
    assert budget.spent_micro == 10
    assert budget.reserve(90) is not None


def test_stop_exits_3_with_message(
    folder: Path, fake: FakeAnthropic, gradebot_home: Path
) -> None:
    result = invoke("grade", str(folder), "--max-cost", "0.04", "-c", "1", "-q")
    assert result.exit_code == BUDGET_EXIT, result.output
    match = re.search(
        r"--max-cost \$0\.0400 reached after spending \$[\d.]+: the next request could "
        r"cost up to \$[\d.]+ .* (\d) submissions? left to grade, estimated at \$[\d.]+",
        result.stderr,
    )
    assert match is not None, result.stderr
    graded = graded_count(gradebot_home)
    assert 0 < graded < 5
    assert int(match.group(1)) == 5 - graded
    assert fake.count("/v1/messages") == graded


def test_resume_grades_the_rest(
    folder: Path, fake: FakeAnthropic, gradebot_home: Path
) -> None:
    first = invoke("grade", str(folder), "--max-cost", "0.04", "-c", "1", "-q")
    assert first.exit_code == BUDGET_EXIT
    done = graded_count(gradebot_home)
    second = invoke("grade", str(folder), "--max-cost", "1", "-q")
    assert second.exit_code == 0, second.output
    assert graded_count(gradebot_home) == 5
    # Each submission was sent once: the resumed run skipped the finished grades.
    assert fake.count("/v1/messages") == 5
    assert done < 5


def test_budget_uses_calibrated_tokens(
    folder: Path, fake: FakeAnthropic, gradebot_home: Path
) -> None:
    """With a ledger that billed three times the tiktoken estimate, a limit that
    fits the raw estimate but not the corrected one stops before sending."""
    gradebot_home.mkdir(parents=True, exist_ok=True)
    store = Store(gradebot_home / "gradebot.db")
    price = load_price_table().get("claude-sonnet-5-5")
    for _ in range(5):
        usage = TokenUsage(input_tokens=300, output_tokens=3000)
        record = RequestRecord(
            "old", "old", 1, "grade", price.model, "ok", estimated_input_tokens=100
        )
        store.record_request(ledger_row(record, usage, price))
    store.close()
    assignment = load_assignment(folder)
    builder = RequestBuilder.create(assignment, load_prompts(None))
    assert assignment.source.path is not None
    source = LocalFolderSource(
        assignment.source.path, exclude=assignment.excluded_paths
    )
    maya = next(item for item in source.list_items() if item.student == "Maya Okafor")
    tokens = estimate_request_input_tokens(builder.build(source.load(maya)))
    raw = cost_micro(price, TokenUsage(input_tokens=tokens, output_tokens=3000))
    corrected = cost_micro(
        price, TokenUsage(input_tokens=3 * tokens, output_tokens=3000)
    )
    limit = f"{(raw + corrected) / 2 / 1_000_000:.6f}"
    result = invoke(
        "grade", str(folder), "--student", "Maya Okafor", "--max-cost", limit, "-q"
    )
    assert result.exit_code == BUDGET_EXIT, result.output
    assert fake.count("/v1/messages") == 0
