"""Estimating what grading a class will cost, before anything is sent.

The estimate renders the exact requests a run would send and prices them:

- Input tokens are counted offline with tiktoken (needs no API key), or with the
  API's free token-counting endpoint when ``exact`` is chosen.
- tiktoken is not Claude's tokenizer, so offline counts are corrected by the
  ratio of billed to estimated input tokens in the ledger (see
  :mod:`gradebot_cli.costs.calibration`).
- Output tokens are the ledger's average for the model, else the grader's default.
- Prompt caching: when the system prompt reaches the model's minimum cacheable
  length, the first request writes it to the 5-minute cache and every later
  request reads it. The requests of one run follow each other closely enough to
  keep refreshing the entry.
- The low and high bounds use the 10th and 90th percentiles of the ledger's
  ratios and output lengths. The high bound also assumes that the first requests
  in flight all miss the cache (one write per concurrent worker), and that no
  batch request reads the cache, because a batch runs its requests in any order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gradebot_cli.assignment import Assignment
from gradebot_cli.costs.calibration import (
    Calibration,
    OutputExpectation,
    calibrate,
    calibrate_assignment,
    exact_calibration,
    expected_output,
    min_cacheable_tokens,
    reask_rate,
)
from gradebot_cli.domain import SourceItem
from gradebot_cli.grading.request import RequestBuilder
from gradebot_cli.grading.run import GradeOptions, select_items
from gradebot_cli.pricing import ModelPrice, PriceTable, TokenUsage, cost_micro
from gradebot_cli.prompting import load_prompts
from gradebot_cli.sources import Source
from gradebot_cli.storage import Store
from gradebot_cli.tokens import count_text_tokens, estimate_request_input_tokens


@dataclass(frozen=True)
class CachePlan:
    """Whether the system prompt can be cached, in corrected tokens."""

    prefix_tokens: int
    minimum_tokens: int
    minimum_confirmed: bool

    @property
    def cacheable(self) -> bool:
        return self.prefix_tokens >= self.minimum_tokens

    def describe(self) -> str:
        minimum = f"{self.minimum_tokens:,}-token minimum"
        if not self.minimum_confirmed:
            minimum += " (assumed for this model)"
        if not self.cacheable:
            return (
                f"system prompt of about {self.prefix_tokens:,} tokens is below the "
                f"{minimum}, so nothing is cached"
            )
        return (
            f"system prompt of about {self.prefix_tokens:,} tokens reaches the "
            f"{minimum}: the first request writes the 5-minute cache, the rest read it"
        )


@dataclass(frozen=True)
class CostRange:
    """Expected cost with low and high bounds, in micro-dollars."""

    expected: int
    low: int
    high: int


@dataclass(frozen=True)
class SubmissionEstimate:
    """One submission of the class and what grading it would cost."""

    key: str
    student: str
    file_name: str
    status: str
    """"to_grade", or the file status that keeps it from being sent."""
    counted_tokens: int = 0
    input_tokens: int = 0
    cost_micro: int = 0
    reason: str = ""


@dataclass
class ClassEstimate:
    """The estimate for one run over an assignment."""

    assignment_id: str
    title: str
    model: str
    method: str
    calibration: Calibration
    output: OutputExpectation
    cache: CachePlan
    reask_rate: float
    concurrency: int
    interactive: CostRange
    batch: CostRange
    usage: TokenUsage
    submissions: list[SubmissionEstimate] = field(default_factory=list)
    unchanged: int = 0
    waiting_in_batch: int = 0

    @property
    def requests(self) -> int:
        return sum(1 for s in self.submissions if s.status == "to_grade")


class TokenCounter(Protocol):
    """Counts the input tokens of rendered requests."""

    method: str

    def count(self, params: dict[str, Any]) -> int:
        """Return the input tokens of the whole request."""
        ...

    def count_prefix(self, params: dict[str, Any]) -> int:
        """Return the input tokens of the system prompt, the cached prefix."""
        ...


class TiktokenCounter:
    """Offline counts with tiktoken's cl100k_base; needs no API key."""

    method = "tiktoken"

    def count(self, params: dict[str, Any]) -> int:
        return estimate_request_input_tokens(params)

    def count_prefix(self, params: dict[str, Any]) -> int:
        return sum(
            count_text_tokens(block.get("text", "")) for block in params["system"]
        )


