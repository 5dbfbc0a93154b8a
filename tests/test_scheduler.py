"""The container scheduler, the run lock, the heartbeat, health and JSON logs.

Process tests start the real `gradebot schedule` with a stand-in child script in
place of `gradebot run`. The child works in units: each unit is written to a
``.tmp`` file and renamed to ``unit-N.done`` when finished, so a unit cut off
half-way leaves a ``.tmp`` behind. Waits have timeouts only as hang guards.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gradebot_cli.cli.main import cli
from gradebot_cli.errors import ConfigError, LockedError
from gradebot_cli.heartbeat import HEARTBEAT_VERSION, check_health
from gradebot_cli.logs import REDACTED, configure_logging
from gradebot_cli.runlock import HOLDER_NAME, LOCK_NAME, lock_holder, run_lock
from gradebot_cli.scheduler import outcome_for
from gradebot_cli.schedules import (
    Schedule,
    format_duration,
    load_timezone,
    parse_duration,
    validate_cron,
)

HANG_GUARD = 60.0
SECRET = "sk-ant-api03-" + "Zq7" * 20 + "-testonly"

CHILD_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path
    from gradebot_cli.scheduler import stop_on_signals

    work = Path(sys.argv[1])
    units, unit_seconds = int(sys.argv[2]), float(sys.argv[3])
    exit_code = int(sys.argv[4])
    stop = stop_on_signals()
    if "--ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    work.mkdir(parents=True, exist_ok=True)
    names = ("GRADEBOT_RUN_ID", "GRADEBOT_HOME", "GRADEBOT_TEST_SECRET_KEY")
    env = {name: os.environ.get(name) for name in names}
    (work / "env.json").write_text(json.dumps(env))
    (work / "child.pid").write_text(str(os.getpid()))
    for number in range(1, units + 1):
        if stop.is_set():
            (work / "sigterm-seen").write_text(str(number - 1))
            sys.exit(0)
        partial = work / f"unit-{number}.tmp"
        partial.write_text("started\\n")
        time.sleep(unit_seconds)
        partial.write_text(f"unit {number} finished\\n")
        partial.rename(work / f"unit-{number}.done")
    sys.exit(exit_code)
    """
)

HOLDER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from gradebot_cli.runlock import run_lock

    home, ready, release = (Path(arg) for arg in sys.argv[1:4])
    with run_lock(home, run_id="holder-run", wait=0):
        ready.write_text("held")
        while not release.exists():
            time.sleep(0.05)
    """
)


class Scheduled:
    """A running `gradebot schedule` process and the JSON lines it printed."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._eof = False
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_event(self, event: str, **fields: Any) -> dict[str, Any]:
        """Return the first log entry with this event and fields; fail on EOF."""
        for seen in self.entries():
            if _matches(seen, event, fields):
                return seen
        deadline = time.monotonic() + HANG_GUARD
        while not self._eof and time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                self._eof = True
                break
            self.lines.append(line)
            entry: dict[str, Any] = json.loads(line)
            if _matches(entry, event, fields):
                return entry
        raise AssertionError(f"no {event} {fields} in the log:\n{''.join(self.lines)}")

    def finish(self) -> int:
        """Wait for the process to exit and collect the rest of its output."""
        returncode = self.proc.wait(timeout=HANG_GUARD)
        self._reader.join(timeout=HANG_GUARD)
        while not self._eof:
            line = self._queue.get(timeout=HANG_GUARD)
            if line is None:
                self._eof = True
            else:
                self.lines.append(line)
        return returncode

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


def _matches(entry: dict[str, Any], event: str, fields: dict[str, Any]) -> bool:
    return entry.get("event") == event and all(
        entry.get(key) == value for key, value in fields.items()
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def child_script(tmp_path: Path) -> Path:
    path = tmp_path / "child.py"
    path.write_text(CHILD_SCRIPT, encoding="utf-8")
    return path


@pytest.fixture
def scheduler_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "GRADEBOT_RUN_ID"}
    env["GRADEBOT_HOME"] = str(home)
    env["GRADEBOT_TEST_SECRET_KEY"] = SECRET
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def start_scheduler(
    scheduler_env: dict[str, str],
) -> Iterator[Any]:
    started: list[Scheduled] = []

    def start(*args: str) -> Scheduled:
        command = [sys.executable, "-m", "gradebot_cli", "schedule", *args]
        proc = subprocess.Popen(
            command, env=scheduler_env, stdout=subprocess.PIPE, text=True
        )
        started.append(Scheduled(proc))
        return started[-1]

    yield start
    for scheduled in started:
        if scheduled.proc.poll() is None:
            scheduled.proc.kill()
        scheduled.finish()
        assert scheduled.proc.stdout is not None
        scheduled.proc.stdout.close()


