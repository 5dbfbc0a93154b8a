"""The scheduler's heartbeat file and the health verdict ``gradebot health`` prints.

The scheduler rewrites the file on every tick, run start, run end and skipped
tick, through a temporary file and ``os.replace``, so a reader never sees half a
file. Its content::

    {"version": 1, "pid": 7, "host": "...", "state": "idle",
     "schedule": "every 15m", "scheduler_started_at": "...",
     "last_tick_at": "2025-06-02T07:15:00Z", "next_run_at": "...",
     "runs_started": 3, "skipped_ticks": 1, "consecutive_failures": 0,
     "current_run": null,
     "last_run": {"run_id": "...", "started_at": "...", "ended_at": "...",
                  "duration_seconds": 42.1, "exit_code": 0, "outcome": "ok"},
     "last_skip": {"at": "...", "reason": "locked", ...}}

``state`` is one of starting, idle, running, stopping, stopped.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gradebot_cli.errors import ConfigError
from gradebot_cli.schedules import Schedule, format_duration

logger = logging.getLogger(__name__)

HEARTBEAT_NAME = "heartbeat.json"
HEARTBEAT_VERSION = 1
# Run outcomes (named by gradebot_cli.scheduler.outcome_for) after which the
# scheduler still counts as healthy.
SOFT_OUTCOMES = frozenset({"ok", "errors", "budget_reached", "locked", "interrupted"})


def default_heartbeat_path(home: Path) -> Path:
    return home / HEARTBEAT_NAME


def iso_utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class Heartbeat:
    """The heartbeat file's content, rewritten on every change and tick."""

    def __init__(self, path: Path, schedule: Schedule) -> None:
        self.path = path
        self._failing = False
        now = time.time()
        self.data: dict[str, Any] = {
            "version": HEARTBEAT_VERSION,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "state": "starting",
            "schedule": schedule.describe(),
            "scheduler_started_at": iso_utc(now),
            "last_tick_at": iso_utc(now),
            "next_run_at": None,
            "runs_started": 0,
            "skipped_ticks": 0,
            "consecutive_failures": 0,
            "current_run": None,
            "last_run": None,
            "last_skip": None,
        }

    def beat(self, **changes: Any) -> None:
        """Apply ``changes``, stamp ``last_tick_at`` and write the file."""
        self.data.update(changes)
        self.data["last_tick_at"] = iso_utc(time.time())
        try:
            write_json_atomic(self.path, self.data)
        except OSError as exc:
            # Logged once per failing stretch, so a full disk does not flood the log.
            if not self._failing:
                logger.error(
                    "heartbeat_write_failed",
                    extra={"path": str(self.path), "error": str(exc)},
                )
            self._failing = True
            return
        if self._failing:
            logger.info("heartbeat_write_recovered", extra={"path": str(self.path)})
        self._failing = False


@dataclass(frozen=True)
class HealthReport:
    """The verdict of ``gradebot health``: healthy or not, and one line why."""

    healthy: bool
    reason: str


def read_heartbeat(path: Path) -> dict[str, Any]:
    """Read the heartbeat file; raise ConfigError naming the path when unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"No heartbeat file at {path}; is `gradebot schedule` running with the "
            "same GRADEBOT_HOME or GRADEBOT_HEARTBEAT_FILE?"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the heartbeat file {path}: {exc.strerror}."
        ) from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError(f"The heartbeat file {path} is not valid JSON.") from None
    if not isinstance(data, dict) or data.get("version") != HEARTBEAT_VERSION:
        raise ConfigError(
            f"The heartbeat file {path} has an unknown format (expected version "
            f"{HEARTBEAT_VERSION})."
        )
    return data


def _age_seconds(stamp: Any, now: datetime) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Whole seconds: the file's stamps have no fractions.
    return float(round((now - moment).total_seconds()))


def check_health(
    heartbeat: Mapping[str, Any],
    *,
    now: datetime,
    max_age_seconds: float,
    max_run_seconds: float,
    errors_fail: bool = False,
) -> HealthReport:
    """Judge a heartbeat: recent tick, no run stuck, last run not a hard failure."""
    if heartbeat.get("state") == "stopped":
        return HealthReport(
            False, f"the scheduler stopped at {heartbeat.get('last_tick_at')}"
        )
    age = _age_seconds(heartbeat.get("last_tick_at"), now)
    if age is None:
        return HealthReport(False, "the heartbeat has no valid last_tick_at")
    if age > max_age_seconds:
        return HealthReport(
            False,
            f"no tick for {format_duration(age)} "
            f"(limit {format_duration(max_age_seconds)}); "
            "the scheduler is stuck or gone",
        )

    current = heartbeat.get("current_run") or {}
    running_for = _age_seconds(current.get("started_at"), now)
    if running_for is not None and running_for > max_run_seconds:
        return HealthReport(
            False,
            f"run {current.get('run_id')} has been running for "
            f"{format_duration(running_for)} "
            f"(limit {format_duration(max_run_seconds)})",
        )

    last = heartbeat.get("last_run") or {}
    outcome = last.get("outcome")
    failed = outcome is not None and (
        outcome not in SOFT_OUTCOMES or (errors_fail and outcome == "errors")
    )
    summary = (
        f"last run {last.get('run_id')} {outcome} (exit {last.get('exit_code')}) "
        f"at {last.get('ended_at')}"
        if outcome
        else "no run finished yet"
    )
    if failed:
        return HealthReport(False, summary)
    return HealthReport(
        True, f"last tick {format_duration(max(age, 0))} ago; {summary}"
    )
