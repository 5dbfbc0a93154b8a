"""Benchmark what grading a class costs on each path, and how good the estimate is.

Grades the 30 essays of ../shared/data/asap-set1/class-30 (relative to the
repository root) with an analytic rubric of over 2,000 tokens
(benchmarks/persuasive-letter-rubric.toml), against the fake Messages API started
in this process, three ways:

- uncached: the fake caches nothing (its minimum cacheable prefix is set out of
  reach), so every request pays full input price for the system prompt;
- cached: the normal interactive run, whose first request writes the system
  prompt to the cache and whose other requests read it;
- batched: `grade --batch` and a collect, at Message Batches prices.

It also compares three estimates with what the fake then bills: the offline
estimate with no history (default correction), the offline estimate corrected by
the ledger of a first run, and the `--exact` estimate from the token-counting
endpoint. Each path runs twice: with the fake's short answers, and with answers
made longer by 1,500 thinking tokens, because the share of output in the bill
decides how much caching can save.

The fake counts one token per four bytes of text and writes short answers, so the
figures show gradebot's accounting and the relative savings, not Anthropic's
bills. The results are printed and written to docs/benchmarks.md under "Cost
paths" (skip that with --print-only).

Usage: python benchmarks/cost_paths.py [--model claude-sonnet-5-5] [--print-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import anthropic  # noqa: E402

from gradebot_cli.assignment import Assignment, adhoc_assignment  # noqa: E402
from gradebot_cli.batch import submit_batch  # noqa: E402
from gradebot_cli.costs.calibration import DEFAULT_INPUT_RATIO  # noqa: E402
from gradebot_cli.costs.estimate import (  # noqa: E402
    ApiTokenCounter,
    ClassEstimate,
    estimate_class,
)
from gradebot_cli.grading.batch import collect_batches  # noqa: E402
from gradebot_cli.grading.client import Caller, RateGate  # noqa: E402
from gradebot_cli.grading.grader import DEFAULT_EXPECTED_OUTPUT_TOKENS  # noqa: E402
from gradebot_cli.grading.run import GradeOptions  # noqa: E402
from gradebot_cli.grading.service import grade_class  # noqa: E402
from gradebot_cli.pricing import TokenUsage, format_usd, load_price_table  # noqa: E402
from gradebot_cli.sources.local import LocalFolderSource  # noqa: E402
from gradebot_cli.storage import Store  # noqa: E402
from gradebot_cli.tokens import count_text_tokens  # noqa: E402
from tests.fakes.anthropic_api import FakeAnthropic  # noqa: E402
from tests.support.grading import grading_responder  # noqa: E402

CLASS = REPO.parent / "shared" / "data" / "asap-set1" / "class-30"
RUBRIC = REPO / "benchmarks" / "persuasive-letter-rubric.toml"
DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Cost paths"
COMMAND = ".venv/bin/python benchmarks/cost_paths.py"
MIN_RUBRIC_TOKENS = 2000
NO_CACHE = 10**9
MILLION = 1_000_000
PROFILES = (("short answers", 24), ("long answers", 1500))


@dataclass(frozen=True)
class Bill:
    """The fake's bill for a set of ledger rows."""

    requests: int
    cost_micro: int
    usage: TokenUsage


@dataclass(frozen=True)
class PathResult:
    profile: str
    path: str
    bill: Bill
    essays: int

    @property
    def per_essay_micro(self) -> int:
        return self.bill.cost_micro // self.essays


@dataclass(frozen=True)
class EstimateError:
    name: str
    estimated_tokens: int
    billed_tokens: int
    estimated_micro: int
    billed_micro: int
    in_range: bool
    """Whether the bill fell within the estimate's low-high range."""


def make_assignment(workdir: Path, model: str) -> Assignment:
    submissions = workdir / "class-30" / "submissions"
    shutil.copytree(CLASS / "submissions", submissions)
    assignment = adhoc_assignment(
        submissions, RUBRIC, CLASS / "prompt.txt", title="Letter about computers"
    )
    return assignment.with_overrides(model=model, output_dir=workdir / "feedback")


def source_for(assignment: Assignment) -> LocalFolderSource:
    assert assignment.source.path is not None
    return LocalFolderSource(assignment.source.path, exclude=assignment.excluded_paths)


