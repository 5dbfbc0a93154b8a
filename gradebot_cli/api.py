"""The Python API: the same operations as the command line, for scripts.

Example::

    from pathlib import Path
    from gradebot_cli import api

    assignment = api.load(Path("examples/four-day-week"))
    report = api.grade(assignment, concurrency=8, max_cost_usd="2.00")
    print(report.counts(), report.cost_micro)
    print(api.gradebook_csv(assignment))

Every function opens the database in GRADEBOT_HOME unless a ``store`` is passed,
and raises :class:`gradebot_cli.errors.GradebotError` subclasses for problems a
user can fix. Per-submission failures are reported in the returned
:class:`~gradebot_cli.grading.run.RunReport`, not raised.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from gradebot_cli.assignment import Assignment
from gradebot_cli.gradebook import Gradebook, build_gradebook, to_csv, to_json
from gradebot_cli.grading.run import GradeOptions, RunReport
from gradebot_cli.storage import Store
from gradebot_cli.workspace import make_source, open_store, resolve_assignment

__all__ = [
    "Assignment",
    "GradeOptions",
    "RunReport",
    "grade",
    "gradebook",
    "gradebook_csv",
    "gradebook_json",
    "load",
]


def load(
    target: Path, *, rubric: Path | None = None, instructions: Path | None = None
) -> Assignment:
    """Load an assignment folder, or a plain folder with a rubric and instructions."""
    return resolve_assignment(target, rubric=rubric, instructions=instructions)


def grade(
    assignment: Assignment,
    *,
    options: GradeOptions | None = None,
    max_cost_usd: str | None = None,
    concurrency: int | None = None,
    store: Store | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Grade every new or changed submission; see ``gradebot grade``.

    ``max_cost_usd`` is a decimal string such as ``"2.50"``. Setting ``stop``
    from another thread stops new requests; finished grades are kept.
    """
    from decimal import Decimal

    from gradebot_cli.grading.service import grade_class
    from gradebot_cli.pricing import load_price_table
    from gradebot_cli.settings import gradebot_home

    options = options or GradeOptions()
    if concurrency is not None:
        options = replace(options, concurrency=concurrency)
    if max_cost_usd is not None:
        options = replace(
            options, max_cost_micro=int(Decimal(max_cost_usd) * 1_000_000)
        )
    own_store = store is None
    store = store or open_store()
    try:
        prices = load_price_table(gradebot_home() / "prices.toml")
        return grade_class(
            assignment, store, make_source(assignment), prices, options, stop=stop
        )
    finally:
        if own_store:
            store.close()


def gradebook(assignment: Assignment, *, store: Store | None = None) -> Gradebook:
    """Return the gradebook rows of an assignment."""
    own_store = store is None
    store = store or open_store()
    try:
        return build_gradebook(store, assignment.id)
    finally:
        if own_store:
            store.close()


def gradebook_csv(assignment: Assignment, *, store: Store | None = None) -> str:
    return to_csv(gradebook(assignment, store=store))


def gradebook_json(assignment: Assignment, *, store: Store | None = None) -> str:
    return to_json(gradebook(assignment, store=store))
