"""Options and output helpers shared by the commands.

Data goes to stdout (tables, JSON, CSV); progress and status go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

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
