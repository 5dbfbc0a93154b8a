"""Options and output helpers shared by the commands.

Data goes to stdout (tables, JSON, CSV); progress and status go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON on stdout."
    )(func)


def quiet_option(func: F) -> F:
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        envvar="GRADEBOT_QUIET",
        help="Print nothing but errors (for cron). Env: GRADEBOT_QUIET.",
    )(func)


def usd_to_micro(value: str | None, option: str) -> int | None:
    """Parse a dollar amount such as ``2.50`` into integer micro-dollars."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(value.strip().lstrip("$"))
    except InvalidOperation:
        raise click.BadParameter(
            f"{value!r} is not an amount in US dollars; write it like 2.50.",
            param_hint=option,
        ) from None
    if not amount.is_finite() or amount < 0:
        raise click.BadParameter(
            f"{value!r} must be zero or more dollars.", param_hint=option
        )
    return int(amount * 1_000_000)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def stderr_console(quiet: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, highlight=False)


def stdout_console() -> Any:
    from rich.console import Console

    return Console(
        highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120
    )


if TYPE_CHECKING:
    # Generic in recent click only; older versions reject the subscript at run time.
    _FloatParam = click.ParamType[float]
else:
    _FloatParam = click.ParamType


class Seconds(_FloatParam):
    """A finite number of seconds in a range; click's FloatRange lets nan through."""

    name = "seconds"

    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        if not math.isfinite(number) or not self.minimum <= number <= self.maximum:
            self.fail(
                f"{value!r} must be between {self.minimum:g} and {self.maximum:g} seconds.",
                param,
                ctx,
            )
        return number


# Options shared by several commands, so that each flag reads and behaves the same
# everywhere. Environment variables fill in flags the user did not give.

rubric_option = click.option(
    "--rubric",
    type=click.Path(path_type=Path),
    help="Rubric file (.toml or .json), for a folder without assignment.toml.",
)
instructions_option = click.option(
    "--instructions",
    type=click.Path(path_type=Path),
    help="Text file with the instructions the students were given, for a folder "
    "without assignment.toml.",
)
model_option = click.option(
    "-m",
    "--model",
    envvar="GRADEBOT_MODEL",
    help="Claude model id. Env: GRADEBOT_MODEL. Default: the assignment's, else "
    "claude-sonnet-5-5.",
)
max_tokens_option = click.option(
    "--max-tokens",
    type=click.IntRange(min=256),
    envvar="GRADEBOT_MAX_TOKENS",
    help="Maximum output tokens per answer, thinking included. Env: GRADEBOT_MAX_TOKENS.",
)
prompts_option = click.option(
    "--prompts",
    type=click.Path(path_type=Path),
    help="Folder of prompt templates that replace the bundled ones.",
)
concurrency_option = click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    envvar="GRADEBOT_CONCURRENCY",
    help="Requests in flight at once. Env: GRADEBOT_CONCURRENCY.",
)
max_retries_option = click.option(
    "--max-retries",
    type=click.IntRange(0, 20),
    default=6,
    show_default=True,
    envvar="GRADEBOT_MAX_RETRIES",
    help="Retries per request after 429, 529, 5xx or a dropped connection. "
    "Env: GRADEBOT_MAX_RETRIES.",
)
rpm_option = click.option(
    "--rpm",
    type=click.IntRange(min=1),
    envvar="GRADEBOT_RPM",
    help="Requests per minute to stay under. Default: learned from the API's "
    "rate-limit headers. Env: GRADEBOT_RPM.",
)
timeout_option = click.option(
    "--timeout",
    type=Seconds(1, 3600),
    default=300.0,
    show_default=True,
    envvar="GRADEBOT_TIMEOUT",
    help="Seconds to wait for one answer. Env: GRADEBOT_TIMEOUT.",
)
max_cost_option = click.option(
    "--max-cost",
    metavar="USD",
    envvar="GRADEBOT_MAX_COST",
    help="Stop starting requests before the run's cost could pass USD dollars "
    "(per assignment). Env: GRADEBOT_MAX_COST.",
)
regrade_option = click.option(
    "--regrade",
    is_flag=True,
    help="Include submissions that are unchanged and already graded.",
)
limit_option = click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Take at most N submissions, in the order a run grades them.",
)
student_option = click.option(
    "--student",
    "students",
    multiple=True,
    metavar="NAME",
    help="Only this student (name, file or e-mail); repeat for several.",
)


def add_plain_row(table: Any, *cells: Any) -> None:
    """Add a table row whose text is shown as written, never read as rich markup.

    Student names, file names and Claude's reasons can contain square brackets.
    """
    from rich.text import Text

    table.add_row(
        *(cell if isinstance(cell, Text) else Text(str(cell)) for cell in cells)
    )
