"""Measuring, from the ledger, how far estimates were from billed usage.

tiktoken is not Claude's tokenizer, so an offline count is multiplied by the
ratio of billed input tokens (input + cache writes + cache reads) to the
offline estimate recorded with each past request. The ratio comes from the same
model's requests when there are at least ``MIN_CALIBRATION_ROWS``, else from
every model's, else it is ``DEFAULT_INPUT_RATIO``. Output length and the re-ask
rate come from the same recent history. Low and high bounds are the 10th and
90th percentiles.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from gradebot_cli.grading.grader import DEFAULT_EXPECTED_OUTPUT_TOKENS
from gradebot_cli.storage import Store

# Claude's tokenizers are not published. Third-party comparisons found Claude 3.5
# Sonnet counting 20-30% more tokens than OpenAI's tokenizers for the same English
# text, and Anthropic's Haiku 5.5 guide states that its tokenizer counts about 30% more
# than Haiku 4.5's, so before the ledger has any history tiktoken counts are
# scaled by 1.25, within a range of 1.05 to 1.60.
DEFAULT_INPUT_RATIO = 1.25
DEFAULT_RATIO_RANGE = (1.05, 1.60)
# Anthropic calls its token count an estimate that may differ slightly from the
# billed count; this allowance is an assumption, not a measured figure.
EXACT_RATIO_RANGE = (0.98, 1.02)
MIN_CALIBRATION_ROWS = 5
CALIBRATION_WINDOW = 200
# Without history, answers are assumed to be half to twice the default length.
DEFAULT_OUTPUT_RANGE = (0.5, 2.0)

# Minimum cacheable prefix in tokens. Below it the API caches nothing and raises
# no error. Values from third-party copies of Anthropic's prompt-caching page, read
# 2026-12-04; the stored Anthropic copies did not reach the table.
MIN_CACHEABLE_TOKENS = {
    "claude-opus-5": 512,
    "claude-fable-5": 512,
    "claude-mythos-5": 512,
    "claude-fable-5-1": 512,
    "claude-sonnet-5": 1024,
    "claude-opus-4-8": 1024,
    "claude-sonnet-4-6": 1024,
    "claude-opus-4-7": 2048,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
}
# NOTE: no minimum was found for Opus 5.5, Sonnet 5.5, Haiku 5.5, Mythos 5.1 and
# the 5.2 models. They are assumed to keep the 512 of Opus 5 and Fable 5.
ASSUMED_MIN_CACHEABLE_TOKENS = 512


@dataclass(frozen=True)
class Calibration:
    """The factors that turn counted input tokens into expected billed tokens."""

    ratio: float
    low: float
    high: float
    basis: str
    """"assignment", "model", "all" (every model in the ledger), "default" or
    "count_tokens"."""
    rows: int = 0
    model: str = ""
    prefix_ratio: float | None = None
    """The system prompt's own factor, measured on the assignment's cached requests."""
    rest_ratio: float | None = None
    """The factor of everything after the system prompt, measured with it."""

    def ratios(self, bound: float | None = None) -> tuple[float, float]:
        """Return the (system prompt, rest of the request) factors, scaled so the
        whole-request factor becomes ``bound`` when it is given."""
        scale = bound / self.ratio if bound is not None else 1.0
        if self.prefix_ratio is None or self.rest_ratio is None:
            return self.ratio * scale, self.ratio * scale
        return self.prefix_ratio * scale, self.rest_ratio * scale

    def describe(self) -> str:
        spread = f"range {self.low:.2f}-{self.high:.2f}"
        if self.basis == "count_tokens":
            return f"counted by the API's token-counting endpoint ({spread})"
        if self.basis == "assignment" and self.prefix_ratio and self.rest_ratio:
            return (
                f"tiktoken count x {self.prefix_ratio:.2f} for the system prompt and "
                f"x {self.rest_ratio:.2f} for the rest, from {self.rows} past cached "
                f"requests of this assignment with {self.model} ({spread})"
            )
        if self.basis == "model":
            source = f"{self.rows} past requests with {self.model}"
        elif self.basis == "all":
            source = (
                f"{self.rows} past requests with all models (fewer than "
                f"{MIN_CALIBRATION_ROWS} with {self.model})"
            )
        else:
            source = "the default, because the ledger has no past requests yet"
        return f"tiktoken count x {self.ratio:.2f} from {source} ({spread})"


@dataclass(frozen=True)
class OutputExpectation:
    """Output tokens per answer, thinking included."""

    expected: int
    low: int
    high: int
    basis: str
    """"ledger" or "default"."""
    rows: int = 0

    def describe(self) -> str:
        spread = f"range {self.low:,}-{self.high:,}"
        if self.basis == "ledger":
            return f"{self.expected:,} per answer, the average of {self.rows} past answers ({spread})"
        return f"{self.expected:,} per answer, the default without history ({spread})"


def model_filter(model: str) -> tuple[str, list[str]]:
    """Return SQL matching ``model`` and its dated ids (``model-YYYYMMDD``)."""
    dated = model + "-" + "[0-9]" * 8
    return "(model = ? or model glob ?)", [model, dated]


def calibrate(store: Store, model: str) -> Calibration:
    """Measure billed / estimated input tokens on the ledger's recent requests."""
    where, params = model_filter(model)
    ratios = _ratios(store, where, params)
    basis = "model"
    if len(ratios) < MIN_CALIBRATION_ROWS:
        ratios, basis = _ratios(store, "1 = 1", []), "all"
    if len(ratios) < MIN_CALIBRATION_ROWS:
        low, high = DEFAULT_RATIO_RANGE
        return Calibration(DEFAULT_INPUT_RATIO, low, high, "default", 0, model)
    billed = sum(b for b, _ in ratios)
    estimated = sum(e for _, e in ratios)
    ratio = billed / estimated
    low, high = _percentiles([b / e for b, e in ratios])
    return Calibration(
        ratio, min(low, ratio), max(high, ratio), basis, len(ratios), model
    )


