"""Opening the database and migrating its schema.

The schema version is SQLite's ``user_version``. Each migration runs inside one
``BEGIN IMMEDIATE`` transaction together with the version bump, so a crash leaves
the database at the old version or the new one, never between.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils
from sqlite_utils.db import Table

from gradebot_cli.errors import ConfigError

Migration = Callable[[sqlite_utils.Database], None]


def _table(db: sqlite_utils.Database, name: str) -> Table:
    table = db[name]
    assert isinstance(table, Table), f"{name} is a view"
    return table


def _create_core_tables(db: sqlite_utils.Database) -> None:
    db.create_table(
        "assignments",
        {
            "id": str,
            "title": str,
            "source_kind": str,
            "source_ref": str,
            "model": str,
            "rubric_version": str,
            "config_json": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
    )
    db.create_table(
        "runs",
        {
            "id": str,
            "assignment_id": str,
            "command": str,
            "started_at": str,
            "finished_at": str,
            "outcome": str,
            "counts_json": str,
        },
        pk="id",
    )
    db.create_table(
        "submissions",
        {
            "id": int,
            "assignment_id": str,
            "key": str,
            "student": str,
            "student_email": str,
            "file_name": str,
            "fingerprint": str,
            "content_hash": str,
            "status": str,
            "reason": str,
            "grade_id": int,
            "updated_at": str,
        },
        pk="id",
        not_null={"assignment_id", "key", "status"},
        foreign_keys=[("assignment_id", "assignments", "id")],
    )
    _table(db, "submissions").create_index(["assignment_id", "key"], unique=True)
    db.create_table(
        "grades",
        {
            "id": int,
            "submission_id": int,
            "content_hash": str,
            "status": str,
            "model": str,
            "prompt_version": str,
            "rubric_version": str,
            "total": float,
            "maximum": float,
            "strengths_json": str,
            "growth_areas_json": str,
            "overall_feedback": str,
            "review_reason": str,
            "answer_json": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("submission_id", "submissions", "id")],
    )
    _table(db, "grades").create_index(["submission_id"])
    db.create_table(
        "criterion_scores",
        {
            "id": int,
            "grade_id": int,
            "position": int,
            "criterion_id": str,
            "level": str,
            "points": float,
            "max_points": float,
            "rationale": str,
            "evidence_json": str,
        },
        pk="id",
        foreign_keys=[("grade_id", "grades", "id")],
    )
    _table(db, "criterion_scores").create_index(["grade_id"])


def _create_ledger_tables(db: sqlite_utils.Database) -> None:
    db.create_table(
        "api_requests",
        {
            "id": int,
            "created_at": str,
            "run_id": str,
            "assignment_id": str,
            "submission_id": int,
            "request_type": str,
            "model": str,
            "service_tier": str,
            "input_tokens": int,
            "output_tokens": int,
            "cache_write_5m_tokens": int,
            "cache_write_1h_tokens": int,
            "cache_read_tokens": int,
            "estimated_input_tokens": int,
            "prices_json": str,
            "cost_micro": int,
            "latency_ms": int,
            "request_id": str,
            "retries": int,
            "outcome": str,
            "error": str,
            "batch_id": str,
            "custom_id": str,
        },
        pk="id",
        not_null={"created_at", "request_type", "model", "cost_micro", "outcome"},
    )
    _table(db, "api_requests").create_index(["assignment_id", "created_at"])
    _table(db, "api_requests").create_index(["submission_id"])
    db.create_table(
        "publications",
        {
            "id": int,
            "submission_id": int,
            "target": str,
            "grade_id": int,
            "external_id": str,
            "content_hash": str,
            "published_at": str,
        },
        pk="id",
        foreign_keys=[("submission_id", "submissions", "id")],
    )
    _table(db, "publications").create_index(["submission_id", "target"], unique=True)
    db.create_table(
        "batches",
        {
            "id": str,
            "assignment_id": str,
            "run_id": str,
            "model": str,
            "status": str,
            "request_count": int,
            "created_at": str,
            "ended_at": str,
        },
        pk="id",
    )
    db.create_table(
        "batch_items",
        {
            "batch_id": str,
            "custom_id": str,
            "submission_id": int,
            "content_hash": str,
            "attempt": int,
            "status": str,
        },
        pk=("batch_id", "custom_id"),
    )


def _add_batch_tracking(db: sqlite_utils.Database) -> None:
    """Columns that let a batch be collected once, resumed after a crash, and
    retried: the API's request counts and expiry, and each item's result."""
    batches = _table(db, "batches")
    batches.add_column("counts_json", str)
    batches.add_column("expires_at", str)
    batches.add_column("collected_at", str)
    items = _table(db, "batch_items")
    items.add_column("estimated_input_tokens", int)
    items.add_column("result_type", str)
    items.add_column("result_json", str)
    items.add_column("error", str)
    items.add_column("updated_at", str)
    items.create_index(["submission_id"])
    items.create_index(["status"])
    batches.create_index(["assignment_id", "collected_at"])


MIGRATIONS: tuple[Migration, ...] = (
    _create_core_tables,
    _create_ledger_tables,
    _add_batch_tracking,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _enable_wal(conn: sqlite3.Connection, wait_seconds: float = 30.0) -> None:
    """Switch to WAL, waiting for other processes that are creating the file.

    Changing the journal mode needs an exclusive lock, and SQLite reports "database
    is locked" at once instead of waiting for it, so two processes that open a new
    database together retry here.
    """
    import time

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def open_database(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database at ``path``."""
    try:
        conn = sqlite3.connect(
            str(path), timeout=30, isolation_level=None, check_same_thread=False
        )
        _enable_wal(conn)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise ConfigError(
                f"{path} is not a gradebot database or is damaged ({exc}). Move it "
                "aside and restore a backup (see docs/deployment.md), or start afresh."
            ) from exc
        raise ConfigError(
            f"Cannot open the database {path} ({exc}). Check that GRADEBOT_HOME "
            "points to a writable folder."
        ) from exc
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    db = sqlite_utils.Database(conn)
    migrate(db, path)
    return db


def migrate(db: sqlite_utils.Database, path: Path) -> None:
    """Apply every migration newer than the database's ``user_version``."""
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise ConfigError(
            f"{path} was written by a newer gradebot (schema {current}, this one knows "
            f"{SCHEMA_VERSION}). Upgrade gradebot."
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while this one waited for the lock.
            if db.execute("PRAGMA user_version").fetchone()[0] >= version:
                db.execute("ROLLBACK")
                continue
            MIGRATIONS[version - 1](db)
            db.execute(f"PRAGMA user_version = {version}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
