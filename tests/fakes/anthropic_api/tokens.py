"""Deterministic token counts and the prompt cache.

Token counts are an approximation, not the real tokenizer. A text block costs
ceil(UTF-8 bytes / 4) of its text, and an image block a flat 1,600 tokens. Any
other block (documents, tool results, tool definitions) costs ceil(bytes / 4) of
its compact JSON without `cache_control`. A structured-output
schema adds ceil(bytes / 4) of its JSON, counted after the messages. The same
function serves /v1/messages and /v1/messages/count_tokens, so both report the
same input total.

The prompt is the sequence tools, system, messages (the order the "Prompt caching"
page on platform.claude.com gives). A `cache_control` on any block is a
breakpoint; a top-level `cache_control` marks the last message block. The cache
key of a breakpoint is the model id plus a hash of every block up to it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

IMAGE_TOKENS = 1600
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


def count_text(text: str) -> int:
    """Return ceil(UTF-8 bytes / 4), the fake's token count for a piece of text."""
    return (len(text.encode()) + 3) // 4


def _without_cache_control(block: dict[str, Any]) -> dict[str, Any]:
    if "cache_control" not in block:
        return block
    return {key: value for key, value in block.items() if key != "cache_control"}


def _compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def block_tokens(block: dict[str, Any]) -> int:
    """Return the token count of one content block or tool definition."""
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        return count_text(block["text"])
    if kind == "image":
        return IMAGE_TOKENS
    return count_text(_compact_json(_without_cache_control(block)))


@dataclass(frozen=True)
class Segment:
    """One block of the prompt, in prompt order."""

    section: str
    """"tools", "system" or a message role."""
    block: dict[str, Any]
    tokens: int
    cache_control: dict[str, Any] | None


def iter_prompt_blocks(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (section, block) for every tool, system block and message block."""
    for tool in body.get("tools") or []:
        yield "tools", tool
    system = body.get("system")
    if isinstance(system, str):
        if system:
            yield "system", {"type": "text", "text": system}
    elif isinstance(system, list):
        for block in system:
            yield "system", block
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            yield message["role"], {"type": "text", "text": content}
        else:
            for block in content:
                yield message["role"], block


def build_segments(body: dict[str, Any]) -> list[Segment]:
    """Split a validated request into segments with their tokens and breakpoints."""
    segments = [
        Segment(section, block, block_tokens(block), block.get("cache_control"))
        for section, block in iter_prompt_blocks(body)
    ]
    automatic = body.get("cache_control")
    if automatic and segments:
        last = segments[-1]
        segments[-1] = Segment(last.section, last.block, last.tokens, automatic)
    return segments


def schema_tokens(schema: dict[str, Any] | None) -> int:
    """Return the input tokens a structured-output schema adds."""
    return count_text(_compact_json(schema)) if schema is not None else 0


@dataclass(frozen=True)
class Breakpoint:
    """A cacheable prefix: its length in tokens, cache key and TTL name."""

    prefix_tokens: int
    key: str
    ttl: str


def find_breakpoints(model_id: str, segments: list[Segment]) -> list[Breakpoint]:
    """Return the breakpoints of a prompt in order, with hashes of their prefixes."""
    if not any(segment.cache_control for segment in segments):
        return []
    digest = hashlib.sha256(model_id.encode())
    prefix_tokens = 0
    found = []
    for segment in segments:
        digest.update(segment.section.encode())
        digest.update(_compact_json(_without_cache_control(segment.block)).encode())
        prefix_tokens += segment.tokens
        if segment.cache_control:
            ttl = str(segment.cache_control.get("ttl") or "5m")
            found.append(Breakpoint(prefix_tokens, digest.hexdigest(), ttl))
    return found


@dataclass(frozen=True)
class CacheUsage:
    """How a request's input tokens split between fresh, written and read."""

    input_tokens: int
    cache_read_input_tokens: int = 0
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.ephemeral_5m_input_tokens + self.ephemeral_1h_input_tokens


class PromptCache:
    """Thread-safe cache entries keyed by prefix hash, each with an expiry time.

    A read refreshes the entry's TTL, as the real cache does.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[str, tuple[float, float]] = {}

    def clear(self) -> None:
        """Drop every cache entry."""
        with self._lock:
            self._expiry.clear()

    def apply(
        self, breakpoints: list[Breakpoint], total_tokens: int, min_tokens: int
    ) -> CacheUsage:
        """Read the longest cached prefix, write the later ones and split the tokens.

        A breakpoint whose prefix is shorter than `min_tokens` is not cached; its
        tokens count as ordinary input or fall into the next breakpoint's write.
        """
        if not breakpoints:
            return CacheUsage(input_tokens=total_tokens)
        with self._lock:
            now = self._clock()
            read_index = self._longest_hit(breakpoints, now)
            covered = breakpoints[read_index].prefix_tokens if read_index >= 0 else 0
            read = covered
            written = {"5m": 0, "1h": 0}
            for breakpoint in breakpoints[read_index + 1 :]:
                if breakpoint.prefix_tokens < min_tokens:
                    continue
                if breakpoint.prefix_tokens > covered:
                    written[breakpoint.ttl] += breakpoint.prefix_tokens - covered
                    covered = breakpoint.prefix_tokens
                seconds = TTL_SECONDS[breakpoint.ttl]
                self._expiry[breakpoint.key] = (now + seconds, seconds)
        return CacheUsage(
            input_tokens=total_tokens - covered,
            cache_read_input_tokens=read,
            ephemeral_5m_input_tokens=written["5m"],
            ephemeral_1h_input_tokens=written["1h"],
        )

    def _longest_hit(self, breakpoints: list[Breakpoint], now: float) -> int:
        for index in range(len(breakpoints) - 1, -1, -1):
            entry = self._expiry.get(breakpoints[index].key)
            if entry is not None and entry[0] > now:
                self._expiry[breakpoints[index].key] = (now + entry[1], entry[1])
                return index
        return -1
