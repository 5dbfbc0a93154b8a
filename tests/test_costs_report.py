"""Cost reports from the ledger, the price table command and exact request costs."""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import anthropic
import pytest
from click.testing import CliRunner, Result

from gradebot_cli.assignment import load_assignment
from gradebot_cli.cli.main import cli
from gradebot_cli.costs.reports import CostFilter, cost_report, run_savings, savings
from gradebot_cli.errors import ConfigError
from gradebot_cli.grading.run import GradeOptions
from gradebot_cli.grading.service import grade_class
from gradebot_cli.ledger import RequestRecord, ledger_row
from gradebot_cli.pricing import Rates, TokenUsage, load_price_table
from gradebot_cli.sources.local import LocalFolderSource
from gradebot_cli.storage import Store
from tests.conftest import EXAMPLE
from tests.fakes.anthropic_api import FakeAnthropic
from tests.support.grading import grading_responder

SONNET = "claude-sonnet-5-5"
OPUS = "claude-opus-5-5"
MILLION = 1_000_000


@pytest.fixture
def store(gradebot_home: Path) -> Store:
    gradebot_home.mkdir(parents=True, exist_ok=True)
    return Store(gradebot_home / "gradebot.db")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def add_row(
    store: Store,
    *,
    created_at: str,
    usage: TokenUsage,
    model: str = SONNET,
    assignment: str = "essay-1",
    submission: int = 1,
    request_type: str = "grade",
    outcome: str = "ok",
    batch: bool = False,
) -> dict[str, object]:
    price = load_price_table().get(model)
    record = RequestRecord(
        "run-1", assignment, submission, request_type, model, outcome
    )
    row = {**ledger_row(record, usage, price, batch=batch), "created_at": created_at}
    store.record_request(row)
    return row


@pytest.fixture
def ledger(store: Store) -> Store:
    """Six requests over two days, two assignments, two models and both tiers."""
    usage = TokenUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=2000)
    add_row(store, created_at="2026-09-01T08:00:00.000Z", usage=usage, submission=1)
    add_row(
        store,
        created_at="2026-09-01T09:00:00.000Z",
        usage=usage,
        submission=2,
        outcome="invalid",
    )
    add_row(
        store,
        created_at="2026-09-01T09:00:01.000Z",
        usage=usage,
        submission=2,
        request_type="reask",
    )
    add_row(
        store,
        created_at="2026-09-02T00:00:00.000Z",
        usage=usage,
        submission=3,
        model=OPUS,
        assignment="essay-2",
    )
    add_row(
        store,
        created_at="2026-09-02T23:59:59.999Z",
        usage=usage,
        submission=4,
        assignment="essay-2",
        batch=True,
    )
    add_row(
        store,
        created_at="2026-09-03T00:00:00.000Z",
        usage=TokenUsage(),
        submission=5,
        outcome="error:APIConnectionError",
    )
    return store


def micro(tokens: int, usd_per_mtok: str) -> tuple[int, int]:
    """Return tokens x price as an exact fraction of micro-dollars (numerator, 1e6)."""
    whole, _, fraction = usd_per_mtok.partition(".")
    rate = int(whole) * MILLION + int((fraction + "000000")[:6])
    return tokens * rate, MILLION


def test_request_cost_exact_with_cache(store: Store) -> None:
    """Sonnet 5.5: $2 input, $10 output, $2.50 5-minute write, $0.10 read per MTok."""
    usage = TokenUsage(
        input_tokens=578,
        output_tokens=184,
        cache_write_5m_tokens=759,
        cache_read_tokens=3,
    )
    row = add_row(store, created_at="2026-09-01T00:00:00.000Z", usage=usage)
    # 578 x 2 + 184 x 10 + 759 x 2.5 + 3 x 0.1 = 4893.8 micro-dollars, rounded half-up.
    assert row["cost_micro"] == 4894


