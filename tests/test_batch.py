"""Grading through Message Batches against the fake API, with the real SDK.

Batches are sent with ``gradebot grade --batch`` and collected with ``gradebot
batch collect`` or the next ``gradebot grade``. The fake ends a batch when the
test calls ``end_batches()``, and each request's outcome (succeeded, errored,
expired) is scripted by ``custom_id``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gradebot_cli.assignment import load_assignment
from gradebot_cli.batch import BatchEntry, split_requests
from gradebot_cli.cli.main import cli
from gradebot_cli.pricing import TokenUsage, cost_micro, load_price_table
from gradebot_cli.storage import Store
from tests.conftest import EXAMPLE
from tests.fakes.anthropic_api import FakeAnthropic
from tests.support.grading import (
    grade_answer,
    grading_responder,
    lowest_level,
    submission_text,
)

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAYA = "Maya_Okafor.txt"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "assignment"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("feedback"))
    return target


@pytest.fixture
def fake(fake_api: FakeAnthropic, folder: Path) -> FakeAnthropic:
    """The fake API; its batches stay in progress until ``end_batches()``."""
    fake_api.responder = grading_responder(load_assignment(folder).rubric)
    fake_api.batch_delay = None
    return fake_api


@pytest.fixture
def store(gradebot_home: Path) -> Store:
    gradebot_home.mkdir(parents=True, exist_ok=True)
    return Store(gradebot_home / "gradebot.db")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def submit(folder: Path, *extra: str) -> Result:
    result = invoke("grade", str(folder), "--batch", *extra)
    assert result.exit_code == 0, result.output
    return result


def collect(folder: Path) -> dict[str, Any]:
    result = invoke("batch", "collect", str(folder), "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def statuses(store: Store) -> dict[str, str]:
    rows = store.query("select file_name, status from submissions")
    return {row["file_name"]: row["status"] for row in rows}


def submission_id(store: Store, file_name: str) -> int:
    rows = store.query("select id from submissions where file_name = ?", [file_name])
    return int(rows[0]["id"])


def ledger(store: Store) -> list[dict[str, Any]]:
    return store.query("select * from api_requests order by id")


def batch_requests(fake: FakeAnthropic) -> list[list[str]]:
    """The custom ids of every batch the fake received, oldest first."""
    return [
        [item["custom_id"] for item in record.body["requests"]]
        for record in fake.requests_to("/v1/messages/batches")
        if record.method == "POST"
    ]


def test_submit_sends_one_batch(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    result = submit(folder)
    assert "Sent 5 submissions in Message Batch msgbatch_" in result.stderr
    sent = batch_requests(fake)
    assert len(sent) == 1
    assert len(sent[0]) == 5
    assert all(CUSTOM_ID.match(custom_id) for custom_id in sent[0])
    assert fake.count("/v1/messages") == 0
    assert set(statuses(store).values()) == {"pending"}
    reasons = store.query("select reason from submissions")
    assert all(row["reason"].startswith("waiting for Message Batch") for row in reasons)
    items = store.query("select status from batch_items")
    assert [row["status"] for row in items] == ["submitted"] * 5


def test_status_in_progress_then_ended(folder: Path, fake: FakeAnthropic) -> None:
    submit(folder)
    before = json.loads(invoke("batch", "status", str(folder), "--json").stdout)
    assert before[0]["status"] == "in_progress"
    assert before[0]["counts"]["processing"] == 5
    assert before[0]["waiting"] == 5
    fake.end_batches()
    after = json.loads(
        invoke("batch", "status", "--batch", before[0]["id"], "--json").stdout
    )
    assert after[0]["status"] == "ended"
    assert after[0]["counts"]["succeeded"] == 5


def test_status_unknown_batch() -> None:
    result = invoke("batch", "status", "--batch", "msgbatch_nope")
    assert result.exit_code == 2
    assert "No Message Batch 'msgbatch_nope'" in result.stderr


def test_collect_at_batch_prices(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    submit(folder)
    fake.end_batches()
    data = collect(folder)
    assert [s["status"] for s in data["submissions"]] == ["graded"] * 5
    assert set(statuses(store).values()) == {"graded"}
    price = load_price_table().get("claude-sonnet-5-5")
    rows = ledger(store)
    assert len(rows) == 5
    for row in rows:
        usage = TokenUsage(
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cache_write_5m_tokens=row["cache_write_5m_tokens"],
            cache_read_tokens=row["cache_read_tokens"],
        )
        assert row["service_tier"] == "batch"
        assert row["cost_micro"] == cost_micro(price, usage, batch=True)
        assert row["batch_id"].startswith("msgbatch_")
        assert CUSTOM_ID.match(row["custom_id"])
    assert len(list((folder / "feedback").glob("*.md"))) >= 5


def test_collect_twice_charges_once(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    submit(folder)
    fake.end_batches()
    collect(folder)
    before = store.query(
        "select count(*) as n, sum(cost_micro) as cost from api_requests"
    )
    second = collect(folder)
    after = store.query(
        "select count(*) as n, sum(cost_micro) as cost from api_requests"
    )
    assert second["submissions"] == []
    assert after == before
    assert store.query("select count(*) as n from grades")[0]["n"] == 5


def test_collect_again_after_crash(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    """A collect that stopped before marking its batch collected downloads the
    results again; every result already in the ledger is skipped."""
    submit(folder)
    fake.end_batches()
    collect(folder)
    with store.transaction() as db:
        db.execute("update batches set collected_at = null")
    again = collect(folder)
    assert again["already_recorded"] == 5
    assert len(ledger(store)) == 5
    assert store.query("select count(*) as n from grades")[0]["n"] == 5


def test_results_matched_by_custom_id(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    submit(folder)
    fake.end_batches()
    batch = fake.batches.newest_first()[0]
    batch.results.reverse()
    collect(folder)
    for row in ledger(store):
        assert row["custom_id"] == f"sub{row['submission_id']}-try1"
    assert set(statuses(store).values()) == {"graded"}


def test_errored_and_expired_resent(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    submit(folder)
    maya = submission_id(store, MAYA)
    liam = submission_id(store, "Liam Chen.txt")
    fake.set_batch_outcome(f"sub{maya}-try1", "errored")
    fake.set_batch_outcome(f"sub{liam}-try1", "expired")
    fake.end_batches()
    first = collect(folder)
    assert first["resubmitted"] == 2
    assert len(first["new_batches"]) == 1
    assert batch_requests(fake)[1] == sorted([f"sub{liam}-try2", f"sub{maya}-try2"])
    failed = {row["outcome"]: row for row in ledger(store) if row["cost_micro"] == 0}
    assert set(failed) == {"batch_errored", "batch_expired"}
    assert failed["batch_errored"]["error"].startswith("api_error:")
    assert statuses(store)[MAYA] == "pending"
    fake.end_batches()
    collect(folder)
    assert set(statuses(store).values()) == {"graded"}
    assert len(ledger(store)) == 7


def test_errored_three_times_fails(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    submit(folder)
    maya = submission_id(store, MAYA)
    for attempt in (1, 2, 3):
        fake.set_batch_outcome(f"sub{maya}-try{attempt}", "errored")
    for _ in range(3):
        fake.end_batches()
        collect(folder)
    row = store.query("select status, reason from submissions where id = ?", [maya])[0]
    assert row["status"] == "api_error"
    assert "failed 3 times" in row["reason"]
    assert len(batch_requests(fake)) == 3
    assert collect(folder)["resubmitted"] == 0


def test_invalid_request_fails_at_once(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    submit(folder, "--max-tokens", "200000")
    fake.end_batches()
    data = collect(folder)
    assert data["resubmitted"] == 0
    assert set(statuses(store).values()) == {"api_error"}
    reason = store.query("select reason from submissions")[0]["reason"]
    assert "invalid_request_error" in reason


def test_changed_submission_graded_again(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    submit(folder)
    maya_file = folder / "submissions" / MAYA
    maya_file.write_text(
        maya_file.read_text(encoding="utf-8") + "\nOne more sentence.", encoding="utf-8"
    )
    fake.end_batches()
    collect(folder)
    maya = store.query(
        "select status, reason from submissions where file_name = ?", [MAYA]
    )
    assert maya[0]["status"] == "pending"
    assert "changed after it was sent" in maya[0]["reason"]
    assert [row["outcome"] for row in ledger(store)].count("stale") == 1
    result = invoke("grade", str(folder), "-q")
    assert result.exit_code == 0, result.output
    assert fake.count("/v1/messages") == 1
    assert statuses(store)[MAYA] == "graded"


def test_grade_waits_then_collects(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    submit(folder)
    waiting = invoke("grade", str(folder))
    assert waiting.exit_code == 0, waiting.output
    assert "Still processing: msgbatch_" in " ".join(waiting.stderr.split())
    assert fake.count("/v1/messages") == 0
    fake.end_batches()
    done = invoke("grade", str(folder))
    assert done.exit_code == 0, done.output
    assert "Collected 1 batch: 5 graded" in " ".join(done.stderr.split())
    assert fake.count("/v1/messages") == 0
    assert set(statuses(store).values()) == {"graded"}


def test_invalid_answer_reasked(
    folder: Path, fake: FakeAnthropic, store: Store
) -> None:
    """An answer quoting words that are not in the letter is asked again once,
    interactively, and the second answer is saved."""
    rubric = load_assignment(folder).rubric
    good = grading_responder(rubric)
    seen: set[str] = set()

    def respond(body: dict[str, Any]) -> str:
        letter = submission_text(body)
        if letter in seen:
            return good(body)
        seen.add(letter)
        answer = grade_answer(rubric, letter, lowest_level, quote="never written")
        return json.dumps(answer)

    fake.responder = respond
    submit(folder)
    fake.end_batches()
    collect(folder)
    rows = ledger(store)
    tiers = [(row["request_type"], row["service_tier"]) for row in rows]
    assert tiers.count(("grade", "batch")) == 5
    assert tiers.count(("reask", "standard")) == 5
    assert {row["outcome"] for row in rows if row["service_tier"] == "batch"} == {
        "invalid"
    }
    assert set(statuses(store).values()) == {"graded"}


def test_max_cost_leaves_out(folder: Path, fake: FakeAnthropic, store: Store) -> None:
    result = invoke("grade", str(folder), "--batch", "--max-cost", "0.04")
    assert result.exit_code == 3, result.output
    assert re.search(r"--max-cost reached: \d submissions were not sent", result.stderr)
    sent = batch_requests(fake)
    assert 0 < len(sent[0]) < 5


def test_split_by_count() -> None:
    entries = [BatchEntry(n, "h", 1, {"model": "m"}, 10) for n in range(5)]
    chunks = split_requests(entries, max_requests=2)
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]


def test_split_by_bytes() -> None:
    params = {"model": "m", "text": "x" * 1000}
    entries = [BatchEntry(n, "h", 1, params, 10) for n in range(4)]
    one = len(json.dumps(entries[0].request()).encode()) + 1
    chunks = split_requests(entries, max_bytes=one * 2)
    assert [len(chunk) for chunk in chunks] == [2, 2]


def test_custom_id_fits_api_pattern() -> None:
    entry = BatchEntry(10**12, "h", 3, {}, 0)
    assert CUSTOM_ID.match(entry.custom_id)
