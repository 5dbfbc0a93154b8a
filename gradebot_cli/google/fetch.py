"""``gradebot fetch``: list a class's submissions and read the new or changed ones.

Reading fills the Drive download cache, so the grading run that follows does not
download again. Nothing is written to the database: a submission counts as
unchanged when a stored row has the same fingerprint and a final status, the
rule grading uses to skip it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gradebot_cli.assignment import Assignment
from gradebot_cli.domain import BinaryPart, LoadedSubmission, SourceItem, Status
from gradebot_cli.sources import Source
from gradebot_cli.storage import Store

UNCHANGED = "unchanged"
READY = "ready"
PROBLEM = "problem"
NOT_READ = "not read"


@dataclass(frozen=True)
class FetchedItem:
    item: SourceItem
    state: str
    status: Status | None = None
    detail: str = ""


@dataclass
class FetchReport:
    items: list[FetchedItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for fetched in self.items:
            counts[fetched.state] = counts.get(fetched.state, 0) + 1
        return counts


def fetch_class(
    assignment: Assignment,
    store: Store,
    source: Source,
    *,
    concurrency: int = 4,
    refetch: bool = False,
    stop: threading.Event | None = None,
) -> FetchReport:
    """Read every new or changed submission (all of them with ``refetch``)."""
    stop = stop or threading.Event()
    known = store.submissions(assignment.id)
    report = FetchReport()
    todo: list[SourceItem] = []
    for item in source.list_items():
        row = known.get(item.key)
        done = row is not None and row.fingerprint == item.fingerprint
        if done and row is not None and row.status.is_final and not refetch:
            report.items.append(FetchedItem(item, UNCHANGED, row.status, row.reason))
        else:
            todo.append(item)
    report.skipped = list(getattr(source, "skipped", []))

    def read(item: SourceItem) -> FetchedItem:
        if stop.is_set():
            return FetchedItem(item, NOT_READ, None, "stopped before reading")
        return _fetched(source.load(item))

    with ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix="fetch"
    ) as pool:
        report.items.extend(pool.map(read, todo))
    report.items.sort(key=lambda f: (f.item.student.casefold(), f.item.key))
    return report


def _fetched(loaded: LoadedSubmission) -> FetchedItem:
    if loaded.status is not None:
        return FetchedItem(loaded.item, PROBLEM, loaded.status, loaded.reason)
    pieces = []
    characters = len(loaded.text)
    if characters:
        pieces.append(f"{characters:,} characters of text")
    for part in loaded.parts:
        if isinstance(part, BinaryPart):
            kind = "PDF" if part.block_type == "document" else "image"
            pieces.append(f"{kind} of {len(part.data):,} bytes")
    detail = ", ".join(pieces)
    if loaded.reason:
        detail += f"; {loaded.reason}"
    return FetchedItem(loaded.item, READY, None, detail)
