"""SQLite storage: the schema, its migrations, and typed reads and writes."""

from gradebot_cli.storage.db import open_database
from gradebot_cli.storage.store import Store

__all__ = ["Store", "open_database"]
