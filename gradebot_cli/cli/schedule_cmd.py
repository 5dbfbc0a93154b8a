"""`gradebot schedule`, the container's long-running process, and `gradebot health`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

DEFAULT_EVERY_SECONDS = 15 * 60


def to_seconds(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> float | None:
    """Convert a duration option such as ``90s``, ``15m`` or ``1h30m`` to seconds."""
    if value is None:
        return None
    from gradebot_cli.errors import ConfigError
    from gradebot_cli.schedules import parse_duration

    try:
        return parse_duration(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@click.command()
@click.option(
    "--every",
    callback=to_seconds,
    envvar="GRADEBOT_SCHEDULE_EVERY",
    show_envvar=True,
    metavar="DURATION",
    help="Start a run every DURATION (units s, m, h, d, e.g. 15m or 1h30m), "
    "aligned to the clock. Default 15m when --cron is not given either.",
)
@click.option(
    "--cron",
    envvar="GRADEBOT_SCHEDULE_CRON",
    show_envvar=True,
    metavar="EXPR",
    help="Start a run at the times of a five-field cron expression, e.g. "
    "'*/15 7-18 * * 1-5'. With --every as well, whichever comes first.",
)
@click.option(
    "--timezone",
    envvar="GRADEBOT_SCHEDULE_TZ",
    show_envvar=True,
    metavar="ZONE",
    help="IANA time zone for --cron, e.g. Europe/Berlin. Default: the machine's "
    "local time (UTC in the container).",
)
@click.option(
    "--grace",
    callback=to_seconds,
    default="25s",
    show_default=True,
    envvar="GRADEBOT_SCHEDULE_GRACE",
    show_envvar=True,
    metavar="DURATION",
    help="After SIGTERM or SIGINT, how long the running job may take to finish "
    "before it is killed. Keep it below Kamal's drain_timeout (default 30s).",
)
@click.option(
    "--run-now/--no-run-now",
    default=False,
    envvar="GRADEBOT_SCHEDULE_RUN_NOW",
    show_envvar=True,
    help="Start one run at startup, then follow the schedule.",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    envvar="GRADEBOT_SCHEDULE_MAX_RUNS",
    show_envvar=True,
    metavar="N",
    help="Exit after starting N runs (default: run until stopped).",
)
@click.option(
    "--heartbeat-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GRADEBOT_HEARTBEAT_FILE",
    show_envvar=True,
    help="Heartbeat file to write [default: GRADEBOT_HOME/heartbeat.json].",
)
@click.option(
    "--heartbeat-every",
    callback=to_seconds,
    default="30s",
    show_default=True,
    envvar="GRADEBOT_HEARTBEAT_EVERY",
    show_envvar=True,
    metavar="DURATION",
    help="How often to rewrite the heartbeat file while waiting or running.",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    envvar="GRADEBOT_LOG_FORMAT",
    show_envvar=True,
    help="json: one JSON object per line on stdout. text: plain lines on stderr.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    envvar="GRADEBOT_LOG_LEVEL",
    show_envvar=True,
    help="Lowest level of gradebot's own log records to write.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def schedule(
    ctx: click.Context,
    every: float | None,
    cron: str | None,
    timezone: str | None,
    grace: float,
    run_now: bool,
    max_runs: int | None,
    heartbeat_file: Path | None,
    heartbeat_every: float,
    log_format: str,
    log_level: str,
    command: tuple[str, ...],
) -> None:
    """Start `gradebot run` on a schedule, in the foreground, until stopped.

    Runs never overlap: a tick that comes due while a run is going, or while a
    run elsewhere holds the lock on GRADEBOT_HOME, is skipped and logged. Each run
    gets this process's whole environment, secrets included. SIGTERM or SIGINT
    stops new runs and passes SIGTERM to the running one, which finishes the
    submissions in flight and exits.

    COMMAND replaces `gradebot run`, after `--`:
    `gradebot schedule --every 1h -- gradebot run --max-cost 5`.
    """
    from gradebot_cli.heartbeat import default_heartbeat_path
    from gradebot_cli.logs import configure_logging
    from gradebot_cli.scheduler import Scheduler, SchedulerConfig, resolve_command
    from gradebot_cli.schedules import Schedule, load_timezone, validate_cron
    from gradebot_cli.settings import gradebot_home

    configure_logging(json=log_format == "json", level=log_level)
    home = gradebot_home()
    if every is None and not cron:
        every = DEFAULT_EVERY_SECONDS
    plan = Schedule(
        every_seconds=every,
        cron=validate_cron(cron) if cron else None,
        timezone=load_timezone(timezone),
    )
    argv, display = resolve_command(command, sys.executable)
    config = SchedulerConfig(
        schedule=plan,
        command=argv,
        display_command=display,
        home=home,
        heartbeat_path=heartbeat_file or default_heartbeat_path(home),
        grace_seconds=grace,
        heartbeat_seconds=heartbeat_every,
        run_at_start=run_now,
        max_runs=max_runs,
    )
    ctx.exit(Scheduler(config).run())


@click.command()
@click.option(
    "--heartbeat-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GRADEBOT_HEARTBEAT_FILE",
    show_envvar=True,
    help="Heartbeat file to read [default: GRADEBOT_HOME/heartbeat.json].",
)
@click.option(
    "--max-age",
    callback=to_seconds,
    default="5m",
    show_default=True,
    envvar="GRADEBOT_HEALTH_MAX_AGE",
    show_envvar=True,
    metavar="DURATION",
    help="Unhealthy when the scheduler has not ticked for longer than this.",
)
@click.option(
    "--max-run-time",
    callback=to_seconds,
    default="6h",
    show_default=True,
    envvar="GRADEBOT_HEALTH_MAX_RUN_TIME",
    show_envvar=True,
    metavar="DURATION",
    help="Unhealthy when the run in progress started longer ago than this.",
)
@click.option(
    "--strict",
    is_flag=True,
    envvar="GRADEBOT_HEALTH_STRICT",
    show_envvar=True,
    help="Also unhealthy when the last run finished with errors (exit 1).",
)
@click.pass_context
def health(
    ctx: click.Context,
    heartbeat_file: Path | None,
    max_age: float,
    max_run_time: float,
    strict: bool,
) -> None:
    """Check the scheduler's heartbeat; exit 0 if healthy, 1 with the reason if not.

    Healthy means the scheduler ticked within --max-age, no run has been going
    for longer than --max-run-time, and the last run did not fail hard (a
    configuration error, a crash or a kill). Runs that hit the cost limit, found
    the lock taken or were interrupted by a shutdown count as healthy. This is
    the image's HEALTHCHECK.
    """
    from datetime import UTC, datetime

    from gradebot_cli.errors import GradebotError
    from gradebot_cli.heartbeat import (
        check_health,
        default_heartbeat_path,
        read_heartbeat,
    )
    from gradebot_cli.settings import gradebot_home

    # Exit 1, not the boundary's exit 2 for a ConfigError: Docker reserves exit
    # status 2 of a health check.
    try:
        path = heartbeat_file or default_heartbeat_path(gradebot_home())
        heartbeat = read_heartbeat(path)
    except GradebotError as exc:
        click.echo(f"unhealthy: {exc}")
        ctx.exit(1)
    report = check_health(
        heartbeat,
        now=datetime.now(UTC),
        max_age_seconds=max_age,
        max_run_seconds=max_run_time,
        errors_fail=strict,
    )
    click.echo(("healthy: " if report.healthy else "unhealthy: ") + report.reason)
    ctx.exit(0 if report.healthy else 1)
