"""Collecting Message Batch results and grading with them.

``collect_batches`` downloads the results of every ended batch of an assignment
(see :mod:`gradebot_cli.batch` for sending). Results arrive in any order and are
matched to items by ``custom_id``. Each result is written to the ledger at batch
prices in the same transaction that marks its item as received, so collecting
twice charges nothing twice. A received answer is validated like an interactive
one, and an invalid or malformed answer gets one re-ask, sent interactively at
standard prices. Expired requests and requests that errored with a transient
error type go into a new batch, at most ``MAX_BATCH_ATTEMPTS`` times; after that
the submission gets ``api_error`` with the reason. A result for a submission
whose content changed after it was sent is recorded but not saved, and the next
run grades the submission again.

An item moves through these states: ``submitted`` → ``received`` → ``done``,
``stale``, ``failed`` or ``retry`` → ``resubmitted``. Submissions with an item
``submitted`` or ``received`` are skipped by interactive runs and new batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gradebot_cli.assignment import Assignment
from gradebot_cli.batch import (
    BATCH_API_RETRIES,
    BatchEntry,
    api_call,
    assignment_items,
    items_in_state,
    send_batches,
    update_batch,
    waiting_keys,
)
from gradebot_cli.domain import LoadedSubmission, SourceItem, Status
from gradebot_cli.errors import ApiError
from gradebot_cli.grading.answer import Answer, read_answer
from gradebot_cli.grading.budget import Budget
from gradebot_cli.grading.client import Caller, RateGate
from gradebot_cli.grading.grader import SubmissionGrader
from gradebot_cli.grading.request import RequestBuilder
from gradebot_cli.grading.run import (
    GradeOptions,
    Outcome,
    grade_written,
    outcome_from_row,
)
from gradebot_cli.ledger import RequestRecord, ledger_row
from gradebot_cli.pricing import ModelPrice, TokenUsage
from gradebot_cli.prompting import load_prompts
from gradebot_cli.publishing.local import write_feedback_files
from gradebot_cli.sources import Source
from gradebot_cli.storage import Store
from gradebot_cli.storage.store import utc_now
from gradebot_cli.tokens import estimate_request_input_tokens

MAX_BATCH_ATTEMPTS = 3
TRANSIENT_ERROR_TYPES = frozenset(
    {"api_error", "overloaded_error", "rate_limit_error", "timeout_error"}
)
BATCH_ITEM_RESULT_FIELDS = (
    "status",
    "result_type",
    "result_json",
    "error",
    "updated_at",
)


def make_grader(
    assignment: Assignment,
    store: Store,
    source: Source,
    price: ModelPrice,
    client: Any,
    run_id: str,
    options: GradeOptions,
) -> SubmissionGrader:
    """A grader for re-asks and for saving answers that came from a batch."""
    stop = threading.Event()
    caller = Caller(RateGate(options.rpm), max_retries=options.max_retries, stop=stop)
    return SubmissionGrader(
        assignment=assignment,
        store=store,
        source=source,
        builder=RequestBuilder.create(assignment, load_prompts(assignment.prompts_dir)),
        caller=caller,
        client=client,
        price=price,
        budget=Budget(options.max_cost_micro),
        run_id=run_id,
        known={},
        regrade=False,
        stop=stop,
        timeout_seconds=options.timeout_seconds,
    )


@dataclass
class CollectReport:
    """The outcome of collecting the ended batches of an assignment."""

    outcomes: list[Outcome] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    resubmitted: int = 0
    new_batches: list[str] = field(default_factory=list)
    stale: int = 0
    already_recorded: int = 0
    """Results skipped because an earlier collect recorded them."""
    cost_micro: int = 0

    def summary(self) -> str:
        """Describe the collect in one line for the terminal."""
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
        parts = [
            f"{count} {status.replace('_', ' ')}"
            for status, count in sorted(counts.items())
        ]
        if self.stale:
            parts.append(f"{self.stale} changed since sent (graded again next run)")
        if self.resubmitted:
            parts.append(f"{self.resubmitted} resent in {', '.join(self.new_batches)}")
        sentences = []
        if self.collected or parts:
            batches = "batch" if len(self.collected) == 1 else "batches"
            head = f"Collected {len(self.collected)} {batches}"
            if not self.collected:
                head = "Finished results received earlier"
            sentences.append(f"{head}: {', '.join(parts) or 'no new results'}.")
        if self.in_progress:
            sentences.append(f"Still processing: {', '.join(self.in_progress)}.")
        return " ".join(sentences) or "No Message Batch had ended."


class _Collector:
    """Receives and processes the results of one assignment's batches."""

    def __init__(
        self,
        assignment: Assignment,
        store: Store,
        source: Source,
        price: ModelPrice,
        client: Any,
        run_id: str,
        options: GradeOptions,
    ) -> None:
        self.assignment = assignment
        self.store = store
        self.source = source
        self.price = price
        self.client = client
        self.batch_client = client.with_options(max_retries=BATCH_API_RETRIES)
        self.run_id = run_id
        self.grader = make_grader(
            assignment, store, source, price, client, run_id, options
        )
        self.report = CollectReport()
        self._items: dict[str, SourceItem] | None = None

    def source_item(self, key: str) -> SourceItem | None:
        if self._items is None:
            self._items = {item.key: item for item in self.source.list_items()}
        return self._items.get(key)

    def load(self, submission_id: int) -> LoadedSubmission | None:
        """Load a submission's current content; None when the source dropped it."""
        item = self.source_item(self.store.submission(submission_id).key)
        return self.source.load(item) if item is not None else None

    def collect(self, batch: dict[str, Any]) -> None:
        import anthropic
        import httpx2

        remote = api_call(
            lambda: self.batch_client.messages.batches.retrieve(batch["id"]),
            f"Reading Message Batch {batch['id']}",
            self.assignment.model,
        )
        update_batch(self.store, remote)
        if remote.processing_status != "ended":
            self.report.in_progress.append(batch["id"])
            return
        items = items_in_state(self.store, batch["id"], "submitted")
        price = self._price_for(batch["model"] or self.assignment.model)
        results = api_call(
            lambda: self.batch_client.messages.batches.results(batch["id"]),
            f"Downloading the results of Message Batch {batch['id']}",
            self.assignment.model,
        )
        try:
            for line in results:
                item = items.pop(line.custom_id, None)
                if item is None:
                    self.report.already_recorded += 1
                    continue
                self.receive(item, line.result, price)
        except (anthropic.APIError, httpx2.HTTPError) as exc:
            # Results received so far are recorded; the next collect skips them.
            raise ApiError(
                f"Downloading the results of Message Batch {batch['id']} was "
                f"interrupted ({exc}). Run `gradebot batch collect` again."
            ) from exc
        for item in items.values():
            self.receive(item, None, price)
        with self.store.transaction() as db:
            db.table("batches").update(batch["id"], {"collected_at": utc_now()})
        self.report.collected.append(batch["id"])

    def _price_for(self, model: str) -> ModelPrice:
        """Price results at the batch's model, which differs from the current one
        when the batch was sent with --model."""
        if model == self.price.model:
            return self.price
        from gradebot_cli.pricing import load_price_table
        from gradebot_cli.settings import gradebot_home

        return load_price_table(gradebot_home() / "prices.toml").get(model)

    def receive(self, item: dict[str, Any], result: Any, price: ModelPrice) -> None:
        """Record one result in the ledger and mark its item, then process it."""
        kind = getattr(result, "type", "missing")
        message = result.message if kind == "succeeded" else None
        loaded = self.load(int(item["submission_id"])) if message is not None else None
        usage = (
            TokenUsage.from_usage(message.usage)
            if message is not None
            else TokenUsage()
        )
        error = _result_error(result) if kind != "succeeded" else ""

        record = RequestRecord(
            run_id=self.run_id,
            assignment_id=self.assignment.id,
            submission_id=item["submission_id"],
            request_type="grade",
            model=getattr(message, "model", None) or self.assignment.model,
            outcome=self._ledger_outcome(item, message, loaded, kind),
            error=error[:500],
            estimated_input_tokens=item["estimated_input_tokens"],
            batch_id=item["batch_id"],
            custom_id=item["custom_id"],
        )
        row = ledger_row(record, usage, price, batch=True)
        result_json = message.model_dump_json() if message is not None else ""

        received = {
            **item,
            "status": "received",
            "result_type": kind,
            "result_json": result_json,
            "error": error[:500],
            "updated_at": utc_now(),
        }
        with self.store.transaction() as db:
            db.table("api_requests").insert(
                {"created_at": received["updated_at"], **row}
            )
            db.table("batch_items").update(
                (item["batch_id"], item["custom_id"]),
                {key: received[key] for key in BATCH_ITEM_RESULT_FIELDS},
            )
        self.report.cost_micro += row["cost_micro"]

        received["cost_micro"] = row["cost_micro"]
        self.process(received, loaded)

    def _ledger_outcome(
        self,
        item: dict[str, Any],
        message: Any,
        loaded: LoadedSubmission | None,
        kind: str,
    ) -> str:
        if message is None:
            return f"batch_{kind}"
        if loaded is None or loaded.content_hash != item["content_hash"]:
            return "stale"
        return self._read(message, loaded).kind.value

    def process(
        self, item: dict[str, Any], loaded: LoadedSubmission | None = None
    ) -> None:
        """Save a received answer, or decide what happens to a failed request."""
        if item["result_type"] != "succeeded":
            self._after_failure(item)
            return
        if loaded is None:
            loaded = self.load(int(item["submission_id"]))
        self._save(item, loaded)

    def _save(self, item: dict[str, Any], loaded: LoadedSubmission | None) -> None:
        from anthropic.types import Message

        submission_id = int(item["submission_id"])
        if loaded is None or loaded.content_hash != item["content_hash"]:
            self.store.set_status(
                submission_id,
                Status.PENDING,
                f"changed after it was sent in Message Batch {item['batch_id']}; "
                "the next run grades it again",
            )
            self.report.stale += 1
            self._finish_item(item, "stale")
            return
        message = Message.model_validate_json(item["result_json"])
        answer = self._read(message, loaded)
        spent, requests = int(item.get("cost_micro", 0)), 1
        if self._already_saved(submission_id, answer.text, item["updated_at"]):
            key = self.store.submission(submission_id).key
            row = self.store.submissions(self.assignment.id)[key]
            self.report.outcomes.append(outcome_from_row(row, unchanged=False))
            self._finish_item(item, "done")
            return
        if answer.retryable:
            # NOTE: a crash after the re-ask but before the item is marked done
            # sends the re-ask again when the batch is next collected.
            retry = self.grader.reask(loaded, submission_id, answer)
            spent, requests = spent + retry.cost_micro, 2
            self.report.cost_micro += retry.cost_micro
            if retry.answer is not None:
                answer = retry.answer
        outcome = self.grader.save_answer(
            loaded, submission_id, answer, spent, requests
        )
        self.report.outcomes.append(outcome)
        self._finish_item(item, "done")

    def _read(self, message: Any, loaded: LoadedSubmission) -> Answer:
        return read_answer(
            message,
            self.assignment.rubric,
            loaded.text,
            max_tokens=self.assignment.max_tokens,
            quotes_required=bool(loaded.text.strip()) and not loaded.has_binary,
        )

    def _already_saved(
        self, submission_id: int, answer_text: str, received_at: str
    ) -> bool:
        """True when a crash came after this answer was saved but before its item
        was marked done, so processing it again must not store a second grade."""
        rows = self.store.query(
            "select g.answer_json from submissions s join grades g on g.id = s.grade_id "
            "where s.id = ? and g.created_at >= ?",
            [submission_id, received_at],
        )
        return bool(rows) and rows[0]["answer_json"] == answer_text

    def _after_failure(self, item: dict[str, Any]) -> None:
        kind, error = item["result_type"], item["error"]
        if kind == "canceled":
            reason = (
                f"Message Batch {item['batch_id']} was canceled; the next run grades it"
            )
            self._set(item, Status.PENDING, reason, "done")
            return
        transient = (
            kind in ("expired", "missing")
            or error.split(":")[0] in TRANSIENT_ERROR_TYPES
        )
        failure = (
            "expired before it was processed" if kind == "expired" else error or kind
        )
        if not transient:
            self._set(
                item,
                Status.API_ERROR,
                f"the Message Batch request failed: {failure}",
                "failed",
            )
        elif int(item["attempt"]) >= MAX_BATCH_ATTEMPTS:
            reason = (
                f"the Message Batch request failed {item['attempt']} times (last: {failure}); "
                "run `gradebot grade` to grade it interactively"
            )
            self._set(item, Status.API_ERROR, reason, "failed")
        else:
            self._finish_item(item, "retry")

    def _set(
        self, item: dict[str, Any], status: Status, reason: str, state: str
    ) -> None:
        submission_id = int(item["submission_id"])
        self.store.set_status(submission_id, status, reason)
        row = self.store.submission(submission_id)
        self.report.outcomes.append(
            Outcome(
                row.key,
                row.student,
                row.file_name,
                status,
                reason,
                submission_id=submission_id,
            )
        )
        self._finish_item(item, state)

    def _finish_item(self, item: dict[str, Any], state: str) -> None:
        with self.store.transaction() as db:
            db.table("batch_items").update(
                (item["batch_id"], item["custom_id"]),
                {"status": state, "updated_at": utc_now()},
            )

    def resubmit(self) -> None:
        """Send every item marked for retry in a new batch."""
        entries = []
        builder = self.grader.builder
        for item in assignment_items(self.store, self.assignment.id, "retry"):
            submission = self.store.submission(int(item["submission_id"]))
            loaded = self.load(submission.id)
            if loaded is not None and loaded.status is not None:
                self.store.set_status(submission.id, loaded.status, loaded.reason)
            if (
                submission.status is not Status.PENDING
                or loaded is None
                or loaded.status
            ):
                # Graded meanwhile, removed from the source, or no longer readable.
                self._finish_item(item, "done")
                continue
            params = builder.build(loaded)
            entries.append(
                BatchEntry(
                    submission.id,
                    loaded.content_hash,
                    int(item["attempt"]) + 1,
                    params,
                    estimate_request_input_tokens(params),
                    replaces=(item["batch_id"], item["custom_id"]),
                )
            )
        if entries:
            ids = send_batches(
                self.store, self.client, self.assignment, self.run_id, entries
            )
            self.report.new_batches.extend(ids)
            self.report.resubmitted += len(entries)


