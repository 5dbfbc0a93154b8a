"""The unattended job: grade (and publish) every assignment configured on a server.

Assignments live in ``$GRADEBOT_HOME/assignments/<name>/assignment.toml`` (or the
folder in ``GRADEBOT_ASSIGNMENTS_DIR``). One run holds the run lock, grades each
assignment in turn, publishes where the assignment is configured to, and logs one JSON line
per assignment plus a cost summary. One assignment's failure is logged and the
next one still runs.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from gradebot_cli.assignment import ASSIGNMENT_FILE, Assignment, load_assignment
from gradebot_cli.errors import ConfigError, GradebotError
from gradebot_cli.grading.run import GradeOptions, RunReport
from gradebot_cli.pricing import PriceTable, format_usd
from gradebot_cli.storage import Store

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_CONFIG = 2
EXIT_BUDGET = 3


@dataclass
class JobSummary:
    assignments: int = 0
    failed: list[str] = field(default_factory=list)
    budget_stopped: list[str] = field(default_factory=list)
    config_errors: list[str] = field(default_factory=list)
    cost_micro: int = 0
    graded: int = 0
    published: int = 0
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.config_errors and not self.assignments:
            return EXIT_CONFIG
        if self.failed or self.config_errors:
            return EXIT_ERRORS
        if self.budget_stopped:
            return EXIT_BUDGET
        return EXIT_OK


def assignments_dir(home: Path) -> Path:
    configured = os.environ.get("GRADEBOT_ASSIGNMENTS_DIR", "").strip()
    return Path(configured) if configured else home / "assignments"


def discover_assignments(folder: Path) -> list[Path]:
    """Return the assignment folders under ``folder``, sorted by name."""
    if not folder.is_dir():
        raise ConfigError(
            f"No assignments folder at {folder}. Create one folder per assignment there, "
            f"each with an {ASSIGNMENT_FILE} (see docs/deployment.md)."
        )
    return sorted(p.parent for p in folder.glob(f"*/{ASSIGNMENT_FILE}"))


def run_assignment(
    folder: Path,
    store: Store,
    prices: PriceTable,
    options: GradeOptions,
    stop: threading.Event,
    summary: JobSummary,
) -> None:
    """Grade and publish one assignment, recording the result in ``summary``."""
    from gradebot_cli.grading.service import grade_class
    from gradebot_cli.workspace import make_source

    name = folder.name
    try:
        assignment = load_assignment(folder)
        source = make_source(assignment)
        report = grade_class(assignment, store, source, prices, options, stop=stop)
    except GradebotError as exc:
        log.error("assignment_failed", extra={"assignment": name, "error": str(exc)})
        (
            summary.config_errors if isinstance(exc, ConfigError) else summary.failed
        ).append(name)
        return
    summary.assignments += 1
    summary.cost_micro += report.cost_micro
    counts = report.counts()
    summary.graded += counts.get("graded", 0)
    summary.interrupted = summary.interrupted or report.interrupted
    _record_outcome(name, report, summary)
    published = publish_if_configured(assignment, store, stop)
    summary.published += published
    log.info(
        "assignment_finished",
        extra={
            "assignment": name,
            "assignment_id": assignment.id,
            "grading_run_id": report.run_id,
            "counts": counts,
            "cost_usd": format_usd(report.cost_micro),
            "published": published,
        },
    )


def _record_outcome(name: str, report: RunReport, summary: JobSummary) -> None:
    if report.fatal is not None:
        log.error(
            "assignment_failed", extra={"assignment": name, "error": str(report.fatal)}
        )
        summary.failed.append(name)
    elif report.stopped_by_budget:
        log.warning(
            "budget_reached",
            extra={
                "assignment": name,
                "remaining": len(report.not_started),
                "remaining_estimate_usd": format_usd(report.remaining_estimate_micro),
            },
        )
        summary.budget_stopped.append(name)
    elif any(o.status.value == "api_error" for o in report.outcomes if not o.unchanged):
        summary.failed.append(name)


def publish_if_configured(
    assignment: Assignment, store: Store, stop: threading.Event
) -> int:
    """Publish feedback to Drive if the assignment sets a publish mode; return the count."""
    if assignment.publish.mode == "none" or stop.is_set():
        return 0
    from gradebot_cli.google.publish import publish_assignment

    try:
        result = publish_assignment(assignment, store, stop=stop)
    except GradebotError as exc:
        log.error(
            "publish_failed", extra={"assignment": assignment.id, "error": str(exc)}
        )
        return 0
    return result.published


def run_all(
    home: Path,
    store: Store,
    prices: PriceTable,
    options: GradeOptions,
    stop: threading.Event,
) -> JobSummary:
    """Grade every configured assignment; the caller holds the run lock."""
    summary = JobSummary()
    folders = discover_assignments(assignments_dir(home))
    log.info("run_started", extra={"assignments": len(folders)})
    for folder in folders:
        if stop.is_set():
            summary.interrupted = True
            log.warning("run_stopping", extra={"skipped_assignment": folder.name})
            continue
        run_assignment(folder, store, prices, options, stop, summary)
    log.info(
        "run_finished",
        extra={
            "assignments": summary.assignments,
            "graded": summary.graded,
            "published": summary.published,
            "failed": summary.failed,
            "budget_stopped": summary.budget_stopped,
            "config_errors": summary.config_errors,
            "cost_usd": format_usd(summary.cost_micro),
            "exit_code": summary.exit_code,
        },
    )
    return summary
