"""Sending a class as Message Batches, and the batch tables.

``submit_batch`` sends the submissions an interactive run would grade as Message
Batches, at half the standard price, records each batch and its items, marks
the submissions as waiting and returns at once. The API takes at most 100,000
requests or 256 MB per batch, so a larger class is split into several batches.
Anthropic ends a batch within 24 hours; requests not processed by then expire.

A batch row records what was sent and the API's latest processing status. A
batch item row records one request (``custom_id``), the submission and content
it was built from, and what became of its result. Results are collected and
validated by :mod:`gradebot_cli.grading.batch`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gradebot_cli.assignment import Assignment
from gradebot_cli.domain import SourceItem, Status
from gradebot_cli.errors import ApiError, ConfigError
from gradebot_cli.grading.request import RequestBuilder
from gradebot_cli.grading.run import (
    GradeOptions,
    Outcome,
    outcome_from_row,
    select_items,
)
from gradebot_cli.pricing import PriceTable
from gradebot_cli.prompting import load_prompts
from gradebot_cli.sources import Source
from gradebot_cli.storage import Store
from gradebot_cli.storage.store import SubmissionRow, utc_now
from gradebot_cli.tokens import estimate_request_input_tokens

MAX_BATCH_REQUESTS = 100_000
# The API's limit is 256 MB; decimal megabytes keep every batch under it.
MAX_BATCH_BYTES = 256_000_000
# SDK retries for the batch endpoints (create, retrieve, results), which are
# cheap to repeat and are not recorded in the ledger.
BATCH_API_RETRIES = 4
WAITING_STATES = ("submitted", "received")

T = TypeVar("T")


def waiting_keys(store: Store, assignment_id: str) -> dict[str, str]:
    """Map the key of each submission waiting for a batch result to the batch id."""
    rows = store.query(
        "select s.key, i.batch_id from batch_items i "
        "join batches b on b.id = i.batch_id join submissions s on s.id = i.submission_id "
        "where b.assignment_id = ? and i.status in (?, ?)",
        [assignment_id, *WAITING_STATES],
    )
    return {row["key"]: row["batch_id"] for row in rows}


@dataclass(frozen=True)
class BatchEntry:
    """One request to put in a batch."""

    submission_id: int
    content_hash: str
    attempt: int
    params: dict[str, Any]
    estimated_input_tokens: int
    replaces: tuple[str, str] | None = None
    """The (batch id, custom id) of the failed item this entry resubmits."""

    @property
    def custom_id(self) -> str:
        # At most 64 characters of [a-zA-Z0-9_-], unique within the batch.
        return f"sub{self.submission_id}-try{self.attempt}"

    def request(self) -> dict[str, Any]:
        return {"custom_id": self.custom_id, "params": self.params}


def split_requests(
    entries: list[BatchEntry],
    *,
    max_requests: int = MAX_BATCH_REQUESTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[list[BatchEntry]]:
    """Split entries into batches under the API's request-count and size limits."""
    chunks: list[list[BatchEntry]] = []
    current: list[BatchEntry] = []
    size = 0
    for entry in entries:
        entry_bytes = len(json.dumps(entry.request(), ensure_ascii=False).encode()) + 1
        if current and (len(current) >= max_requests or size + entry_bytes > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry_bytes
    if current:
        chunks.append(current)
    return chunks


def api_call(send: Callable[[], T], action: str, model: str) -> T:
    """Run one batch-endpoint call, turning SDK errors into gradebot's errors.

    ``action`` names the call in messages, such as "Reading Message Batch X".
    """
    import anthropic

    from gradebot_cli.grading.failures import classify_failure

    try:
        return send()
    except anthropic.NotFoundError as exc:
        raise ApiError(
            f"{action} failed: not found (404). The batch may belong to another API "
            "key's workspace, or its results may be past the API's 29-day limit."
        ) from exc
    except anthropic.APIError as exc:
        reason, fatal = classify_failure(exc, model)
        if fatal is not None:
            raise fatal from exc
        raise ApiError(
            f"{action} failed: {reason}. Run the same command again later."
        ) from exc


def send_batches(
    store: Store,
    client: Any,
    assignment: Assignment,
    run_id: str,
    entries: list[BatchEntry],
) -> list[str]:
    """Create one batch per chunk of ``entries`` and record each at once."""
    batch_client = client.with_options(max_retries=BATCH_API_RETRIES)
    batch_ids = []
    for chunk in split_requests(entries):
        batch = api_call(
            functools.partial(
                batch_client.messages.batches.create,
                requests=[entry.request() for entry in chunk],
            ),
            "Creating the Message Batch",
            assignment.model,
        )
        _record_batch(store, assignment, run_id, batch, chunk)
        batch_ids.append(str(batch.id))
    return batch_ids


def _record_batch(
    store: Store,
    assignment: Assignment,
    run_id: str,
    batch: Any,
    chunk: list[BatchEntry],
) -> None:
    now = utc_now()
    reason = f"waiting for Message Batch {batch.id}"
    with store.transaction() as db:
        db.table("batches").insert(
            {
                "id": batch.id,
                "assignment_id": assignment.id,
                "run_id": run_id,
                "model": assignment.model,
                "status": batch.processing_status,
                "request_count": len(chunk),
                "created_at": _iso(batch.created_at) or now,
                "expires_at": _iso(batch.expires_at),
                "ended_at": _iso(batch.ended_at),
                "counts_json": batch.request_counts.model_dump_json(),
                "collected_at": None,
            }
        )
        for entry in chunk:
            db.table("batch_items").insert(
                {
                    "batch_id": batch.id,
                    "custom_id": entry.custom_id,
                    "submission_id": entry.submission_id,
                    "content_hash": entry.content_hash,
                    "attempt": entry.attempt,
                    "status": "submitted",
                    "estimated_input_tokens": entry.estimated_input_tokens,
                    "updated_at": now,
                }
            )
            db.table("submissions").update(
                entry.submission_id,
                {"status": Status.PENDING.value, "reason": reason, "updated_at": now},
            )
            if entry.replaces is not None:
                db.table("batch_items").update(
                    entry.replaces, {"status": "resubmitted", "updated_at": now}
                )


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.isoformat().replace("+00:00", "Z"))