class ApiTokenCounter:
    """Counts with ``client.messages.count_tokens``: free, but it needs the API key
    and has its own requests-per-minute limit, so calls go through a ``Caller``
    that waits out 429s."""

    method = "count_tokens"

    def __init__(self, client: Any, caller: Any) -> None:
        self.client = client
        self.caller = caller
        self._prefixes: dict[str, int] = {}

    def count(self, params: dict[str, Any]) -> int:
        return self._send({key: v for key, v in params.items() if key != "max_tokens"})

    def close(self) -> None:
        """Close the SDK client's connections."""
        self.client.close()

    def count_prefix(self, params: dict[str, Any]) -> int:
        """Count the system prompt as the difference between a one-character
        request with and without it; done once per system prompt."""
        system = params["system"]
        key = repr(system)
        if key not in self._prefixes:
            probe = {
                "model": params["model"],
                "messages": [{"role": "user", "content": "."}],
            }
            with_system = self._send({**probe, "system": system})
            self._prefixes[key] = max(0, with_system - self._send(probe))
        return self._prefixes[key]

    def _send(self, body: dict[str, Any]) -> int:
        from gradebot_cli.errors import ApiError
        from gradebot_cli.grading.failures import classify_failure

        result = self.caller.call(
            lambda: self.client.messages.with_raw_response.count_tokens(**body)
        )
        if result.error is not None:
            reason, fatal = classify_failure(result.error, str(body["model"]))
            if fatal is not None:
                raise fatal
            raise ApiError(
                f"Token counting failed: {reason}. Nothing was graded; run the "
                "estimate without --exact for an offline count."
            )
        return int(result.response.parse().input_tokens)


def api_token_counter(
    *, max_retries: int = 6, rpm: int | None = None
) -> ApiTokenCounter:
    """Create a counter with a client from ANTHROPIC_API_KEY (raises when unset)."""
    import threading

    import anthropic

    from gradebot_cli.grading.client import Caller, RateGate
    from gradebot_cli.grading.service import require_api_key

    require_api_key()
    client = anthropic.Anthropic(max_retries=0)
    caller = Caller(RateGate(rpm), max_retries=max_retries, stop=threading.Event())
    return ApiTokenCounter(client, caller)


@dataclass(frozen=True)
class CountedRequest:
    """The counted tokens of one rendered request and of its system prompt."""

    tokens: int
    prefix_tokens: int


@dataclass(frozen=True)
class Scenario:
    """One set of assumptions for pricing the requests of a run."""

    prefix_ratio: float
    """Factor from counted to billed tokens for the system prompt."""
    rest_ratio: float
    """Factor for everything after the system prompt."""
    output_tokens: int
    cache_writes: int
    """How many requests write the cache; the rest read it."""


def request_usages(
    requests: Sequence[CountedRequest], scenario: Scenario, minimum_tokens: int
) -> Iterator[TokenUsage]:
    """Yield the expected billed usage of each request under ``scenario``."""
    for index, request in enumerate(requests):
        prefix = round(request.prefix_tokens * scenario.prefix_ratio)
        rest = round(
            max(0, request.tokens - request.prefix_tokens) * scenario.rest_ratio
        )
        total = prefix + rest
        if prefix < minimum_tokens:
            yield TokenUsage(input_tokens=total, output_tokens=scenario.output_tokens)
        elif index < scenario.cache_writes:
            yield TokenUsage(
                input_tokens=total - prefix,
                output_tokens=scenario.output_tokens,
                cache_write_5m_tokens=prefix,
            )
        else:
            yield TokenUsage(
                input_tokens=total - prefix,
                output_tokens=scenario.output_tokens,
                cache_read_tokens=prefix,
            )


def scenario_cost(
    price: ModelPrice,
    usages: Iterable[TokenUsage],
    *,
    reasks: float,
    batch: bool,
) -> int:
    """Sum the cost of each request, plus ``reasks`` re-asks per request.

    Each request is rounded on its own, as the ledger records it. A re-ask is
    assumed to cost what its first request did.
    """
    total = sum(cost_micro(price, usage, batch=batch) for usage in usages)
    return total + round(total * reasks)


def estimate_class(
    assignment: Assignment,
    store: Store,
    source: Source,
    prices: PriceTable,
    options: GradeOptions,
    *,
    concurrency: int = 4,
    counter: TokenCounter | None = None,
) -> ClassEstimate:
    """Estimate what ``gradebot grade`` with ``options`` would cost; sends nothing
    unless ``counter`` calls the token-counting endpoint."""
    from gradebot_cli.batch import waiting_keys

    price = prices.get(assignment.model)
    builder = RequestBuilder.create(assignment, load_prompts(assignment.prompts_dir))
    counter = counter or TiktokenCounter()
    known = store.submissions(assignment.id)
    waiting = waiting_keys(store, assignment.id)
    listed = list(source.list_items())
    todo, unchanged = select_items(
        (item for item in listed if item.key not in waiting), known, options
    )
    submissions: list[SubmissionEstimate] = []
    counted: list[CountedRequest] = []
    skipped = 0
    for item in todo:
        loaded = source.load(item)
        row = known.get(item.key)
        if loaded.status is not None:
            submissions.append(_not_sent(item, loaded.status.value, loaded.reason))
            continue
        if (
            row is not None
            and not options.regrade
            and row.content_hash == loaded.content_hash
            and row.status.is_final
        ):
            skipped += 1
            continue
        params = builder.build(loaded)
        request = CountedRequest(counter.count(params), counter.count_prefix(params))
        counted.append(request)
        submissions.append(
            SubmissionEstimate(
                item.key,
                item.student,
                item.file_name,
                "to_grade",
                counted_tokens=request.tokens,
            )
        )
    if counter.method == "count_tokens":
        calibration = exact_calibration(assignment.model)
    else:
        prefix = counted[0].prefix_tokens if counted else 0
        calibration = calibrate_assignment(
            store, assignment.id, assignment.model, assignment.rubric.version, prefix
        )
    estimate = _price_class(assignment, store, price, counted, calibration, concurrency)
    estimate.method = counter.method
    estimate.unchanged = len(unchanged) + skipped
    estimate.waiting_in_batch = sum(1 for item in listed if item.key in waiting)
    estimate.submissions = _with_costs(submissions, counted, estimate, price)
    return estimate


