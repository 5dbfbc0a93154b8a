"""The database schema, its migrations and write durability settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gradebot_cli.errors import ConfigError
from gradebot_cli.storage.db import SCHEMA_VERSION, open_database


def test_schema_has_every_table(tmp_path: Path) -> None:
    db = open_database(tmp_path / "g.db")
    tables = set(db.table_names())
    expected = {
        "assignments",
        "runs",
        "submissions",
        "grades",
        "criterion_scores",
        "api_requests",
        "publications",
        "batches",
        "batch_items",
    }
    assert expected <= tables
    ledger = set(db["api_requests"].columns_dict)
    for column in (
        "model",
        "input_tokens",
        "output_tokens",
        "cache_write_5m_tokens",
        "cache_write_1h_tokens",
        "cache_read_tokens",
        "prices_json",
        "cost_micro",
        "latency_ms",
        "request_id",
        "retries",
        "outcome",
    ):
        assert column in ledger, column
    assert db["api_requests"].columns_dict["cost_micro"] is int


def test_wal_and_version(tmp_path: Path) -> None:
    db = open_database(tmp_path / "g.db")
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert db.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION


def test_reopen_is_idempotent(tmp_path: Path) -> None:
    open_database(tmp_path / "g.db").close()
    db = open_database(tmp_path / "g.db")
    assert db.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION


def test_unique_submission_key(tmp_path: Path) -> None:
    db = open_database(tmp_path / "g.db")
    db.execute("insert into assignments (id) values ('a')")
    db.execute(
        "insert into submissions (assignment_id, key, status) values ('a', 'k', 'pending')"
    )
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "insert into submissions (assignment_id, key, status) values ('a', 'k', 'pending')"
        )


def test_newer_schema_rejected(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    with sqlite3.connect(path) as raw:
        raw.execute(f"pragma user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(ConfigError, match="written by a newer gradebot"):
        open_database(path)


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    with sqlite3.connect(path) as raw:
        # A table that the first migration also creates makes it fail half way.
        raw.execute("create table runs (x)")
    with pytest.raises(Exception, match="runs"):
        open_database(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("pragma user_version").fetchone()[0] == 0
        names = {
            row[0]
            for row in raw.execute("select name from sqlite_master where type='table'")
        }
    assert "assignments" not in names
