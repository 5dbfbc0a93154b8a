"""Every Anthropic SDK error class maps to a one-line reason, and fatal ones stop the run."""

from __future__ import annotations

import inspect

import anthropic
import httpx2
import pytest

from gradebot_cli import errors
from gradebot_cli.grading.failures import classify_failure


def status_error_classes() -> list[type[anthropic.APIStatusError]]:
    classes = []
    for _, value in inspect.getmembers(anthropic, inspect.isclass):
        if (
            issubclass(value, anthropic.APIStatusError)
            and value is not anthropic.APIStatusError
        ):
            classes.append(value)
    return classes


def make_error(cls: type[anthropic.APIStatusError]) -> anthropic.APIStatusError:
    status = getattr(cls, "status_code", 500)
    status = status if isinstance(status, int) else 500
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    response = httpx2.Response(status, request=request, headers={"request-id": "req_1"})
    body = {"type": "error", "error": {"type": "x", "message": f"scripted {status}"}}
    return cls(f"scripted {status}", response=response, body=body)


@pytest.mark.parametrize("cls", status_error_classes(), ids=lambda c: c.__name__)
def test_status_error_has_reason(cls: type[anthropic.APIStatusError]) -> None:
    reason, fatal = classify_failure(make_error(cls), "claude-sonnet-5-5")
    assert reason
    assert "\n" not in reason
    if fatal is not None:
        assert isinstance(fatal, errors.GradebotError)
        assert "\n" not in str(fatal)


@pytest.mark.parametrize(
    ("cls", "fatal_type"),
    [
        (anthropic.AuthenticationError, errors.AuthenticationError),
        (anthropic.PermissionDeniedError, errors.PermissionError_),
        (anthropic.NotFoundError, errors.UnknownModelError),
        (anthropic.PaymentRequiredError, errors.ApiError),
    ],
)
def test_account_errors_stop_the_run(
    cls: type[anthropic.APIStatusError], fatal_type: type[errors.GradebotError]
) -> None:
    _, fatal = classify_failure(make_error(cls), "claude-sonnet-5-5")
    assert isinstance(fatal, fatal_type)


def test_connection_error_reason() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    reason, fatal = classify_failure(anthropic.APIConnectionError(request=request), "m")
    assert "could not reach the Anthropic API" in reason
    assert fatal is None


def test_overloaded_reason() -> None:
    reason, fatal = classify_failure(make_error(anthropic.OverloadedError), "m")
    assert "overloaded (529)" in reason
    assert fatal is None