def _not_sent(item: SourceItem, status: str, reason: str) -> SubmissionEstimate:
    return SubmissionEstimate(
        item.key, item.student, item.file_name, status, reason=reason
    )


def _price_class(
    assignment: Assignment,
    store: Store,
    price: ModelPrice,
    counted: list[CountedRequest],
    calibration: Calibration,
    concurrency: int,
) -> ClassEstimate:
    output = expected_output(store, assignment.model, assignment.max_tokens)
    rate = reask_rate(store, assignment.model)
    minimum, confirmed = min_cacheable_tokens(assignment.model)
    prefix = counted[0].prefix_tokens if counted else 0
    cache = CachePlan(round(prefix * calibration.ratios()[0]), minimum, confirmed)
    count = len(counted)
    expected = Scenario(*calibration.ratios(), output.expected, 1)
    low = Scenario(*calibration.ratios(calibration.low), output.low, 1)
    high_ratios = calibration.ratios(calibration.high)
    high = Scenario(*high_ratios, output.high, min(concurrency, count))
    batch_high = Scenario(*high_ratios, output.high, count)

    def cost(scenario: Scenario, batch: bool) -> int:
        usages = request_usages(counted, scenario, minimum)
        return scenario_cost(price, usages, reasks=rate, batch=batch)

    usage = sum(request_usages(counted, expected, minimum), TokenUsage())
    return ClassEstimate(
        assignment_id=assignment.id,
        title=assignment.title,
        model=assignment.model,
        method="tiktoken",
        calibration=calibration,
        output=output,
        cache=cache,
        reask_rate=rate,
        concurrency=concurrency,
        interactive=CostRange(
            cost(expected, False), cost(low, False), cost(high, False)
        ),
        batch=CostRange(cost(expected, True), cost(low, True), cost(batch_high, True)),
        usage=usage,
    )


def _with_costs(
    submissions: list[SubmissionEstimate],
    counted: list[CountedRequest],
    estimate: ClassEstimate,
    price: ModelPrice,
) -> list[SubmissionEstimate]:
    """Fill in each submission's corrected tokens and expected interactive cost."""
    scenario = Scenario(*estimate.calibration.ratios(), estimate.output.expected, 1)
    usages = iter(request_usages(counted, scenario, estimate.cache.minimum_tokens))
    priced = []
    for submission in submissions:
        if submission.status != "to_grade":
            priced.append(submission)
            continue
        usage = next(usages)
        priced.append(
            SubmissionEstimate(
                submission.key,
                submission.student,
                submission.file_name,
                submission.status,
                submission.counted_tokens,
                usage.prompt_tokens,
                cost_micro(price, usage),
            )
        )
    return priced


class BatchBudget:
    """Admits batch requests while their estimated cost stays within a limit.

    Each request is estimated without cache reads, because a batch processes its
    requests in any order and cache hits are not guaranteed.
    """

    def __init__(
        self,
        store: Store,
        price: ModelPrice,
        assignment: Assignment,
        limit_micro: int | None,
    ) -> None:
        self.price = price
        self.limit_micro = limit_micro
        self.ratio = calibrate(store, assignment.model).ratio
        self.output = expected_output(
            store, assignment.model, assignment.max_tokens
        ).expected
        self.spent = 0
        self.count = 0
        self.last = 0

    def estimate(self, estimated_input_tokens: int) -> int:
        input_tokens = math.ceil(estimated_input_tokens * self.ratio)
        usage = TokenUsage(input_tokens=input_tokens, output_tokens=self.output)
        return cost_micro(self.price, usage, batch=True)

    def take(self, estimated_input_tokens: int) -> bool:
        """Admit one request with this tiktoken estimate, or return False."""
        self.last = self.estimate(estimated_input_tokens)
        if self.limit_micro is not None and self.spent + self.last > self.limit_micro:
            return False
        self.spent += self.last
        self.count += 1
        return True

    def per_request(self) -> int:
        """Return the average estimate of the admitted requests."""
        return self.spent // self.count if self.count else self.last
