"""The ``gradebot`` command group and the error boundary."""

from __future__ import annotations

import importlib
from typing import Any

import click

from gradebot_cli import __version__
from gradebot_cli.errors import GradebotError

# Command name -> "module:attribute". Modules load only when their command runs or
# when help is shown, and none of them imports a network client at import time.
COMMANDS: dict[str, str] = {
    "grade": "gradebot_cli.cli.grade_cmd:grade",
    "estimate": "gradebot_cli.cli.estimate_cmd:estimate",
    "export": "gradebot_cli.cli.export_cmd:export",
    "status": "gradebot_cli.cli.status_cmd:status",
    "init": "gradebot_cli.cli.init_cmd:init",
    "costs": "gradebot_cli.cli.costs_cmd:costs",
    "prices": "gradebot_cli.cli.costs_cmd:prices",
    "batch": "gradebot_cli.cli.batch_cmd:batch",
    "auth": "gradebot_cli.cli.auth_cmd:auth",
    "fetch": "gradebot_cli.cli.drive_cmd:fetch",
    "publish": "gradebot_cli.cli.drive_cmd:publish",
    "run": "gradebot_cli.cli.run_cmd:run",
    "schedule": "gradebot_cli.cli.schedule_cmd:schedule",
    "health": "gradebot_cli.cli.schedule_cmd:health",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def _load(self, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A command whose module is not installed in this build is hidden,
            # but a missing dependency inside an existing module is a real error.
            if exc.name == module_name:
                return None
            raise
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command


class ErrorBoundary(LazyGroup):
    """Turns gradebot's own exceptions into one-line messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GradebotError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo(
                "Aborted. Finished grades are saved; run the same command again to "
                "continue.",
                err=True,
            )
            ctx.exit(130)


@click.group(
    cls=ErrorBoundary, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="gradebot")
def cli() -> None:
    """Grade student work against a rubric with Claude.

    Submissions come from a local folder or Google Drive; feedback goes to files
    or Google Docs; every API call and its cost is kept in a SQLite ledger.
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gradebot")


if __name__ == "__main__":
    main()
