"""Where gradebot keeps its data, and the environment variables it reads.

Precedence for every setting: command-line flag, then ``GRADEBOT_*`` environment
variable, then the assignment file, then the built-in default.
"""

from __future__ import annotations

import os
from pathlib import Path

from gradebot_cli.errors import ConfigError

APP_NAME = "gradebot"
DATABASE_NAME = "gradebot.db"


def gradebot_home() -> Path:
    """Return the data folder: ``GRADEBOT_HOME`` or the platform's user data folder.

    The folder is created on first use with mode 0700, because it holds OAuth
    tokens and students' work.
    """
    configured = os.environ.get("GRADEBOT_HOME", "").strip()
    if configured:
        home = Path(configured).expanduser()
    else:
        import platformdirs

        home = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the data folder {home} ({exc.strerror}). Set "
            "GRADEBOT_HOME to a writable folder."
        ) from exc
    return home


def database_path() -> Path:
    return gradebot_home() / DATABASE_NAME


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """Read a positive integer setting from the environment."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}.")
    return value
