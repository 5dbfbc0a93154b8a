"""``gradebot run``: the unattended job the scheduler starts."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from gradebot_cli.cli.common import (
    concurrency_option,
    max_cost_option,
    max_retries_option,
    rpm_option,
    timeout_option,
)


@click.command()
@concurrency_option
@max_cost_option
@rpm_option
@max_retries_option
@timeout_option
@click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    envvar="GRADEBOT_LOG_FORMAT",
    help="JSON lines on stdout, or text on stderr. Env: GRADEBOT_LOG_FORMAT.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    envvar="GRADEBOT_LOG_LEVEL",
    help="debug, info, warning or error. Env: GRADEBOT_LOG_LEVEL.",
)
def run(
    concurrency: int,
    max_cost: str | None,
    rpm: int | None,
    max_retries: int,
    timeout: float,
    log_format: str,
    log_level: str,
) -> None:
    """Grade and publish every assignment in $GRADEBOT_HOME/assignments, once.

    Holds the run lock, so two runs never overlap (also across two containers
    sharing the data volume). On SIGTERM no new request starts; finished grades are
    kept. Exit status: 0 ok, 1 some assignment failed, 2 configuration error,
    3 a budget was reached, 4 another run holds the lock.
    """
    from gradebot_cli.cli.common import (
        usd_to_micro,
    )
    from gradebot_cli.grading.run import GradeOptions
    from gradebot_cli.jobs import run_all
    from gradebot_cli.logs import bind_run_id, configure_logging, current_run_id
    from gradebot_cli.pricing import load_price_table
    from gradebot_cli.runlock import run_lock
    from gradebot_cli.scheduler import stop_on_signals
    from gradebot_cli.settings import gradebot_home
    from gradebot_cli.workspace import open_store

    configure_logging(log_format == "json", log_level)
    home = gradebot_home()
    options = GradeOptions(
        concurrency=concurrency,
        rpm=rpm,
        max_cost_micro=usd_to_micro(max_cost, "--max-cost"),
        max_retries=max_retries,
        timeout_seconds=timeout,
    )
    stop = stop_on_signals()
    # The scheduler passes its run id in GRADEBOT_RUN_ID; a run started by hand
    # gets its own, so every log line of the run carries one.
    run_id = current_run_id() or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-manual")
    with bind_run_id(run_id), run_lock(home, run_id=run_id):
        store = open_store()
        try:
            prices = load_price_table(home / "prices.toml")
            summary = run_all(home, store, prices, options, stop)
        finally:
            store.close()
    sys.exit(summary.exit_code)
