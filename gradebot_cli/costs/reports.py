"""Cost reports from the ledger: totals, tokens by kind and what discounts saved.

Every figure is computed from the ledger rows alone. A row's cost is the
``cost_micro`` recorded when the request was made, and the savings are priced
with the row's own ``prices_json`` snapshot, so a report about past requests
never changes when the price table does.

- Caching saved: what the row would have cost with every cache write and cache
  read billed as ordinary input, minus what it cost. Cache reads make it grow,
  and the premium paid for cache writes makes it shrink (it is negative when
  writes were never read back).
- Batching saved: for rows sent through the Message Batches API, the same
  tokens at standard prices minus the batch cost.
- Cost per graded submission: every request's cost (re-asks and failures
  included) divided by the submissions that got a grade (an ``ok`` or
  ``invalid`` answer) from the requests in the group.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from gradebot_cli.errors import ConfigError
from gradebot_cli.pricing import ModelPrice, TokenUsage, cost_micro, format_usd
from gradebot_cli.storage import Store

GROUPINGS = ("assignment", "model", "day", "type", "tier")
GRADED_OUTCOMES = frozenset({"ok", "invalid"})
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
)


def parse_day(text: str, option: str) -> date:
    """Parse a YYYY-MM-DD date given to ``option``; raise ConfigError if invalid."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not a valid date; write it as YYYY-MM-DD, "
            "for example 2026-09-01 (days are UTC)."
        ) from None


@dataclass(frozen=True)
class CostFilter:
    """The ledger rows a report covers; ``since`` and ``until`` are inclusive UTC
    days."""

    since: date | None = None
    until: date | None = None
    assignment_id: str | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ConfigError(
                f"--since {self.since} is after --until {self.until}; swap them."
            )

    def sql(self) -> tuple[str, list[Any]]:
        clauses, params = ["1 = 1"], []
        if self.since is not None:
            clauses.append("r.created_at >= ?")
            params.append(self.since.isoformat())
        if self.until is not None:
            clauses.append("r.created_at < ?")
            params.append((self.until + timedelta(days=1)).isoformat())
        if self.assignment_id:
            clauses.append("r.assignment_id = ?")
            params.append(self.assignment_id)
        return " and ".join(clauses), params

    def to_dict(self) -> dict[str, str | None]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "assignment": self.assignment_id,
        }


