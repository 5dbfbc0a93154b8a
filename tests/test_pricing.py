"""Tests for the Claude price table and the exact cost arithmetic."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import get_args

import pytest
from anthropic.types import CacheCreation, Usage
from anthropic.types.model_param import ModelParam

from gradebot_cli.errors import ConfigError, UnknownModelError
from gradebot_cli.pricing import (
    RATE_FIELDS,
    LongContextTier,
    ModelPrice,
    PriceTable,
    Rates,
    TokenUsage,
    bundled_price_file,
    cost_breakdown,
    cost_micro,
    format_usd,
    load_price_table,
)

MILLION = 1_000_000


def usd_per_mtok(value: str) -> int:
    """Convert a USD/MTok price written in a test to µ$/MTok without floats."""
    whole, _, fraction = value.partition(".")
    return int(whole) * MILLION + int((fraction + "000000")[:6])


def make_price(
    *,
    input: str = "3",
    output: str = "15",
    cache_write_5m: str = "3.75",
    cache_write_1h: str = "6",
    cache_read: str = "0.30",
    batch_discount_percent: int = 50,
    long_context: LongContextTier | None = None,
) -> ModelPrice:
    rates = Rates(
        input=usd_per_mtok(input),
        output=usd_per_mtok(output),
        cache_write_5m=usd_per_mtok(cache_write_5m),
        cache_write_1h=usd_per_mtok(cache_write_1h),
        cache_read=usd_per_mtok(cache_read),
    )
    return ModelPrice(
        model="claude-test-1",
        rates=rates,
        batch_discount_percent=batch_discount_percent,
        long_context=long_context,
    )


def sdk_model_ids() -> tuple[str, ...]:
    literal = next(arg for arg in get_args(ModelParam) if get_args(arg))
    return get_args(literal)


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return load_price_table()


# --- cost arithmetic ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("input_tokens", 3_000),
        ("output_tokens", 15_000),
        ("cache_write_5m_tokens", 3_750),
        ("cache_write_1h_tokens", 6_000),
        ("cache_read_tokens", 300),
    ],
)
def test_cost_each_token_kind(kind: str, expected: int) -> None:
    usage = TokenUsage(**{kind: 1_000})

    assert cost_micro(make_price(), usage) == expected


def test_cost_mixed_usage() -> None:
    usage = TokenUsage(
        input_tokens=12_345,
        output_tokens=6_789,
        cache_write_5m_tokens=2_000,
        cache_write_1h_tokens=1_000,
        cache_read_tokens=50_000,
    )

    # 37,035 + 101,835 + 7,500 + 6,000 + 15,000 µ$
    assert cost_micro(make_price(), usage) == 167_370


def test_cost_per_million_tokens(table: PriceTable) -> None:
    sonnet = table.get("claude-sonnet-5")
    usage = TokenUsage(input_tokens=1_000_000)

    cost = cost_micro(sonnet, usage)

    assert cost == 2_000_000
    assert format_usd(cost) == "$2.00"


def test_cost_zero_usage() -> None:
    assert cost_micro(make_price(), TokenUsage()) == 0


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [(1, 0), (49, 0), (50, 1), (149, 1), (150, 2), (250, 3)],
)
def test_cost_rounds_half_up(tokens: int, expected: int) -> None:
    # $0.01/MTok is 0.01 µ$ per token, so 250 tokens is exactly 2.5 µ$.
    price = make_price(cache_read="0.01")

    assert cost_micro(price, TokenUsage(cache_read_tokens=tokens)) == expected


def test_cost_rounds_once_per_request() -> None:
    # Each kind alone is 0.5 µ$, so rounding each kind would give 2 µ$.
    price = make_price(input="0.01", cache_read="0.01")
    usage = TokenUsage(input_tokens=50, cache_read_tokens=50)

    assert cost_micro(price, usage) == 1


def test_batch_halves_input_and_output() -> None:
    usage = TokenUsage(input_tokens=MILLION, output_tokens=MILLION)

    assert cost_micro(make_price(), usage) == 18_000_000
    assert cost_micro(make_price(), usage, batch=True) == 9_000_000


def test_batch_discounts_cache_tokens() -> None:
    usage = TokenUsage(
        cache_write_5m_tokens=MILLION,
        cache_write_1h_tokens=MILLION,
        cache_read_tokens=MILLION,
    )

    # (3.75 + 6 + 0.30) USD at 50%
    assert cost_micro(make_price(), usage, batch=True) == 5_025_000


def test_batch_rounds_after_discount() -> None:
    # One input token at $3/MTok is 3 µ$, and half of it is 1.5 µ$.
    usage = TokenUsage(input_tokens=1)

    assert cost_micro(make_price(), usage, batch=True) == 2


def test_batch_uses_model_discount() -> None:
    price = make_price(batch_discount_percent=0)
    usage = TokenUsage(input_tokens=MILLION)

    assert cost_micro(price, usage, batch=True) == 3_000_000


def test_long_context_threshold_is_exclusive(table: PriceTable) -> None:
    haiku = table.get("claude-haiku-5-5")
    at_threshold = TokenUsage(input_tokens=100_000)
    over_threshold = TokenUsage(input_tokens=100_001)

    assert cost_micro(haiku, at_threshold) == 10_000
    assert cost_micro(haiku, over_threshold) == 50_001


def test_long_context_counts_cache_tokens(table: PriceTable) -> None:
    haiku = table.get("claude-haiku-5-5")
    usage = TokenUsage(
        input_tokens=90_000, cache_read_tokens=10_001, output_tokens=1_000
    )

    breakdown = cost_breakdown(haiku, usage)

    assert breakdown.long_context is True
    # 45,000 + 500.05 + 2,500 µ$ at the over-100K rates, rounded once
    assert breakdown.total == 48_000


def test_long_context_prices_output(table: PriceTable) -> None:
    haiku = table.get("claude-haiku-5-5")
    short = TokenUsage(input_tokens=1_000, output_tokens=MILLION)
    long = TokenUsage(input_tokens=200_000, output_tokens=MILLION)

    assert cost_breakdown(haiku, short).output == 500_000
    assert cost_breakdown(haiku, long).output == 2_500_000


def test_long_context_with_batch(table: PriceTable) -> None:
    haiku = table.get("claude-haiku-5-5")
    usage = TokenUsage(input_tokens=200_000)

    # 200,000 tokens at $0.50/MTok is 100,000 µ$, and the batch pays half.
    assert cost_micro(haiku, usage, batch=True) == 50_000


def test_breakdown_parts_are_exact() -> None:
    usage = TokenUsage(
        input_tokens=12_345,
        output_tokens=6_789,
        cache_write_5m_tokens=2_000,
        cache_write_1h_tokens=1_000,
        cache_read_tokens=50_000,
    )

    parts = cost_breakdown(make_price(), usage).parts()

    assert parts == {
        "input": 37_035,
        "output": 101_835,
        "cache_write_5m": 7_500,
        "cache_write_1h": 6_000,
        "cache_read": 15_000,
    }


def test_breakdown_sums_to_cost(table: PriceTable) -> None:
    usages = [
        TokenUsage(1, 1, 1, 1, 1),
        TokenUsage(50, 0, 0, 0, 50),
        TokenUsage(12_345, 6_789, 2_001, 999, 77_777),
        TokenUsage(99_999, 3, 1, 0, 1),
        TokenUsage(333_333, 44_444, 5_555, 666, 7),
    ]
    for price in table:
        for usage in usages:
            for batch in (False, True):
                breakdown = cost_breakdown(price, usage, batch=batch)
                assert sum(breakdown.parts().values()) == breakdown.total
                assert breakdown.total == cost_micro(price, usage, batch=batch)


# --- format_usd ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (0, "$0.00"),
        (5, "$0.000005"),
        (450, "$0.000450"),
        (9_999, "$0.009999"),
        (10_000, "$0.0100"),
        (12_345, "$0.0123"),
        (12_350, "$0.0124"),
        (999_999, "$1.00"),
        (2_000_000, "$2.00"),
        (1_234_565_000, "$1,234.57"),
        (-12_345, "-$0.0123"),
    ],
)
def test_format_usd(micro: int, text: str) -> None:
    assert format_usd(micro) == text


# --- token usage -----------------------------------------------------------------


def test_usage_from_sdk_object() -> None:
    usage = Usage(
        input_tokens=10,
        output_tokens=20,
        cache_creation_input_tokens=300,
        cache_read_input_tokens=40,
        cache_creation=CacheCreation(
            ephemeral_5m_input_tokens=100, ephemeral_1h_input_tokens=200
        ),
    )

    assert TokenUsage.from_usage(usage) == TokenUsage(10, 20, 100, 200, 40)


def test_usage_from_dict_without_split() -> None:
    usage = {
        "input_tokens": 10,
        "output_tokens": 20,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": None,
    }

    assert TokenUsage.from_usage(usage) == TokenUsage(10, 20, 300, 0, 0)


def test_usage_from_dict_with_split() -> None:
    usage = {
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_creation_input_tokens": 7,
        "cache_creation": {
            "ephemeral_5m_input_tokens": 3,
            "ephemeral_1h_input_tokens": 4,
        },
    }

    assert TokenUsage.from_usage(usage) == TokenUsage(1, 2, 3, 4, 0)


def test_usage_rejects_negative_count() -> None:
    with pytest.raises(ValueError, match="output_tokens"):
        TokenUsage(output_tokens=-1)


def test_usage_prompt_tokens_and_sum() -> None:
    total = TokenUsage(1, 2, 3, 4, 5) + TokenUsage(10, 20, 30, 40, 50)

    assert total == TokenUsage(11, 22, 33, 44, 55)
    assert total.prompt_tokens == 11 + 33 + 44 + 55


# --- the bundled table -------------------------------------------------------------


def test_every_sdk_model_has_price(table: PriceTable) -> None:
    missing = [model for model in sdk_model_ids() if model not in table.known_ids()]

    assert sdk_model_ids(), "the SDK's ModelParam literal lists no model ids"
    assert missing == [], f"add these SDK model ids to prices.toml: {missing}"


def test_sdk_model_ids_resolve(table: PriceTable) -> None:
    for model in sdk_model_ids():
        assert table.get(model).rates.input > 0, model


def test_file_prices_are_decimal_strings() -> None:
    document = tomllib.loads(Path(bundled_price_file()).read_text(encoding="utf-8"))
    pattern = re.compile(r"^\d+(\.\d{1,6})?$")
    for model, entry in document["models"].items():
        tables = [entry, entry.get("long_context", {})]
        for name in RATE_FIELDS:
            for prices in tables:
                if name in prices:
                    value = prices[name]
                    assert isinstance(value, str), f"{model}.{name} is not a string"
                    assert pattern.match(value), f"{model}.{name}={value!r}"


def test_file_names_source_and_date() -> None:
    document = tomllib.loads(Path(bundled_price_file()).read_text(encoding="utf-8"))

    assert document["read_on"] == "2026-12-04"
    assert (
        "https://platform.claude.com/docs/en/about-claude/pricing"
        in (document["sources"])
    )
    for model, entry in document["models"].items():
        assert entry.get("source", "").startswith("https://"), model


def test_table_haiku_tier(table: PriceTable) -> None:
    tier = table.get("claude-haiku-5-5").long_context

    assert tier is not None
    assert tier.threshold_tokens == 100_000
    assert tier.rates.input == 500_000
    assert tier.rates.cache_read == 50_000


def test_table_dated_alias(table: PriceTable) -> None:
    assert table.get("claude-haiku-4-5-20251001").model == "claude-haiku-4-5"
    assert table.get("claude-opus-4-5-20251101").model == "claude-opus-4-5"


def test_table_dated_suffix_falls_back(table: PriceTable) -> None:
    assert table.get("claude-sonnet-5-5-20261201").model == "claude-sonnet-5-5"


@pytest.mark.parametrize(
    "model",
    ["claude-opus-4-9", "claude-sonnet-5-5-extra", "claude-haiku-5", "gpt-5"],
)
def test_table_never_guesses(table: PriceTable, model: str) -> None:
    with pytest.raises(UnknownModelError):
        table.get(model)


def test_unknown_model_message(tmp_path: Path) -> None:
    override = tmp_path / "prices.toml"
    table = load_price_table(override)

    with pytest.raises(UnknownModelError) as caught:
        table.get("claude-nonexistent-9")

    message = str(caught.value)
    assert "'claude-nonexistent-9'" in message
    assert bundled_price_file() in message
    assert f"{override} (not found)" in message
    assert '[models."claude-nonexistent-9"]' in message
    assert caught.value.exit_code == 2


def test_snapshot_round_trip(table: PriceTable) -> None:
    for price in table:
        stored = json.loads(json.dumps(price.to_snapshot()))

        assert ModelPrice.from_snapshot(stored) == price


def test_snapshot_rejects_missing_rate(table: PriceTable) -> None:
    stored = table.get("claude-opus-5-5").to_snapshot()
    del stored["rates"]["cache_read"]

    with pytest.raises(ValueError, match="cache_read"):
        ModelPrice.from_snapshot(stored)


def test_snapshot_keeps_old_prices(tmp_path: Path) -> None:
    before = load_price_table().get("claude-sonnet-5").to_snapshot()
    override = tmp_path / "prices.toml"
    override.write_text('[models."claude-sonnet-5"]\ninput = "9"\n', encoding="utf-8")
    load_price_table(override)

    assert ModelPrice.from_snapshot(before).rates.input == 2_000_000


# --- override files ----------------------------------------------------------------


def write_override(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    return path


NEW_PRICES = """
input = "1.5"
output = "7.5"
cache_write_5m = "1.875"
cache_write_1h = "3"
cache_read = "0.15"
batch_discount_percent = 50
"""
NEW_MODEL = 'read_on = "2027-01-15"\n\n[models."claude-new-1"]' + NEW_PRICES


def test_override_adds_model(tmp_path: Path) -> None:
    override = write_override(tmp_path, NEW_MODEL)

    price = load_price_table(override).get("claude-new-1")

    assert price.rates == Rates(1_500_000, 7_500_000, 1_875_000, 3_000_000, 150_000)
    assert price.source == str(override)
    assert price.read_on == "2027-01-15"


def test_override_replaces_field(tmp_path: Path) -> None:
    override = write_override(tmp_path, '[models."claude-sonnet-5"]\noutput = "12"\n')

    price = load_price_table(override).get("claude-sonnet-5")

    assert price.rates.output == 12_000_000
    assert price.rates.input == 2_000_000
    assert str(override) in price.source


def test_override_replaces_tier_field(tmp_path: Path) -> None:
    text = '[models."claude-haiku-5-5".long_context]\nthreshold_tokens = 200000\n'
    override = write_override(tmp_path, text)

    tier = load_price_table(override).get("claude-haiku-5-5").long_context

    assert tier is not None
    assert tier.threshold_tokens == 200_000
    assert tier.rates.output == 2_500_000


def test_override_missing_file_is_skipped(tmp_path: Path) -> None:
    table = load_price_table(tmp_path / "absent.toml")

    assert table.get("claude-opus-5-5").rates.input == 4_000_000
    assert table.files[-1].endswith("absent.toml (not found)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[models."claude-sonnet-5"]\ninput = 2.5\n', r"'claude-sonnet-5'.*'input'"),
        ('[models."claude-sonnet-5"]\ninput = "-1"\n', r"'claude-sonnet-5'.*'input'"),
        (
            '[models."claude-sonnet-5"]\ncache_read = "0.1234567"\n',
            r"'cache_read'.*6 decimal",
        ),
        ('[models."claude-sonnet-5"]\nouptut = "1"\n', r"'ouptut'.*unknown field"),
        (
            '[models."claude-sonnet-5"]\nbatch_discount_percent = 150\n',
            r"'batch_discount_percent'",
        ),
        ('[models."claude-sonnet-5"]\nstatus = "old"\n', r"'status'"),
        (
            '[models."claude-sonnet-5".long_context]\nthreshold_tokens = 0\n',
            r"'long_context.threshold_tokens'",
        ),
        (
            '[models."claude-sonnet-5".long_context]\nthreshold_tokens = 1000\n',
            r"'long_context.cache_read'.*missing",
        ),
        ('[models."claude-new-2"]\ninput = "1"\n', r"'claude-new-2'.*missing"),
        (
            '[models."claude-new-3"]\naliases = ["claude-opus-5"]' + NEW_PRICES,
            r"'aliases'.*'claude-opus-5'",
        ),
        ("prices = {}\n", r"unknown top-level key 'prices'"),
        ('[models."claude-sonnet-5"\n', r"Invalid price file"),
    ],
)
def test_override_invalid(tmp_path: Path, text: str, expected: str) -> None:
    override = write_override(tmp_path, text)

    with pytest.raises(ConfigError, match=expected) as caught:
        load_price_table(override)

    assert str(override) in str(caught.value)
