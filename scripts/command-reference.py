"""Write docs/commands.md from the `--help` output of every gradebot command.

Run `python scripts/command-reference.py` after changing a command;
tests/test_cli.py fails when the file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradebot_cli.cli.main import cli  # noqa: E402

HEADER = """# Command reference

Generated from `gradebot COMMAND --help` by `scripts/command-reference.py`; do not
edit by hand.
"""


def help_text(args: list[str]) -> str:
    result = CliRunner().invoke(
        cli, [*args, "--help"], terminal_width=88, prog_name="gradebot"
    )
    return result.output.rstrip()


def sections(group: click.Group, prefix: list[str]) -> list[str]:
    parts: list[str] = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        path = [*prefix, name]
        parts.append(
            f"## gradebot {' '.join(path)}\n\n```text\n{help_text(path)}\n```\n"
        )
        if isinstance(command, click.Group):
            parts.extend(sections(command, path))
    return parts


def render() -> str:
    body = "\n".join(sections(cli, []))
    return f"{HEADER}\n## gradebot\n\n```text\n{help_text([])}\n```\n\n{body}"


if __name__ == "__main__":
    (ROOT / "docs" / "commands.md").write_text(render(), encoding="utf-8")
