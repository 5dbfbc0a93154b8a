"""Benchmark gradebot's grading run against the fake Messages API.

Measures, on the 1,783 essays of ../shared/data/asap-set1/all-essays.tsv:
1. gradebot's own CPU time per submission with zero server latency (the fake runs
   in a separate process, so its CPU is not counted),
2. peak resident memory, sampled as the run goes to show whether it stays flat,
3. throughput at a set latency and requests-per-minute limit, against the target
   of 95% of min(concurrency / latency, limit),
4. wall time of `gradebot --help`.

Usage: python benchmarks/grading_throughput.py [--latency 0.5] [--rpm 1200]
       [--concurrency 16] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gradebot_cli.assignment import adhoc_assignment  # noqa: E402
from gradebot_cli.grading.run import GradeOptions, Outcome  # noqa: E402
from gradebot_cli.grading.service import grade_class  # noqa: E402
from gradebot_cli.pricing import load_price_table  # noqa: E402
from gradebot_cli.sources.local import LocalFolderSource  # noqa: E402
from gradebot_cli.storage import Store  # noqa: E402
from tests.support.asap import holistic_rubric_toml  # noqa: E402

API_KEY = "sk-ant-benchmark-key"
DATA = REPO.parent / "shared" / "data" / "asap-set1"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_class(folder: Path, limit: int | None) -> int:
    """Write the essays as one .txt file per student; returns how many."""
    csv.field_size_limit(10_000_000)
    submissions = folder / "submissions"
    submissions.mkdir(parents=True)
    with (DATA / "all-essays.tsv").open(encoding="utf-8", errors="replace") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    rows = rows[:limit] if limit else rows
    for row in rows:
        (submissions / f"essay-{int(row['essay_id']):05d}.txt").write_text(
            row["essay"], encoding="utf-8"
        )
    (folder / "rubric.toml").write_text(
        holistic_rubric_toml((DATA / "rubric.txt").read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    (folder / "instructions.txt").write_text(
        (DATA / "prompt.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return len(rows)


@contextmanager
def fake_server(latency: float, rpm: int | None) -> Iterator[str]:
    command = [
        sys.executable,
        "-m",
        "tests.fakes.anthropic_api",
        "--port",
        "0",
        "--latency",
        str(latency),
        "--responder",
        "benchmarks.responders:holistic",
        "--api-key",
        API_KEY,
    ]
    if rpm:
        command += ["--rpm", str(rpm)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("READY "):
            raise SystemExit(f"the fake server did not start: {line!r}")
        yield line.split(" ", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


class Sampler:
    """Progress sink that samples memory every 100 submissions."""

    def __init__(self) -> None:
        self.done = 0
        self.samples: list[tuple[int, float]] = []
        self.first_at: float | None = None

    def start(self, total: int) -> None:
        self.samples.append((0, rss_mb()))

    def advance(self, outcome: Outcome, spent_micro: int) -> None:
        self.done += 1
        if self.done % 100 == 0:
            self.samples.append((self.done, rss_mb()))

    def message(self, text: str) -> None:
        pass

    def finish(self) -> None:
        self.samples.append((self.done, rss_mb()))


def run_class(
    folder: Path, base_url: str, options: GradeOptions
) -> tuple[Any, Sampler, float, float]:
    os.environ["ANTHROPIC_BASE_URL"] = base_url
    os.environ["ANTHROPIC_API_KEY"] = API_KEY
    os.environ["GRADEBOT_HOME"] = str(folder / "home")
    assignment = adhoc_assignment(
        folder / "submissions", folder / "rubric.toml", folder / "instructions.txt"
    )
    assignment = assignment.with_overrides(output_dir=folder / "feedback")
    (folder / "home").mkdir(exist_ok=True)
    store = Store(folder / "home" / "gradebot.db")
    source = LocalFolderSource(folder / "submissions")
    sampler = Sampler()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    wall_before = time.perf_counter()
    report = grade_class(
        assignment, store, source, load_price_table(), options, progress=sampler
    )
    wall = time.perf_counter() - wall_before
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    store.close()
    return report, sampler, cpu, wall


def help_wall_time(runs: int = 10) -> float:
    gradebot = Path(sys.executable).parent / "gradebot"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(gradebot), "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.5,
        help="seconds per answer in the throughput run",
    )
    parser.add_argument(
        "--rpm", type=int, default=1200, help="the fake's requests-per-minute limit"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--limit", type=int, default=None, help="grade only the first N essays"
    )
    args = parser.parse_args()
    if not (DATA / "all-essays.tsv").exists():
        raise SystemExit(
            f"{DATA / 'all-essays.tsv'} is absent; this benchmark needs ../shared/data."
        )

    with tempfile.TemporaryDirectory() as temp:
        zero = Path(temp) / "zero"
        count = write_class(zero, args.limit)
        with fake_server(0.0, None) as url:
            report, sampler, cpu, wall = run_class(
                zero, url, GradeOptions(concurrency=4)
            )
        graded = report.counts().get("graded", 0)
        print(f"essays: {count}, graded: {graded}")
        print(
            f"zero latency: wall {wall:.1f} s, gradebot CPU {cpu:.2f} s = "
            f"{cpu / count * 1000:.2f} ms per submission (target <= 10 ms)"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        curve = ", ".join(
            f"{n}:{mb:.0f}"
            for n, mb in sampler.samples[:: max(1, len(sampler.samples) // 8)]
        )
        print(
            f"peak RSS {peak:.0f} MB (target < 200 MB); RSS by submissions done: {curve}"
        )

        timed = Path(temp) / "timed"
        write_class(timed, args.limit)
        options = GradeOptions(concurrency=args.concurrency)
        with fake_server(args.latency, args.rpm) as url:
            report, _, _, wall = run_class(timed, url, options)
        rate = count / wall * 60
        ideal = min(args.concurrency / args.latency * 60, args.rpm)
        print(
            f"throughput at {args.latency} s latency, {args.rpm} rpm limit, concurrency "
            f"{args.concurrency}: {rate:.0f} requests/min = {rate / ideal:.1%} of "
            f"min(concurrency / latency, limit) = {ideal:.0f} (target >= 95%); "
            f"graded {report.counts().get('graded', 0)}"
        )
    print(
        f"gradebot --help: median {help_wall_time() * 1000:.0f} ms over 10 runs (target <= 300 ms)"
    )


if __name__ == "__main__":
    main()
