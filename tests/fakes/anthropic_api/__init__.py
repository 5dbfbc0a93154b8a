"""A loopback fake of Anthropic's Claude API for tests and benchmarks.

Start it in-process with `FakeAnthropic` (a context manager), or as a process
with `python -m tests.fakes.anthropic_api --port 0`, which prints
`READY http://127.0.0.1:PORT` and serves until SIGTERM or SIGINT. Point the real
`anthropic` SDK at `fake.base_url` with `api_key=fake.api_key`.
"""

from .batches import BatchOutcome
from .errors import ERROR_TYPES
from .fake import DEFAULT_API_KEY, FakeAnthropic, RecordedRequest
from .faults import Fault, RequestMatcher
from .models import MODELS, ModelSpec
from .responses import Responder, default_responder
from .tokens import count_text

__all__ = [
    "DEFAULT_API_KEY",
    "ERROR_TYPES",
    "MODELS",
    "BatchOutcome",
    "FakeAnthropic",
    "Fault",
    "ModelSpec",
    "RecordedRequest",
    "RequestMatcher",
    "Responder",
    "count_text",
    "default_responder",
]
