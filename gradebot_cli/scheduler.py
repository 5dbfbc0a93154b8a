"""A foreground scheduler that starts ``gradebot run`` on a schedule.

It is built for a container: in the image ``tini`` is PID 1 and this scheduler is
its child, so zombies are reaped and signals arrive as they would in a terminal.
Each run is a subprocess in its own process group. It gets the scheduler's whole
environment (API keys and Google credentials included, which classic cron would
drop) plus ``GRADEBOT_HOME`` and ``GRADEBOT_RUN_ID``. Its stdout and stderr are the
scheduler's, so both write JSON lines into the same container log.

Runs never overlap. The scheduler waits for its child and logs each tick that comes
due meanwhile as skipped; before a start it checks the run lock
(:mod:`gradebot_cli.runlock`), which a run in another container on the same volume
may hold, and logs that tick as skipped too. The child takes the lock itself.

On the first SIGTERM or SIGINT the scheduler starts nothing new and sends SIGTERM to
the running child, which finishes the submission in flight and exits. After the
grace period it kills the child's process group and exits 1; a second signal kills
at once. Kamal stops a container that runs no proxy with ``docker stop -t
drain_timeout`` (default 30 s), so the default grace of 25 s ends first.

Every tick rewrites the heartbeat file (:mod:`gradebot_cli.heartbeat`) that
``gradebot health`` reads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from gradebot_cli.heartbeat import SOFT_OUTCOMES, Heartbeat, iso_utc
from gradebot_cli.runlock import lock_holder
from gradebot_cli.schedules import Schedule

logger = logging.getLogger(__name__)

# How often (seconds) the scheduler checks its child and the clock during a run.
POLL_SECONDS = 0.2

# Exit codes of `gradebot run` and what the heartbeat calls them.
EXIT_OUTCOMES = {
    0: "ok",
    1: "errors",
    2: "config_error",
    3: "budget_reached",
    4: "locked",
}


@dataclass(frozen=True)
class SchedulerConfig:
    """Settings of one scheduler process; each has a flag on ``gradebot schedule``."""

    schedule: Schedule
    command: tuple[str, ...]
    home: Path
    heartbeat_path: Path
    grace_seconds: float = 25.0
    heartbeat_seconds: float = 30.0
    run_at_start: bool = False
    max_runs: int | None = None
    display_command: str | None = None


def outcome_for(returncode: int, *, stop_requested: bool, killed: bool) -> str:
    """Name how a run ended, for the log and the heartbeat."""
    if killed:
        return "killed"
    stopped_codes = (0, 1, 3, 4, 128 + signal.SIGTERM, -signal.SIGTERM)
    if stop_requested and returncode in stopped_codes:
        return "interrupted"
    if returncode < 0:
        return "signal"
    return EXIT_OUTCOMES.get(returncode, "failed")


def new_run_id(now: float | None = None) -> str:
    """Return a sortable run id such as ``20250602T071500Z-3fa2c1``."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class Scheduler:
    """Runs the configured command on the schedule until a signal stops it."""

    def __init__(
        self, config: SchedulerConfig, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self.config = config
        self._environ = dict(os.environ if environ is None else environ)
        self._wake = threading.Event()
        self._signals: list[str] = []
        self._stop_logged = False
        self._next_due = 0.0
        self._heartbeat = Heartbeat(config.heartbeat_path, config.schedule)
        self._command_text = config.display_command or shlex.join(config.command)

    def run(self) -> int:
        """Schedule runs until SIGTERM, SIGINT or ``max_runs``; return the exit code."""
        handled = (signal.SIGTERM, signal.SIGINT)
        previous = {
            number: signal.signal(number, self._on_signal) for number in handled
        }
        try:
            return self._loop()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only records the signal: logging and signalling the child happen in the
        # loop, which wakes within POLL_SECONDS.
        self._signals.append(signal.Signals(signum).name)
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return bool(self._signals)

    def _loop(self) -> int:
        config = self.config
        now = time.time()
        self._next_due = now if config.run_at_start else config.schedule.next_after(now)
        logger.info(
            "scheduler_started",
            extra={
                "schedule": config.schedule.describe(),
                "command": self._command_text,
                "grace_seconds": config.grace_seconds,
                "heartbeat_file": str(config.heartbeat_path),
                "next_run_at": iso_utc(self._next_due),
            },
        )
        self._heartbeat.beat(state="idle", next_run_at=iso_utc(self._next_due))
        exit_code = 0
        while not self.stopping:
            if time.time() >= self._next_due:
                exit_code = max(exit_code, self._tick())
                if self._reached_max_runs():
                    break
                continue
            timeout = min(self._next_due - time.time(), config.heartbeat_seconds)
            self._wake.wait(max(timeout, 0.0))
            self._heartbeat.beat()
        self._log_stop_requested(run_id=None)
        logger.info("scheduler_stopped", extra={"exit_code": exit_code})
        self._heartbeat.beat(state="stopped", next_run_at=None)
        return exit_code

    def _reached_max_runs(self) -> bool:
        limit = self.config.max_runs
        return limit is not None and self._heartbeat.data["runs_started"] >= limit

    def _advance(self) -> None:
        now = time.time()
        self._next_due = self.config.schedule.next_after(max(now, self._next_due))
        self._heartbeat.data["next_run_at"] = iso_utc(self._next_due)

    def _skip(self, reason: str, **fields: Any) -> None:
        data = self._heartbeat.data
        data["skipped_ticks"] += 1
        data["last_skip"] = {"at": iso_utc(time.time()), "reason": reason, **fields}
        logger.warning("tick_skipped", extra={"reason": reason, **fields})
        self._advance()
        self._heartbeat.beat()

    def _tick(self) -> int:
        """Start a run unless another process holds the run lock."""
        try:
            holder = lock_holder(self.config.home)
        except OSError as exc:
            self._skip("lock_unavailable", error=str(exc))
            return 0
        if holder is not None:
            self._skip(
                "locked",
                holder_pid=holder.pid,
                holder_host=holder.host,
                holder_run_id=holder.run_id,
                holder_started_at=holder.started_at,
            )
            return 0
        self._advance()
        return self._start_run()

    def _start_run(self) -> int:
        run_id = new_run_id()
        environment = {
            **self._environ,
            "GRADEBOT_HOME": str(self.config.home),
            "GRADEBOT_RUN_ID": run_id,
        }
        started = time.time()
        data = self._heartbeat.data
        data["runs_started"] += 1
        logger.info(
            "run_started", extra={"run_id": run_id, "command": self._command_text}
        )
        try:
            child = subprocess.Popen(
                self.config.command,
                env=environment,
                stdin=subprocess.DEVNULL,
                process_group=0,
            )
        except OSError as exc:
            logger.error(
                "run_start_failed",
                extra={
                    "run_id": run_id,
                    "command": self._command_text,
                    "error": str(exc),
                },
            )
            self._finish(run_id, started, None, "start_failed")
            return 0

        current = {"run_id": run_id, "started_at": iso_utc(started), "pid": child.pid}
        self._heartbeat.beat(state="running", current_run=current)
        returncode, stop_requested, killed = self._wait_for(child, run_id)
        outcome = outcome_for(returncode, stop_requested=stop_requested, killed=killed)
        self._finish(run_id, started, returncode, outcome)
        return 1 if killed else 0

    def _wait_for(
        self, child: subprocess.Popen[bytes], run_id: str
    ) -> tuple[int, bool, bool]:
        """Wait for the child; return (exit code, stop requested, killed)."""
        deadline: float | None = None
        last_beat = time.monotonic()
        while True:
            try:
                return child.wait(timeout=POLL_SECONDS), deadline is not None, False
            except subprocess.TimeoutExpired:
                pass
            if self.stopping and deadline is None:
                self._log_stop_requested(run_id)
                _send(child, signal.SIGTERM)
                deadline = time.monotonic() + self.config.grace_seconds
            if deadline is not None and (
                time.monotonic() >= deadline or len(self._signals) > 1
            ):
                reason = "second_signal" if len(self._signals) > 1 else "grace_expired"
                logger.error(
                    "run_killed",
                    extra={"run_id": run_id, "reason": reason, "pid": child.pid},
                )
                _kill_group(child)
                return child.wait(), True, True
            if not self.stopping and time.time() >= self._next_due:
                self._skip("run_in_progress", running_run_id=run_id)
            if time.monotonic() - last_beat >= self.config.heartbeat_seconds:
                self._heartbeat.beat()
                last_beat = time.monotonic()

    def _log_stop_requested(self, run_id: str | None) -> None:
        if not self.stopping or self._stop_logged:
            return
        self._stop_logged = True
        logger.info(
            "stop_requested",
            extra={
                "signal": self._signals[0],
                "run_id": run_id,
                "grace_seconds": self.config.grace_seconds if run_id else 0,
            },
        )
        self._heartbeat.beat(state="stopping")

    def _finish(
        self, run_id: str, started: float, returncode: int | None, outcome: str
    ) -> None:
        ended = time.time()
        data = self._heartbeat.data
        hard = outcome not in SOFT_OUTCOMES
        data["consecutive_failures"] = data["consecutive_failures"] + 1 if hard else 0
        last_run = {
            "run_id": run_id,
            "started_at": iso_utc(started),
            "ended_at": iso_utc(ended),
            "duration_seconds": round(ended - started, 3),
            "exit_code": returncode,
            "outcome": outcome,
        }
        level = logging.ERROR if hard else logging.INFO
        if outcome == "errors":
            level = logging.WARNING
        logger.log(level, "run_finished", extra=dict(last_run))
        state = "stopping" if self.stopping else "idle"
        self._heartbeat.beat(state=state, current_run=None, last_run=last_run)


def _send(child: subprocess.Popen[bytes], number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(number)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    # The child leads its own process group (process_group=0), so this also ends
    # anything it started.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)


def stop_on_signals() -> threading.Event:
    """Turn the first SIGTERM or SIGINT into a flag instead of an exit.

    For a long job such as ``gradebot run``: check the returned event between
    units of work, finish the unit in flight and exit. A second signal raises
    KeyboardInterrupt as Ctrl-C normally would. Call from the main thread.
    """
    requested = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()
        logger.info("stop_requested", extra={"signal": signal.Signals(signum).name})

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return requested


def default_command(executable: str) -> tuple[str, ...]:
    """Return the command of a scheduled run: this interpreter's ``gradebot run``."""
    return (executable, "-m", "gradebot_cli", "run")


def resolve_command(
    command: Sequence[str], executable: str
) -> tuple[tuple[str, ...], str]:
    """Return the command to start and the text shown for it in the log."""
    if command:
        return tuple(command), shlex.join(command)
    return default_command(executable), "gradebot run"