@dataclass
class CostTotals:
    """Sums over a set of ledger rows."""

    label: str = ""
    requests: int = 0
    tokens: TokenUsage = field(default_factory=TokenUsage)
    cost_micro: int = 0
    cache_saved_micro: int = 0
    batch_saved_micro: int = 0
    graded: set[tuple[str, int]] = field(default_factory=set)

    @property
    def graded_submissions(self) -> int:
        return len(self.graded)

    @property
    def cost_per_graded_micro(self) -> int | None:
        if not self.graded:
            return None
        return (self.cost_micro + len(self.graded) // 2) // len(self.graded)

    def add(
        self, row: dict[str, Any], usage: TokenUsage, price: ModelPrice | None
    ) -> None:
        self.requests += 1
        self.tokens = self.tokens + usage
        self.cost_micro += int(row["cost_micro"])
        if price is not None:
            cache, batch = savings(price, usage, batch=row["service_tier"] == "batch")
            self.cache_saved_micro += cache
            self.batch_saved_micro += batch
        if row["outcome"] in GRADED_OUTCOMES and row["submission_id"] is not None:
            self.graded.add((row["assignment_id"] or "", int(row["submission_id"])))

    def to_dict(self) -> dict[str, Any]:
        per = self.cost_per_graded_micro
        return {
            "label": self.label,
            "requests": self.requests,
            **{name: getattr(self.tokens, name) for name in TOKEN_FIELDS},
            "cost_micro": self.cost_micro,
            "cost_usd": usd(self.cost_micro),
            "cache_saved_micro": self.cache_saved_micro,
            "cache_saved_usd": usd(self.cache_saved_micro),
            "batch_saved_micro": self.batch_saved_micro,
            "batch_saved_usd": usd(self.batch_saved_micro),
            "graded_submissions": self.graded_submissions,
            "cost_per_graded_micro": per,
            "cost_per_graded_usd": usd(per) if per is not None else None,
        }


def usd(micro: int) -> str:
    """Format micro-dollars as a plain decimal string of dollars, such as 0.018200."""
    return f"{Decimal(micro) / 1_000_000:.6f}"


def savings(price: ModelPrice, usage: TokenUsage, *, batch: bool) -> tuple[int, int]:
    """Return (caching saved, batching saved) in micro-dollars for one request."""
    paid = cost_micro(price, usage, batch=batch)
    uncached = TokenUsage(
        input_tokens=usage.prompt_tokens, output_tokens=usage.output_tokens
    )
    cache_saved = cost_micro(price, uncached, batch=batch) - paid
    batch_saved = cost_micro(price, usage) - paid if batch else 0
    return cache_saved, batch_saved


@dataclass
class CostReport:
    filters: CostFilter
    totals: CostTotals
    groups: dict[str, dict[str, CostTotals]]
    skipped_snapshots: int = 0
    """Rows whose price snapshot could not be read, so their savings are 0."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "filters": self.filters.to_dict(),
            "totals": self.totals.to_dict(),
            "groups": {
                grouping: [
                    {"key": key, **totals.to_dict()} for key, totals in rows.items()
                ]
                for grouping, rows in self.groups.items()
            },
            "rows_without_price_snapshot": self.skipped_snapshots,
        }


def cost_report(
    store: Store, filters: CostFilter, groupings: Sequence[str] = GROUPINGS
) -> CostReport:
    """Sum the ledger rows that match ``filters`` by each of ``groupings``."""
    unknown = sorted(set(groupings) - set(GROUPINGS))
    if unknown:
        raise ConfigError(
            f"Unknown grouping {unknown[0]!r}; use one of {', '.join(GROUPINGS)}."
        )
    where, params = filters.sql()
    rows = store.query(
        "select r.*, a.title as assignment_title from api_requests r "
        f"left join assignments a on a.id = r.assignment_id where {where} order by r.id",
        params,
    )
    report = CostReport(
        filters, CostTotals(label="total"), {name: {} for name in groupings}
    )
    snapshots: dict[str, ModelPrice | None] = {}
    for row in rows:
        usage = TokenUsage(**{name: int(row[name] or 0) for name in TOKEN_FIELDS})
        price = _snapshot(snapshots, row["prices_json"])
        if price is None:
            report.skipped_snapshots += 1
        report.totals.add(row, usage, price)
        for grouping in groupings:
            key, label = _group_key(grouping, row)
            group = report.groups[grouping].setdefault(key, CostTotals(label=label))
            group.add(row, usage, price)
    return report


def _snapshot(
    cache: dict[str, ModelPrice | None], text: str | None
) -> ModelPrice | None:
    if not text:
        return None
    if text not in cache:
        try:
            cache[text] = ModelPrice.from_snapshot(json.loads(text))
        except (ValueError, TypeError):
            cache[text] = None
    return cache[text]


def _group_key(grouping: str, row: dict[str, Any]) -> tuple[str, str]:
    if grouping == "assignment":
        key = row["assignment_id"] or "(none)"
        return key, row["assignment_title"] or ""
    if grouping == "model":
        return row["model"], ""
    if grouping == "day":
        return str(row["created_at"])[:10], ""
    if grouping == "type":
        return row["request_type"], ""
    return row["service_tier"] or "standard", ""


def run_savings(store: Store, run_id: str) -> tuple[int, int]:
    """Return what caching and batching saved on the requests of one run."""
    rows = store.query(
        "select * from api_requests where run_id = ? and prices_json is not null",
        [run_id],
    )
    totals = CostTotals()
    snapshots: dict[str, ModelPrice | None] = {}
    for row in rows:
        usage = TokenUsage(**{name: int(row[name] or 0) for name in TOKEN_FIELDS})
        totals.add(row, usage, _snapshot(snapshots, row["prices_json"]))
    return totals.cache_saved_micro, totals.batch_saved_micro


CSV_COLUMNS = (
    "grouping",
    "key",
    "label",
    "requests",
    *TOKEN_FIELDS,
    "cost_micro",
    "cost_usd",
    "cache_saved_micro",
    "cache_saved_usd",
    "batch_saved_micro",
    "batch_saved_usd",
    "graded_submissions",
    "cost_per_graded_micro",
    "cost_per_graded_usd",
)


def report_csv(report: CostReport) -> str:
    """Render the report as CSV: one row per group, then a ``total`` row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for grouping, rows in report.groups.items():
        for key, totals in rows.items():
            writer.writerow({"grouping": grouping, "key": key, **totals.to_dict()})
    writer.writerow({"grouping": "total", "key": "", **report.totals.to_dict()})
    return buffer.getvalue()


def describe_totals(totals: CostTotals) -> Iterable[tuple[str, str]]:
    """Yield (name, value) lines that summarise ``totals`` for a terminal."""
    per = totals.cost_per_graded_micro
    tokens = totals.tokens
    yield "Requests", f"{totals.requests:,}"
    yield "Cost", format_usd(totals.cost_micro)
    yield "Graded submissions", f"{totals.graded_submissions:,}"
    yield "Cost per graded submission", format_usd(per) if per is not None else "-"
    yield "Caching saved", format_usd(totals.cache_saved_micro)
    yield "Batching saved", format_usd(totals.batch_saved_micro)
    yield (
        "Tokens",
        f"{tokens.input_tokens:,} input, {tokens.output_tokens:,} output, "
        f"{tokens.cache_write_5m_tokens:,} cache write 5m, "
        f"{tokens.cache_write_1h_tokens:,} cache write 1h, "
        f"{tokens.cache_read_tokens:,} cache read",
    )
