"""Run FakeAnthropic as a process for benchmarks.

    python -m tests.fakes.anthropic_api --port 0 [--latency SECONDS] [--rpm N]
        [--responder module:callable] [--api-key KEY] [--batch-delay SECONDS]

Prints one line `READY http://127.0.0.1:PORT` once it accepts connections, then
serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from types import FrameType
from typing import cast

from .fake import DEFAULT_API_KEY, FakeAnthropic
from .responses import Responder


def load_responder(spec: str) -> Responder:
    """Import `module:callable` and return the callable."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"--responder must look like module:callable, got {spec!r}")
    target = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(target):
        raise SystemExit(f"--responder {spec!r} does not name a callable")
    return cast(Responder, target)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.anthropic_api",
        description="Serve a fake Claude API on 127.0.0.1.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port; 0 picks a free one"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds to wait before each answer"
    )
    parser.add_argument(
        "--rpm", type=int, default=None, help="requests per minute before 429s"
    )
    parser.add_argument(
        "--responder", default=None, help="module:callable that returns answer text"
    )
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the valid API key")
    parser.add_argument(
        "--batch-delay",
        type=float,
        default=0.0,
        help="seconds after creation at which a batch ends when next read",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fake = FakeAnthropic(
        port=args.port,
        api_key=args.api_key,
        latency=args.latency,
        requests_per_minute=args.rpm,
        responder=load_responder(args.responder) if args.responder else None,
        batch_delay=args.batch_delay,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with fake:
        print(f"READY {fake.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