def test_fake_usage_priced_exactly(tmp_path: Path, store: Store) -> None:
    assignment = load_assignment(EXAMPLE).with_overrides(output_dir=tmp_path / "out")
    assert assignment.source.path is not None
    source = LocalFolderSource(
        assignment.source.path, exclude=assignment.excluded_paths
    )
    with (
        FakeAnthropic(responder=grading_responder(assignment.rubric)) as fake,
        (
            anthropic.Anthropic(
                base_url=fake.base_url, api_key=fake.api_key, max_retries=0
            )
        ) as client,
    ):
        grade_class(
            assignment,
            store,
            source,
            load_price_table(),
            GradeOptions(concurrency=1),
            client=client,
        )
    rows = store.query("select * from api_requests order by id")
    assert rows[0]["cache_write_5m_tokens"] > 0
    assert rows[1]["cache_read_tokens"] > 0
    for row in rows:
        parts = [
            micro(row["input_tokens"], "2"),
            micro(row["output_tokens"], "10"),
            micro(row["cache_write_5m_tokens"], "2.50"),
            micro(row["cache_read_tokens"], "0.10"),
        ]
        numerator = sum(n for n, _ in parts)
        assert row["cost_micro"] == (numerator + MILLION // 2) // MILLION


def test_savings_of_cache_read() -> None:
    price = load_price_table().get(SONNET)
    cache, batch = savings(price, TokenUsage(cache_read_tokens=1000), batch=False)
    assert cache == 1900  # 1000 tokens x ($2.00 - $0.10) per MTok
    assert batch == 0


def test_savings_of_unread_write_is_negative() -> None:
    price = load_price_table().get(SONNET)
    cache, _ = savings(price, TokenUsage(cache_write_5m_tokens=1000), batch=False)
    assert cache == -500  # the 25% write premium, never read back


def test_savings_of_batch() -> None:
    price = load_price_table().get(SONNET)
    usage = TokenUsage(input_tokens=1000, output_tokens=1000)
    _, batch = savings(price, usage, batch=True)
    assert batch == 6000  # half of 1000 x $2 + 1000 x $10 per MTok


def test_report_totals(ledger: Store) -> None:
    report = cost_report(ledger, CostFilter())
    totals = report.totals
    assert totals.requests == 6
    rows = ledger.query("select sum(cost_micro) as cost from api_requests")
    assert totals.cost_micro == rows[0]["cost"]
    assert totals.tokens.cache_read_tokens == 10_000
    assert totals.graded_submissions == 4
    assert totals.cost_per_graded_micro == round(totals.cost_micro / 4)


def test_report_groups(ledger: Store) -> None:
    report = cost_report(ledger, CostFilter())
    assert list(report.groups["day"]) == ["2026-09-01", "2026-09-02", "2026-09-03"]
    assert report.groups["model"][OPUS].requests == 1
    assert report.groups["type"]["reask"].requests == 1
    assert report.groups["tier"]["batch"].requests == 1
    assert report.groups["tier"]["standard"].batch_saved_micro == 0
    assert report.groups["tier"]["batch"].batch_saved_micro > 0
    assert report.groups["assignment"]["essay-2"].graded_submissions == 2


def test_report_days_inclusive(ledger: Store) -> None:
    day = date(2026, 9, 2)
    report = cost_report(ledger, CostFilter(since=day, until=day))
    assert report.totals.requests == 2


def test_report_assignment_filter(ledger: Store) -> None:
    report = cost_report(ledger, CostFilter(assignment_id="essay-1"))
    assert report.totals.requests == 4
    assert set(report.groups["assignment"]) == {"essay-1"}


def test_report_uses_row_snapshot(store: Store) -> None:
    """Savings use the prices recorded with the row, not today's table."""
    price = load_price_table().get(SONNET)
    old = replace(
        price, rates=Rates(4 * MILLION, 20 * MILLION, 5 * MILLION, 8 * MILLION, 400_000)
    )
    record = RequestRecord("run-1", "essay-1", 1, "grade", SONNET, "ok")
    usage = TokenUsage(cache_read_tokens=1000)
    store.record_request(ledger_row(record, usage, old))
    report = cost_report(store, CostFilter())
    assert report.totals.cost_micro == 400
    assert report.totals.cache_saved_micro == 3600


def test_since_after_until_rejected() -> None:
    with pytest.raises(ConfigError, match="is after --until"):
        CostFilter(since=date(2026, 9, 2), until=date(2026, 9, 1))


def test_costs_json(ledger: Store) -> None:
    result = invoke("costs", "--json", "--by", "model")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["groups"]) == ["model"]
    assert data["totals"]["requests"] == 6
    keys = {group["key"] for group in data["groups"]["model"]}
    assert keys == {SONNET, OPUS}


