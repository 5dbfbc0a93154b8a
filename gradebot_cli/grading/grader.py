"""Grading one class: the per-submission flow from content to saved grade."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

from gradebot_cli.assignment import Assignment
from gradebot_cli.domain import LoadedSubmission, SourceItem, Status
from gradebot_cli.errors import GradebotError
from gradebot_cli.grading.answer import Answer, AnswerKind, read_answer
from gradebot_cli.grading.budget import Budget
from gradebot_cli.grading.client import Caller, CallResult, is_stopped
from gradebot_cli.grading.failures import classify_failure
from gradebot_cli.grading.request import RequestBuilder
from gradebot_cli.grading.run import Outcome
from gradebot_cli.ledger import RequestRecord, ledger_row
from gradebot_cli.pricing import ModelPrice, TokenUsage, cost_micro
from gradebot_cli.sources import Source
from gradebot_cli.storage import Store
from gradebot_cli.storage.store import GradeMeta, SubmissionRow
from gradebot_cli.tokens import estimate_request_input_tokens

log = logging.getLogger(__name__)

ANSWER_STATUS = {
    AnswerKind.OK: Status.GRADED,
    AnswerKind.INVALID: Status.NEEDS_REVIEW,
    AnswerKind.MALFORMED: Status.MALFORMED,
    AnswerKind.TRUNCATED: Status.TRUNCATED,
    AnswerKind.REFUSED: Status.REFUSED,
}
# Output a grade usually needs, thinking included, until the ledger has history.
DEFAULT_EXPECTED_OUTPUT_TOKENS = 3000


@dataclass
class Attempt:
    answer: Answer | None
    result: CallResult
    cost_micro: int


class SubmissionGrader:
    """Grades single submissions; shared by the worker threads of one run."""

    def __init__(
        self,
        *,
        assignment: Assignment,
        store: Store,
        source: Source,
        builder: RequestBuilder,
        caller: Caller,
        client: Any,
        price: ModelPrice,
        budget: Budget,
        run_id: str,
        known: dict[str, SubmissionRow],
        regrade: bool,
        stop: threading.Event,
        timeout_seconds: float,
        expected_output_tokens: int = DEFAULT_EXPECTED_OUTPUT_TOKENS,
        input_token_ratio: float = 1.0,
    ) -> None:
        self.assignment = assignment
        self.store = store
        self.source = source
        self.builder = builder
        self.caller = caller
        self.client = client
        self.price = price
        self.budget = budget
        self.run_id = run_id
        self.known = known
        self.regrade = regrade
        self.stop = stop
        self.timeout_seconds = timeout_seconds
        self.expected_output_tokens = expected_output_tokens
        # Billed / tiktoken input tokens from the ledger, for the budget estimate.
        self.input_token_ratio = input_token_ratio
        self.fatal: GradebotError | None = None
        self._fatal_lock = threading.Lock()

    def grade(self, item: SourceItem) -> Outcome:
        """Grade one item, turning any error into its outcome, so one submission cannot
        stop the class; only interrupts (KeyboardInterrupt, SystemExit) propagate."""
        try:
            return self._grade(item)
        except GradebotError as exc:
            return self._fail(item, Status.API_ERROR, str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad submission must not stop the class
            log.exception("unexpected error while grading %s", item.key)
            return self._fail(item, Status.API_ERROR, f"internal error: {exc!r}")

    def _fail(self, item: SourceItem, status: Status, reason: str) -> Outcome:
        known = self.known.get(item.key)
        return self._store_status(
            item, known.content_hash if known else "", status, reason
        )

    def _store_status(
        self,
        item: SourceItem,
        content_hash: str,
        status: Status,
        reason: str,
        *,
        unchanged: bool = False,
    ) -> Outcome:
        """Record a status that needs no request, and return its outcome."""
        submission_id = self.store.upsert_submission(
            self.assignment.id,
            item,
            content_hash=content_hash,
            status=status,
            reason=reason,
        )
        return Outcome(
            item.key,
            item.student,
            item.file_name,
            status,
            reason,
            submission_id=submission_id,
            unchanged=unchanged,
        )

    def _grade(self, item: SourceItem) -> Outcome:
        if self.stop.is_set():
            return Outcome(
                item.key, item.student, item.file_name, Status.PENDING, "not started"
            )
        loaded = self.source.load(item)
        known = self.known.get(item.key)
        if self._unchanged(known, loaded):
            assert known is not None
            # Same content under a new fingerprint (a touched file): keep the
            # status and remember the fingerprint, so the next run skips the read.
            return self._store_status(
                item, loaded.content_hash, known.status, known.reason, unchanged=True
            )
        if loaded.status is not None:
            return self._store_status(
                item, loaded.content_hash, loaded.status, loaded.reason
            )
        submission_id = self.store.upsert_submission(
            self.assignment.id,
            item,
            content_hash=loaded.content_hash,
            status=Status.PENDING,
        )
        return self._request_grade(loaded, submission_id)

    def _unchanged(self, known: SubmissionRow | None, loaded: LoadedSubmission) -> bool:
        return (
            known is not None
            and not self.regrade
            and known.content_hash == loaded.content_hash
            and known.status.is_final
        )

    def _request_grade(self, loaded: LoadedSubmission, submission_id: int) -> Outcome:
        first = self._attempt(loaded, submission_id, "grade")
        attempts = [first]
        if (
            first.answer is not None
            and first.answer.retryable
            and not self.stop.is_set()
        ):
            retry = self._attempt(
                loaded,
                submission_id,
                "reask",
                retry_errors="\n".join(f"- {p}" for p in first.answer.problems),
                previous=first.answer.text,
            )
            attempts.append(retry)
        spent = sum(a.cost_micro for a in attempts)
        final = attempts[-1]
        if final.answer is None and first.answer is not None:
            # The re-ask failed (an API error or a stop), but the first answer was
            # paid for: keep it, with its problems, for the teacher's review.
            failure = "stopped"
            if final.result.error is not None and not is_stopped(final.result.error):
                failure, _ = classify_failure(final.result.error, self.assignment.model)
            reason = f"{first.answer.reason}; the re-ask failed: {failure}"
            first_answer = dataclasses.replace(first.answer, reason=reason)
            return self.save_answer(
                loaded, submission_id, first_answer, spent, len(attempts)
            )
        if final.answer is None:
            return self._record_failure(
                loaded, submission_id, final.result, spent, len(attempts)
            )
        return self.save_answer(
            loaded, submission_id, final.answer, spent, len(attempts)
        )

    def reask(
        self, loaded: LoadedSubmission, submission_id: int, answer: Answer
    ) -> Attempt:
        """Send the one follow-up request for an invalid or malformed answer."""
        return self._attempt(
            loaded,
            submission_id,
            "reask",
            retry_errors="\n".join(f"- {p}" for p in answer.problems),
            previous=answer.text,
        )

    def _attempt(
        self,
        loaded: LoadedSubmission,
        submission_id: int,
        kind: str,
        retry_errors: str = "",
        previous: str = "",
    ) -> Attempt:
        params = self.builder.build(
            loaded, retry_errors=retry_errors, previous=previous
        )
        estimated_input = estimate_request_input_tokens(params)
        reservation = self.budget.reserve(self._estimate_micro(estimated_input))
        if reservation is None:
            self.stop.set()
            stopped = CallResult(None, {}, _budget_stop(), 0, "", 0)
            return Attempt(None, stopped, 0)
        result = self.caller.call(
            lambda: self.client.messages.with_raw_response.create(
                **params, timeout=self.timeout_seconds
            )
        )
        if is_stopped(result.error) and result.retries == 0:
            # Stopped while waiting for a turn: nothing was sent, nothing to record.
            self.budget.settle(reservation, 0)
            return Attempt(None, result, 0)
        message = result.response.parse() if result.response is not None else None
        usage = (
            TokenUsage.from_usage(message.usage)
            if message is not None
            else TokenUsage()
        )
        answer = None
        if message is not None:
            answer = read_answer(
                message,
                self.assignment.rubric,
                loaded.text,
                max_tokens=self.assignment.max_tokens,
                quotes_required=bool(loaded.text.strip()) and not loaded.has_binary,
            )
        record = RequestRecord(
            run_id=self.run_id,
            assignment_id=self.assignment.id,
            submission_id=submission_id,
            request_type=kind,
            model=getattr(message, "model", None) or self.assignment.model,
            outcome=answer.kind.value if answer else _error_outcome(result),
            latency_ms=result.latency_ms,
            request_id=result.request_id,
            retries=result.retries,
            error=(answer.reason if answer else _error_text(result))[:500],
            estimated_input_tokens=estimated_input,
        )
        row = ledger_row(record, usage, self.price)
        self.store.record_request(row)
        self.budget.settle(reservation, row["cost_micro"])
        if result.error is not None and not is_stopped(result.error):
            self._check_fatal(result.error)
        return Attempt(answer, result, row["cost_micro"])

    def _estimate_micro(self, estimated_input_tokens: int) -> int:
        """Price a request before sending it, for the budget: input at full price
        (corrected by the ledger's tokenizer ratio) and the expected output."""
        usage = TokenUsage(
            input_tokens=math.ceil(estimated_input_tokens * self.input_token_ratio),
            output_tokens=self.expected_output_tokens,
        )
        return cost_micro(self.price, usage)

    def _check_fatal(self, error: Exception) -> None:
        _, fatal = classify_failure(error, self.assignment.model)
        if fatal is None:
            return
        with self._fatal_lock:
            if self.fatal is None:
                self.fatal = fatal
        self.stop.set()

    def _record_failure(
        self,
        loaded: LoadedSubmission,
        submission_id: int,
        result: CallResult,
        spent: int,
        requests: int,
    ) -> Outcome:
        item = loaded.item
        if isinstance(result.error, _BudgetStop) or is_stopped(result.error):
            status, reason = Status.PENDING, "not graded: the run was stopped first"
        else:
            assert result.error is not None
            status = Status.API_ERROR
            reason, _ = classify_failure(result.error, self.assignment.model)
        self.store.set_status(submission_id, status, reason)
        return _outcome(item, status, reason, submission_id, spent, requests)

    def save_answer(
        self,
        loaded: LoadedSubmission,
        submission_id: int,
        answer: Answer,
        spent: int,
        requests: int,
    ) -> Outcome:
        item = loaded.item
        status = ANSWER_STATUS[answer.kind]
        # A folder submission may have graded its good files and skipped others;
        # the loader's reason names the skipped files, for the teacher to see.
        reason = "; ".join(part for part in (answer.reason, loaded.reason) if part)
        if answer.grade is None:
            self.store.set_status(submission_id, status, reason)
            return _outcome(item, status, reason, submission_id, spent, requests)
        meta = GradeMeta(
            model=self.assignment.model,
            prompt_version=self.builder.prompts.version,
            rubric_version=self.assignment.rubric.version,
            answer_json=answer.text,
            review_reason=reason,
        )
        self.store.save_grade(
            submission_id, loaded.content_hash, answer.grade, meta, status
        )
        outcome = _outcome(item, status, reason, submission_id, spent, requests)
        return dataclasses.replace(
            outcome, total=answer.grade.total, maximum=self.assignment.rubric.max_points
        )


def _outcome(
    item: SourceItem,
    status: Status,
    reason: str,
    submission_id: int,
    spent: int,
    requests: int,
) -> Outcome:
    """Build the outcome of a submission that was sent to the API."""
    return Outcome(
        item.key,
        item.student,
        item.file_name,
        status,
        reason,
        cost_micro=spent,
        submission_id=submission_id,
        requests=requests,
    )


class _BudgetStop(Exception):
    """The --max-cost limit left no room for this request."""


def _budget_stop() -> Exception:
    return _BudgetStop("the --max-cost limit was reached")


def _error_outcome(result: CallResult) -> str:
    if isinstance(result.error, _BudgetStop) or is_stopped(result.error):
        return "not_sent"
    return f"error:{type(result.error).__name__}"


def _error_text(result: CallResult) -> str:
    return str(result.error) if result.error is not None else ""


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