@contextmanager
def fake_api(assignment: Assignment, thinking: int, **options: Any) -> Iterator[Any]:
    """Start the fake on loopback and yield (fake, SDK client pointed at it)."""
    responder = grading_responder(assignment.rubric)
    with FakeAnthropic(
        responder=responder, thinking_tokens=thinking, **options
    ) as fake:
        os.environ["ANTHROPIC_BASE_URL"] = fake.base_url
        os.environ["ANTHROPIC_API_KEY"] = fake.api_key
        client = anthropic.Anthropic(base_url=fake.base_url, api_key=fake.api_key)
        try:
            yield fake, client.with_options(max_retries=0)
        finally:
            client.close()


def bill_since(store: Store, after_id: int) -> Bill:
    rows = store.query("select * from api_requests where id > ?", [after_id])
    usage = TokenUsage()
    for row in rows:
        usage = usage + TokenUsage(
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cache_write_5m_tokens=row["cache_write_5m_tokens"],
            cache_write_1h_tokens=row["cache_write_1h_tokens"],
            cache_read_tokens=row["cache_read_tokens"],
        )
    return Bill(len(rows), sum(int(row["cost_micro"]) for row in rows), usage)


def last_id(store: Store) -> int:
    return int(
        store.query("select coalesce(max(id), 0) as n from api_requests")[0]["n"]
    )


def new_store(workdir: Path, name: str) -> Store:
    return Store(workdir / f"{name}.db")


def run_interactive(
    assignment: Assignment,
    store: Store,
    client: Any,
    *,
    limit: int | None = None,
    expected: int = 30,
) -> Bill:
    start = last_id(store)
    options = GradeOptions(concurrency=4, limit=limit, timeout_seconds=30)
    report = grade_class(
        assignment,
        store,
        source_for(assignment),
        load_price_table(),
        options,
        client=client,
    )
    graded = report.counts().get("graded", 0)
    if graded != expected:
        raise SystemExit(f"expected {expected} graded essays, got {report.counts()}")
    return bill_since(store, start)


def run_batched(assignment: Assignment, store: Store, client: Any) -> Bill:
    prices = load_price_table()
    options = GradeOptions(timeout_seconds=30)
    source = source_for(assignment)
    submit_batch(assignment, store, source, prices, options, client=client)
    price = prices.get(assignment.model)
    collected = collect_batches(
        assignment, store, source, price, options, client=client
    )
    if len(collected.outcomes) != 30:
        raise SystemExit(f"expected 30 batch results, got {collected.summary()}")
    return bill_since(store, 0)


def estimate(
    assignment: Assignment, store: Store, counter: Any = None
) -> ClassEstimate:
    return estimate_class(
        assignment,
        store,
        source_for(assignment),
        load_price_table(),
        GradeOptions(),
        concurrency=4,
        counter=counter,
    )


def error_of(name: str, result: ClassEstimate, bill: Bill) -> EstimateError:
    return EstimateError(
        name,
        result.usage.prompt_tokens,
        bill.usage.prompt_tokens,
        result.interactive.expected,
        bill.cost_micro,
        result.interactive.low <= bill.cost_micro <= result.interactive.high,
    )


def run_profile(
    workdir: Path, model: str, profile: str, thinking: int
) -> tuple[list[PathResult], list[EstimateError]]:
    assignment = make_assignment(workdir / profile.replace(" ", "-"), model)
    results = []
    errors = []
    with fake_api(assignment, thinking, min_cacheable_tokens=NO_CACHE) as (_, client):
        bill = run_interactive(assignment, new_store(workdir, f"{thinking}-u"), client)
        results.append(PathResult(profile, "uncached", bill, 30))
    with fake_api(assignment, thinking) as (_, client):
        store = new_store(workdir, f"{thinking}-c")
        before = estimate(assignment, store)
        bill = run_interactive(assignment, store, client)
        results.append(PathResult(profile, "cached", bill, 30))
        errors.append(error_of("offline, empty ledger (x1.25 default)", before, bill))
    with fake_api(assignment, thinking) as (_, client):
        bill = run_batched(assignment, new_store(workdir, f"{thinking}-b"), client)
        results.append(PathResult(profile, "batched", bill, 30))
    errors.extend(
        check_calibration(assignment, new_store(workdir, f"{thinking}-k"), thinking)
    )
    return results, errors


