"""Claude token prices and exact cost arithmetic.

Rates are integer micro-dollars (µ$, 1e-6 USD) per million tokens, so
1 USD/MTok is 1,000,000 µ$/MTok and N tokens at rate R cost N × R / 1,000,000 µ$.
A request's cost is summed from integer numerators and rounded once, half-up, to
whole micro-dollars, so no price or cost ever passes through a float.

The bundled table is ``gradebot_cli/data/prices.toml``. A user's ``prices.toml``
override is merged over it field by field (see :func:`load_price_table`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from gradebot_cli.errors import UnknownModelError
from gradebot_cli.price_file import (
    MICRO_PER_USD,
    RATE_FIELDS,
    PriceEntry,
    bundled_price_file,
    read_price_files,
)

__all__ = [
    "RATE_FIELDS",
    "CostBreakdown",
    "LongContextTier",
    "ModelPrice",
    "PriceTable",
    "Rates",
    "TokenUsage",
    "bundled_price_file",
    "cost_breakdown",
    "cost_micro",
    "format_usd",
    "load_price_table",
]

TOKENS_PER_MTOK = 1_000_000
SNAPSHOT_VERSION = 1

# A dated snapshot id such as "claude-haiku-4-5-20251001" ends in -YYYYMMDD.
_DATED_ID = re.compile(r"^(?P<base>.+)-(?P<date>\d{8})$")


@dataclass(frozen=True)
class TokenUsage:
    """Billed token counts of one request, by token kind."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{item.name} must be an integer >= 0, got {value!r}")

    @property
    def prompt_tokens(self) -> int:
        """Input tokens of the request: uncached input plus cache writes and reads."""
        return (
            self.input_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )

    def counts(self) -> tuple[int, int, int, int, int]:
        """Return the counts in the order of :data:`RATE_FIELDS`."""
        return (
            self.input_tokens,
            self.output_tokens,
            self.cache_write_5m_tokens,
            self.cache_write_1h_tokens,
            self.cache_read_tokens,
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        totals = [a + b for a, b in zip(self.counts(), other.counts(), strict=True)]
        return TokenUsage(*totals)

    @classmethod
    def from_usage(cls, usage: object) -> TokenUsage:
        """Build from an anthropic SDK ``Usage`` object or its dict form.

        ``usage.cache_creation`` splits cache writes by lifetime. When it is
        absent, all of ``cache_creation_input_tokens`` count as 5-minute writes,
        because 5 minutes is the API's default lifetime. Missing or null counts
        are 0.
        """
        cache_creation = _field(usage, "cache_creation")
        if cache_creation is not None:
            write_5m = _count(cache_creation, "ephemeral_5m_input_tokens")
            write_1h = _count(cache_creation, "ephemeral_1h_input_tokens")
        else:
            write_5m = _count(usage, "cache_creation_input_tokens")
            write_1h = 0
        return cls(
            input_tokens=_count(usage, "input_tokens"),
            output_tokens=_count(usage, "output_tokens"),
            cache_write_5m_tokens=write_5m,
            cache_write_1h_tokens=write_1h,
            cache_read_tokens=_count(usage, "cache_read_input_tokens"),
        )


def _field(source: object, name: str) -> object:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _count(source: object, name: str) -> int:
    value = _field(source, name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"usage field {name} must be an integer >= 0, got {value!r}")
    return value


@dataclass(frozen=True)
class Rates:
    """Prices of each token kind in micro-dollars per million tokens."""

    input: int
    output: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int

    def values(self) -> tuple[int, int, int, int, int]:
        """Return the rates in the order of :data:`RATE_FIELDS`."""
        return (
            self.input,
            self.output,
            self.cache_write_5m,
            self.cache_write_1h,
            self.cache_read,
        )


@dataclass(frozen=True)
class LongContextTier:
    """Rates that replace the base rates for every token of a long request.

    The tier applies when the request's prompt (input plus cache writes and
    reads) is over ``threshold_tokens``. A prompt of exactly the threshold
    pays the base rates.
    """

    threshold_tokens: int
    rates: Rates


@dataclass(frozen=True)
class ModelPrice:
    """The prices of one model, with where and when they were read."""

    model: str
    rates: Rates
    batch_discount_percent: int
    long_context: LongContextTier | None = None
    name: str = ""
    status: str = ""
    source: str = ""
    read_on: str = ""

    def uses_long_context(self, usage: TokenUsage) -> bool:
        """Return True when the long-context tier prices a request with this usage."""
        tier = self.long_context
        return tier is not None and usage.prompt_tokens > tier.threshold_tokens

    def rates_for(self, usage: TokenUsage) -> Rates:
        """Return the rates that apply to a request with this usage."""
        if self.long_context is not None and self.uses_long_context(usage):
            return self.long_context.rates
        return self.rates

    def to_snapshot(self) -> dict[str, Any]:
        """Return a JSON-ready dict of exactly these prices, for a ledger row."""
        data = asdict(self)
        return {"version": SNAPSHOT_VERSION, "unit": "micro_usd_per_mtok", **data}

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> ModelPrice:
        """Rebuild the prices stored by :meth:`to_snapshot`.

        Raises ``ValueError`` naming the key when the snapshot is malformed.
        """
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(
                f"unsupported price snapshot version {data.get('version')!r}"
            )
        tier_data = data.get("long_context")
        tier = None
        if tier_data is not None:
            tier = LongContextTier(
                threshold_tokens=_snapshot_int(tier_data, "threshold_tokens"),
                rates=_snapshot_rates(_snapshot_value(tier_data, "rates", Mapping)),
            )
        return cls(
            model=_snapshot_value(data, "model", str),
            rates=_snapshot_rates(_snapshot_value(data, "rates", Mapping)),
            batch_discount_percent=_snapshot_int(data, "batch_discount_percent"),
            long_context=tier,
            name=_snapshot_value(data, "name", str),
            status=_snapshot_value(data, "status", str),
            source=_snapshot_value(data, "source", str),
            read_on=_snapshot_value(data, "read_on", str),
        )


def _snapshot_value(data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"price snapshot key {key!r} is missing or invalid: {value!r}")
    return value


def _snapshot_int(data: Mapping[str, Any], key: str) -> int:
    value = _snapshot_value(data, key, int)
    if isinstance(value, bool) or value < 0:
        raise ValueError(f"price snapshot key {key!r} must be an integer >= 0")
    return int(value)


def _snapshot_rates(data: Mapping[str, Any]) -> Rates:
    return Rates(**{name: _snapshot_int(data, name) for name in RATE_FIELDS})


@dataclass(frozen=True)
class CostBreakdown:
    """Cost of one request in micro-dollars per token kind.

    The parts sum exactly to :attr:`total`, which equals :func:`cost_micro`.
    """

    input: int
    output: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    long_context: bool
    batch: bool

    @property
    def total(self) -> int:
        return sum(self.parts().values())

    def parts(self) -> dict[str, int]:
        """Return the micro-dollars of each token kind, keyed as :data:`RATE_FIELDS`."""
        return {name: getattr(self, name) for name in RATE_FIELDS}


def cost_breakdown(
    price: ModelPrice, usage: TokenUsage, *, batch: bool = False
) -> CostBreakdown:
    """Compute a request's cost per token kind in micro-dollars.

    The long-context tier applies to the whole request when its prompt is over
    the tier's threshold. With ``batch`` the model's Batch API discount applies
    to every token kind, because Anthropic bills all batch usage, cache writes
    and reads included, at 50% of the standard prices. The exact total is rounded once,
    half-up, and the parts are apportioned by largest remainder so they sum to
    that total.
    """
    # NOTE: prices for fast mode, the priority tier and data-residency inference
    # (Usage.speed, service_tier and inference_geo) are not modelled here, so a
    # request that used one of them is recorded at the standard prices.
    rates = price.rates_for(usage)
    kept_percent = 100 - price.batch_discount_percent if batch else 100
    denominator = TOKENS_PER_MTOK * 100
    numerators = [
        tokens * rate * kept_percent
        for tokens, rate in zip(usage.counts(), rates.values(), strict=True)
    ]
    total = _round_half_up(sum(numerators), denominator)
    parts = _apportion(numerators, denominator, total)
    return CostBreakdown(
        input=parts[0],
        output=parts[1],
        cache_write_5m=parts[2],
        cache_write_1h=parts[3],
        cache_read=parts[4],
        long_context=price.uses_long_context(usage),
        batch=batch,
    )


def cost_micro(price: ModelPrice, usage: TokenUsage, *, batch: bool = False) -> int:
    """Return a request's exact cost in whole micro-dollars (rounded half-up once)."""
    return cost_breakdown(price, usage, batch=batch).total


def _round_half_up(numerator: int, denominator: int) -> int:
    return (numerator + denominator // 2) // denominator


def _apportion(numerators: list[int], denominator: int, total: int) -> list[int]:
    parts = [numerator // denominator for numerator in numerators]
    remainders = [numerator % denominator for numerator in numerators]
    extra = total - sum(parts)
    # Half-up rounding of a sum of n fractions adds at most n units.
    order = sorted(range(len(parts)), key=lambda index: -remainders[index])
    for index in order[:extra]:
        parts[index] += 1
    return parts


def format_usd(micro: int) -> str:
    """Format micro-dollars as US dollars for reports and messages.

    Amounts of $1 or more show cents ("$1,234.57"). Amounts from $0.01 show four
    decimals ("$0.0123"), and smaller amounts show all six ("$0.000450"), so
    one cheap request never reads "$0.00". Rounding is half-up, and zero is
    "$0.00".
    """
    sign = "-" if micro < 0 else ""
    dollars = Decimal(abs(micro)) / MICRO_PER_USD
    if micro == 0 or dollars >= 1:
        places = 2
    elif dollars >= Decimal("0.01"):
        places = 4
    else:
        places = 6
    rounded = dollars.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if places == 4 and rounded >= 1:
        rounded = rounded.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{sign}${rounded:,f}"


class PriceTable:
    """Prices by model id, with the files they were read from."""

    def __init__(
        self,
        prices: Mapping[str, ModelPrice],
        *,
        aliases: Mapping[str, str] | None = None,
        files: Sequence[str] = (),
        override: Path | None = None,
    ) -> None:
        self._prices = dict(prices)
        self._aliases = dict(aliases or {})
        self.files = tuple(files)
        self.override = override

    def __iter__(self) -> Iterator[ModelPrice]:
        return iter(self._prices.values())

    def __len__(self) -> int:
        return len(self._prices)

    def known_ids(self) -> frozenset[str]:
        """Return every id listed in the table: model ids and their aliases."""
        return frozenset(self._prices) | frozenset(self._aliases)

    def get(self, model: str) -> ModelPrice:
        """Return the prices of ``model``, or raise :class:`UnknownModelError`.

        An exact id or alias wins. Failing that, an id ending in ``-YYYYMMDD``
        falls back to the id without the date. No other guess is made, so a new
        version or family is never priced as a neighbouring one.
        """
        found = self._lookup(model)
        if found is None:
            dated = _DATED_ID.match(model)
            if dated is not None:
                found = self._lookup(dated.group("base"))
        if found is None:
            raise UnknownModelError(self._unknown_message(model))
        return found

    def _lookup(self, model: str) -> ModelPrice | None:
        return self._prices.get(self._aliases.get(model, model))

    def _unknown_message(self, model: str) -> str:
        where = str(self.override) if self.override else "gradebot's prices.toml"
        consulted = ", ".join(self.files) or "none"
        return (
            f"No price is known for model {model!r}, so its cost cannot be recorded "
            f"(price files consulted: {consulted}). Add the model's prices from "
            f"https://platform.claude.com/docs/en/about-claude/pricing to {where}, "
            f"in USD per million tokens, for example:\n\n"
            f'[models."{model}"]\n'
            'input = "3"\n'
            'output = "15"\n'
            'cache_write_5m = "3.75"\n'
            'cache_write_1h = "6"\n'
            'cache_read = "0.30"\n'
            "batch_discount_percent = 50\n"
        )


def load_price_table(override: Path | None = None) -> PriceTable:
    """Load the bundled price table merged with an optional override file.

    ``override`` is the user's ``prices.toml``, at a path the caller chooses. A
    missing file is skipped. Its ``[models."<id>"]`` tables add models or
    replace single fields of bundled ones, ``long_context`` field by field.
    Raises :class:`ConfigError` naming the file, model and field of any invalid
    entry.
    """
    entries, files = read_price_files(override)
    prices = {entry.model: _price_from_entry(entry) for entry in entries}
    aliases = {alias: entry.model for entry in entries for alias in entry.aliases}
    return PriceTable(prices, aliases=aliases, files=files, override=override)


def _price_from_entry(entry: PriceEntry) -> ModelPrice:
    tier = None
    if entry.long_context_threshold is not None:
        tier = LongContextTier(
            threshold_tokens=entry.long_context_threshold,
            rates=Rates(**entry.long_context_rates),
        )
    return ModelPrice(
        model=entry.model,
        rates=Rates(**entry.rates),
        batch_discount_percent=entry.batch_discount_percent,
        long_context=tier,
        name=entry.name,
        status=entry.status,
        source=entry.source,
        read_on=entry.read_on,
    )
