"""Cost estimates before grading: counting, calibration, caching, --exact, output.

Estimates are checked against what the fake Messages API bills for the same
requests, through the real anthropic SDK. The fake counts a token per four
bytes, so these tests check gradebot's arithmetic, not Claude's tokenizer.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import anthropic
import pytest
from click.testing import CliRunner, Result

from gradebot_cli.assignment import Assignment, load_assignment
from gradebot_cli.cli.main import cli
from gradebot_cli.costs.calibration import (
    DEFAULT_INPUT_RATIO,
    MIN_CALIBRATION_ROWS,
    calibrate,
    calibrate_assignment,
    expected_output,
    min_cacheable_tokens,
)
from gradebot_cli.costs.estimate import (
    CountedRequest,
    Scenario,
    estimate_class,
    request_usages,
    scenario_cost,
)
from gradebot_cli.grading.grader import DEFAULT_EXPECTED_OUTPUT_TOKENS
from gradebot_cli.grading.request import RequestBuilder
from gradebot_cli.grading.run import GradeOptions
from gradebot_cli.grading.service import grade_class
from gradebot_cli.ledger import RequestRecord, ledger_row
from gradebot_cli.pricing import TokenUsage, cost_micro, load_price_table
from gradebot_cli.prompting import load_prompts
from gradebot_cli.sources.local import LocalFolderSource
from gradebot_cli.storage import Store
from gradebot_cli.tokens import count_text_tokens
from tests.conftest import EXAMPLE
from tests.fakes.anthropic_api import FakeAnthropic
from tests.support.grading import grading_responder

SONNET = "claude-sonnet-5-5"
TEXT = (
    "the school board should keep five days because students need time with "
    "teachers and friends while parents work long hours every week in our town "
    "Ça dépend: a shorter week saves bus fuel, heating and lunch money"
)
WORDS = TEXT.split(" ")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the example assignment, safe to edit and to write feedback into."""
    target = tmp_path / "assignment"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("feedback"))
    return target


