"""Turning Anthropic SDK exceptions into gradebot's errors and one-line reasons.

Failures that would repeat for every submission (a rejected key, a forbidden or
unknown model, an exhausted credit balance) stop the run; the rest mark only the
submission that hit them, which the next run grades again.
"""

from __future__ import annotations

from gradebot_cli import errors


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return str(exc)


def classify_failure(
    exc: Exception, model: str
) -> tuple[str, errors.GradebotError | None]:
    """Return a one-line reason for the submission, and the error that stops the
    whole run (``None`` when other submissions may still succeed)."""
    import anthropic

    detail = _api_message(exc)
    if isinstance(exc, anthropic.AuthenticationError):
        fatal: errors.GradebotError = errors.AuthenticationError(
            f"The Anthropic API rejected the API key (401: {detail}). Check "
            "ANTHROPIC_API_KEY; keys are listed in the Claude Console (platform.claude.com, "
            "Settings > API keys)."
        )
        return "API key rejected (401)", fatal
    if isinstance(exc, anthropic.PermissionDeniedError):
        fatal = errors.PermissionError_(
            f"The API key may not use {model} (403: {detail}). Ask the organisation's "
            "admin for access, or choose another model with --model."
        )
        return f"permission denied for {model} (403)", fatal
    if isinstance(exc, anthropic.NotFoundError):
        fatal = errors.UnknownModelError(
            f"The Anthropic API does not know the model {model!r} (404: {detail}). "
            "Check the model id; `gradebot prices` lists the known ones."
        )
        return f"model {model} not found (404)", fatal
    if isinstance(exc, anthropic.PaymentRequiredError):
        fatal = errors.ApiError(
            f"The Anthropic account cannot pay for requests (402: {detail}). Add "
            "credits in the Anthropic console, then run the same command again."
        )
        return "payment required (402)", fatal
    if isinstance(exc, anthropic.BadRequestError) and is_credit_exhausted(exc):
        fatal = errors.ApiError(
            f"The Anthropic account has no credit left (400: {detail}). Add credits "
            "in the Claude Console, then run the same command again."
        )
        return "credit balance too low (400)", fatal
    return _transient_reason(exc, detail), None


def _transient_reason(exc: Exception, detail: str) -> str:
    import anthropic

    if isinstance(exc, anthropic.OverloadedError):
        return "the API stayed overloaded (529) after retries; run again later"
    if isinstance(exc, anthropic.RateLimitError):
        return (
            "rate limited (429) after retries; lower --concurrency or run again later"
        )
    if isinstance(exc, anthropic.APITimeoutError):
        return "the request timed out after retries; run again later"
    if isinstance(exc, anthropic.APIConnectionError):
        return "could not reach the Anthropic API after retries; check the network"
    if isinstance(exc, anthropic.APIStatusError):
        return f"the API answered {exc.status_code}: {detail}"
    return f"request failed: {detail}"


def is_credit_exhausted(exc: Exception) -> bool:
    """The API reports an empty credit balance as a 400 with this wording."""
    return "credit balance" in _api_message(exc).lower()
