"""Exceptions raised by gradebot's core.

Every error a user can cause or fix derives from :class:`GradebotError`, and the
command-line layer turns each one into a one-line message and an exit status::

    GradebotError                  exit 1 unless a subclass says otherwise
    ├── ConfigError                exit 2: a setting, file or flag is invalid
    │   ├── RubricError            the rubric file is invalid (names file and field)
    │   ├── AssignmentError        the assignment file is invalid
    │   ├── MissingApiKeyError     ANTHROPIC_API_KEY is not set
    │   └── UnknownModelError      no price is known for the model
    ├── ApiError                   the Anthropic API failed after retries
    │   ├── AuthenticationError    the API key was rejected
    │   ├── PermissionError_       the key may not use this model or feature
    │   └── OverloadedError        the API stayed overloaded
    ├── GoogleError                Google sign-in, Drive or Docs failed
    │   └── GoogleAuthError        no usable credentials; run `gradebot auth login`
    ├── BudgetExceeded             exit 3: --max-cost stopped the run
    └── LockedError                exit 4: another run holds the lock
"""

from __future__ import annotations


class GradebotError(Exception):
    """Base class for errors that gradebot reports to the user."""

    exit_code = 1


class ConfigError(GradebotError):
    """A setting, file or command-line value is invalid."""

    exit_code = 2


class RubricError(ConfigError):
    """The rubric file is invalid; the message names the file and the field."""


class AssignmentError(ConfigError):
    """The assignment file is invalid; the message names the file and the field."""


class MissingApiKeyError(ConfigError):
    """ANTHROPIC_API_KEY is not set, so nothing can be sent."""

    def __init__(self) -> None:
        super().__init__(
            "ANTHROPIC_API_KEY is not set. Create a key in the Claude Console "
            "(platform.claude.com, Settings > API keys) and run "
            "`export ANTHROPIC_API_KEY=sk-ant-...` (nothing was sent)."
        )


class UnknownModelError(ConfigError):
    """No price is known for a model, so its cost cannot be recorded."""


class ApiError(GradebotError):
    """The Anthropic API failed in a way that retrying did not fix."""


class AuthenticationError(ApiError):
    """The API key was rejected."""

    exit_code = 2


class PermissionError_(ApiError):  # noqa: N801 - avoids shadowing the builtin
    """The API key is not allowed to use this model or feature."""

    exit_code = 2


class OverloadedError(ApiError):
    """The API answered 529 (overloaded) on every retry."""


class GoogleError(GradebotError):
    """A Google sign-in, Drive or Docs call failed."""


class GoogleAuthError(GoogleError):
    """No usable Google credentials; the fix is `gradebot auth login`."""

    exit_code = 2


class BudgetExceeded(GradebotError):
    """The --max-cost limit stopped the run before every submission was graded."""

    exit_code = 3


class LockedError(GradebotError):
    """Another gradebot run holds the lock on this data folder."""

    exit_code = 4
