"""The grading run against the fake Messages API: retries, odd answers, statuses.

Each test grades the bundled example class (five letters) through the real
anthropic SDK, with one scripted fault aimed at one student's request.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from gradebot_cli.assignment import Assignment, load_assignment
from gradebot_cli.domain import Status
from gradebot_cli.errors import AuthenticationError, UnknownModelError
from gradebot_cli.grading.run import GradeOptions, RunReport
from gradebot_cli.grading.service import grade_class
from gradebot_cli.pricing import load_price_table
from gradebot_cli.sources.local import LocalFolderSource
from gradebot_cli.storage import Store
from tests.conftest import EXAMPLE
from tests.fakes.anthropic_api import FakeAnthropic, Fault
from tests.support.grading import grade_answer, grading_responder, lowest_level

MAYA = "Maya_Okafor.txt"
MAYA_TEXT = "My mom works at the hospital on Fridays"
FAST = GradeOptions(concurrency=3, backoff_base_seconds=0.01, timeout_seconds=5)


@pytest.fixture
def assignment(tmp_path: Path) -> Assignment:
    return load_assignment(EXAMPLE).with_overrides(output_dir=tmp_path / "feedback")


@pytest.fixture
def store(gradebot_home: Path) -> Store:
    gradebot_home.mkdir(parents=True, exist_ok=True)
    return Store(gradebot_home / "test.db")


@pytest.fixture
def fake(fake_api: FakeAnthropic, assignment: Assignment) -> FakeAnthropic:
    fake_api.responder = grading_responder(assignment.rubric)
    return fake_api


def grade(
    assignment: Assignment, store: Store, options: GradeOptions = FAST
) -> RunReport:
    source = LocalFolderSource(
        assignment.source.path, exclude=assignment.excluded_paths
    )
    return grade_class(assignment, store, source, load_price_table(), options)


def outcome(report: RunReport, file_name: str) -> object:
    return next(o for o in report.outcomes if o.file_name == file_name)


def ledger(store: Store) -> list[dict[str, object]]:
    return store.query("select * from api_requests order by id")


def maya_rows(store: Store) -> list[dict[str, object]]:
    return [row for row in ledger(store) if row["submission_id"] == maya_id(store)]


def maya_id(store: Store) -> int:
    return int(
        store.query("select id from submissions where file_name = ?", [MAYA])[0]["id"]
    )


def test_clean_run_grades_everyone(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    report = grade(assignment, store)
    assert report.counts()["graded"] == 5
    assert len(ledger(store)) == 5
    assert all(row["outcome"] == "ok" for row in ledger(store))
    assert all(row["cost_micro"] > 0 for row in ledger(store))


@pytest.mark.parametrize(
    ("fault", "error_name"),
    [
        (Fault.rate_limited(retry_after=0), "RateLimitError"),
        (Fault.overloaded(), "OverloadedError"),
        (Fault.server_error(), "InternalServerError"),
        (Fault.dropped_connection(), "APIConnectionError"),
    ],
)
def test_transient_fault_is_retried(
    fake: FakeAnthropic,
    assignment: Assignment,
    store: Store,
    fault: Fault,
    error_name: str,
) -> None:
    fake.queue_fault(fault, match=MAYA_TEXT)
    report = grade(assignment, store)
    assert outcome(report, MAYA).status is Status.GRADED
    rows = maya_rows(store)
    assert len(rows) == 1
    assert rows[0]["retries"] == 1


def test_retry_after_is_honoured(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    fake.queue_fault(Fault.rate_limited(retry_after=1), match=MAYA_TEXT)
    report = grade(assignment, store)
    assert outcome(report, MAYA).status is Status.GRADED
    times = [
        r.time
        for r in fake.requests_to("/v1/messages")
        if MAYA_TEXT in json.dumps(r.body)
    ]
    assert len(times) == 2
    assert times[1] - times[0] >= 1.0


def test_slow_answer_times_out_then_retries(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    fake.queue_fault(Fault.slow(3), match=MAYA_TEXT)
    options = GradeOptions(concurrency=3, backoff_base_seconds=0.01, timeout_seconds=1)
    report = grade(assignment, store, options)
    assert outcome(report, MAYA).status is Status.GRADED
    assert maya_rows(store)[0]["retries"] == 1


def test_retries_are_bounded(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    fake.queue_fault(Fault.server_error(), match=MAYA_TEXT, times=10)
    options = GradeOptions(concurrency=3, max_retries=2, backoff_base_seconds=0.01)
    report = grade(assignment, store, options)
    result = outcome(report, MAYA)
    assert result.status is Status.API_ERROR
    assert "500" in result.reason
    rows = maya_rows(store)
    assert rows[0]["retries"] == 2
    assert rows[0]["outcome"] == "error:InternalServerError"
    assert rows[0]["cost_micro"] == 0
    assert store.submission(maya_id(store)).grade_id is None


def test_api_error_is_graded_next_run(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    fake.queue_fault(Fault.server_error(), match=MAYA_TEXT, times=3)
    grade(assignment, store, GradeOptions(max_retries=2, backoff_base_seconds=0.01))
    second = grade(assignment, store)
    assert outcome(second, MAYA).status is Status.GRADED
    assert second.counts()["unchanged"] == 4


def test_truncated_answer(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    fake.queue_fault(Fault.truncated(), match=MAYA_TEXT)
    report = grade(assignment, store)
    result = outcome(report, MAYA)
    assert result.status is Status.TRUNCATED
    assert "max_tokens=16000" in result.reason
    assert store.submission(maya_id(store)).grade_id is None
    assert maya_rows(store)[0]["cost_micro"] > 0


def test_refusal(fake: FakeAnthropic, assignment: Assignment, store: Store) -> None:
    fake.queue_fault(Fault.refusal(explanation="Declined."), match=MAYA_TEXT)
    report = grade(assignment, store)
    result = outcome(report, MAYA)
    assert result.status is Status.REFUSED
    assert "general_harms" in result.reason
    assert store.submission(maya_id(store)).grade_id is None


def test_malformed_then_fixed(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    fake.queue_fault(Fault.malformed_json(), match=MAYA_TEXT)
    report = grade(assignment, store)
    assert outcome(report, MAYA).status is Status.GRADED
    assert [row["request_type"] for row in maya_rows(store)] == ["grade", "reask"]
    assert [row["outcome"] for row in maya_rows(store)] == ["malformed", "ok"]


def test_malformed_twice(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    fake.queue_fault(Fault.malformed_json(), match=MAYA_TEXT, times=2)
    report = grade(assignment, store)
    result = outcome(report, MAYA)
    assert result.status is Status.MALFORMED
    assert "not valid JSON" in result.reason
    assert store.submission(maya_id(store)).grade_id is None


def bad_level_answer(assignment: Assignment) -> str:
    text = (EXAMPLE / "submissions" / MAYA).read_text(encoding="utf-8")
    data = grade_answer(assignment.rubric, text, lowest_level)
    data["criteria"]["position"]["level"] = "Outstanding"
    return json.dumps(data)


def test_level_outside_rubric_needs_review(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    fake.queue_fault(
        Fault.answer(bad_level_answer(assignment)), match=MAYA_TEXT, times=2
    )
    report = grade(assignment, store)
    result = outcome(report, MAYA)
    assert result.status is Status.NEEDS_REVIEW
    assert "'Outstanding' is not in the rubric" in result.reason
    reask = [
        r
        for r in fake.requests_to("/v1/messages")
        if "could not be accepted" in json.dumps(r.body)
    ]
    assert len(reask) == 1
    assert "Outstanding" in json.dumps(reask[0].body)
    from gradebot_cli.gradebook import build_gradebook

    row = next(
        r for r in build_gradebook(store, assignment.id).rows if r["file"] == MAYA
    )
    assert row["total"] is None, "a needs-review sum is not a score to import"
    assert row["points_reasons"] is not None


def test_invented_quote_fixed_by_reask(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    text = (EXAMPLE / "submissions" / MAYA).read_text(encoding="utf-8")
    invented = grade_answer(
        assignment.rubric, text, lowest_level, quote="Computers help us learn"
    )
    fake.queue_fault(Fault.answer(json.dumps(invented)), match=MAYA_TEXT)
    report = grade(assignment, store)
    assert outcome(report, MAYA).status is Status.GRADED
    assert [row["outcome"] for row in maya_rows(store)] == ["invalid", "ok"]


def test_wrong_key_stops_run(
    fake: FakeAnthropic,
    assignment: Assignment,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong")
    report = grade(assignment, store, GradeOptions(concurrency=1))
    assert isinstance(report.fatal, AuthenticationError)
    assert "ANTHROPIC_API_KEY" in str(report.fatal)
    assert fake.count("/v1/messages") == 1
    graded = store.query("select count(*) as n from grades")[0]["n"]
    assert graded == 0


def test_unknown_model_sends_nothing(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    with pytest.raises(UnknownModelError, match="claude-imaginary-9"):
        grade(assignment.with_overrides(model="claude-imaginary-9"), store)
    assert fake.count("/v1/messages") == 0


def test_thinking_blocks_are_skipped(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    grade(assignment, store)
    bodies = fake.requests_to("/v1/messages")
    assert all("temperature" not in r.body for r in bodies)
    assert all(r.body["messages"][-1]["role"] == "user" for r in bodies)
    answers = store.query("select answer_json from grades")
    assert all(json.loads(row["answer_json"])["criteria"] for row in answers)


def test_system_prompt_is_cached(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    grade(assignment, store, GradeOptions(concurrency=1))
    rows = ledger(store)
    assert rows[0]["cache_write_5m_tokens"] > 0
    assert all(row["cache_read_tokens"] > 0 for row in rows[1:])


def test_stop_event_keeps_finished(
    fake: FakeAnthropic, assignment: Assignment, store: Store
) -> None:
    stop = threading.Event()
    source = LocalFolderSource(
        assignment.source.path, exclude=assignment.excluded_paths
    )
    fake.latency = 0.3
    timer = threading.Timer(0.45, stop.set)
    timer.start()
    report = grade_class(
        assignment,
        store,
        source,
        load_price_table(),
        GradeOptions(concurrency=1),
        stop=stop,
    )
    timer.cancel()
    graded = [o for o in report.outcomes if o.status is Status.GRADED]
    assert 1 <= len(graded) < 5
    assert report.interrupted
    assert store.query("select count(*) as n from grades")[0]["n"] == len(graded)