def child_command(script: Path, work: Path, *extra: str) -> list[str]:
    return ["--", sys.executable, str(script), str(work), *extra]


@pytest.fixture
def lock_holder_process(home: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    ready, release = tmp_path / "ready", tmp_path / "release"
    script = tmp_path / "holder.py"
    script.write_text(HOLDER_SCRIPT, encoding="utf-8")
    with subprocess.Popen(
        [sys.executable, str(script), str(home), str(ready), str(release)], text=True
    ) as proc:
        deadline = time.monotonic() + HANG_GUARD
        while not ready.exists():
            assert proc.poll() is None, "the lock holder exited early"
            assert time.monotonic() < deadline, "the lock holder never took the lock"
            time.sleep(0.05)
        yield proc
        release.write_text("go")
        proc.wait(timeout=HANG_GUARD)


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


# --- run lock ---------------------------------------------------------------


def test_lock_held_elsewhere_raises(
    home: Path, lock_holder_process: subprocess.Popen[str]
) -> None:
    with pytest.raises(LockedError) as caught, run_lock(home, wait=0):
        pass
    message = str(caught.value)
    assert str(home / LOCK_NAME) in message
    assert f"pid {lock_holder_process.pid}" in message
    assert "run holder-run" in message


def test_lock_holder_names_process(
    home: Path, lock_holder_process: subprocess.Popen[str]
) -> None:
    holder = lock_holder(home)
    assert holder is not None
    assert holder.pid == lock_holder_process.pid
    assert holder.run_id == "holder-run"


def test_lock_free_after_release(home: Path, tmp_path: Path) -> None:
    with run_lock(home, run_id="first", wait=0) as holder:
        assert holder.run_id == "first"
        assert (home / HOLDER_NAME).exists()
    assert lock_holder(home) is None
    assert not (home / HOLDER_NAME).exists()


def test_lock_freed_when_holder_killed(
    home: Path, lock_holder_process: subprocess.Popen[str]
) -> None:
    lock_holder_process.kill()
    lock_holder_process.wait(timeout=HANG_GUARD)
    with run_lock(home, run_id="after-kill", wait=0) as holder:
        assert holder.run_id == "after-kill"


# --- scheduler process -------------------------------------------------------


def test_sigterm_lets_child_finish_unit(
    start_scheduler: Any, child_script: Path, tmp_path: Path, home: Path
) -> None:
    work = tmp_path / "work"
    scheduled = start_scheduler(
        "--every", "1h", "--run-now", "--grace", "20s",
        *child_command(child_script, work, "200", "0.3", "0"),
    )  # fmt: skip
    wait_for_file(work / "unit-1.done")

    scheduled.proc.send_signal(signal.SIGTERM)
    returncode = scheduled.finish()

    assert returncode == 0
    assert (work / "sigterm-seen").exists()
    assert list(work.glob("*.tmp")) == []
    done = sorted(work.glob("unit-*.done"))
    assert done
    assert all(path.read_text().endswith("finished\n") for path in done)
    finished = scheduled.wait_for_event("run_finished")
    assert finished["outcome"] == "interrupted"
    heartbeat = json.loads((home / "heartbeat.json").read_text())
    assert heartbeat["state"] == "stopped"


def test_grace_expiry_kills_child(
    start_scheduler: Any, child_script: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    scheduled = start_scheduler(
        "--every", "1h", "--run-now", "--grace", "1s",
        *child_command(child_script, work, "200", "0.3", "0", "--ignore-term"),
    )  # fmt: skip
    wait_for_file(work / "child.pid")
    child_pid = int((work / "child.pid").read_text())

    scheduled.proc.send_signal(signal.SIGTERM)
    returncode = scheduled.finish()

    assert returncode == 1
    killed = scheduled.wait_for_event("run_killed")
    assert killed["reason"] == "grace_expired"
    assert scheduled.wait_for_event("run_finished")["outcome"] == "killed"
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)


def test_secret_env_reaches_child(
    start_scheduler: Any, child_script: Path, tmp_path: Path, home: Path
) -> None:
    work = tmp_path / "work"
    scheduled = start_scheduler(
        "--every", "1h", "--run-now", "--max-runs", "1",
        *child_command(child_script, work, "1", "0", "0"),
    )  # fmt: skip
    assert scheduled.finish() == 0

    child_env = json.loads((work / "env.json").read_text())
    started = scheduled.wait_for_event("run_started")
    assert child_env["GRADEBOT_TEST_SECRET_KEY"] == SECRET
    assert child_env["GRADEBOT_HOME"] == str(home)
    assert child_env["GRADEBOT_RUN_ID"] == started["run_id"]


def test_logs_parse_without_secret(
    start_scheduler: Any, child_script: Path, tmp_path: Path
) -> None:
    scheduled = start_scheduler(
        "--every", "1h", "--run-now", "--max-runs", "1",
        *child_command(child_script, tmp_path / "work", "1", "0", "0"),
    )  # fmt: skip
    assert scheduled.finish() == 0

    entries = scheduled.entries()
    assert [entry["event"] for entry in entries] == [
        "scheduler_started",
        "run_started",
        "run_finished",
        "scheduler_stopped",
    ]
    for entry in entries:
        assert {"timestamp", "level", "event", "run_id"} <= entry.keys()
    assert SECRET not in "".join(scheduled.lines)


def test_heartbeat_records_last_run(
    start_scheduler: Any, child_script: Path, tmp_path: Path, home: Path
) -> None:
    scheduled = start_scheduler(
        "--every", "1h", "--run-now", "--max-runs", "1",
        *child_command(child_script, tmp_path / "work", "1", "0", "3"),
    )  # fmt: skip
    assert scheduled.finish() == 0

    heartbeat = json.loads((home / "heartbeat.json").read_text())
    last_run = heartbeat["last_run"]
    assert last_run["run_id"] == scheduled.wait_for_event("run_started")["run_id"]
    assert last_run["exit_code"] == 3
    assert last_run["outcome"] == "budget_reached"
    assert last_run["started_at"] <= last_run["ended_at"]
    assert heartbeat["runs_started"] == 1


def test_tick_skipped_while_running(
    start_scheduler: Any, child_script: Path, tmp_path: Path
) -> None:
    scheduled = start_scheduler(
        "--every", "1s", "--run-now", "--max-runs", "1",
        *child_command(child_script, tmp_path / "work", "1", "2.5", "0"),
    )  # fmt: skip
    assert scheduled.finish() == 0

    started = scheduled.wait_for_event("run_started")
    skipped = scheduled.wait_for_event("tick_skipped", reason="run_in_progress")
    assert skipped["running_run_id"] == started["run_id"]
    events = [entry["event"] for entry in scheduled.entries()]
    assert events.count("run_started") == 1


def test_tick_skipped_while_locked(
    start_scheduler: Any,
    child_script: Path,
    tmp_path: Path,
    lock_holder_process: subprocess.Popen[str],
) -> None:
    scheduled = start_scheduler(
        "--every", "1s", "--run-now",
        *child_command(child_script, tmp_path / "work", "1", "0", "0"),
    )  # fmt: skip
    skipped = scheduled.wait_for_event("tick_skipped", reason="locked")
    scheduled.proc.send_signal(signal.SIGTERM)
    assert scheduled.finish() == 0

    assert skipped["holder_pid"] == lock_holder_process.pid
    assert skipped["holder_run_id"] == "holder-run"
    assert not (tmp_path / "work").exists()


def test_missing_command_is_logged(start_scheduler: Any, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-program")
    scheduled = start_scheduler("--run-now", "--max-runs", "1", "--", missing)
    assert scheduled.finish() == 0

    assert scheduled.wait_for_event("run_start_failed")["command"] == missing
    assert scheduled.wait_for_event("run_finished")["outcome"] == "start_failed"


def test_health_of_live_scheduler(
    start_scheduler: Any, child_script: Path, tmp_path: Path, home: Path
) -> None:
    scheduled = start_scheduler(
        "--every", "1h", *child_command(child_script, tmp_path / "work", "1", "0", "0")
    )
    scheduled.wait_for_event("scheduler_started")
    wait_for_file(home / "heartbeat.json")

    result = subprocess.run(
        [sys.executable, "-m", "gradebot_cli", "health"],
        env={**os.environ, "GRADEBOT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    scheduled.proc.send_signal(signal.SIGTERM)
    scheduled.finish()

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("healthy: ")


# --- gradebot health ----------------------------------------------------------


def stamp(age: timedelta) -> str:
    return (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")


def heartbeat_file(path: Path, **changes: Any) -> Path:
    data: dict[str, Any] = {
        "version": HEARTBEAT_VERSION,
        "state": "idle",
        "last_tick_at": stamp(timedelta(seconds=5)),
        "current_run": None,
        "last_run": None,
    }
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def last_run(outcome: str, exit_code: int | None) -> dict[str, Any]:
    return {
        "run_id": "r1",
        "ended_at": stamp(timedelta(minutes=1)),
        "exit_code": exit_code,
        "outcome": outcome,
    }


def run_health(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["health", "--heartbeat-file", str(path), *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("changes", "args", "expected_code", "expected_text"),
    [
        ({}, (), 0, "no run finished yet"),
        ({"last_run": last_run("ok", 0)}, (), 0, "r1 ok (exit 0)"),
        ({"last_run": last_run("budget_reached", 3)}, (), 0, "budget_reached"),
        ({"last_run": last_run("errors", 1)}, (), 0, "errors (exit 1)"),
        ({"last_run": last_run("errors", 1)}, ("--strict",), 1, "errors (exit 1)"),
        ({"last_run": last_run("config_error", 2)}, (), 1, "config_error"),
        ({"last_run": last_run("killed", -9)}, (), 1, "killed"),
        ({"last_tick_at": stamp(timedelta(minutes=10))}, (), 1, "no tick for"),
        ({"last_tick_at": stamp(timedelta(minutes=10))}, ("--max-age", "1h"), 0, ""),
        ({"state": "stopped"}, (), 1, "stopped"),
        (
            {"current_run": {"run_id": "r2", "started_at": stamp(timedelta(hours=7))}},
            (),
            1,
            "r2 has been running for 7h",
        ),
    ],
)
def test_health_verdicts(
    tmp_path: Path,
    changes: dict[str, Any],
    args: tuple[str, ...],
    expected_code: int,
    expected_text: str,
) -> None:
    path = heartbeat_file(tmp_path / "heartbeat.json", **changes)
    code, output = run_health(path, *args)
    assert code == expected_code, output
    assert expected_text in output
    assert output.count("\n") == 1


def test_health_missing_file(tmp_path: Path) -> None:
    code, output = run_health(tmp_path / "absent.json")
    assert code == 1
    assert output.startswith("unhealthy: No heartbeat file at ")


def test_health_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat.json"
    path.write_text("{", encoding="utf-8")
    code, output = run_health(path)
    assert code == 1
    assert "not valid JSON" in output


def test_health_naive_stamp_is_utc(tmp_path: Path) -> None:
    naive = (datetime.now(UTC) - timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S")
    report = check_health(
        {"last_tick_at": naive},
        now=datetime.now(UTC),
        max_age_seconds=60,
        max_run_seconds=60,
    )
    assert report.healthy


# --- schedules and outcomes -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("45", 45),
     ("1.5s", 1.5), (" 2 h ", 7200)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "15x", "-5m", "1h-"])
def test_parse_duration_invalid(text: str) -> None:
    with pytest.raises(ConfigError, match="Invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(30, "30s"), (900, "15m"), (5400, "1h30m"), (2.5, "2.5s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_interval_aligned_to_clock() -> None:
    schedule = Schedule(every_seconds=900)
    moment = datetime(2025, 6, 2, 7, 7, 41, tzinfo=UTC).timestamp()
    upcoming = datetime.fromtimestamp(schedule.next_after(moment), UTC)
    assert upcoming == datetime(2025, 6, 2, 7, 15, tzinfo=UTC)


def test_interval_strictly_after_slot() -> None:
    schedule = Schedule(every_seconds=900)
    moment = datetime(2025, 6, 2, 7, 15, tzinfo=UTC).timestamp()
    assert schedule.next_after(moment) == moment + 900


def test_cron_in_zone_across_dst() -> None:
    zone = load_timezone("Europe/Berlin")
    schedule = Schedule(cron=validate_cron("*/15 7-18 * * 1-5"), timezone=zone)
    # Friday 28 March 2025, 18:50 in Berlin; clocks go forward on Sunday 30 March.
    moment = datetime(2025, 3, 28, 18, 50, tzinfo=zone).timestamp()
    upcoming = datetime.fromtimestamp(schedule.next_after(moment), zone)
    assert upcoming == datetime(2025, 3, 31, 7, 0, tzinfo=zone)
    assert upcoming.utcoffset() == timedelta(hours=2)


def test_cron_and_interval_take_earlier() -> None:
    schedule = Schedule(every_seconds=6 * 3600, cron="30 7 * * *", timezone=UTC)
    moment = datetime(2025, 6, 2, 7, 0, tzinfo=UTC).timestamp()
    upcoming = datetime.fromtimestamp(schedule.next_after(moment), UTC)
    assert upcoming == datetime(2025, 6, 2, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression", ["* * * *", "61 * * * *", "hello", "0 0 * * * *"]
)
def test_cron_invalid(expression: str) -> None:
    with pytest.raises(ConfigError, match="Invalid cron expression"):
        validate_cron(expression)


def test_timezone_unknown() -> None:
    with pytest.raises(ConfigError, match="Unknown time zone"):
        load_timezone("Mars/Olympus_Mons")


def test_schedule_requires_a_rule() -> None:
    with pytest.raises(ConfigError, match="No schedule"):
        Schedule()


@pytest.mark.parametrize(
    ("returncode", "stop_requested", "killed", "outcome"),
    [
        (0, False, False, "ok"),
        (1, False, False, "errors"),
        (2, False, False, "config_error"),
        (3, False, False, "budget_reached"),
        (4, False, False, "locked"),
        (70, False, False, "failed"),
        (-9, False, False, "signal"),
        (0, True, False, "interrupted"),
        (-15, True, False, "interrupted"),
        (2, True, False, "config_error"),
        (-9, True, True, "killed"),
    ],
)
def test_outcome_for(
    returncode: int, stop_requested: bool, killed: bool, outcome: str
) -> None:
    result = outcome_for(returncode, stop_requested=stop_requested, killed=killed)
    assert result == outcome


# --- JSON logs and redaction ------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    deployed = {"type": "authorized_user", "client_secret": "GOCSPX-abcdefgh12345678"}
    local = {"type": "authorized_user", "client_secret": "raw-json-secret-87654321"}
    environ = {
        "ANTHROPIC_API_KEY": SECRET,
        "GRADEBOT_GOOGLE_CREDENTIALS": base64.b64encode(
            json.dumps(deployed).encode()
        ).decode(),
        "OTHER_GOOGLE_CREDENTIALS": json.dumps(local),
    }
    configure_logging(json=True, level="debug", stream=stream, environ=environ)
    yield stream
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "gradebot-console":
            root.removeHandler(handler)


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        (f"key is {SECRET}", SECRET),
        ("header Authorization: Bearer ya29.a0AfB_byC-example-token", "ya29.a0AfB"),
        ("refresh 1//0gLongRefreshTokenValue_abcdefghij", "1//0gLong"),
        ("url?api_key=plainvalue123&x=1", "plainvalue123"),
        ("base64 credentials GOCSPX-abcdefgh12345678", "GOCSPX-abcdefgh12345678"),
        ("json credentials raw-json-secret-87654321", "raw-json-secret-87654321"),
        (
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----",
            "MIIEvQIBADAN",
        ),
    ],
)
def test_log_redacts_message(json_log: io.StringIO, message: str, secret: str) -> None:
    logging.getLogger("gradebot_cli.test").info(message)
    entry = json.loads(json_log.getvalue())
    assert secret not in json_log.getvalue()
    assert REDACTED in entry["event"]


def test_log_redacts_secret_fields(json_log: io.StringIO) -> None:
    extra = {"access_token": "short", "input_tokens": 1234, "note": SECRET}
    logging.getLogger("gradebot_cli.test").info("call_done", extra=extra)
    entry = json.loads(json_log.getvalue())
    assert entry["access_token"] == REDACTED
    assert entry["input_tokens"] == 1234
    assert entry["note"] == REDACTED


def test_log_entry_fields(json_log: io.StringIO) -> None:
    logger = logging.getLogger("gradebot_cli.test")
    logger.warning("run_finished", extra={"run_id": "r-7", "exit_code": 1})
    entry = json.loads(json_log.getvalue())
    assert entry["event"] == "run_finished"
    assert entry["level"] == "warning"
    assert entry["run_id"] == "r-7"
    assert entry["exit_code"] == 1
    assert entry["timestamp"].endswith("Z")


def test_log_other_libraries_warning_only(json_log: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST https://example.invalid")
    assert json_log.getvalue() == ""


def test_schedule_rejects_invalid_every() -> None:
    result = CliRunner().invoke(cli, ["schedule", "--every", "5q"])
    assert result.exit_code == 2
    assert "Invalid duration '5q'" in result.output