def items_in_state(
    store: Store, batch_id: str, state: str
) -> dict[str, dict[str, Any]]:
    rows = store.query(
        "select * from batch_items where batch_id = ? and status = ?", [batch_id, state]
    )
    return {row["custom_id"]: row for row in rows}


def assignment_items(
    store: Store, assignment_id: str, state: str
) -> list[dict[str, Any]]:
    return store.query(
        "select i.* from batch_items i join batches b on b.id = i.batch_id "
        "where b.assignment_id = ? and i.status = ? order by i.rowid",
        [assignment_id, state],
    )


def make_client(timeout_seconds: float) -> Any:
    """Create the SDK client from ANTHROPIC_API_KEY (raises when it is unset)."""
    import anthropic

    from gradebot_cli.grading.service import require_api_key

    require_api_key()
    return anthropic.Anthropic(max_retries=0, timeout=timeout_seconds)


def update_batch(store: Store, remote: Any) -> None:
    """Store a batch's processing status, request counts and end time."""
    with store.transaction() as db:
        db.table("batches").update(
            remote.id,
            {
                "status": remote.processing_status,
                "counts_json": remote.request_counts.model_dump_json(),
                "ended_at": _iso(remote.ended_at),
                "expires_at": _iso(remote.expires_at),
            },
        )


@dataclass(frozen=True)
class BatchInfo:
    """A batch as the database records it, refreshed from the API when open."""

    id: str
    assignment_id: str
    status: str
    request_count: int
    counts: dict[str, int]
    created_at: str
    ended_at: str | None
    expires_at: str | None
    collected_at: str | None
    waiting: int


def batch_status(
    store: Store,
    *,
    assignment_id: str | None = None,
    batch_id: str | None = None,
    client: Any = None,
) -> list[BatchInfo]:
    """List batches, refreshing uncollected ones from the API when ``client`` is set."""
    where, params = "1 = 1", []
    if batch_id:
        where, params = "id = ?", [batch_id]
    elif assignment_id:
        where, params = "assignment_id = ?", [assignment_id]
    rows = store.query(
        f"select * from batches where {where} order by created_at", params
    )
    if batch_id and not rows:
        raise ConfigError(
            f"No Message Batch {batch_id!r} in the ledger; "
            "`gradebot batch status` lists the known ones."
        )
    if client is not None:
        batch_client = client.with_options(max_retries=BATCH_API_RETRIES)
        for row in rows:
            if row["collected_at"] is None:
                remote = api_call(
                    functools.partial(
                        batch_client.messages.batches.retrieve, row["id"]
                    ),
                    f"Reading Message Batch {row['id']}",
                    row["model"] or "",
                )
                update_batch(store, remote)
        rows = store.query(
            f"select * from batches where {where} order by created_at", params
        )
    return [_batch_info(store, row) for row in rows]


def _batch_info(store: Store, row: dict[str, Any]) -> BatchInfo:
    waiting = store.query(
        "select count(*) as n from batch_items where batch_id = ? and status in (?, ?)",
        [row["id"], *WAITING_STATES],
    )[0]["n"]
    counts = json.loads(row["counts_json"]) if row["counts_json"] else {}
    return BatchInfo(
        id=row["id"],
        assignment_id=row["assignment_id"],
        status=row["status"] or "",
        request_count=int(row["request_count"] or 0),
        counts=counts,
        created_at=row["created_at"] or "",
        ended_at=row["ended_at"],
        expires_at=row["expires_at"],
        collected_at=row["collected_at"],
        waiting=int(waiting),
    )