def check_calibration(
    assignment: Assignment, store: Store, thinking: int
) -> list[EstimateError]:
    """Grade 15 essays, then estimate the other 15 and compare with their bill."""
    with fake_api(assignment, thinking) as (fake, client):
        run_interactive(assignment, store, client, limit=15, expected=15)
        calibrated = estimate(assignment, store)
        caller = Caller(RateGate(None), max_retries=2, stop=threading.Event())
        exact = estimate(assignment, store, ApiTokenCounter(client, caller))
        fake.advance_time(600)  # the cache expires, as both estimates assume
        bill = run_interactive(assignment, store, client, expected=15)
    ratio = f"x{calibrated.calibration.ratio:.3f}"
    return [
        error_of(f"offline, corrected by 15 graded essays ({ratio})", calibrated, bill),
        error_of("--exact (token-counting endpoint)", exact, bill),
    ]


def percent(value: int, base: int) -> str:
    return f"{(value - base) / base:+.1%}" if base else "-"


def path_table(results: list[PathResult]) -> list[str]:
    lines = [
        "| Answers | Path | Requests | Input tokens per essay (uncached / cache write / "
        "cache read) | Output tokens per essay | Cost per essay | vs uncached | vs cached |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_key = {(r.profile, r.path): r for r in results}
    for result in results:
        usage = result.bill.usage
        uncached = by_key[(result.profile, "uncached")].bill.cost_micro
        cached = by_key[(result.profile, "cached")].bill.cost_micro
        lines.append(
            f"| {result.profile} | {result.path} | {result.bill.requests} | "
            f"{usage.input_tokens // 30:,} / {usage.cache_write_5m_tokens // 30:,} / "
            f"{usage.cache_read_tokens // 30:,} | {usage.output_tokens // 30:,} | "
            f"{format_usd(result.per_essay_micro)} | "
            f"{result.bill.cost_micro / uncached:.3f}x | "
            f"{result.bill.cost_micro / cached:.3f}x |"
        )
    return lines


def error_table(errors: list[tuple[str, EstimateError]]) -> list[str]:
    lines = [
        "| Answers | Estimate | Input tokens: estimated / billed | Error | "
        "Cost: estimated / billed | Error | Bill within low-high range |",
        "|---|---|---|---|---|---|---|",
    ]
    for profile, error in errors:
        lines.append(
            f"| {profile} | {error.name} | {error.estimated_tokens:,} / "
            f"{error.billed_tokens:,} | {percent(error.estimated_tokens, error.billed_tokens)} | "
            f"{format_usd(error.estimated_micro)} / {format_usd(error.billed_micro)} | "
            f"{percent(error.estimated_micro, error.billed_micro)} | "
            f"{'yes' if error.in_range else 'no'} |"
        )
    return lines


def targets(results: list[PathResult], model: str) -> list[str]:
    """Say for each profile whether the two targets are met, and why not."""
    output_rate = load_price_table().get(model).rates.output
    by_key = {(r.profile, r.path): r.bill for r in results}
    lines = []
    for profile, _ in PROFILES:
        uncached, cached = by_key[(profile, "uncached")], by_key[(profile, "cached")]
        batched = by_key[(profile, "batched")]
        cache_ratio = cached.cost_micro / uncached.cost_micro
        usage = cached.usage
        prefix_share = (usage.cache_write_5m_tokens + usage.cache_read_tokens) / (
            usage.prompt_tokens
        )
        output_share = uncached.usage.output_tokens * output_rate / MILLION
        output_share /= uncached.cost_micro
        verdict = "met" if cache_ratio <= 0.5 else "not met"
        lines.append(
            f"- {profile}, cached / uncached = {cache_ratio:.3f} ({verdict}, target "
            f"<= 0.5). Only the system prompt is cached: {prefix_share:.0%} of the "
            "input tokens. The essay and the output schema after it are billed in "
            f"full, and so is the output, {output_share:.0%} of the uncached bill."
        )
        batch_ratio = batched.cost_micro / cached.cost_micro
        excess = batched.cost_micro - cached.cost_micro / 2
        verdict = "met" if batch_ratio <= 0.5 else "not met"
        lines.append(
            f"- {profile}, batched / interactive (cached) = {batch_ratio:.4f} "
            f"({verdict}, target <= 0.5). The Batch API halves every token kind and "
            "the fake cached the batch's requests as it did the interactive ones; "
            f"the {excess:+.1f} micro-dollars against exactly half come from "
            "rounding each request's cost half-up to whole micro-dollars."
        )
    return lines


def section(
    model: str,
    rubric_tokens: int,
    results: list[PathResult],
    errors: list[tuple[str, EstimateError]],
) -> str:
    today = datetime.now(UTC).date().isoformat()
    lines = [
        HEADING,
        "",
        f"Date: {today}. Command (from the repository root, with `../shared/data` "
        "present):",
        "",
        "```sh",
        COMMAND,
        "```",
        "",
        fill(
            f"Input: the 30 essays of ASAP set 1 `class-30`, model `{model}` at the "
            "bundled prices, and the analytic rubric "
            f"`benchmarks/persuasive-letter-rubric.toml` ({rubric_tokens:,} tiktoken "
            "tokens as rendered in the prompt), graded against the fake Messages API in "
            "the same process. The fake counts one token per four bytes, places the "
            "output schema after the messages, and caches batch requests like "
            "interactive ones (the real Batch API caches on a best-effort basis); its "
            "answers are short. So these figures show gradebot's accounting and the "
            "relative savings, not Anthropic's bills, and they do not depend on the "
            'machine. "Long answers" adds 1,500 thinking tokens to every answer, closer '
            "to a real graded essay."
        ),
        "",
        *path_table(results),
        "",
        "Targets:",
        "",
        *(fill(line, subsequent_indent="  ") for line in targets(results, model)),
        "",
        *error_table(errors),
        "",
        fill(
            "Estimates: with an empty ledger the estimate assumes "
            f"{DEFAULT_EXPECTED_OUTPUT_TOKENS:,} output tokens per answer and scales "
            f"tiktoken by {DEFAULT_INPUT_RATIO}, both set for Claude, while the fake "
            "answers in far fewer tokens and counts closer to tiktoken; so the first "
            "estimate is high, most of all for short answers. After 15 graded essays "
            "the ledger corrects the system prompt and the rest of the request "
            "separately and gives the measured output length, and the estimate for the "
            "other 15 essays matches the bill to within the error shown."
        ),
        "",
    ]
    return "\n".join(lines)


def fill(text: str, subsequent_indent: str = "") -> str:
    return textwrap.fill(text, width=88, subsequent_indent=subsequent_indent)


def write_docs(text: str) -> None:
    """Replace the "Cost paths" section of docs/benchmarks.md, or append it."""
    current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    start = current.find(HEADING + "\n")
    if start == -1:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        following = current.find("\n## ", start + len(HEADING))
        tail = current[following + 1 :] if following != -1 else ""
        updated = current[:start] + text + ("\n" + tail if tail else "")
    DOCS.write_text(updated, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="claude-sonnet-5-5", help="Claude model id.")
    parser.add_argument(
        "--print-only",
        action="store_true",
        help="Print the results without updating docs/benchmarks.md.",
    )
    args = parser.parse_args()
    if not (CLASS / "submissions").is_dir():
        raise SystemExit(
            f"{CLASS} is absent: this benchmark needs the ASAP class-30 essays in "
            "../shared/data next to the repository."
        )
    from gradebot_cli.rubric import load_rubric

    rubric_tokens = count_text_tokens(load_rubric(RUBRIC).to_text())
    if rubric_tokens < MIN_RUBRIC_TOKENS:
        raise SystemExit(
            f"{RUBRIC} renders to {rubric_tokens} tokens; it must reach 2,000."
        )
    results: list[PathResult] = []
    errors: list[tuple[str, EstimateError]] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GRADEBOT_HOME"] = str(Path(tmp) / "home")
        for profile, thinking in PROFILES:
            paths, estimate_errors = run_profile(
                Path(tmp), args.model, profile, thinking
            )
            results.extend(paths)
            errors.extend((profile, error) for error in estimate_errors)
    text = section(args.model, rubric_tokens, results, errors)
    print(text)
    if not args.print_only:
        write_docs(text)
        print(f"Updated {DOCS.relative_to(REPO)}.")


if __name__ == "__main__":
    main()
