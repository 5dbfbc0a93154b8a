"""Reading and checking price files: the bundled table and a user's override.

Both files share one format, described at the top of
``gradebot_cli/data/prices.toml``. Prices are quoted decimal strings in USD per
million tokens and are converted here to integer micro-dollars per million
tokens. Every problem raises :class:`ConfigError` naming the file, the model and
the field. :func:`gradebot_cli.pricing.load_price_table` turns the checked
entries into a price table.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from gradebot_cli.errors import ConfigError

MICRO_PER_USD = 1_000_000
RATE_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
MODEL_STATUSES = frozenset({"active", "legacy", "deprecated", "retired"})

# Non-negative decimal with at most 6 places: finer steps are not whole µ$/MTok.
_DECIMAL_PRICE = re.compile(r"^\d+(\.\d{1,6})?$")
_TOP_LEVEL_KEYS = frozenset({"sources", "read_on", "models"})
_TEXT_FIELDS = ("name", "status", "source", "note")
_REQUIRED_FIELDS = (*RATE_FIELDS, "batch_discount_percent")
_MODEL_FIELDS = frozenset({*_REQUIRED_FIELDS, *_TEXT_FIELDS, "aliases", "long_context"})
_TIER_FIELDS = frozenset({"threshold_tokens", *RATE_FIELDS})


@dataclass(frozen=True)
class PriceEntry:
    """One model's checked prices after merging, rates in µ$ per million tokens."""

    model: str
    rates: dict[str, int]
    batch_discount_percent: int
    long_context_threshold: int | None
    long_context_rates: dict[str, int]
    aliases: tuple[str, ...]
    name: str
    status: str
    source: str
    read_on: str


@dataclass
class _Draft:
    """A model's checked fields while files are merged, with each field's file."""

    file: str
    values: dict[str, Any]
    read_on: str
    origin: dict[str, str] = field(default_factory=dict)


def bundled_price_file() -> str:
    """Return the path of the price table shipped inside the package."""
    return str(_bundled_resource())


def _bundled_resource() -> Traversable:
    return resources.files("gradebot_cli").joinpath("data").joinpath("prices.toml")


def read_price_files(override: Path | None) -> tuple[list[PriceEntry], list[str]]:
    """Read the bundled table and merge ``override`` over it when that file exists.

    Returns the merged entries and the files consulted, a missing override
    listed as "<path> (not found)".
    """
    bundled = _bundled_resource()
    bundled_name = str(bundled)
    drafts = _read_drafts(bundled.read_text(encoding="utf-8"), bundled_name)
    files = [bundled_name]
    if override is not None:
        if override.is_file():
            extra = _read_drafts(_read_text(override), str(override))
            _merge(drafts, extra, str(override))
            files.append(str(override))
        else:
            files.append(f"{override} (not found)")
    entries = [_finish(model, draft, bundled_name) for model, draft in drafts.items()]
    _check_aliases(entries, drafts)
    return entries, files


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        message = f"Failed to read price file {path}: {error}. It must be UTF-8 text."
        raise ConfigError(message) from error


def _fail(file: str, model: str, name: str, problem: str) -> ConfigError:
    return ConfigError(
        f"Invalid price file {file}: model {model!r}, field {name!r}: {problem}."
    )


def _read_drafts(text: str, file: str) -> dict[str, _Draft]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"Invalid price file {file}: {error}.") from error
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        expected = ", ".join(sorted(_TOP_LEVEL_KEYS))
        raise ConfigError(
            f"Invalid price file {file}: unknown top-level key {unknown[0]!r} "
            f"(expected {expected})."
        )
    read_on = document.get("read_on", "")
    if not isinstance(read_on, str):
        raise ConfigError(f"Invalid price file {file}: read_on must be a string.")
    models = document.get("models", {})
    if not isinstance(models, dict):
        raise ConfigError(f'Invalid price file {file}: use [models."<id>"] tables.')

    drafts: dict[str, _Draft] = {}
    for model, table in models.items():
        values = _check_model(table, file, model)
        drafts[model] = _Draft(file, values, read_on, dict.fromkeys(values, file))
    return drafts


