"""When scheduled runs start: durations, time zones, cron expressions.

Cron expressions are parsed by ``croniter`` (maintained under pallets-eco), which
handles ranges, steps, names and daylight-saving changes in an IANA time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from gradebot_cli.errors import ConfigError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Parse ``90s``, ``15m``, ``1h30m``, ``2d`` or a bare number of seconds."""
    cleaned = text.strip().replace(" ", "")
    position, total = 0, 0.0
    while position < len(cleaned):
        match = _DURATION_PART.match(cleaned, position)
        if match is None or match.end() == position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        position = match.end()
    if not cleaned or position != len(cleaned):
        raise ConfigError(
            f"Invalid duration {text!r}: use a number with a unit, e.g. 90s, 15m, "
            "1h30m or 2d."
        )
    return total


def format_duration(seconds: float) -> str:
    """Return ``1h30m``, ``15m`` or ``45s`` for a number of seconds."""
    whole = int(round(seconds))
    if whole < 60 or seconds != whole:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def load_timezone(name: str | None) -> tzinfo | None:
    """Return the IANA zone ``name``; None (the machine's local time) if empty."""
    if not name or not name.strip():
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/Berlin "
            "or America/New_York."
        ) from None


def validate_cron(expression: str) -> str:
    """Return the expression stripped, or raise ConfigError when croniter rejects it."""
    from croniter import croniter

    cleaned = " ".join(expression.split())
    fields = 1 if cleaned.startswith("@") else 5  # "@hourly", "@daily", ...
    if len(cleaned.split(" ")) != fields or not croniter.is_valid(cleaned):
        raise ConfigError(
            f"Invalid cron expression {expression!r}: use five fields (minute hour "
            "day-of-month month day-of-week), e.g. '*/15 7-18 * * 1-5'."
        )
    return cleaned


@dataclass(frozen=True)
class Schedule:
    """When runs start: every ``every_seconds``, at the ``cron`` times, or both.

    Intervals are aligned to the Unix epoch, so ``15m`` fires at :00, :15, :30 and
    :45 whenever the scheduler was started. With both set, a run starts at
    whichever comes first. Cron times are read in ``timezone`` (None: the
    machine's local time).

    NOTE: in local time the zone is the current UTC offset, so the first cron
    time after a daylight-saving change can be an hour off; an IANA ``timezone``
    has no such error.
    """

    every_seconds: float | None = None
    cron: str | None = None
    timezone: tzinfo | None = None

    def __post_init__(self) -> None:
        if self.every_seconds is None and self.cron is None:
            raise ConfigError("No schedule: pass --every, --cron or both.")
        if self.every_seconds is not None and self.every_seconds < 1:
            raise ConfigError(
                f"--every {self.every_seconds:g}s is too short; use at least 1s."
            )

    def next_after(self, moment: float) -> float:
        """Return the first start time (Unix seconds) strictly after ``moment``."""
        candidates = []
        if self.every_seconds is not None:
            slots = int(moment // self.every_seconds) + 1
            candidates.append(slots * self.every_seconds)
        if self.cron is not None:
            candidates.append(self._next_cron(moment))
        return min(candidates)

    def _next_cron(self, moment: float) -> float:
        from croniter import croniter

        start = datetime.fromtimestamp(moment, tz=self.timezone or UTC)
        if self.timezone is None:
            start = start.astimezone()
        iterator = croniter(self.cron, start)
        upcoming: float = iterator.get_next(datetime).timestamp()
        while upcoming <= moment:
            upcoming = iterator.get_next(datetime).timestamp()
        return upcoming

    def describe(self) -> str:
        parts = []
        if self.every_seconds is not None:
            parts.append(f"every {format_duration(self.every_seconds)}")
        if self.cron is not None:
            zone = str(self.timezone) if self.timezone else "local time"
            parts.append(f"cron '{self.cron}' ({zone})")
        return " or ".join(parts)
