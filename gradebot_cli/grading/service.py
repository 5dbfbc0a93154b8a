"""Running a grading pass over one assignment: the core of ``gradebot grade``."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from gradebot_cli.assignment import Assignment
from gradebot_cli.costs.calibration import calibrate
from gradebot_cli.domain import SourceItem
from gradebot_cli.errors import MissingApiKeyError
from gradebot_cli.grading.batch import collect_before_grading
from gradebot_cli.grading.budget import Budget
from gradebot_cli.grading.client import Caller, RateGate
from gradebot_cli.grading.grader import DEFAULT_EXPECTED_OUTPUT_TOKENS, SubmissionGrader
from gradebot_cli.grading.request import RequestBuilder
from gradebot_cli.grading.run import (
    GradeOptions,
    NoProgress,
    Outcome,
    Progress,
    RunReport,
    grade_written,
    run_parallel,
    select_items,
)
from gradebot_cli.pricing import ModelPrice, PriceTable, TokenUsage, cost_micro
from gradebot_cli.prompting import load_prompts
from gradebot_cli.publishing.local import (
    FeedbackNames,
    check_output_folder,
    write_feedback_files,
)
from gradebot_cli.sources import Source
from gradebot_cli.storage import Store
from gradebot_cli.tokens import count_text_tokens

# A rough bytes-per-token figure for items not yet read, used only to say what the
# rest of a class would cost after a budget stop.
BYTES_PER_TOKEN = 4


@dataclass
class DryRun:
    """A dry run's plan: the items to grade and the first rendered request."""

    assignment_id: str
    items: list[SourceItem]
    unchanged: list[Outcome]
    first_request: dict[str, Any] | None = None
    estimated_input_tokens: list[int] = field(default_factory=list)
    # Items whose file cannot be sent, by key: the status and its reason.
    problems: dict[str, tuple[str, str]] = field(default_factory=dict)


def require_api_key() -> None:
    if not os.environ.get("ANTHROPIC_API_KEY", "").strip():
        raise MissingApiKeyError()


def register_assignment(store: Store, assignment: Assignment) -> None:
    store.upsert_assignment(
        {
            "id": assignment.id,
            "title": assignment.title,
            "source_kind": assignment.source.kind,
            "source_ref": str(assignment.source.path or assignment.source.drive_folder),
            "model": assignment.model,
            "rubric_version": assignment.rubric.version,
            "config_json": assignment.rubric.canonical_json(),
        }
    )


def expected_output_tokens(store: Store, model: str) -> int:
    """Average output of the last successful grades with ``model``, or a default."""
    rows = store.query(
        "select avg(output_tokens) as mean from (select output_tokens from api_requests "
        "where model = ? and outcome = 'ok' order by id desc limit 200)",
        [model],
    )
    mean = rows[0]["mean"] if rows else None
    return int(mean) if mean else DEFAULT_EXPECTED_OUTPUT_TOKENS


def plan_dry_run(
    assignment: Assignment, store: Store, source: Source, options: GradeOptions
) -> DryRun:
    """Render what would be sent, without an API key and without sending."""
    builder = RequestBuilder.create(assignment, load_prompts(assignment.prompts_dir))
    known = store.submissions(assignment.id)
    todo, unchanged = select_items(source.list_items(), known, options)
    plan = DryRun(assignment.id, todo, unchanged)
    from gradebot_cli.tokens import estimate_request_input_tokens

    for item in todo:
        loaded = source.load(item)
        if loaded.status is not None:
            plan.estimated_input_tokens.append(0)
            plan.problems[item.key] = (loaded.status.value, loaded.reason)
            continue
        params = builder.build(loaded)
        plan.estimated_input_tokens.append(estimate_request_input_tokens(params))
        if plan.first_request is None:
            plan.first_request = params
    return plan


def grade_class(
    assignment: Assignment,
    store: Store,
    source: Source,
    prices: PriceTable,
    options: GradeOptions,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    client: Any = None,
) -> RunReport:
    """Grade every new or changed submission of ``assignment``.

    Raises before sending anything when the model has no price or no API key is
    set. Per-submission failures end up in the report, never as exceptions.
    """
    progress = progress or NoProgress()
    stop = stop or threading.Event()
    price = prices.get(assignment.model)
    check_output_folder(assignment.output_dir, assignment.source.path)
    builder = RequestBuilder.create(assignment, load_prompts(assignment.prompts_dir))
    owns_client = client is None
    if client is None:
        require_api_key()
        client = _make_client(options)
    try:
        return _run(
            assignment, store, source, price, builder, options, progress, stop, client
        )
    finally:
        if owns_client:
            client.close()