def _check_model(table: object, file: str, model: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(
            f"Invalid price file {file}: model {model!r} must be a table, "
            f'written [models."{model}"].'
        )
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _MODEL_FIELDS:
            raise _fail(file, model, key, "unknown field (check its spelling)")
        if key in RATE_FIELDS:
            values[key] = _parse_rate(value, file, model, key)
        elif key == "batch_discount_percent":
            values[key] = _parse_percent(value, file, model)
        elif key == "long_context":
            values[key] = _check_tier(value, file, model)
        elif key == "aliases":
            values[key] = _parse_aliases(value, file, model)
        else:
            values[key] = _parse_text(value, file, model, key)
    return values


def _parse_rate(value: object, file: str, model: str, name: str) -> int:
    if not isinstance(value, str):
        problem = (
            'expected a quoted decimal string such as "3.75" (USD per million '
            f"tokens), got {value!r}"
        )
        raise _fail(file, model, name, problem)
    if not _DECIMAL_PRICE.match(value):
        problem = (
            f"{value!r} is not a non-negative decimal with at most 6 decimal "
            'places (USD per million tokens, such as "0.125")'
        )
        raise _fail(file, model, name, problem)
    return int(Decimal(value) * MICRO_PER_USD)


def _parse_percent(value: object, file: str, model: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        problem = f"expected a whole number from 0 to 100, got {value!r}"
        raise _fail(file, model, "batch_discount_percent", problem)
    return value


def _parse_aliases(value: object, file: str, model: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(alias, str) and alias for alias in value
    ):
        raise _fail(file, model, "aliases", "expected a list of model id strings")
    return tuple(value)


def _parse_text(value: object, file: str, model: str, name: str) -> str:
    if not isinstance(value, str):
        raise _fail(file, model, name, f"expected a string, got {value!r}")
    if name == "status" and value not in MODEL_STATUSES:
        allowed = ", ".join(sorted(MODEL_STATUSES))
        raise _fail(file, model, name, f"expected one of {allowed}, got {value!r}")
    return value


def _check_tier(value: object, file: str, model: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _fail(file, model, "long_context", "expected a table")
    tier: dict[str, int] = {}
    for key, item in value.items():
        name = f"long_context.{key}"
        if key not in _TIER_FIELDS:
            raise _fail(file, model, name, "unknown field (check its spelling)")
        if key != "threshold_tokens":
            tier[key] = _parse_rate(item, file, model, name)
        elif isinstance(item, bool) or not isinstance(item, int) or item <= 0:
            problem = f"expected a positive token count, got {item!r}"
            raise _fail(file, model, name, problem)
        else:
            tier[key] = item
    return tier


def _merge(base: dict[str, _Draft], extra: dict[str, _Draft], file: str) -> None:
    """Apply an override's fields over the base drafts, adding new models."""
    for model, draft in extra.items():
        target = base.get(model)
        if target is None:
            base[model] = draft
            continue
        for key, value in draft.values.items():
            if key == "long_context" and key in target.values:
                value = {**target.values[key], **value}
            target.values[key] = value
            target.origin[key] = file
        if draft.read_on:
            target.read_on = draft.read_on


def _finish(model: str, draft: _Draft, bundled: str) -> PriceEntry:
    values = draft.values
    for key in _REQUIRED_FIELDS:
        if key not in values:
            problem = (
                "missing (a model needs all five prices and batch_discount_percent)"
            )
            raise _fail(draft.file, model, key, problem)
    tier = values.get("long_context")
    if tier is not None:
        missing = sorted(_TIER_FIELDS - set(tier))
        if missing:
            name = f"long_context.{missing[0]}"
            raise _fail(draft.origin["long_context"], model, name, "missing")
    return PriceEntry(
        model=model,
        rates={name: values[name] for name in RATE_FIELDS},
        batch_discount_percent=values["batch_discount_percent"],
        long_context_threshold=tier["threshold_tokens"] if tier else None,
        long_context_rates={name: tier[name] for name in RATE_FIELDS} if tier else {},
        aliases=values.get("aliases", ()),
        name=values.get("name", ""),
        status=values.get("status", ""),
        source=_describe_source(draft, bundled),
        read_on=draft.read_on,
    )


def _describe_source(draft: _Draft, bundled: str) -> str:
    """Name the page the prices came from and any override file that changed them."""
    source = str(draft.values.get("source", ""))
    changed = sorted(
        {
            file
            for key, file in draft.origin.items()
            if file != bundled and key != "note"
        }
    )
    if not changed:
        return source
    overrides = ", ".join(changed)
    return f"{source} (fields from {overrides})" if source else overrides


def _check_aliases(entries: list[PriceEntry], drafts: dict[str, _Draft]) -> None:
    owners: dict[str, str] = {}
    for entry in entries:
        for alias in entry.aliases:
            if alias in drafts or alias in owners:
                file = drafts[entry.model].origin["aliases"]
                problem = f"{alias!r} already names another model or alias"
                raise _fail(file, entry.model, "aliases", problem)
            owners[alias] = entry.model
