"""The run lock: at most one ``gradebot run`` at a time per data folder.

The lock is an exclusive ``flock`` on ``$GRADEBOT_HOME/gradebot.lock`` taken through
``filelock``. The kernel releases it when the holding process exits, however it
exits, so a crash never leaves a stale lock and nothing needs deleting by hand.
Two containers that mount the same volume on one host share the inode and
therefore the lock; this is what keeps the old and the new container apart while
Kamal swaps them. Across hosts it holds only where the shared filesystem supports
``flock`` (NFS on Linux maps it to POSIX byte-range locks).

While the lock is held, ``gradebot.lock.json`` beside it names the holder (pid,
host, start time, run id) so the error shown to a second run can say who has it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gradebot_cli.errors import LockedError

if TYPE_CHECKING:
    from filelock import BaseFileLock

LOCK_NAME = "gradebot.lock"
HOLDER_NAME = "gradebot.lock.json"
# A run waits this long (seconds) for the lock by default, which covers the
# instant in which the scheduler probes it.
DEFAULT_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class LockHolder:
    """The process that holds the run lock, as written in the holder file."""

    pid: int | None = None
    host: str | None = None
    started_at: str | None = None
    run_id: str | None = None
    command: str | None = None

    def describe(self) -> str:
        """Return e.g. ``pid 41 on host job-1, started 2025-06-02T07:15:00Z``."""
        parts = []
        if self.pid is not None:
            parts.append(f"pid {self.pid}")
        if self.host:
            parts.append(f"on host {self.host}")
        text = " ".join(parts)
        if self.started_at:
            text += f", started {self.started_at}"
        if self.run_id:
            text += f", run {self.run_id}"
        return text.strip(", ") or "holder unknown"


def lock_path(home: Path | None = None) -> Path:
    """Return the lock file of a data folder (default: ``gradebot_home()``)."""
    if home is None:
        from gradebot_cli.settings import gradebot_home

        home = gradebot_home()
    return home / LOCK_NAME


def read_holder(path: Path) -> LockHolder | None:
    """Read the holder file next to lock file ``path``; None if absent or invalid."""
    try:
        data = json.loads((path.parent / HOLDER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    return LockHolder(
        pid=pid if isinstance(pid, int) else None,
        host=_text_or_none(data.get("host")),
        started_at=_text_or_none(data.get("started_at")),
        run_id=_text_or_none(data.get("run_id")),
        command=_text_or_none(data.get("command")),
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _new_lock(path: Path) -> BaseFileLock:
    # filelock is imported here so that `gradebot --help` does not load it.
    from filelock import FileLock

    return FileLock(str(path), thread_local=False)


def _locked_error(path: Path) -> LockedError:
    holder = read_holder(path)
    if holder is None:
        who = f"holder unknown: {path.parent / HOLDER_NAME} is missing or unreadable"
    else:
        who = holder.describe()
    return LockedError(
        f"Another gradebot run holds the lock {path} ({who}). The lock is released "
        "when that process exits; try again after it finishes."
    )


def _write_holder(path: Path, holder: LockHolder) -> None:
    holder_path = path.parent / HOLDER_NAME
    temporary = holder_path.with_name(f".{HOLDER_NAME}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(holder)) + "\n", encoding="utf-8")
    os.replace(temporary, holder_path)


def _remove_holder(path: Path, holder: LockHolder) -> None:
    # Remove the file only while it still names this process; it is written and
    # removed only by the lock's holder, so this check is belt and braces.
    if read_holder(path) == holder:
        with contextlib.suppress(FileNotFoundError):
            (path.parent / HOLDER_NAME).unlink()


@contextlib.contextmanager
def run_lock(
    home: Path | None = None,
    *,
    run_id: str | None = None,
    wait: float = DEFAULT_WAIT_SECONDS,
) -> Iterator[LockHolder]:
    """Hold the run lock of ``home`` for the duration of the block.

    Waits up to ``wait`` seconds for another holder to finish, then raises
    :class:`LockedError` naming the lock file and the holder. Yields the holder
    record this process wrote.
    """
    from filelock import Timeout

    path = lock_path(home)
    lock = _new_lock(path)
    try:
        lock.acquire(timeout=max(wait, 0.0))
    except Timeout:
        raise _locked_error(path) from None

    holder = LockHolder(
        pid=os.getpid(),
        host=socket.gethostname(),
        started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        run_id=run_id,
        command=" ".join(sys.argv[1:2]) or None,
    )
    try:
        _write_holder(path, holder)
        yield holder
    finally:
        _remove_holder(path, holder)
        lock.release()


def lock_holder(home: Path | None = None) -> LockHolder | None:
    """Return the holder of the run lock, or None when the lock is free.

    The check takes the lock without waiting and releases it at once. A held lock
    whose holder file is missing (the instant between taking the lock and writing
    the file) returns an empty :class:`LockHolder`.
    """
    from filelock import Timeout

    path = lock_path(home)
    lock = _new_lock(path)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return read_holder(path) or LockHolder()
    lock.release()
    return None