def calibrate_assignment(
    store: Store,
    assignment_id: str,
    model: str,
    rubric_version: str,
    prefix_tokens: int,
) -> Calibration:
    """Correct the system prompt and the rest of each request separately.

    The system prompt (prose) and the rest (the submission and the JSON output
    schema) differ in how far tiktoken is from the billed count. Cached and
    uncached tokens also differ in price, so one factor for the whole request can
    misplace tokens between them and skew the cost. The split uses the assignment's recent
    requests that read or wrote the cache with the latest cached prefix, and only
    when the rubric is the one of the last run; otherwise it falls back to
    :func:`calibrate`. ``prefix_tokens`` is tiktoken's count of the current system
    prompt.
    """
    whole = calibrate(store, model)
    stored = store.query(
        "select rubric_version from assignments where id = ?", [assignment_id]
    )
    if (
        prefix_tokens <= 0
        or not stored
        or stored[0]["rubric_version"] != rubric_version
    ):
        return whole
    where, params = model_filter(model)
    rows = store.query(
        "select input_tokens, estimated_input_tokens as estimated, cache_write_5m_tokens "
        "+ cache_write_1h_tokens + cache_read_tokens as prefix from api_requests "
        f"where assignment_id = ? and {where} and estimated_input_tokens > ? and "
        "cache_write_5m_tokens + cache_write_1h_tokens + cache_read_tokens > 0 "
        "order by id desc limit ?",
        [assignment_id, *params, prefix_tokens, CALIBRATION_WINDOW],
    )
    same = [row for row in rows if rows and row["prefix"] == rows[0]["prefix"]]
    if len(same) < MIN_CALIBRATION_ROWS:
        return whole
    rest_estimated = sum(int(row["estimated"]) - prefix_tokens for row in same)
    billed = [int(row["input_tokens"]) + int(row["prefix"]) for row in same]
    estimated = [int(row["estimated"]) for row in same]
    ratio = sum(billed) / sum(estimated)
    low, high = _percentiles([b / e for b, e in zip(billed, estimated, strict=True)])
    return Calibration(
        ratio,
        min(low, ratio),
        max(high, ratio),
        "assignment",
        len(same),
        model,
        prefix_ratio=int(same[0]["prefix"]) / prefix_tokens,
        rest_ratio=sum(int(row["input_tokens"]) for row in same) / rest_estimated,
    )


def exact_calibration(model: str) -> Calibration:
    """Return the calibration for counts from the token-counting endpoint."""
    low, high = EXACT_RATIO_RANGE
    return Calibration(1.0, low, high, "count_tokens", 0, model)


def _ratios(store: Store, where: str, params: list[str]) -> list[tuple[int, int]]:
    rows = store.query(
        "select input_tokens + cache_write_5m_tokens + cache_write_1h_tokens "
        "+ cache_read_tokens as billed, estimated_input_tokens as estimated "
        f"from api_requests where {where} and estimated_input_tokens > 0 "
        "and input_tokens + cache_write_5m_tokens + cache_write_1h_tokens "
        "+ cache_read_tokens > 0 order by id desc limit ?",
        [*params, CALIBRATION_WINDOW],
    )
    return [(int(row["billed"]), int(row["estimated"])) for row in rows]


def _percentiles(values: list[float]) -> tuple[float, float]:
    """Return the 10th and 90th percentiles (``values`` has at least two items)."""
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return cuts[0], cuts[-1]


def expected_output(store: Store, model: str, max_tokens: int) -> OutputExpectation:
    """Output tokens per answer from the model's recent successful grades."""
    where, params = model_filter(model)
    rows = store.query(
        f"select output_tokens from api_requests where {where} and outcome = 'ok' "
        "order by id desc limit ?",
        [*params, CALIBRATION_WINDOW],
    )
    values = [int(row["output_tokens"]) for row in rows if row["output_tokens"]]
    if len(values) < 2:
        expected = DEFAULT_EXPECTED_OUTPUT_TOKENS
        low_factor, high_factor = DEFAULT_OUTPUT_RANGE
        low, high = int(expected * low_factor), int(expected * high_factor)
        return OutputExpectation(
            min(expected, max_tokens),
            min(low, max_tokens),
            min(high, max_tokens),
            "default",
        )
    expected = int(statistics.fmean(values))
    low_value, high_value = _percentiles([float(v) for v in values])
    return OutputExpectation(
        min(expected, max_tokens),
        min(int(low_value), expected, max_tokens),
        min(max(math.ceil(high_value), expected), max_tokens),
        "ledger",
        len(values),
    )


def reask_rate(store: Store, model: str) -> float:
    """Return re-asks per first request among the model's recent requests."""
    where, params = model_filter(model)
    rows = store.query(
        "select coalesce(sum(request_type = 'reask'), 0) as reasks, "
        "coalesce(sum(request_type = 'grade'), 0) as grades from (select request_type "
        f"from api_requests where {where} order by id desc limit ?)",
        [*params, CALIBRATION_WINDOW],
    )
    grades = int(rows[0]["grades"])
    return int(rows[0]["reasks"]) / grades if grades else 0.0


def min_cacheable_tokens(model: str) -> tuple[int, bool]:
    """Return the model's minimum cacheable prefix and whether it is confirmed."""
    base = model
    if len(model) > 9 and model[-9] == "-" and model[-8:].isdigit():
        base = model[:-9]
    if base in MIN_CACHEABLE_TOKENS:
        return MIN_CACHEABLE_TOKENS[base], True
    return ASSUMED_MIN_CACHEABLE_TOKENS, False