@pytest.fixture
def big_class(folder: Path) -> Path:
    """The example assignment with twelve generated letters of varied length."""
    submissions = folder / "submissions"
    for path in submissions.iterdir():
        path.unlink()
    rng = random.Random(7)
    for index in range(12):
        words = [rng.choice(WORDS) for _ in range(rng.randint(80, 400))]
        text = " ".join(words).capitalize() + "."
        (submissions / f"student-{index:02d}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def store(gradebot_home: Path) -> Store:
    gradebot_home.mkdir(parents=True, exist_ok=True)
    return Store(gradebot_home / "gradebot.db")


def source_for(assignment: Assignment) -> LocalFolderSource:
    assert assignment.source.path is not None
    return LocalFolderSource(assignment.source.path, exclude=assignment.excluded_paths)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def record(store: Store, model: str, estimated: int, billed: int, output: int) -> None:
    """Add one ledger row as a past grading request would have left it."""
    price = load_price_table().get(model)
    usage = TokenUsage(input_tokens=billed, output_tokens=output)
    row = ledger_row(
        RequestRecord(
            "run", "old", 1, "grade", model, "ok", estimated_input_tokens=estimated
        ),
        usage,
        price,
    )
    store.record_request(row)


def test_usages_first_writes_rest_read() -> None:
    requests = [CountedRequest(1000, 600)] * 3
    usages = list(
        request_usages(requests, Scenario(1.5, 1.5, 200, 1), minimum_tokens=512)
    )
    assert usages[0] == TokenUsage(
        input_tokens=600, output_tokens=200, cache_write_5m_tokens=900
    )
    assert usages[1] == TokenUsage(
        input_tokens=600, output_tokens=200, cache_read_tokens=900
    )
    assert usages[2] == usages[1]


def test_usages_below_minimum_not_cached() -> None:
    requests = [CountedRequest(1000, 300)] * 2
    usages = list(
        request_usages(requests, Scenario(1.0, 1.0, 50, 1), minimum_tokens=512)
    )
    assert usages == [TokenUsage(input_tokens=1000, output_tokens=50)] * 2


def test_usages_writes_per_worker() -> None:
    requests = [CountedRequest(1000, 600)] * 5
    usages = list(
        request_usages(requests, Scenario(1.0, 1.0, 0, 3), minimum_tokens=512)
    )
    writes = [usage.cache_write_5m_tokens for usage in usages]
    assert writes == [600, 600, 600, 0, 0]


def test_scenario_cost_adds_reasks() -> None:
    price = load_price_table().get(SONNET)
    usage = TokenUsage(input_tokens=1000, output_tokens=1000)
    single = cost_micro(price, usage)
    assert scenario_cost(price, [usage] * 4, reasks=0.25, batch=False) == 5 * single


def test_scenario_cost_batch_halves() -> None:
    price = load_price_table().get(SONNET)
    usage = TokenUsage(input_tokens=1000, output_tokens=1000)
    standard = scenario_cost(price, [usage], reasks=0.0, batch=False)
    assert scenario_cost(price, [usage], reasks=0.0, batch=True) * 2 == standard


def test_calibration_default_without_history(store: Store) -> None:
    calibration = calibrate(store, SONNET)
    assert calibration.basis == "default"
    assert calibration.ratio == DEFAULT_INPUT_RATIO
    assert "default" in calibration.describe()


def test_calibration_same_model(store: Store) -> None:
    for _ in range(MIN_CALIBRATION_ROWS):
        record(store, SONNET, estimated=1000, billed=1100, output=300)
    calibration = calibrate(store, SONNET)
    assert calibration.basis == "model"
    assert calibration.rows == MIN_CALIBRATION_ROWS
    assert calibration.ratio == pytest.approx(1.1)


def test_calibration_falls_back_to_all(store: Store) -> None:
    for _ in range(MIN_CALIBRATION_ROWS):
        record(store, "claude-opus-5-5", estimated=1000, billed=1200, output=300)
    record(store, SONNET, estimated=1000, billed=1000, output=300)
    calibration = calibrate(store, SONNET)
    assert calibration.basis == "all"
    assert calibration.ratio == pytest.approx(7000 / 6000)


def test_calibration_range_brackets_ratio(store: Store) -> None:
    for billed in (900, 1000, 1100, 1200, 1300, 1400):
        record(store, SONNET, estimated=1000, billed=billed, output=300)
    calibration = calibrate(store, SONNET)
    assert calibration.low < calibration.ratio < calibration.high


def test_output_default_without_history(store: Store) -> None:
    output = expected_output(store, SONNET, max_tokens=16000)
    assert output.basis == "default"
    assert output.expected == DEFAULT_EXPECTED_OUTPUT_TOKENS


def test_output_capped_by_max_tokens(store: Store) -> None:
    for tokens in (5000, 6000, 7000):
        record(store, SONNET, estimated=1000, billed=1000, output=tokens)
    output = expected_output(store, SONNET, max_tokens=4000)
    assert output.basis == "ledger"
    assert output.high == 4000
    assert output.expected == 4000


def test_min_cacheable_known_and_assumed() -> None:
    assert min_cacheable_tokens("claude-haiku-4-5-20251001") == (4096, True)
    assert min_cacheable_tokens(SONNET) == (512, False)


def test_estimate_needs_no_key(
    folder: Path, fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = invoke("estimate", str(folder))
    assert result.exit_code == 0, result.output
    assert "5 to grade" in result.stdout
    assert "the default, because the ledger has no past requests" in result.stdout
    assert fake_api.requests == []


def test_grade_estimate_flag(
    folder: Path, fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = invoke("grade", str(folder), "--estimate", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["requests"] == 5
    assert data["correction"]["basis"] == "default"
    assert fake_api.requests == []


def test_estimate_json_shape(folder: Path) -> None:
    result = invoke("estimate", str(folder), "--json", "--limit", "2")
    data = json.loads(result.stdout)
    assert data["requests"] == 2
    assert data["batch"]["expected_micro"] * 2 == pytest.approx(
        data["interactive"]["expected_micro"], abs=2
    )
    assert data["interactive"]["low_micro"] <= data["interactive"]["expected_micro"]
    assert data["interactive"]["expected_micro"] <= data["interactive"]["high_micro"]
    assert [s["status"] for s in data["submissions"]] == ["to_grade", "to_grade"]
    assert data["caching"]["cacheable"] is True


def test_estimate_per_submission_table(folder: Path) -> None:
    result = invoke("estimate", str(folder), "--per-submission")
    assert result.exit_code == 0, result.output
    assert "Maya Okafor" in result.stdout
    assert "Counted tokens" in result.stdout


def test_estimate_nothing_to_grade(folder: Path) -> None:
    for path in (folder / "submissions").iterdir():
        path.unlink()
    result = invoke("estimate", str(folder))
    assert result.exit_code == 0, result.output
    assert "0 to grade" in result.stdout
    assert "Prompt caching" not in result.stdout


def test_estimate_skips_empty_file(folder: Path) -> None:
    (folder / "submissions" / "Empty Student.txt").write_text("  \n", encoding="utf-8")
    result = invoke("estimate", str(folder), "--json")
    data = json.loads(result.stdout)
    statuses = {s["student"]: s["status"] for s in data["submissions"]}
    assert statuses["Empty Student"] == "empty"
    assert data["requests"] == 5


def test_estimate_matches_billed(big_class: Path, store: Store) -> None:
    """After six graded letters calibrate the ledger, the estimate for the other
    six is within 2% of what the fake bills for them, in tokens and in cost."""
    assignment = load_assignment(big_class)
    source = source_for(assignment)
    prices = load_price_table()
    with (
        FakeAnthropic(responder=grading_responder(assignment.rubric)) as fake,
        _client(fake) as client,
    ):
        grade_class(
            assignment,
            store,
            source,
            prices,
            GradeOptions(limit=6, concurrency=1),
            client=client,
        )
        estimate = estimate_class(
            assignment, store, source, prices, GradeOptions(), concurrency=1
        )
        fake.advance_time(600)  # let the cache expire, as the estimate assumes
        first_new = int(store.query("select max(id) as m from api_requests")[0]["m"])
        grade_class(
            assignment,
            store,
            source,
            prices,
            GradeOptions(concurrency=1),
            client=client,
        )
    rows = store.query("select * from api_requests where id > ?", [first_new])
    billed = sum(
        row["input_tokens"] + row["cache_write_5m_tokens"] + row["cache_read_tokens"]
        for row in rows
    )
    cost = sum(row["cost_micro"] for row in rows)
    assert estimate.calibration.basis == "assignment"
    assert estimate.requests == len(rows) == 6
    assert estimate.usage.prompt_tokens == pytest.approx(billed, rel=0.02)
    assert estimate.interactive.expected == pytest.approx(cost, rel=0.02)
    assert estimate.interactive.low <= cost <= estimate.interactive.high


def graded_six(folder: Path, store: Store) -> Assignment:
    """Grade six letters of ``folder`` against the fake; return the assignment."""
    assignment = load_assignment(folder)
    with (
        FakeAnthropic(responder=grading_responder(assignment.rubric)) as fake,
        _client(fake) as client,
    ):
        grade_class(
            assignment,
            store,
            source_for(assignment),
            load_price_table(),
            GradeOptions(limit=6, concurrency=1),
            client=client,
        )
    return assignment


def test_split_calibration_of_prefix(big_class: Path, store: Store) -> None:
    assignment = graded_six(big_class, store)
    system = RequestBuilder.create(assignment, load_prompts(None)).system_text
    prefix = count_text_tokens(system)
    calibration = calibrate_assignment(
        store, assignment.id, SONNET, assignment.rubric.version, prefix
    )
    billed_prefix = store.query(
        "select max(cache_write_5m_tokens + cache_read_tokens) as n from api_requests"
    )[0]["n"]
    assert calibration.basis == "assignment"
    assert calibration.prefix_ratio == pytest.approx(billed_prefix / prefix)
    assert calibration.rest_ratio is not None
    assert "for the system prompt" in calibration.describe()


def test_split_calibration_needs_same_rubric(big_class: Path, store: Store) -> None:
    assignment = graded_six(big_class, store)
    calibration = calibrate_assignment(store, assignment.id, SONNET, "edited", 500)
    assert calibration.basis == "model"
    assert calibration.prefix_ratio is None


def test_exact_uses_count_tokens(
    folder: Path, store: Store, fake_api: FakeAnthropic
) -> None:
    assignment = load_assignment(folder)
    fake_api.responder = grading_responder(assignment.rubric)
    result = invoke("estimate", str(folder), "--exact", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["method"] == "count_tokens"
    # One count per submission, and two for the system prompt alone.
    assert fake_api.count("/v1/messages/count_tokens") == 5 + 2
    assert fake_api.count("/v1/messages") == 0
    with _client(fake_api) as client:
        grade_class(
            assignment,
            store,
            source_for(assignment),
            load_price_table(),
            GradeOptions(concurrency=1),
            client=client,
        )
    billed = store.query(
        "select sum(input_tokens + cache_write_5m_tokens + cache_read_tokens) as n "
        "from api_requests"
    )[0]["n"]
    tokens = data["expected_tokens"]
    counted = (
        tokens["input_tokens"]
        + tokens["cache_write_5m_tokens"]
        + tokens["cache_read_tokens"]
    )
    assert counted == billed
    assert data["caching"]["prefix_tokens"] == int(
        store.query("select max(cache_write_5m_tokens) as n from api_requests")[0]["n"]
    )


def test_exact_needs_key(folder: Path) -> None:
    result = invoke("estimate", str(folder), "--exact")
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY is not set" in result.stderr


def _client(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=fake.base_url, api_key=fake.api_key, max_retries=0
    )