@dataclass
class SubmitReport:
    """The submissions ``gradebot grade --batch`` sent, and those it left out."""

    run_id: str
    batch_ids: list[str] = field(default_factory=list)
    queued: list[Outcome] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    """Submissions not sent: unchanged, or with a file problem."""
    waiting: int = 0
    """Submissions skipped because an earlier batch has not returned them yet."""
    estimate_micro: int = 0
    left_out: list[SourceItem] = field(default_factory=list)
    """Submissions not sent because of --max-cost."""
    left_out_estimate_micro: int = 0


def submit_batch(
    assignment: Assignment,
    store: Store,
    source: Source,
    prices: PriceTable,
    options: GradeOptions,
    *,
    client: Any,
) -> SubmitReport:
    """Send every new or changed submission of ``assignment`` as Message Batches.

    ``options`` selects submissions as for an interactive run, and submissions
    still waiting for an earlier batch are skipped. With ``max_cost_micro``,
    submissions are added while the batch's estimated cost stays within it. Call
    :func:`gradebot_cli.grading.batch.collect_batches` first, so results that
    have arrived are saved before anything is sent again.
    """
    from gradebot_cli.costs.estimate import BatchBudget
    from gradebot_cli.grading.service import register_assignment

    price = prices.get(assignment.model)
    builder = RequestBuilder.create(assignment, load_prompts(assignment.prompts_dir))
    register_assignment(store, assignment)
    run_id = store.start_run(assignment.id, "grade --batch")
    report = SubmitReport(run_id=run_id)
    known = store.submissions(assignment.id)
    waiting = waiting_keys(store, assignment.id)
    report.waiting = len(waiting)
    listed = (item for item in source.list_items() if item.key not in waiting)
    todo, unchanged = select_items(listed, known, options)
    report.outcomes.extend(unchanged)
    budget = BatchBudget(store, price, assignment, options.max_cost_micro)
    entries: list[BatchEntry] = []
    outcome = "failed"
    try:
        for index, item in enumerate(todo):
            entry = _prepare(
                assignment, store, source, builder, known, options, item, report
            )
            if entry is None:
                continue
            if not budget.take(entry.estimated_input_tokens):
                _leave_out(store, report, entry, todo[index:], budget.per_request())
                break
            entries.append(entry)
            report.queued.append(
                Outcome(
                    item.key,
                    item.student,
                    item.file_name,
                    Status.PENDING,
                    "sent in a Message Batch",
                    submission_id=entry.submission_id,
                )
            )
        report.estimate_micro = budget.spent
        report.batch_ids = send_batches(store, client, assignment, run_id, entries)
        outcome = "budget" if report.left_out else "ok"
    finally:
        store.finish_run(run_id, outcome, {"queued": len(entries)})
    return report


def _leave_out(
    store: Store,
    report: SubmitReport,
    entry: BatchEntry,
    rest: list[SourceItem],
    per_request_micro: int,
) -> None:
    store.set_status(
        entry.submission_id,
        Status.PENDING,
        "not sent: the --max-cost limit was reached",
    )
    report.left_out = rest
    report.left_out_estimate_micro = per_request_micro * len(rest)


def _prepare(
    assignment: Assignment,
    store: Store,
    source: Source,
    builder: RequestBuilder,
    known: dict[str, SubmissionRow],
    options: GradeOptions,
    item: SourceItem,
    report: SubmitReport,
) -> BatchEntry | None:
    """Load one submission and return its entry, or record why it is not sent.

    The checks match an interactive run's: a file problem is stored as the
    submission's status, and unchanged content with a final status is skipped.
    """
    loaded = source.load(item)
    row = known.get(item.key)
    if loaded.status is not None:
        submission_id = store.upsert_submission(
            assignment.id,
            item,
            content_hash=loaded.content_hash,
            status=loaded.status,
            reason=loaded.reason,
        )
        report.outcomes.append(
            Outcome(
                item.key,
                item.student,
                item.file_name,
                loaded.status,
                loaded.reason,
                submission_id=submission_id,
            )
        )
        return None
    if (
        row is not None
        and not options.regrade
        and row.content_hash == loaded.content_hash
        and row.status.is_final
    ):
        store.upsert_submission(
            assignment.id,
            item,
            content_hash=loaded.content_hash,
            status=row.status,
            reason=row.reason,
        )
        report.outcomes.append(outcome_from_row(row, unchanged=True))
        return None
    submission_id = store.upsert_submission(
        assignment.id,
        item,
        content_hash=loaded.content_hash,
        status=Status.PENDING,
        reason="queued for a Message Batch",
    )
    params = builder.build(loaded)
    return BatchEntry(
        submission_id,
        loaded.content_hash,
        1,
        params,
        estimate_request_input_tokens(params),
    )
