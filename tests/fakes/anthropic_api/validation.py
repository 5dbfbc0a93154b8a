"""Validation of Messages API request bodies, with the real API's 400 and 404s.

Per-model rules live in `models.py`; the structured-output schema subset lives in
`schema.py`. Messages name the offending field first (`max_tokens: ...`), as the
real API's messages do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, invalid_request
from .models import ModelSpec
from .schema import validate_schema
from .tokens import Segment, build_segments, schema_tokens

THINKING_TYPES = ("adaptive", "enabled", "disabled", "between_tools")
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
MAX_CACHE_BREAKPOINTS = 4
MAX_STRICT_TOOLS = 20
PREFILL_MESSAGE = (
    "This model does not support assistant message prefill. "
    "The conversation must end with a user message."
)


@dataclass(frozen=True)
class PreparedRequest:
    """A validated request and the facts the fake derives from it."""

    body: dict[str, Any]
    spec: ModelSpec
    segments: list[Segment]
    input_tokens: int
    """Every input token: prompt blocks plus the structured-output schema."""
    schema: dict[str, Any] | None
    thinking: bool
    """Whether the response starts with a thinking block."""
    show_thinking_text: bool
    forced_tool: dict[str, Any] | None
    stream: bool


def prepare_request(
    body: Any,
    models: Mapping[str, ModelSpec],
    *,
    counting: bool = False,
    in_batch: bool = False,
) -> PreparedRequest:
    """Validate a /v1/messages body (or a count_tokens body when `counting`).

    Raises ApiError with the status and message the real API would return.
    """
    if not isinstance(body, dict):
        raise invalid_request("Request body must be a JSON object")
    _check_required(body, counting)
    spec = _lookup_model(body["model"], models)
    if not counting:
        _check_max_tokens(body, spec, in_batch)
        _check_sampling(body, spec)
    _check_messages(body["messages"])
    _check_system(body.get("system"))
    thinking, show_text = _thinking_mode(body, spec)
    forced_tool = _check_tools(body, spec, thinking, counting)
    schema = _output_schema(body)
    _check_cache_controls(body)
    if (
        not counting
        and spec.rejects_prefill
        and body["messages"][-1]["role"] == "assistant"
    ):
        raise invalid_request(PREFILL_MESSAGE)
    stream = body.get("stream", False)
    if in_batch and stream:
        raise invalid_request("stream: Streaming is not supported in Message Batches")
    segments = build_segments(body)
    input_tokens = sum(segment.tokens for segment in segments) + schema_tokens(schema)
    if input_tokens > spec.context_window:
        raise invalid_request(
            f"prompt is too long: {input_tokens} tokens > {spec.context_window} maximum"
        )
    return PreparedRequest(
        body=body,
        spec=spec,
        segments=segments,
        input_tokens=input_tokens,
        schema=schema,
        thinking=thinking,
        show_thinking_text=show_text,
        forced_tool=forced_tool,
        stream=bool(stream),
    )


def _check_required(body: dict[str, Any], counting: bool) -> None:
    required = (
        ("model", "messages") if counting else ("model", "max_tokens", "messages")
    )
    for name in required:
        if name not in body:
            raise invalid_request(f"{name}: Field required")
    if counting:
        for name in ("max_tokens", "stream", "temperature", "top_p", "top_k"):
            if name in body:
                raise invalid_request(f"{name}: Extra inputs are not permitted")
    if not isinstance(body["model"], str):
        raise invalid_request("model: Input should be a valid string")


def _lookup_model(model: str, models: Mapping[str, ModelSpec]) -> ModelSpec:
    spec = models.get(model)
    if spec is None:
        raise ApiError(404, f"model: {model}")
    return spec


def _check_max_tokens(body: dict[str, Any], spec: ModelSpec, in_batch: bool) -> None:
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise invalid_request("max_tokens: Input should be a valid integer")
    if max_tokens < 0:
        raise invalid_request("max_tokens: Input should be greater than or equal to 0")
    if max_tokens == 0 and in_batch:
        raise invalid_request(
            "max_tokens: 0 (cache pre-warming) is not supported in Message Batches"
        )
    if max_tokens > spec.max_output_tokens:
        raise invalid_request(
            f"max_tokens: {max_tokens} > {spec.max_output_tokens}, which is the "
            f"maximum allowed number of output tokens for {spec.model_id}"
        )


def _check_sampling(body: dict[str, Any], spec: ModelSpec) -> None:
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise invalid_request(f"{name}: Input should be between 0 and 1")
        if spec.rejects_sampling and value != 1.0:
            raise invalid_request(f"`{name}` is deprecated for this model.")
    top_k = body.get("top_k")
    if top_k is not None:
        if not isinstance(top_k, int) or top_k < 0:
            raise invalid_request("top_k: Input should be a non-negative integer")
        if spec.rejects_sampling:
            raise invalid_request("`top_k` is deprecated for this model.")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list):
        raise invalid_request("messages: Input should be a valid list")
    if not messages:
        raise invalid_request("messages: at least one message is required")
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            raise invalid_request(f"{where}: Input should be a valid dictionary")
        if message.get("role") not in ("user", "assistant"):
            raise invalid_request(
                f"{where}.role: Input should be 'user' or 'assistant'"
            )
        content = message.get("content")
        if isinstance(content, str):
            if not content and index != len(messages) - 1:
                raise invalid_request(f"{where}.content: text must be non-empty")
            continue
        if not isinstance(content, list):
            raise invalid_request(
                f"{where}.content: Input should be a string or a list"
            )
        _check_blocks(content, f"{where}.content")


def _check_blocks(blocks: list[Any], where: str) -> None:
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid_request(f"{where}.{index}: content blocks need a 'type'")
        if block["type"] == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise invalid_request(f"{where}.{index}.text: Field required")
            if not text:
                raise invalid_request(
                    f"{where}.{index}.text: text content blocks must be non-empty"
                )


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid_request(
            "system: Input should be a string or a list of text blocks"
        )
    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid_request(f"system.{index}.type: Input should be 'text'")
    _check_blocks(system, "system")


def _thinking_mode(body: dict[str, Any], spec: ModelSpec) -> tuple[bool, bool]:
    """Return (thinking block in the response, thinking text shown)."""
    thinking = body.get("thinking")
    if thinking is None:
        return spec.thinking_by_default, not spec.omits_thinking_text
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in THINKING_TYPES:
        raise invalid_request(
            "thinking.type: Input should be one of " + ", ".join(THINKING_TYPES)
        )
    if kind not in spec.thinking_types:
        raise invalid_request(_unsupported_thinking(kind, spec))

    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise invalid_request("thinking.enabled.budget_tokens: must be >= 1024")
        if "max_tokens" in body and budget >= body["max_tokens"]:
            raise invalid_request(
                "`max_tokens` must be greater than `thinking.budget_tokens`"
            )

    effort = (body.get("output_config") or {}).get("effort")
    if kind == "between_tools" and effort in ("xhigh", "max"):
        raise invalid_request(
            f'"thinking.type.between_tools" is not supported with effort "{effort}". '
            'Use "thinking.type.adaptive" to run at this effort.'
        )

    display = thinking.get("display")
    if display not in (None, "summarized", "omitted"):
        raise invalid_request(
            "thinking.display: Input should be 'summarized' or 'omitted'"
        )
    show_text = display == "summarized" if display else not spec.omits_thinking_text
    return kind in ("adaptive", "enabled"), show_text


def _unsupported_thinking(kind: str, spec: ModelSpec) -> str:
    if kind == "disabled" and "between_tools" in spec.thinking_types:
        return (
            '"thinking.type.disabled" is not supported for this model. Use '
            '"thinking.type.between_tools" to turn off up-front thinking.'
        )
    return (
        f'"thinking.type.{kind}" is not supported for this model. Use '
        '"thinking.type.adaptive" and "output_config.effort" to control thinking '
        "behavior."
    )


def _tools_by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise invalid_request("tools: Input should be a valid list")
    by_name: dict[str, dict[str, Any]] = {}
    strict_count = 0
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise invalid_request(f"tools.{index}.name: Field required")
        if tool.get("type") in (None, "custom"):
            where = f"tools.{index}.custom.input_schema"
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                raise invalid_request(f"{where}: Field required")
            if tool.get("strict"):
                strict_count += 1
                validate_schema(schema, where)
        by_name[tool["name"]] = tool
    if strict_count > MAX_STRICT_TOOLS:
        raise invalid_request(
            f"Schema is too complex for compilation: more than {MAX_STRICT_TOOLS} "
            "strict tools. Reduce the number of strict tools."
        )
    return by_name


def _check_tools(
    body: dict[str, Any], spec: ModelSpec, thinking: bool, counting: bool
) -> dict[str, Any] | None:
    """Validate tools and tool_choice; return the tool a forced choice names."""
    by_name = _tools_by_name(body)
    choice = body.get("tool_choice")
    if choice is None:
        return None
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise invalid_request(
            "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'"
        )
    if kind == "tool" and choice.get("name") not in by_name:
        raise invalid_request(f"tool_choice.name: no tool named {choice.get('name')!r}")
    if kind not in ("any", "tool") or counting:
        return None

    if spec.rejects_forced_tool_use:
        raise invalid_request(
            f'tool_choice.type "{kind}" is not supported for this model. Use '
            '"auto" and name the tool to call in the prompt.'
        )
    if thinking:
        raise invalid_request(
            "Thinking may not be enabled when tool_choice forces tool use."
        )
    if not by_name:
        raise invalid_request(
            "tool_choice: forcing tool use requires at least one tool"
        )
    return by_name[choice["name"]] if kind == "tool" else next(iter(by_name.values()))


def _output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config") or {}
    if not isinstance(config, dict):
        raise invalid_request("output_config: Input should be a valid dictionary")
    effort = config.get("effort")
    if effort is not None and effort not in EFFORT_LEVELS:
        raise invalid_request(
            "output_config.effort: Input should be one of " + ", ".join(EFFORT_LEVELS)
        )
    output_format, where = config.get("format"), "output_config.format"
    if output_format is None and body.get("output_format") is not None:
        output_format, where = body["output_format"], "output_format"
    if output_format is None:
        return None
    if (
        not isinstance(output_format, dict)
        or output_format.get("type") != "json_schema"
    ):
        raise invalid_request(f"{where}.type: Input should be 'json_schema'")
    schema = output_format.get("schema")
    validate_schema(schema, f"{where}.schema")
    assert isinstance(schema, dict)
    return schema


def _check_cache_controls(body: dict[str, Any]) -> None:
    found = [body["cache_control"]] if body.get("cache_control") else []
    for tool in body.get("tools") or []:
        if tool.get("cache_control"):
            found.append(tool["cache_control"])
    blocks = list(body["system"]) if isinstance(body.get("system"), list) else []
    for message in body["messages"]:
        if isinstance(message["content"], list):
            blocks.extend(message["content"])
    found.extend(
        block["cache_control"] for block in blocks if block.get("cache_control")
    )
    for control in found:
        if not isinstance(control, dict) or control.get("type") != "ephemeral":
            raise invalid_request("cache_control.type: Input should be 'ephemeral'")
        if control.get("ttl", "5m") not in ("5m", "1h"):
            raise invalid_request("cache_control.ttl: Input should be '5m' or '1h'")
    if len(found) > MAX_CACHE_BREAKPOINTS:
        raise invalid_request(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be "
            f"provided. Found {len(found)}."
        )
