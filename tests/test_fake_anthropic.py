"""Tests of the fake Claude API, driven through the real anthropic SDK."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.types import Message, TextBlock, ThinkingBlock, ToolUseBlock
from anthropic.types.messages.batch_create_params import Request

from tests.fakes.anthropic_api import FakeAnthropic, Fault

REPO_ROOT = Path(__file__).resolve().parents[1]
OPUS = "claude-opus-5-5"
SONNET = "claude-sonnet-5-5"
HAIKU = "claude-haiku-5-5"
MODELS_55 = (OPUS, SONNET, HAIKU)
GRADE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "integer"},
        "level": {"type": "string", "enum": ["exceeds", "meets", "below"]},
        "comments": {"type": "array", "items": {"type": "string"}},
        "reviewed_at": {"type": "string", "format": "date"},
        "note": {"type": ["string", "null"]},
    },
    "required": ["score", "level", "comments", "reviewed_at"],
}
RUBRIC = "Award points for a clear thesis and cited evidence. " * 60


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=fake.base_url, api_key=fake.api_key, max_retries=0
    ) as sdk:
        yield sdk


def ask(
    client: anthropic.Anthropic, text: str = "Grade this essay.", **extra: Any
) -> Message:
    params: dict[str, Any] = {
        "model": OPUS,
        "max_tokens": 2000,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
    message: Message = client.messages.create(**params)
    return message


def graded(client: anthropic.Anthropic, text: str = "Essay text.") -> Message:
    return ask(
        client,
        text,
        output_config={"format": {"type": "json_schema", "schema": GRADE_SCHEMA}},
    )


def answer_text(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


# Successful answers


def test_message_has_thinking_then_text(client: anthropic.Anthropic) -> None:
    message = ask(client)

    assert isinstance(message, Message)
    assert [block.type for block in message.content] == ["thinking", "text"]
    thinking = message.content[0]
    assert isinstance(thinking, ThinkingBlock)
    assert thinking.signature
    assert isinstance(message.content[1], TextBlock)
    assert message.stop_reason == "end_turn"
    assert message.model == OPUS
    assert message.id.startswith("msg_")


def test_message_usage_shape(client: anthropic.Anthropic) -> None:
    usage = ask(client).usage

    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    assert usage.cache_creation_input_tokens == 0
    assert usage.cache_read_input_tokens == 0
    assert usage.cache_creation is not None
    assert usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert usage.cache_creation.ephemeral_1h_input_tokens == 0
    assert usage.service_tier == "standard"


def test_response_carries_request_id(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model=OPUS, max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    )

    assert raw.headers["request-id"].startswith("req_")
    assert raw.parse().content[-1].type == "text"


def test_default_answer_matches_schema(client: anthropic.Anthropic) -> None:
    answer = json.loads(answer_text(graded(client)))

    assert answer == {
        "score": 0,
        "level": "exceeds",
        "comments": ["text"],
        "reviewed_at": "2026-01-01",
    }


def test_haiku_thinking_disabled_has_no_thinking(client: anthropic.Anthropic) -> None:
    message = ask(client, model=HAIKU, thinking={"type": "disabled"})

    assert [block.type for block in message.content] == ["text"]


def test_stream_accumulates_same_content(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=SONNET,
        max_tokens=500,
        messages=[{"role": "user", "content": "Essay."}],
        output_config={"format": {"type": "json_schema", "schema": GRADE_SCHEMA}},
    ) as stream:
        message = stream.get_final_message()

    assert [block.type for block in message.content] == ["thinking", "text"]
    assert json.loads(answer_text(message))["level"] == "exceeds"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 1


def test_long_answer_cut_at_max_tokens(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.responder = lambda body: "x" * 400

    message = ask(client, max_tokens=30, model=HAIKU, thinking={"type": "disabled"})

    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 30
    assert answer_text(message) == "x" * 120


# Authentication and routing


def test_wrong_key_raises_authentication_error(fake: FakeAnthropic) -> None:
    with (
        anthropic.Anthropic(
            base_url=fake.base_url, api_key="sk-ant-wrong", max_retries=0
        ) as sdk,
        pytest.raises(anthropic.AuthenticationError) as raised,
    ):
        ask(sdk)

    body = raised.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert body["error"]["message"]
    assert body["request_id"].startswith("req_")
    assert raised.value.request_id == body["request_id"]


def post_raw(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=b"{}", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_missing_key_returns_401(fake: FakeAnthropic) -> None:
    status, body = post_raw(
        f"{fake.base_url}/v1/messages", {"anthropic-version": "2023-06-01"}
    )

    assert status == 401
    assert body["error"]["type"] == "authentication_error"


def test_missing_version_header_returns_400(fake: FakeAnthropic) -> None:
    status, body = post_raw(f"{fake.base_url}/v1/messages", {"x-api-key": fake.api_key})

    assert status == 400
    assert "anthropic-version" in body["error"]["message"]


def test_unknown_model_raises_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        ask(client, model="claude-nonexistent-9")

    assert raised.value.type == "not_found_error"
    assert "claude-nonexistent-9" in str(raised.value.api_message)


def test_every_sdk_model_is_known(client: anthropic.Anthropic) -> None:
    for model in ("claude-haiku-4-5-20251001", "claude-sonnet-4-6", "claude-fable-5-2"):
        assert ask(client, model=model).model == model


# Model rules of the 5.5 models


@pytest.mark.parametrize("model", MODELS_55)
def test_temperature_rejected_on_55(client: anthropic.Anthropic, model: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        ask(client, model=model, extra_body={"temperature": 0.2})

    assert raised.value.type == "invalid_request_error"
    assert "temperature" in str(raised.value.api_message)


@pytest.mark.parametrize("sampling", [{"top_p": 0.5}, {"top_k": 40}])
def test_top_p_top_k_rejected_on_55(
    client: anthropic.Anthropic, sampling: dict[str, Any]
) -> None:
    with pytest.raises(anthropic.BadRequestError):
        ask(client, model=SONNET, extra_body=sampling)


def test_default_temperature_accepted(client: anthropic.Anthropic) -> None:
    message = ask(client, model=OPUS, extra_body={"temperature": 1.0})

    assert message.stop_reason == "end_turn"


def test_temperature_accepted_on_haiku_45(client: anthropic.Anthropic) -> None:
    message = ask(client, model="claude-haiku-4-5", extra_body={"temperature": 0.2})

    assert [block.type for block in message.content] == ["text"]


@pytest.mark.parametrize("model", MODELS_55)
def test_prefill_rejected_on_55(client: anthropic.Anthropic, model: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(
            model=model,
            max_tokens=100,
            messages=[
                {"role": "user", "content": "Grade it."},
                {"role": "assistant", "content": "{"},
            ],
        )

    assert "prefill" in str(raised.value.api_message)


TOOL = {
    "name": "record_grade",
    "description": "Record a grade.",
    "input_schema": {
        "type": "object",
        "properties": {"score": {"type": "integer"}},
        "required": ["score"],
    },
}


@pytest.mark.parametrize(
    "choice", [{"type": "any"}, {"type": "tool", "name": "record_grade"}]
)
@pytest.mark.parametrize("model", [OPUS, SONNET])
def test_forced_tool_rejected(
    client: anthropic.Anthropic, model: str, choice: dict[str, Any]
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        ask(client, model=model, tools=[TOOL], tool_choice=choice)

    assert "tool_choice" in str(raised.value.api_message)


def test_forced_tool_on_haiku_calls_tool(client: anthropic.Anthropic) -> None:
    message = ask(
        client,
        model=HAIKU,
        thinking={"type": "disabled"},
        tools=[TOOL],
        tool_choice={"type": "tool", "name": "record_grade"},
    )

    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert isinstance(block, ToolUseBlock)
    assert block.name == "record_grade"
    assert block.input == {"score": 0}


def test_thinking_disabled_rejected_on_opus_55(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        ask(client, model=OPUS, thinking={"type": "disabled"})

    assert "thinking.type.disabled" in str(raised.value.api_message)


def test_max_tokens_over_limit_rejected(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        # An explicit timeout skips the SDK's own refusal of large non-streaming
        # max_tokens, so the request reaches the server.
        ask(
            client.with_options(timeout=30.0),
            model="claude-haiku-4-5",
            max_tokens=64_001,
        )

    assert "64000" in str(raised.value.api_message)


# Structured-output schemas


def with_property(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {"field": schema},
        "required": ["field"],
    }


INVALID_SCHEMAS = [
    (with_property({"type": "integer", "minimum": 1}), "'minimum' is not supported"),
    (with_property({"type": "number", "maximum": 5}), "'maximum' is not supported"),
    (with_property({"type": "string", "maxLength": 9}), "'maxLength' is not supported"),
    (
        with_property({"type": "array", "items": {"type": "string"}, "minItems": 2}),
        "other than 0 or 1",
    ),
    ({"type": "object", "properties": {}}, "must be explicitly set to false"),
    (
        {"type": "object", "properties": {}, "additionalProperties": True},
        "'additionalProperties: true' is not supported",
    ),
    (with_property({"oneOf": [{"type": "string"}]}), "'oneOf' is not supported"),
    (with_property({"type": "string", "format": "phone"}), "format 'phone'"),
    (with_property({"type": "string", "pattern": "(?=a)b"}), "pattern"),
    (with_property({"enum": [{"a": 1}]}), "Complex types within 'enum'"),
    (
        {
            "$defs": {
                "node": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"child": {"$ref": "#/$defs/node"}},
                }
            },
            "$ref": "#/$defs/node",
        },
        "Recursive schemas are not supported",
    ),
    (
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {f"p{i}": {"type": "string"} for i in range(25)},
        },
        "too complex",
    ),
]


@pytest.mark.parametrize(("schema", "expected"), INVALID_SCHEMAS)
def test_invalid_schema_rejected(
    client: anthropic.Anthropic, schema: dict[str, Any], expected: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        ask(client, output_config={"format": {"type": "json_schema", "schema": schema}})

    message = str(raised.value.api_message)
    assert message.startswith("output_config.format.schema: ")
    assert expected in message


def test_schema_with_refs_accepted(client: anthropic.Anthropic) -> None:
    schema = {
        "$defs": {"grade": {"type": "string", "enum": ["A", "B"]}},
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "grades": {"type": "array", "items": {"$ref": "#/$defs/grade"}},
            "summary": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["grades", "summary"],
    }
    message = ask(
        client, output_config={"format": {"type": "json_schema", "schema": schema}}
    )

    assert json.loads(answer_text(message)) == {"grades": ["A"], "summary": "text"}


# Scripted faults


def test_rate_limit_fault_raises_with_retry_after(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.rate_limited(retry_after=7))

    with pytest.raises(anthropic.RateLimitError) as raised:
        ask(client)

    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.type == "rate_limit_error"


def test_overloaded_fault_raises_529(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.overloaded())

    with pytest.raises(anthropic.APIStatusError) as raised:
        ask(client)

    assert raised.value.status_code == 529
    assert raised.value.type == "overloaded_error"


def test_server_error_fault_raises_internal_error(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.server_error())

    with pytest.raises(anthropic.InternalServerError) as raised:
        ask(client)

    assert raised.value.status_code == 500
    assert raised.value.type == "api_error"


STATUS_CASES = [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (403, anthropic.PermissionDeniedError, "permission_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (413, anthropic.ContentTooLargeError, "request_too_large"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (529, anthropic.OverloadedError, "overloaded_error"),
]


@pytest.mark.parametrize(("status", "error_class", "error_type"), STATUS_CASES)
def test_status_fault_maps_to_sdk_error(
    fake: FakeAnthropic,
    client: anthropic.Anthropic,
    status: int,
    error_class: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    fake.queue_fault(Fault.status_error(status))

    with pytest.raises(error_class) as raised:
        ask(client)

    assert raised.value.status_code == status
    assert raised.value.type == error_type


def test_dropped_connection_raises_connection_error(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.dropped_connection())

    with pytest.raises(anthropic.APIConnectionError) as raised:
        ask(client)

    assert not isinstance(raised.value, anthropic.APITimeoutError)


def test_slow_answer_raises_timeout(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.slow(30.0))

    with pytest.raises(anthropic.APITimeoutError):
        client.with_options(timeout=0.3).messages.create(
            model=OPUS, max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
        )


def test_fault_consumed_then_normal(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.overloaded())

    with pytest.raises(anthropic.OverloadedError):
        ask(client)
    assert ask(client).stop_reason == "end_turn"


def test_fault_only_for_matching_request(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.overloaded(), match="Student B")

    assert ask(client, "Essay by Student A").stop_reason == "end_turn"
    with pytest.raises(anthropic.OverloadedError):
        ask(client, "Essay by Student B")
    assert ask(client, "Essay by Student B").stop_reason == "end_turn"


def test_fault_predicate_match(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.server_error(), match=lambda body: body["model"] == HAIKU)

    assert ask(client, model=OPUS).stop_reason == "end_turn"
    with pytest.raises(anthropic.InternalServerError):
        ask(client, model=HAIKU)


def test_truncated_fault_cuts_json(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.truncated())

    message = graded(client)

    assert message.stop_reason == "max_tokens"
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer_text(message))


def test_malformed_json_fault(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    fake.queue_fault(Fault.malformed_json())

    message = graded(client)

    assert message.stop_reason == "end_turn"
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer_text(message))


def test_refusal_fault(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    fake.queue_fault(Fault.refusal(category="cyber", explanation="Declined."))

    message = graded(client)

    assert message.stop_reason == "refusal"
    assert message.stop_details is not None
    assert message.stop_details.type == "refusal"
    assert message.stop_details.category == "cyber"
    assert message.stop_details.explanation == "Declined."
    assert answer_text(message) == ""


def test_answer_fault_sends_exact_text(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.queue_fault(Fault.answer('{"score": 3}'), times=2)

    assert answer_text(graded(client)) == '{"score": 3}'
    assert answer_text(graded(client)) == '{"score": 3}'
    assert answer_text(graded(client)) != '{"score": 3}'


def test_responder_sees_request(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    seen: list[dict[str, Any]] = []

    def respond(body: dict[str, Any]) -> str:
        seen.append(body)
        return "Custom answer"

    fake.responder = respond
    message = ask(client, "Essay 42")

    assert answer_text(message) == "Custom answer"
    assert seen[0]["messages"][0]["content"] == "Essay 42"


def test_responder_can_return_fault(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    fake.responder = lambda body: Fault.overloaded()

    with pytest.raises(anthropic.OverloadedError):
        ask(client)


# Prompt caching and token counting


def cached_system(ttl: str | None = None) -> list[dict[str, Any]]:
    control: dict[str, Any] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    return [{"type": "text", "text": RUBRIC, "cache_control": control}]


def test_cache_write_then_read(client: anthropic.Anthropic) -> None:
    first = ask(client, "Essay one.", model=SONNET, system=cached_system()).usage
    second = ask(client, "Essay two.", model=SONNET, system=cached_system()).usage
    rubric_tokens = first.cache_creation_input_tokens or 0

    assert rubric_tokens >= 512
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_5m_input_tokens == rubric_tokens
    assert second.cache_creation_input_tokens == 0
    assert second.cache_read_input_tokens == rubric_tokens
    assert second.input_tokens == first.input_tokens


def test_cache_expires_after_5m(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    ask(client, model=SONNET, system=cached_system())
    fake.advance_time(301)

    usage = ask(client, model=SONNET, system=cached_system()).usage

    assert usage.cache_read_input_tokens == 0
    assert (usage.cache_creation_input_tokens or 0) > 0


def test_cache_1h_ttl(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    first = ask(client, model=SONNET, system=cached_system("1h")).usage
    fake.advance_time(1800)
    second = ask(client, model=SONNET, system=cached_system("1h")).usage

    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_1h_input_tokens > 0
    assert first.cache_creation.ephemeral_5m_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens


def test_short_prefix_not_cached(client: anthropic.Anthropic) -> None:
    system = [
        {"type": "text", "text": "Short.", "cache_control": {"type": "ephemeral"}}
    ]

    usage = ask(client, model=SONNET, system=system).usage

    assert usage.cache_creation_input_tokens == 0
    assert usage.cache_read_input_tokens == 0


def test_top_level_cache_control(client: anthropic.Anthropic) -> None:
    kwargs: dict[str, Any] = {"cache_control": {"type": "ephemeral"}, "system": RUBRIC}
    first = ask(client, "Same essay.", model=SONNET, **kwargs).usage
    second = ask(client, "Same essay.", model=SONNET, **kwargs).usage

    assert (first.cache_creation_input_tokens or 0) > 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.input_tokens == 0


def test_count_tokens_equals_billed_input(client: anthropic.Anthropic) -> None:
    request: dict[str, Any] = {
        "model": SONNET,
        "system": cached_system(),
        "messages": [{"role": "user", "content": "Essay on tides."}],
        "output_config": {"format": {"type": "json_schema", "schema": GRADE_SCHEMA}},
    }
    counted = client.messages.count_tokens(**request).input_tokens

    for _ in range(2):
        usage = client.messages.create(max_tokens=500, **request).usage
        billed = (
            usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0)
        )
        assert billed == counted


def test_too_many_breakpoints_rejected(client: anthropic.Anthropic) -> None:
    system = [
        {"type": "text", "text": f"Part {i}", "cache_control": {"type": "ephemeral"}}
        for i in range(5)
    ]

    with pytest.raises(anthropic.BadRequestError) as raised:
        ask(client, system=system)

    assert "maximum of 4" in str(raised.value.api_message)


# Rate limits and size limits


def test_rate_limit_bucket_refills() -> None:
    with (
        FakeAnthropic(requests_per_minute=2) as fake,
        anthropic.Anthropic(
            base_url=fake.base_url, api_key=fake.api_key, max_retries=0
        ) as sdk,
    ):
        raw = sdk.messages.with_raw_response.create(
            model=OPUS, max_tokens=50, messages=[{"role": "user", "content": "a"}]
        )
        ask(sdk)
        with pytest.raises(anthropic.RateLimitError) as raised:
            ask(sdk)
        fake.advance_time(30)
        after_refill = ask(sdk)

    assert raw.headers["anthropic-ratelimit-requests-limit"] == "2"
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "1"
    assert raw.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    headers = raised.value.response.headers
    assert headers["retry-after"].isdigit()
    assert 1 <= int(headers["retry-after"]) <= 30
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert after_refill.stop_reason == "end_turn"


def test_request_too_large_returns_413() -> None:
    with (
        FakeAnthropic(max_request_bytes=2000) as fake,
        anthropic.Anthropic(
            base_url=fake.base_url, api_key=fake.api_key, max_retries=0
        ) as sdk,
        pytest.raises(anthropic.ContentTooLargeError) as raised,
    ):
        ask(sdk, "x" * 5000)

    body = raised.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "request_too_large"


# Message Batches


def batch_request(custom_id: str, model: str = OPUS) -> Request:
    return {
        "custom_id": custom_id,
        "params": {
            "model": model,
            "max_tokens": 500,
            "messages": [{"role": "user", "content": f"Essay {custom_id}"}],
            "output_config": {
                "format": {"type": "json_schema", "schema": GRADE_SCHEMA}
            },
        },
    }


def test_batch_mixed_outcomes(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    fake.set_batch_outcome("s-errored", "errored")
    fake.set_batch_outcome("s-expired", "expired")
    fake.set_batch_outcome("s-canceled", "canceled")
    requests = [
        batch_request(custom_id)
        for custom_id in ("s-ok", "s-errored", "s-expired", "s-canceled")
    ]
    requests.append(batch_request("s-bad-model", model="claude-unknown"))

    created = client.messages.batches.create(requests=requests)
    ended = client.messages.batches.retrieve(created.id)
    results = {
        item.custom_id: item.result
        for item in client.messages.batches.results(created.id)
    }

    assert created.processing_status == "in_progress"
    assert created.request_counts.processing == 5
    assert ended.processing_status == "ended"
    assert ended.request_counts.succeeded == 1
    assert ended.request_counts.errored == 2
    assert ended.request_counts.expired == 1
    assert ended.request_counts.canceled == 1
    assert results["s-ok"].type == "succeeded"
    assert results["s-errored"].type == "errored"
    assert results["s-expired"].type == "expired"
    assert results["s-canceled"].type == "canceled"
    bad = results["s-bad-model"]
    assert bad.type == "errored"
    assert bad.error.error.type == "not_found_error"


def test_batch_usage_is_batch_tier(client: anthropic.Anthropic) -> None:
    created = client.messages.batches.create(requests=[batch_request("only")])
    client.messages.batches.retrieve(created.id)
    [item] = list(client.messages.batches.results(created.id))

    assert item.result.type == "succeeded"
    message = item.result.message
    assert message.usage.service_tier == "batch"
    assert json.loads(answer_text(message))["score"] == 0


def test_batch_waits_for_end_batches() -> None:
    with (
        FakeAnthropic(batch_delay=None) as fake,
        anthropic.Anthropic(
            base_url=fake.base_url, api_key=fake.api_key, max_retries=0
        ) as sdk,
    ):
        created = sdk.messages.batches.create(requests=[batch_request("a")])
        still_running = sdk.messages.batches.retrieve(created.id)
        with pytest.raises(anthropic.AnthropicError):
            sdk.messages.batches.results(created.id)
        fake.end_batches()
        ended = sdk.messages.batches.retrieve(created.id)

    assert still_running.processing_status == "in_progress"
    assert still_running.results_url is None
    assert ended.processing_status == "ended"
    assert ended.results_url is not None


def test_batch_cancel(fake: FakeAnthropic) -> None:
    fake.batch_delay = None
    with anthropic.Anthropic(
        base_url=fake.base_url, api_key=fake.api_key, max_retries=0
    ) as sdk:
        created = sdk.messages.batches.create(requests=[batch_request("a")])
        canceling = sdk.messages.batches.cancel(created.id)
        fake.end_batches()
        [item] = list(sdk.messages.batches.results(created.id))

    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    assert item.result.type == "canceled"


def test_batch_list_newest_first(client: anthropic.Anthropic) -> None:
    first = client.messages.batches.create(requests=[batch_request("a")])
    second = client.messages.batches.create(requests=[batch_request("b")])

    listed = [batch.id for batch in client.messages.batches.list(limit=1)]

    assert listed == [second.id, first.id]


def test_batch_duplicate_custom_id_rejected(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.create(
            requests=[batch_request("same"), batch_request("same")]
        )


def test_unknown_batch_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_missing")


# Recording and the separate process


def test_requests_are_recorded(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    ask(client, "Essay 7")
    client.messages.count_tokens(
        model=OPUS, messages=[{"role": "user", "content": "Essay 7"}]
    )

    [record] = fake.requests_to("/v1/messages")
    assert record.method == "POST"
    assert record.body["messages"][0]["content"] == "Essay 7"
    assert record.headers["authorization"] == f"Bearer {fake.api_key}"
    assert fake.count("/v1/messages") == 1
    assert fake.count("/v1/messages/count_tokens") == 1


def test_cli_prints_ready_and_serves() -> None:
    command = [sys.executable, "-m", "tests.fakes.anthropic_api", "--port", "0"]
    with subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        try:
            with anthropic.Anthropic(
                base_url=ready[1], api_key="sk-ant-fake-test-key", max_retries=0
            ) as sdk:
                message = ask(sdk)
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=10)

    assert ready[0] == "READY"
    assert ready[1].startswith("http://127.0.0.1:")
    assert message.stop_reason == "end_turn"
    assert exit_code == 0
