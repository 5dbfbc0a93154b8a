"""Grading a class: choosing what to grade, running requests in parallel, saving.

Each submission is graded by one worker thread from load to saved grade, and its
result is committed as soon as it is done, so a killed run loses at most the
requests in flight. A re-run skips every submission whose content is unchanged
and whose status is final (see :class:`gradebot_cli.domain.Status`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from gradebot_cli.domain import SourceItem, Status
from gradebot_cli.errors import ConfigError, GradebotError
from gradebot_cli.storage.store import SubmissionRow


@dataclass(frozen=True)
class GradeOptions:
    """Settings of one run; each has a flag and a ``GRADEBOT_*`` variable."""

    regrade: bool = False
    limit: int | None = None
    students: tuple[str, ...] = ()
    dry_run: bool = False
    concurrency: int = 4
    max_retries: int = 6
    max_cost_micro: int | None = None
    rpm: int | None = None
    timeout_seconds: float = 300.0
    # First backoff step after a 5xx or a dropped connection; it doubles per retry.
    backoff_base_seconds: float = 1.0


@dataclass(frozen=True)
class Outcome:
    """The result of one submission in this run."""

    key: str
    student: str
    file_name: str
    status: Status
    reason: str = ""
    total: float | None = None
    maximum: float | None = None
    cost_micro: int = 0
    submission_id: int | None = None
    unchanged: bool = False
    requests: int = 0


@dataclass
class RunReport:
    run_id: str
    assignment_id: str
    outcomes: list[Outcome] = field(default_factory=list)
    cost_micro: int = 0
    stopped_by_budget: bool = False
    interrupted: bool = False
    fatal: GradebotError | None = None
    not_started: list[SourceItem] = field(default_factory=list)
    remaining_estimate_micro: int = 0
    # With a budget stop: the limit, and the estimate of the request that did not fit.
    max_cost_micro: int | None = None
    refused_estimate_micro: int = 0

    def counts(self) -> dict[str, int]:
        counter = Counter(o.status.value for o in self.outcomes if not o.unchanged)
        counter["unchanged"] = sum(1 for o in self.outcomes if o.unchanged)
        counter["not_started"] = len(self.not_started)
        return dict(counter)


class Progress(Protocol):
    """Receives progress events; the CLI draws a bar, scripts pass a no-op."""

    def start(self, total: int) -> None: ...

    def advance(self, outcome: Outcome, spent_micro: int) -> None: ...

    def message(self, text: str) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, outcome: Outcome, spent_micro: int) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def finish(self) -> None:
        pass


def select_items(
    items: Iterator[SourceItem],
    known: dict[str, SubmissionRow],
    options: GradeOptions,
) -> tuple[list[SourceItem], list[Outcome]]:
    """Split listed items into work to do and unchanged submissions to skip.

    The fingerprint check avoids reading files at all; a changed fingerprint with
    unchanged content is caught later by the content hash.
    """
    wanted = [name.casefold() for name in options.students]
    matched: set[str] = set()
    todo: list[SourceItem] = []
    unchanged: list[Outcome] = []
    for item in items:
        if wanted:
            hits = _matches(item, wanted)
            if not hits:
                continue
            matched.update(hits)
        row = known.get(item.key)
        if row is not None and not options.regrade and _is_done(row, item.fingerprint):
            unchanged.append(outcome_from_row(row, unchanged=True))
            continue
        todo.append(item)
    _check_students(options.students, matched)
    if options.regrade:
        # Oldest grades first, so repeated `--regrade --limit N` runs work through
        # the whole class instead of regrading the same N submissions.
        todo.sort(key=lambda item: _grade_age(known.get(item.key)))
    if options.limit is not None:
        todo = todo[: options.limit]
    return todo, unchanged


def _grade_age(row: SubmissionRow | None) -> tuple[int, int]:
    if row is None or row.grade_id is None:
        return (0, 0)
    return (1, row.grade_id)


def _check_students(students: tuple[str, ...], matched: set[str]) -> None:
    missing = [name for name in students if name.casefold() not in matched]
    if missing:
        raise ConfigError(
            f"No submission matches --student {missing[0]!r}. Give a student's name, "
            "file name or e-mail as `gradebot status TARGET` lists them."
        )


def _matches(item: SourceItem, wanted: list[str]) -> set[str]:
    """Return the requested names that match ``item``."""
    names = {item.student.casefold(), item.key.casefold(), item.file_name.casefold()}
    if item.student_email:
        names.add(item.student_email.casefold())
    return {name for name in wanted if name in names}


def _is_done(row: SubmissionRow, fingerprint: str) -> bool:
    return row.fingerprint == fingerprint and row.status.is_final


def outcome_from_row(row: SubmissionRow, *, unchanged: bool) -> Outcome:
    graded = row.status in (Status.GRADED, Status.NEEDS_REVIEW)
    return Outcome(
        key=row.key,
        student=row.student,
        file_name=row.file_name,
        status=row.status,
        reason=row.reason,
        total=row.total if graded else None,
        maximum=row.maximum if graded else None,
        submission_id=row.id,
        unchanged=unchanged,
    )


def run_parallel(
    items: list[SourceItem],
    work: Callable[[SourceItem], Outcome],
    *,
    concurrency: int,
    stop: threading.Event,
    on_done: Callable[[Outcome], None],
) -> list[SourceItem]:
    """Run ``work`` over ``items`` with at most ``concurrency`` in flight.

    Items are submitted as workers free up, so memory stays flat for large classes.
    Once ``stop`` is set no new item starts; the items never started are returned.
    """
    pending: set[Future[Outcome]] = set()
    queue = iter(items)
    not_started: list[SourceItem] = []
    with ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix="grade"
    ) as pool:
        for item in queue:
            if stop.is_set():
                not_started.append(item)
                break
            pending.add(pool.submit(work, item))
            if len(pending) >= concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                _collect(done, on_done)
        not_started.extend(queue)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            _collect(done, on_done)
    return not_started


def _collect(done: set[Future[Outcome]], on_done: Callable[[Outcome], None]) -> None:
    for future in done:
        on_done(future.result())


def counts_line(counts: dict[str, Any]) -> str:
    parts = [
        f"{value} {key.replace('_', ' ')}"
        for key, value in sorted(counts.items())
        if value
    ]
    return ", ".join(parts) or "nothing to do"


def grade_written(outcome: Outcome) -> bool:
    """True when this run stored a grade for the outcome's submission."""
    return not outcome.unchanged and outcome.status in (
        Status.GRADED,
        Status.NEEDS_REVIEW,
    )
