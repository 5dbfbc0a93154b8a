"""Logging setup shared by ``gradebot schedule`` and ``gradebot run``.

In the container every record is one JSON object on one line of stdout::

    {"timestamp": "2025-06-02T07:15:00.012Z", "level": "info",
     "event": "run_finished", "run_id": "20250602T071500Z-3fa2c1",
     "logger": "gradebot_cli.scheduler", "exit_code": 0, "outcome": "ok"}

``event`` is the log message; every ``extra=`` key becomes a field. ``run_id``
comes from ``extra``, from :func:`bind_run_id`, or from ``GRADEBOT_RUN_ID``,
which the scheduler sets for each run it starts. Before a line is written, every
string in it passes through :class:`Redactor`, which replaces API keys, OAuth
tokens, private keys and the values of secret-looking environment variables with
``[REDACTED]``. Redaction is a safety net: callers still log ids and counts, never
a secret or a student's text.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json as jsonlib
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

REDACTED = "[REDACTED]"
PACKAGE_LOGGER = "gradebot_cli"
_HANDLER_NAME = "gradebot-console"

# Token shapes published by the providers gradebot talks to, plus PEM private keys
# (a Google service-account file contains one).
_TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),  # Anthropic API and admin keys
    re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}"),  # other sk- style API keys
    re.compile(r"\bya29\.[A-Za-z0-9_\-.]+"),  # Google OAuth access tokens
    re.compile(r"\b1//[A-Za-z0-9_\-]{20,}"),  # Google OAuth refresh tokens
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),  # Google API keys
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
        re.DOTALL,
    ),
)
# "Authorization: Bearer x", "api_key=x", '"client_secret": "x"' keep the name and
# lose the value.
_ASSIGNMENT_PATTERN = re.compile(
    r"(?i)(\bbearer\s+|"
    r"\b(?:x-api-key|api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token"
    r"|client[_-]?secret|password|passwd|secret|token|authorization)"
    r"\"?\s*[:=]\s*\"?)"
    r"([^\s\",;}&]+)"
)
# Field names whose whole value is replaced, whatever it looks like. The name must
# end in the word, so "access_token" matches and "input_tokens" does not.
_SECRET_FIELD = re.compile(
    r"(?i)(^|[_\-])(api[_-]?key|token|secret|password|passwd|credentials?"
    r"|authorization|private[_-]?key|cookie)$"
)
# Environment variables whose values are redacted wherever they appear.
_SECRET_ENV_NAME = re.compile(
    r"(?i)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|AUTH)"
)
# Shorter values would redact ordinary words ("true", "1", "admin").
_MIN_SECRET_LENGTH = 8
# Keys inside a JSON credentials value (service account or authorized user).
_JSON_SECRET_KEYS = ("private_key", "private_key_id", "client_secret", "refresh_token")

_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gradebot_run_id", default=None
)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


class Redactor:
    """Replaces secrets in text: known token shapes and exact secret values."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Redact this exact value from now on (ignored when shorter than 8)."""
        value = value.strip()
        if len(value) >= _MIN_SECRET_LENGTH:
            self._values.add(value)

    def add_from_environment(self, environ: Mapping[str, str]) -> None:
        """Redact the values of environment variables whose names look secret."""
        for name, value in environ.items():
            if not _SECRET_ENV_NAME.search(name):
                continue
            self.add(value)
            for inner in _json_secret_values(value):
                self.add(inner)

    def redact(self, text: str) -> str:
        # Longest first, so a value that contains another is replaced whole.
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(REDACTED, text)
        return _ASSIGNMENT_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)

    def redact_value(self, value: Any, field: str = "") -> Any:
        """Redact every string inside a JSON-like value; secret-named fields whole."""
        if field and _SECRET_FIELD.search(field) and value not in (None, "", 0):
            return REDACTED
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {str(k): self.redact_value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact_value(item) for item in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.redact(str(value))


def _json_secret_values(value: str) -> list[str]:
    """Return the secret fields of a credentials JSON value, raw or base64."""
    text = value.strip()
    if not text.startswith("{"):
        # Kamal's env file escapes backslashes, so credentials JSON is often
        # deployed base64-encoded.
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8").strip()
        except (ValueError, UnicodeDecodeError):
            return []
        if not text.startswith("{"):
            return []
    try:
        parsed = jsonlib.loads(text)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    return [str(parsed[key]) for key in _JSON_SECRET_KEYS if parsed.get(key)]


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line, redacted."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _utc_timestamp(record.created),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "run_id": getattr(record, "run_id", None) or current_run_id(),
            "logger": record.name,
        }
        for key, value in _extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        redacted = self.redactor.redact_value(entry)
        return jsonlib.dumps(redacted, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Formats a record as ``time level event key=value ...`` for a terminal."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        fields = dict(_extra_fields(record))
        run_id = getattr(record, "run_id", None) or current_run_id()
        if run_id:
            fields.setdefault("run_id", run_id)
        fields = self.redactor.redact_value(fields)
        parts = [
            _utc_timestamp(record.created),
            record.levelname.lower(),
            self.redactor.redact(record.getMessage()),
        ]
        parts.extend(f"{key}={_text_value(value)}" for key, value in fields.items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.redactor.redact(self.formatException(record.exc_info))
        return line


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_ATTRIBUTES and key != "run_id" and not key.startswith("_")
    }


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else jsonlib.dumps(value, default=str)
    return jsonlib.dumps(text) if (" " in text or not text) else text


def _utc_timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def current_run_id() -> str | None:
    """Return the run id bound with :func:`bind_run_id`, else ``GRADEBOT_RUN_ID``."""
    return _run_id.get() or os.environ.get("GRADEBOT_RUN_ID") or None


@contextlib.contextmanager
def bind_run_id(run_id: str | None) -> Iterator[None]:
    """Add ``run_id`` to every record logged inside the block."""
    token = _run_id.set(run_id)
    try:
        yield
    finally:
        _run_id.reset(token)


def parse_level(level: str | int) -> int:
    """Turn ``"info"``, ``"DEBUG"`` or a number into a logging level."""
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.strip().upper())
    if not isinstance(value, int):
        raise ValueError(
            f"Unknown log level {level!r}; use debug, info, warning or error."
        )
    return value


def configure_logging(
    json: bool,
    level: str | int = "info",
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> Redactor:
    """Send gradebot's log records to ``stream`` as JSON lines or plain text.

    ``stream`` defaults to stdout for JSON (the container's log) and stderr for
    text (a terminal, where stdout carries data). Records from gradebot's modules
    pass at ``level``; other libraries' records pass from WARNING up. Calling this
    again replaces the handler it installed before. Returns the redactor, so a
    caller can add values it learns later (a token read from a file).
    """
    redactor = Redactor()
    redactor.add_from_environment(os.environ if environ is None else environ)
    if stream is None:
        stream = sys.stdout if json else sys.stderr

    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    formatter = JsonFormatter(redactor) if json else TextFormatter(redactor)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger(PACKAGE_LOGGER).setLevel(parse_level(level))
    return redactor