def _run(
    assignment: Assignment,
    store: Store,
    source: Source,
    price: ModelPrice,
    builder: RequestBuilder,
    options: GradeOptions,
    progress: Progress,
    stop: threading.Event,
    client: Any,
) -> RunReport:
    register_assignment(store, assignment)
    # Results of ended batches are saved first; submissions still in a batch wait.
    waiting = collect_before_grading(
        assignment,
        store,
        source,
        price,
        options,
        client=client,
        message=progress.message,
    )
    known = store.submissions(assignment.id)
    listed = (item for item in source.list_items() if item.key not in waiting)
    todo, unchanged = select_items(listed, known, options)
    run_id = store.start_run(assignment.id, "grade")
    report = RunReport(
        run_id=run_id, assignment_id=assignment.id, outcomes=list(unchanged)
    )
    budget = Budget(options.max_cost_micro)
    caller = Caller(
        RateGate(options.rpm),
        max_retries=options.max_retries,
        stop=stop,
        on_retry=lambda kind, delay: progress.message(
            f"retrying after {kind} in {delay:.1f}s"
        ),
        backoff_base=options.backoff_base_seconds,
    )
    grader = SubmissionGrader(
        assignment=assignment,
        store=store,
        source=source,
        builder=builder,
        caller=caller,
        client=client,
        price=price,
        budget=budget,
        run_id=run_id,
        known=known,
        regrade=options.regrade,
        stop=stop,
        timeout_seconds=options.timeout_seconds,
        expected_output_tokens=expected_output_tokens(store, assignment.model),
        input_token_ratio=calibrate(store, assignment.model).ratio,
    )
    names = FeedbackNames(store, assignment.id)

    def finished(outcome: Outcome) -> None:
        report.outcomes.append(outcome)
        report.cost_micro += outcome.cost_micro
        if outcome.submission_id is not None and grade_written(outcome):
            write_feedback_files(assignment, store, outcome.submission_id, names)
        progress.advance(outcome, report.cost_micro)

    progress.start(len(todo))
    aborted: BaseException | None = None
    try:
        report.not_started = run_parallel(
            todo,
            grader.grade,
            concurrency=options.concurrency,
            stop=stop,
            on_done=finished,
        )
    except BaseException as exc:  # recorded in the runs table, then re-raised
        aborted = exc
        raise
    finally:
        progress.finish()
        _finish(report, store, grader, budget, aborted)
    if report.stopped_by_budget:
        # Read the ledger again: this run's responses give the output length more
        # closely than the default used before the first grade.
        report.remaining_estimate_micro = _remaining_cost(
            report,
            builder.system_text,
            price,
            expected_output_tokens(store, assignment.model),
        )
    write_feedback_files(assignment, store, None, names)
    return report


def _finish(
    report: RunReport,
    store: Store,
    grader: SubmissionGrader,
    budget: Budget,
    aborted: BaseException | None = None,
) -> None:
    report.fatal = grader.fatal
    report.stopped_by_budget = budget.exhausted.is_set()
    report.max_cost_micro = budget.limit_micro
    report.refused_estimate_micro = budget.refused_micro
    pending_in_run = [o for o in report.outcomes if o.status.value == "pending"]
    report.interrupted = bool(report.not_started or pending_in_run) and not (
        report.stopped_by_budget or report.fatal
    )
    if isinstance(aborted, KeyboardInterrupt):
        outcome = "interrupted"
    elif aborted is not None or report.fatal:
        outcome = "failed"
    elif report.stopped_by_budget:
        outcome = "budget"
    elif report.interrupted:
        outcome = "interrupted"
    else:
        outcome = "ok"
    store.finish_run(report.run_id, outcome, report.counts())


def _remaining_cost(
    report: RunReport, system_text: str, price: ModelPrice, output_tokens: int
) -> int:
    """Estimate what the submissions left by a budget stop would cost to grade.

    Items never started are sized from their file size; submissions that were
    stopped in the run count as an average item.
    """
    system_tokens = count_text_tokens(system_text)
    costs = [
        cost_micro(
            price,
            TokenUsage(
                input_tokens=system_tokens + (item.size or 0) // BYTES_PER_TOKEN,
                output_tokens=output_tokens,
            ),
        )
        for item in report.not_started
    ]
    stopped = sum(1 for o in report.outcomes if o.status.value == "pending")
    average = (
        sum(costs) // len(costs)
        if costs
        else cost_micro(
            price, TokenUsage(input_tokens=system_tokens, output_tokens=output_tokens)
        )
    )
    return sum(costs) + stopped * average


def _make_client(options: GradeOptions) -> Any:
    import anthropic

    return anthropic.Anthropic(max_retries=0, timeout=options.timeout_seconds)
