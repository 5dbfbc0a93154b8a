"""Partial responses: the ``fields`` query parameter of Google's JSON APIs.

A selection is a comma-separated list of paths such as
``nextPageToken, files(id, name, owners/emailAddress)``. Paths are checked
against the resource schemas in the discovery documents that
google-api-python-client bundles, so an unknown field is rejected with the
same 400 the real servers send.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

from tests.fakes.google_errors import ApiError, docs_error, drive_error

Mask = dict[str, "Mask | None"]


@functools.cache
def discovery(api: str) -> dict[str, Any]:
    """Load a bundled discovery document, e.g. ``drive.v3`` or ``docs.v1``."""
    package = importlib.resources.files("googleapiclient.discovery_cache.documents")
    text = (package / f"{api}.json").read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def parse_fields(text: str) -> Mask:
    """Parse a field selection into a tree, or raise ValueError if malformed."""
    parser = _Parser(text.replace(" ", ""))
    mask = parser.parse_list()
    if parser.position != len(parser.text):
        raise ValueError(text)
    return mask


def validate(mask: Mask, api: str, schema_name: str) -> None:
    """Raise ValueError naming the first selected field not in the schema."""
    schemas = discovery(api)["schemas"]
    _check(mask, schemas[schema_name], schemas, "")


def apply_mask(value: Any, mask: Mask | None) -> Any:
    """Keep only the selected fields of a JSON value."""
    if mask is None or "*" in mask:
        return value
    if isinstance(value, list):
        return [apply_mask(item, mask) for item in value]
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for name, sub in mask.items():
        if name in value:
            kept[name] = apply_mask(value[name], sub)
    return kept


def select(
    value: dict[str, Any],
    fields: str | None,
    default: str,
    api: str,
    schema_name: str,
) -> dict[str, Any]:
    """Apply ``fields`` (or the method's default selection) to a response."""
    text = fields if fields else default
    try:
        mask = parse_fields(text)
        if fields:
            validate(mask, api, schema_name)
    except ValueError as error:
        raise invalid_selection(str(error), api) from None
    result: dict[str, Any] = apply_mask(value, mask)
    return result


def invalid_selection(name: str, api: str) -> ApiError:
    message = f"Invalid field selection {name}"
    if api.startswith("docs."):
        return docs_error(400, message)
    return drive_error(400, "invalidParameter", message, location="fields")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def parse_list(self) -> Mask:
        mask: Mask = {}
        while True:
            self._parse_path(mask)
            if self._peek() != ",":
                return mask
            self.position += 1

    def _parse_path(self, mask: Mask) -> None:
        name = self._name()
        if self._peek() == "/":
            self.position += 1
            sub = mask.get(name) or {}
            self._parse_path(sub)
            mask[name] = sub
        elif self._peek() == "(":
            self.position += 1
            sub = mask.get(name) or {}
            sub.update(self.parse_list())
            if self._peek() != ")":
                raise ValueError(self.text)
            self.position += 1
            mask[name] = sub
        else:
            mask[name] = None

    def _name(self) -> str:
        start = self.position
        while self.position < len(self.text) and self.text[self.position] not in ",/()":
            self.position += 1
        if start == self.position:
            raise ValueError(self.text)
        return self.text[start : self.position]

    def _peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""


def _check(
    mask: Mask, schema: dict[str, Any], schemas: dict[str, Any], prefix: str
) -> None:
    schema = _resolve(schema, schemas)
    for name, sub in mask.items():
        if name == "*":
            continue
        child = _child(schema, name, schemas)
        if child is None:
            raise ValueError(prefix + name)
        if sub is not None:
            _check(sub, child, schemas, f"{prefix}{name}/")


def _child(
    schema: dict[str, Any], name: str, schemas: dict[str, Any]
) -> dict[str, Any] | None:
    schema = _resolve(schema, schemas)
    if schema.get("type") == "array":
        return _child(schema["items"], name, schemas)
    properties = schema.get("properties") or {}
    if name in properties:
        child: dict[str, Any] = _resolve(properties[name], schemas)
        if child.get("type") == "array":
            return _resolve(child["items"], schemas)
        return child
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return _resolve(extra, schemas)
    return None


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas[schema["$ref"]]
    return schema
