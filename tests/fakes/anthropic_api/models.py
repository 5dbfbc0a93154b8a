"""The models the fake serves and the per-model request rules it enforces.

The model ids are those of the `ModelParam` literal in anthropic 2.17.0
(`anthropic/types/model_param.py`). The rules come from these platform.claude.com
pages:

- "Claude Opus 5.5 migration guide" and "What's new in Claude Opus 5.5": adaptive
  thinking is always on (no `disabled`, no `enabled` with `budget_tokens`), forced
  tool use returns a 400, and the first three breaking changes also apply to
  Claude Fable 5.1.
- "What's new in Claude Sonnet 5.5": thinking is on by default, `disabled` returns a
  400 pointing to `between_tools`, and forced tool use returns a 400.
- "Claude Haiku 5.5 migration guide": `enabled` must become `adaptive`, sampling
  parameters must be removed and assistant prefill must be replaced by a user turn.
  Forced tool use is not on its list of breaking changes.
- "Claude Opus 5" overview and migration guide: thinking is on by default and
  `thinking.display` defaults to `omitted`, so thinking blocks arrive with an empty
  `thinking` field and a signature.
- Prompt caching: the minimum cacheable prefix is 512 tokens for Opus 5, Fable 5
  and Mythos 5; 1,024 for Opus 4.8, Sonnet 5 and Sonnet 4.6; 2,048 for Opus 4.7;
  4,096 for Opus 4.6, Opus 4.5 and Haiku 4.5. Sonnet 5.5 lowers it to 512.
"""

from __future__ import annotations

from dataclasses import dataclass

_ADAPTIVE_ONLY = frozenset({"adaptive"})
_ADAPTIVE_OR_OFF = frozenset({"adaptive", "disabled"})
_ANY_THINKING = frozenset({"adaptive", "enabled", "disabled"})
_BUDGET_ONLY = frozenset({"enabled", "disabled"})


@dataclass(frozen=True)
class ModelSpec:
    """Limits and request rules of one model id."""

    model_id: str
    context_window: int
    max_output_tokens: int
    min_cacheable_tokens: int
    thinking_by_default: bool
    """Whether a request without `thinking` runs adaptive thinking."""
    thinking_types: frozenset[str]
    """The `thinking.type` values the model accepts."""
    rejects_sampling: bool
    """Whether non-default temperature, top_p or any top_k returns a 400."""
    rejects_prefill: bool
    """Whether a conversation ending with an assistant turn returns a 400."""
    rejects_forced_tool_use: bool
    """Whether tool_choice of type "any" or "tool" returns a 400."""
    omits_thinking_text: bool = True
    """Whether `thinking.display` defaults to "omitted"."""


def _current(
    model_id: str,
    *,
    min_cache: int,
    thinking: frozenset[str] = _ADAPTIVE_ONLY,
    forced_tool_400: bool = False,
) -> ModelSpec:
    return ModelSpec(
        model_id=model_id,
        context_window=1_000_000,
        max_output_tokens=128_000,
        min_cacheable_tokens=min_cache,
        thinking_by_default=True,
        thinking_types=thinking,
        rejects_sampling=True,
        rejects_prefill=True,
        rejects_forced_tool_use=forced_tool_400,
    )


def _older(
    model_id: str,
    *,
    context: int,
    max_output: int,
    min_cache: int,
    thinking: frozenset[str],
    rejects_sampling: bool,
    rejects_prefill: bool,
) -> ModelSpec:
    return ModelSpec(
        model_id=model_id,
        context_window=context,
        max_output_tokens=max_output,
        min_cacheable_tokens=min_cache,
        thinking_by_default=False,
        thinking_types=thinking,
        rejects_sampling=rejects_sampling,
        rejects_prefill=rejects_prefill,
        rejects_forced_tool_use=False,
        omits_thinking_text=False,
    )


# NOTE: the docs give no minimum cacheable length for Opus 5.5, Haiku 5.5,
# Fable 5.1 or the 5.2 models, so they use the 512 of their predecessors. The docs
# give no rules for the 5.2 models either, so they copy Fable 5.1.
# FakeAnthropic(min_cacheable_tokens=...) overrides the minimum for every model.
_SPECS = [
    _current("claude-opus-5-5", min_cache=512, forced_tool_400=True),
    _current(
        "claude-sonnet-5-5",
        min_cache=512,
        thinking=frozenset({"adaptive", "between_tools"}),
        forced_tool_400=True,
    ),
    _current("claude-haiku-5-5", min_cache=512, thinking=_ADAPTIVE_OR_OFF),
    _current("claude-fable-5-2", min_cache=512, forced_tool_400=True),
    _current("claude-mythos-5-2", min_cache=512, forced_tool_400=True),
    _current("claude-fable-5-1", min_cache=512, forced_tool_400=True),
    _current("claude-mythos-5-1", min_cache=512),
    _current("claude-sonnet-5", min_cache=1024, thinking=_ADAPTIVE_OR_OFF),
    _current("claude-fable-5", min_cache=512),
    _current("claude-mythos-5", min_cache=512),
    _current("claude-opus-5", min_cache=512, thinking=_ADAPTIVE_OR_OFF),
    _current("claude-mythos-preview", min_cache=512),
    _older(
        "claude-opus-4-8",
        context=1_000_000,
        max_output=128_000,
        min_cache=1024,
        thinking=_ADAPTIVE_OR_OFF,
        rejects_sampling=True,
        rejects_prefill=True,
    ),
    _older(
        "claude-opus-4-7",
        context=1_000_000,
        max_output=128_000,
        min_cache=2048,
        thinking=_ADAPTIVE_OR_OFF,
        rejects_sampling=True,
        rejects_prefill=True,
    ),
    _older(
        "claude-opus-4-6",
        context=1_000_000,
        max_output=128_000,
        min_cache=4096,
        thinking=_ANY_THINKING,
        rejects_sampling=False,
        rejects_prefill=True,
    ),
    _older(
        "claude-sonnet-4-6",
        context=1_000_000,
        max_output=64_000,
        min_cache=1024,
        thinking=_ANY_THINKING,
        rejects_sampling=False,
        rejects_prefill=False,
    ),
]
for _haiku_or_opus in (
    "claude-haiku-4-5",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-5",
    "claude-opus-4-5-20251101",
):
    _SPECS.append(
        _older(
            _haiku_or_opus,
            context=200_000,
            max_output=64_000,
            min_cache=4096,
            thinking=_BUDGET_ONLY,
            rejects_sampling=False,
            rejects_prefill=False,
        )
    )

MODELS: dict[str, ModelSpec] = {spec.model_id: spec for spec in _SPECS}
