"""Ledger rows: one per API request, with tokens by kind, prices used and cost.

Each row stores the price snapshot it was charged at, so a report computed later
from the row's token counts gives the same cost even after the price table changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gradebot_cli.pricing import ModelPrice, TokenUsage, cost_micro


@dataclass(frozen=True)
class RequestRecord:
    """What one request was for and how it ended."""

    run_id: str
    assignment_id: str
    submission_id: int | None
    request_type: str
    model: str
    outcome: str
    latency_ms: int = 0
    request_id: str = ""
    retries: int = 0
    error: str = ""
    estimated_input_tokens: int | None = None
    batch_id: str = ""
    custom_id: str = ""


def ledger_row(
    record: RequestRecord, usage: TokenUsage, price: ModelPrice, *, batch: bool = False
) -> dict[str, Any]:
    """Build the ``api_requests`` row, charging ``usage`` at ``price``."""
    return {
        "run_id": record.run_id,
        "assignment_id": record.assignment_id,
        "submission_id": record.submission_id,
        "request_type": record.request_type,
        "model": record.model,
        "service_tier": "batch" if batch else "standard",
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_write_5m_tokens": usage.cache_write_5m_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "estimated_input_tokens": record.estimated_input_tokens,
        "prices_json": json.dumps(price.to_snapshot(), sort_keys=True),
        "cost_micro": cost_micro(price, usage, batch=batch),
        "latency_ms": record.latency_ms,
        "request_id": record.request_id,
        "retries": record.retries,
        "outcome": record.outcome,
        "error": record.error,
        "batch_id": record.batch_id,
        "custom_id": record.custom_id,
    }