def _result_error(result: Any) -> str:
    if result is None:
        return "missing: the batch results had no line for this request"
    error = getattr(getattr(result, "error", None), "error", None)
    if error is None:
        return str(getattr(result, "type", "unknown"))
    return f"{getattr(error, 'type', 'error')}: {getattr(error, 'message', '')}"


def collect_batches(
    assignment: Assignment,
    store: Store,
    source: Source,
    price: ModelPrice,
    options: GradeOptions,
    *,
    client: Any,
) -> CollectReport:
    """Collect every ended, uncollected batch of ``assignment``.

    The module docstring describes what happens to each result. ``price``
    charges the results in the ledger, and the feedback files of the saved grades
    are written at the end.
    """
    open_batches = store.query(
        "select * from batches where assignment_id = ? and collected_at is null "
        "order by created_at",
        [assignment.id],
    )
    leftovers = assignment_items(store, assignment.id, "received")
    retries = assignment_items(store, assignment.id, "retry")
    if not (open_batches or leftovers or retries):
        return CollectReport()
    run_id = store.start_run(assignment.id, "batch collect")
    collector = _Collector(assignment, store, source, price, client, run_id, options)
    outcome = "failed"
    try:
        for item in leftovers:
            collector.process(item)
        for batch in open_batches:
            collector.collect(batch)
        collector.resubmit()
        outcome = "ok"
    finally:
        report = collector.report
        counts = {"collected": len(report.outcomes), "resubmitted": report.resubmitted}
        store.finish_run(run_id, outcome, counts)
    for saved in report.outcomes:
        if saved.submission_id is not None and grade_written(saved):
            write_feedback_files(assignment, store, saved.submission_id)
    return report


def collect_before_grading(
    assignment: Assignment,
    store: Store,
    source: Source,
    price: ModelPrice,
    options: GradeOptions,
    *,
    client: Any,
    message: Callable[[str], None],
) -> dict[str, str]:
    """Collect ended batches before a run; return the keys still waiting.

    An API failure here is reported through ``message`` and does not stop the
    run: the waiting submissions are skipped and collected by a later run.
    """
    try:
        report = collect_batches(
            assignment, store, source, price, options, client=client
        )
    except ApiError as exc:
        message(f"Message Batches not collected: {exc}")
    else:
        if report.collected or report.in_progress or report.resubmitted:
            message(report.summary())
    return waiting_keys(store, assignment.id)