def test_costs_csv(ledger: Store) -> None:
    result = invoke("costs", "--csv", "--since", "2026-09-01", "--until", "2026-09-01")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    total = [row for row in rows if row["grouping"] == "total"]
    assert len(total) == 1
    assert total[0]["requests"] == "3"
    days = [row["key"] for row in rows if row["grouping"] == "day"]
    assert days == ["2026-09-01"]


def test_costs_table(ledger: Store) -> None:
    result = invoke("costs", "--assignment", "essay-2")
    assert result.exit_code == 0, result.output
    assert "By service tier" in result.stdout
    assert "essay-1" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "2026-13-01"), "--since '2026-13-01' is not a valid date"),
        (("--until", "yesterday"), "--until 'yesterday' is not a valid date"),
        (("--since", "2026-09-02", "--until", "2026-09-01"), "is after --until"),
    ],
)
def test_costs_rejects_dates(args: tuple[str, ...], message: str) -> None:
    result = invoke("costs", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_costs_empty_ledger() -> None:
    result = invoke("costs")
    assert result.exit_code == 0
    assert "No API requests" in result.stdout


def test_prices_json_lists_files() -> None:
    result = invoke("prices", "--json", "-m", SONNET)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["files"][0].endswith("prices.toml")
    assert data["files"][1].endswith("(not found)")
    model = data["models"][0]
    assert model["usd_per_mtok"]["input"] == "2"
    assert model["usd_per_mtok"]["cache_write_5m"] == "2.5"
    assert model["read_on"] == "2026-12-04"


def test_prices_with_override(gradebot_home: Path) -> None:
    gradebot_home.mkdir(parents=True, exist_ok=True)
    (gradebot_home / "prices.toml").write_text(
        f'read_on = "2027-01-15"\n[models."{SONNET}"]\ninput = "2.40"\n',
        encoding="utf-8",
    )
    result = invoke("prices", "--json", "-m", SONNET)
    data = json.loads(result.stdout)
    model = data["models"][0]
    assert model["usd_per_mtok"]["input"] == "2.4"
    assert str(gradebot_home / "prices.toml") in model["source"]
    assert model["read_on"] == "2027-01-15"
    table = invoke("prices", "-m", SONNET)
    assert "2.4" in table.stdout


def test_prices_unknown_model() -> None:
    result = invoke("prices", "-m", "claude-nope-9")
    assert result.exit_code == 2
    assert "No price is known for model 'claude-nope-9'" in result.stderr


def test_summary_line_cache_saved(
    tmp_path: Path, fake_api: FakeAnthropic, store: Store
) -> None:
    folder = tmp_path / "assignment"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("feedback"))
    fake_api.responder = grading_responder(load_assignment(folder).rubric)
    result = invoke("grade", str(folder), "-c", "1")
    assert result.exit_code == 0, result.output
    assert "; caching saved $" in " ".join(result.stderr.split())
    run_id = store.query("select run_id from api_requests limit 1")[0]["run_id"]
    cache_saved, batch_saved = run_savings(store, run_id)
    assert cache_saved > 0
    assert batch_saved == 0
