"""Message bodies, usage and server-sent events for the fake's responses.

Shapes follow `anthropic.types.Message`, `Usage` and `RefusalStopDetails` in
anthropic 2.17.0, and the stream event sequence its `MessageStream` accumulates
(message_start, content_block_start/delta/stop per block, message_delta,
message_stop).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .faults import Fault
from .schema import minimal_instance
from .tokens import CacheUsage, count_text, iter_prompt_blocks
from .validation import PreparedRequest

Responder = Callable[[dict[str, Any]], "str | Fault"]
"""Takes a request JSON body and returns the answer text, or a Fault to perform."""

DEFAULT_TEXT_ANSWER = "OK"
SUMMARIZED_THINKING = "Read the request and planned an answer in the requested format."
_STREAM_CHUNK_CHARS = 48


@dataclass(frozen=True)
class Answer:
    """The generated output: text (None for no text block) and the stop reason."""

    text: str | None
    stop_reason: str = "end_turn"
    stop_details: dict[str, Any] | None = None
    tool_input: dict[str, Any] | None = None


def output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """Return the structured-output schema of a request body, if it has one."""
    config = body.get("output_config") or {}
    output_format = config.get("format") or body.get("output_format")
    schema = output_format.get("schema") if isinstance(output_format, dict) else None
    return schema if isinstance(schema, dict) else None


def default_responder(body: dict[str, Any]) -> str:
    """Return a minimal instance of the request's JSON schema as JSON text.

    A request without an output schema gets "OK".
    """
    schema = output_schema(body)
    if schema is None:
        return DEFAULT_TEXT_ANSWER
    return json.dumps(minimal_instance(schema))


def request_text(body: dict[str, Any]) -> str:
    """Return the system and message text of a request, for substring matchers."""
    parts = []
    for section, block in iter_prompt_blocks(body):
        if section == "tools":
            continue
        text = block.get("text")
        parts.append(text if isinstance(text, str) else json.dumps(block))
    return "\n".join(parts)


def answer_for_fault(fault: Fault, normal_text: str) -> Answer:
    """Turn an answer-shaping fault into an Answer."""
    if fault.kind == "text":
        return Answer(fault.text or "")
    if fault.kind == "max_tokens":
        cut = (
            fault.text
            if fault.text is not None
            else normal_text[: len(normal_text) // 2]
        )
        return Answer(cut, stop_reason="max_tokens")
    if fault.kind == "malformed_json":
        broken = fault.text if fault.text is not None else normal_text[:-1]
        return Answer(broken)
    if fault.kind == "refusal":
        details = {
            "type": "refusal",
            "category": fault.category,
            "explanation": fault.explanation,
        }
        return Answer(fault.text, stop_reason="refusal", stop_details=details)
    return Answer(normal_text)


def tool_answer(prepared: PreparedRequest, text: str) -> Answer:
    """Build the Answer to a forced tool choice.

    The tool input is `text` when it is a JSON object, otherwise a minimal instance
    of the tool's input schema.
    """
    tool = prepared.forced_tool or {}
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        parsed = minimal_instance(tool.get("input_schema") or {"type": "object"})
    return Answer(None, stop_reason="tool_use", tool_input=parsed)


def _thinking_block(prepared: PreparedRequest, message_id: str) -> dict[str, Any]:
    signature = base64.b64encode(hashlib.sha256(message_id.encode()).digest()).decode()
    text = SUMMARIZED_THINKING if prepared.show_thinking_text else ""
    return {"type": "thinking", "thinking": text, "signature": signature}


def _apply_stop_sequences(
    body: dict[str, Any], answer: Answer
) -> tuple[Answer, str | None]:
    if answer.text is None or answer.stop_reason != "end_turn":
        return answer, None
    hits = [
        (answer.text.find(sequence), sequence)
        for sequence in body.get("stop_sequences") or []
        if sequence and sequence in answer.text
    ]
    if not hits:
        return answer, None
    position, sequence = min(hits)
    return Answer(answer.text[:position], stop_reason="stop_sequence"), sequence


def _fit_text(text: str, budget: int) -> str:
    return text.encode()[: budget * 4].decode(errors="ignore")


def _answer_block(
    prepared: PreparedRequest, answer: Answer, budget: int, message_id: str
) -> tuple[dict[str, Any] | None, int, str]:
    """Return the tool_use or text block, its output tokens and the stop reason.

    Text longer than `budget` tokens is cut, and the stop reason becomes
    "max_tokens".
    """
    if answer.tool_input is not None:
        block = {
            "type": "tool_use",
            "id": message_id.replace("msg_", "toolu_", 1),
            "name": (prepared.forced_tool or {}).get("name", ""),
            "input": answer.tool_input,
        }
        return block, count_text(json.dumps(answer.tool_input)), answer.stop_reason
    if answer.text is None:
        return None, 0, answer.stop_reason
    if budget <= 0:
        return None, 0, "max_tokens"
    tokens = count_text(answer.text)
    if tokens > budget:
        return (
            {"type": "text", "text": _fit_text(answer.text, budget)},
            budget,
            "max_tokens",
        )
    return {"type": "text", "text": answer.text}, tokens, answer.stop_reason


def build_message(
    prepared: PreparedRequest,
    answer: Answer,
    usage: CacheUsage,
    *,
    message_id: str,
    service_tier: str,
    thinking_tokens: int,
) -> dict[str, Any]:
    """Build the Message JSON, cutting the answer where max_tokens runs out.

    max_tokens 0 (cache pre-warming) returns no content.
    """
    max_tokens = int(prepared.body["max_tokens"])
    content: list[dict[str, Any]] = []
    thinking_used = 0
    if prepared.thinking and max_tokens > 0:
        content.append(_thinking_block(prepared, message_id))
        thinking_used = min(thinking_tokens, max_tokens)

    answer, stop_sequence = _apply_stop_sequences(prepared.body, answer)
    block, answer_tokens, stop_reason = _answer_block(
        prepared, answer, max_tokens - thinking_used, message_id
    )
    if block is not None:
        content.append(block)
    output_tokens = thinking_used + answer_tokens
    if max_tokens == 0 or stop_reason == "max_tokens":
        stop_reason = "max_tokens"
        output_tokens = max_tokens

    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": prepared.spec.model_id,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "stop_details": answer.stop_details,
        "usage": usage_json(usage, output_tokens, thinking_used, service_tier),
    }


def usage_json(
    usage: CacheUsage, output_tokens: int, thinking_tokens: int, service_tier: str
) -> dict[str, Any]:
    """Return the `usage` object of a Message."""
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.ephemeral_5m_input_tokens,
            "ephemeral_1h_input_tokens": usage.ephemeral_1h_input_tokens,
        },
        "output_tokens": output_tokens,
        "output_tokens_details": {"thinking_tokens": thinking_tokens},
        "service_tier": service_tier,
    }


def _event(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"


def _chunks(text: str) -> list[str]:
    return [
        text[start : start + _STREAM_CHUNK_CHARS]
        for start in range(0, len(text), _STREAM_CHUNK_CHARS)
    ]


def _block_events(index: int, block: dict[str, Any]) -> list[str]:
    events = []
    start: dict[str, Any]
    if block["type"] == "text":
        start = {"type": "text", "text": ""}
        deltas = [
            {"type": "text_delta", "text": part} for part in _chunks(block["text"])
        ]
    elif block["type"] == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": part}
            for part in _chunks(block["thinking"])
        ]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = {**block, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        ]
    events.append(
        _event("content_block_start", {"index": index, "content_block": start})
    )
    events.extend(
        _event("content_block_delta", {"index": index, "delta": delta})
        for delta in deltas
    )
    events.append(_event("content_block_stop", {"index": index}))
    return events


def stream_events(message: dict[str, Any]) -> bytes:
    """Return the server-sent events that stream `message`."""
    usage = message["usage"]
    start_message = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "stop_details": None,
        "usage": {**usage, "output_tokens": 1},
    }
    events = [_event("message_start", {"message": start_message})]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
    delta = {
        "stop_reason": message["stop_reason"],
        "stop_sequence": message["stop_sequence"],
        "stop_details": message["stop_details"],
    }
    final_usage = {
        key: usage[key]
        for key in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            "output_tokens_details",
        )
    }
    events.append(_event("message_delta", {"delta": delta, "usage": final_usage}))
    events.append(_event("message_stop", {}))
    return "".join(events).encode()
