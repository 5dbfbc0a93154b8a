"""A rich progress bar on stderr with ETA and the running cost."""

from __future__ import annotations

from typing import Any

from gradebot_cli.grading.run import Outcome
from gradebot_cli.pricing import format_usd


class RichProgress:
    def __init__(self, console: Any, label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}", markup=False, style="bold"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[cost]}", markup=False),
            console=console,
            transient=False,
        )
        self.label = label
        self.task_id: Any = None

    def start(self, total: int) -> None:
        if total == 0:
            return
        self.progress.start()
        self.task_id = self.progress.add_task(
            self.label, total=total, cost=format_usd(0)
        )

    def advance(self, outcome: Outcome, spent_micro: int) -> None:
        if self.task_id is None:
            return
        self.progress.update(self.task_id, advance=1, cost=format_usd(spent_micro))
        if outcome.status.value not in ("graded", "pending"):
            reason = f": {outcome.reason}" if outcome.reason else ""
            self.progress.console.print(
                f"{outcome.student} ({outcome.file_name}): {outcome.status.value}{reason}",
                markup=False,
                highlight=False,
                style="yellow",
            )

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def finish(self) -> None:
        if self.task_id is not None:
            self.progress.stop()
